"""Deletions seen by every process: a count in the store, and batches checked against it.

A process remembers things about the store to record fast: which values are stored (so a value is serialized once),
calls read ahead, ids of an op's calls. Another process may delete calls and values meanwhile (``drop_calls``,
``cleanup_refs``). Each deletion adds one to ``meta.deletions`` in its own transaction, and each batch carries the
count its recording process's memory was valid for (``Batch.deletions``). Writing a batch reads the count inside its
write transaction; if a deletion came in between, every value the batch's refs need is checked to be in the batch or
in the store, and if some are not, nothing is written and :class:`~graphstore.errors.MissingValuesError` names them:
the recording process forgets what it remembered, supplies the values it still holds, leaves out the calls it cannot
complete, and writes the batch again (see ``graphstore.resupply``). Without a deletion the check costs one read of an
indexed row per batch.
"""

from __future__ import annotations

import json
import sqlite3

from ..errors import MissingValuesError
from .base import Batch
from .sqlite_conn import Connections

_READ = "SELECT value FROM meta WHERE key = 'deletions'"
_BUMP = (
    "INSERT INTO meta (key, value) VALUES ('deletions', '1') "
    "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
)
_STORED = 'SELECT v.cid FROM json_each(?) AS j JOIN "values" AS v ON v.cid = j.value'


def read_deletions(conn: sqlite3.Connection) -> int:
    row = conn.execute(_READ).fetchone()
    return int(row[0]) if row else 0


class Deletions:
    """The deletion count of a store, read through ``db``.

    >>> from graphstore.backends.sqlite_conn import Connections
    >>> Deletions(Connections(":memory:")).deletion_count()
    0
    """

    def __init__(self, db: Connections) -> None:
        self._db = db
        self.seen: int | None = None
        """The deletion count the last batch written was checked against (by this process or its helper)."""

    def deletion_count(self) -> int:
        """How many deletions the store has seen (a count that only grows)."""
        rows = self._db.run(_READ)
        return int(rows[0][0]) if rows else 0

    def count_deletion(self) -> None:
        """Inside a deletion's write transaction (on the main connection): one more deletion."""
        self._db.conn.execute(_BUMP)

    def check_batch(self, conn: sqlite3.Connection, batch: Batch) -> None:
        """Inside a batch's write transaction: refuse the batch if a deletion since the count it carries removed a
        value it needs (and did not bring)."""
        if batch.deletions is None:
            return
        count = read_deletions(conn)
        if count != batch.deletions:
            carried = {v[0] for v in batch.values}
            needed = list({r[1] for r in batch.refs if r[2] == "atom" and r[1] not in carried})
            stored: set = set()
            for start in range(0, len(needed), 20_000):
                chunk = json.dumps(needed[start : start + 20_000])
                stored.update(row[0] for row in conn.execute(_STORED, (chunk,)))
            missing = [cid for cid in needed if cid not in stored]
            if missing:
                raise MissingValuesError(
                    f"store {self._db.location}: {len(missing)} values that recorded calls use were deleted by "
                    f"another process (value {missing[0]} first)",
                    missing,
                    count,
                )
        self.seen = count
