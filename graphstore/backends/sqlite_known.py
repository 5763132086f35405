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

KNOWN_MAX_CALLS = 50_000
"""Ops with more stored calls than this are looked up by statement, call by call."""

_LIST_OP = "SELECT hid, cid FROM calls WHERE op_name = ? AND op_version = ? LIMIT ?"


class KnownIdsMixin:
    """The sets of known ids, for :class:`graphstore.backends.sqlite.SQLiteBackend`."""

    _known: dict[tuple[str, int], set | None]
    _loading: dict[tuple[str, int], set]
    _known_era: int = 0
    _seen_version: int | None = None
    _helper: object = None

    def _forget_known(self) -> None:
        self._known, self._loading = {}, {}
        self._known_era += 1

    def known_ids(self, op_key: tuple[str, int]) -> set | None:
        """The history and content ids of every stored call of ``op_key`` (name, version), or None when they are not
        all held (too many calls, or a read-only store)."""
        if op_key in self._known:
            return self._known[op_key]
        if self.read_only:  # type: ignore[attr-defined]
            return None
        conn, lock = self._writer()  # type: ignore[attr-defined]
        with lock:
            if self._helper is None:  # (a helper process writing batches reports other connections' commits)
                self._check_data_version(conn)
            era, ids = self._known_era, set[str]()
            self._loading[op_key] = ids  # batches committed while the calls are read are added here too
        rows = self._run(_LIST_OP, (op_key[0], op_key[1], KNOWN_MAX_CALLS + 1))  # type: ignore[attr-defined]
        with lock:
            self._loading.pop(op_key, None)
            if era != self._known_era:
                return None  # forgotten meanwhile: look up by statement this time
            found: set | None = None
            if len(rows) <= KNOWN_MAX_CALLS:
                found = ids
                found.update(x for row in rows for x in row)
            self._known[op_key] = found
            return found

    def _check_data_version(self, conn: sqlite3.Connection) -> None:
        """Read the writer connection's data version (its lock held); forget every set if another connection has
        committed since the last reading."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if self._seen_version is not None and version != self._seen_version:
            self._forget_known()
        self._seen_version = version

    def _add_known(self, calls: list[tuple]) -> None:
        """Add the ids of calls just committed (rows of a batch) to the sets of their ops (the writer's lock held)."""
        for sets in (self._known, self._loading):
            if not sets:
                continue
            for row in calls:
                ids = sets.get((row[2], row[3]))
                if ids is not None:
                    ids.add(row[0])
                    ids.add(row[1])
