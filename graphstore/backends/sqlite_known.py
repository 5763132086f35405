"""Misses answered in memory: the ids of every stored call of an op, kept while no other connection writes.

Recording a new call starts with a lookup that finds nothing. Once a call of an op was looked up and not found in a
storage context, the history and content ids of all the op's stored calls are read into a set (when there are at most
:data:`KNOWN_MAX_CALLS`); from then on a call whose ids are not in the set is known to be new without a statement.
Calls this process writes are added to the set as they are committed.

Other processes may store calls of the op meanwhile. The writer connection reads ``PRAGMA data_version`` (which
changes only when another connection commits) at the start of every batch it writes, and forgets every set when it
changed (a helper process writing the batches does the same and reports it). A call another process stores is so
seen within one batch interval of the writer; before that it may be computed here once more, as it may be anyway
while it waits in that process's own queue.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from .sqlite_conn import Connections

KNOWN_MAX_CALLS = 50_000
"""Ops with more stored calls than this are looked up by statement, call by call."""

_LIST_OP = "SELECT hid, cid FROM calls WHERE op_name = ? AND op_version = ? LIMIT ?"


class KnownIds:
    """The sets of known ids of a store, read through ``db``; ``helper_running`` tells whether a helper process
    writes the batches (it then reports other connections' commits itself).

    >>> from graphstore.backends.sqlite_conn import Connections
    >>> known = KnownIds(Connections(":memory:"), lambda: False)
    >>> known.known_ids(("inc", 0))
    set()
    """

    def __init__(self, db: Connections, helper_running: Callable[[], bool]) -> None:
        self._db = db
        self._helper_running = helper_running
        self.known: dict[tuple[str, int], set | None] = {}
        self._loading: dict[tuple[str, int], set] = {}
        self.era = 0
        """Counts the times the sets were forgotten."""
        self.seen_version: int | None = None
        """The writer connection's data version when last read."""

    def forget(self) -> None:
        """Forget every set (another connection wrote, or calls were deleted)."""
        self.known, self._loading = {}, {}
        self.era += 1

    def known_ids(self, op_key: tuple[str, int]) -> set | None:
        """The history and content ids of every stored call of ``op_key`` (name, version), or None when they are not
        all held (too many calls, or a read-only store)."""
        if op_key in self.known:
            return self.known[op_key]
        db = self._db
        if db.read_only:
            return None
        conn, lock = db.writer()
        with lock:
            if not self._helper_running():  # (a helper process writing batches reports other connections' commits)
                self.check_data_version(conn)
            era, ids = self.era, set[str]()
            self._loading[op_key] = ids  # batches committed while the calls are read are added here too
        rows = db.run(_LIST_OP, (op_key[0], op_key[1], KNOWN_MAX_CALLS + 1))
        with lock:
            self._loading.pop(op_key, None)
            if era != self.era:
                return None  # forgotten meanwhile: look up by statement this time
            found: set | None = None
            if len(rows) <= KNOWN_MAX_CALLS:
                found = ids
                found.update(x for row in rows for x in row)
            self.known[op_key] = found
            return found

    def check_data_version(self, conn: sqlite3.Connection) -> None:
        """Read the writer connection's data version (its lock held); forget every set if another connection has
        committed since the last reading."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if self.seen_version is not None and version != self.seen_version:
            self.forget()
        self.seen_version = version

    def add(self, calls: list[tuple]) -> None:
        """Add the ids of calls just committed (rows of a batch) to the sets of their ops (the writer's lock held)."""
        for sets in (self.known, self._loading):
            if not sets:
                continue
            for row in calls:
                ids = sets.get((row[2], row[3]))
                if ids is not None:
                    ids.add(row[0])
                    ids.add(row[1])
