"""Graph traversal and deletion on the SQLite store, computed in SQL (recursive CTEs), never by loading tables."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ..errors import StoreError
from .sqlite_conn import Connections
from .sqlite_deletions import Deletions

_SEED = "CREATE TEMP TABLE IF NOT EXISTS _gs_seed (hid TEXT PRIMARY KEY)"

_CLOSURE = """
WITH RECURSIVE doomed(id) AS (
    SELECT c.id FROM temp._gs_seed AS s JOIN calls AS c ON c.hid = s.hid
    UNION
    SELECT ei.call_id FROM doomed AS d
    JOIN edges AS eo ON eo.call_id = d.id AND eo.direction = 1
    JOIN edges AS ei ON ei.ref_id = eo.ref_id AND ei.direction = 0
)
"""
_DEPENDENTS = _CLOSURE + "INSERT OR IGNORE INTO temp._gs_doomed (id) SELECT id FROM doomed"
# What a deletion would delete, read without writing: the seeds' closure, or the seeds alone.
_WOULD_DELETE = _CLOSURE + "SELECT c.hid, c.op_name FROM doomed JOIN calls AS c ON c.id = doomed.id ORDER BY c.id"
_SEEDED_CALLS = "SELECT c.hid, c.op_name FROM temp._gs_seed AS s JOIN calls AS c ON c.hid = s.hid ORDER BY c.id"

# A ref stays while an edge uses it, or while it is an element, at any depth, of a collection an edge uses (the rows
# of a nested list are kept by the outer list, and their numbers by the rows).
# (The statement starts with DELETE, not WITH, so that sqlite3 reports its rowcount.)
_UNREFERENCED_REFS = """
DELETE FROM refs WHERE NOT EXISTS (SELECT 1 FROM edges AS e WHERE e.ref_id = refs.id)
AND id NOT IN (
    WITH RECURSIVE held(id) AS (
        SELECT m.coll_id FROM members AS m WHERE EXISTS (SELECT 1 FROM edges AS e WHERE e.ref_id = m.coll_id)
        UNION
        SELECT m.elt_id FROM held JOIN members AS m ON m.coll_id = held.id
    )
    SELECT id FROM held
)
"""


class HistoryQueries:
    """Traversal and deletion of the calls of the store that ``db`` reaches; each deletion is counted in
    ``deletions``.

    >>> from graphstore.backends.sqlite_conn import Connections
    >>> from graphstore.backends.sqlite_deletions import Deletions
    >>> db = Connections(":memory:")
    >>> HistoryQueries(db, Deletions(db)).delete_calls(["no such call"], with_dependents=True)
    []
    """

    def __init__(self, db: Connections, deletions: Deletions) -> None:
        self._db = db
        self._deletions = deletions

    def seed(self, hids: Iterable[str]) -> None:
        """Put the ids in the seed table that the statements below start from (the connection's lock held)."""
        conn = self._db.conn
        conn.execute(_SEED)
        conn.execute("DELETE FROM temp._gs_seed")
        self._db.run_many("INSERT OR IGNORE INTO temp._gs_seed (hid) VALUES (?)", [(h,) for h in hids])

    def creator_calls(self, ref_hids: Iterable[str]) -> dict[str, str]:
        """``ref hid -> hid of the call that output it`` for the refs that have one."""
        out: dict[str, str] = {}
        with self._db.lock:
            self.seed(ref_hids)
            rows = self._db.run(
                "SELECT r.hid, c.hid FROM temp._gs_seed AS s JOIN refs AS r ON r.hid = s.hid "
                "JOIN edges AS e ON e.ref_id = r.id AND e.direction = 1 JOIN calls AS c ON c.id = e.call_id"
            )
        out.update(rows)
        return out

    def consumer_calls(self, ref_hids: Iterable[str]) -> list[str]:
        """Hids of the calls that take any of these refs as input."""
        with self._db.lock:
            self.seed(ref_hids)
            rows = self._db.run(
                "SELECT DISTINCT c.hid FROM temp._gs_seed AS s JOIN refs AS r ON r.hid = s.hid "
                "JOIN edges AS e ON e.ref_id = r.id AND e.direction = 0 JOIN calls AS c ON c.id = e.call_id"
            )
        return [r[0] for r in rows]

    def delete_calls(self, hids: Iterable[str], with_dependents: bool, dry_run: bool = False) -> list[tuple[str, str]]:
        """Delete calls (and, if asked, every call downstream of their outputs) in one transaction.

        Returns ``(hid, op name)`` of each deleted call, in recording order; ``dry_run`` only reads what would go.
        """
        with self._db.lock:
            if dry_run:
                self.seed(hids)
                return [tuple(r) for r in self._db.run(_WOULD_DELETE if with_dependents else _SEEDED_CALLS)]
            self._db.begin_write()
            try:
                self.seed(hids)
                doomed = self.delete_seeded(with_dependents)
                if doomed:
                    self._deletions.count_deletion()
                self._db.run_traced("COMMIT")
            except BaseException as exc:
                self._db.rollback(exc)
                raise
        return doomed

    def output_consumers(self, call_hids: Iterable[str]) -> list[tuple[str, str]]:
        """``(call hid, consumer hid)``: the calls that take an output of one of these calls as input."""
        with self._db.lock:
            self.seed(call_hids)
            return [
                tuple(r)
                for r in self._db.run(
                    "SELECT DISTINCT c.hid, k.hid FROM temp._gs_seed AS s JOIN calls AS c ON c.hid = s.hid "
                    "JOIN edges AS eo ON eo.call_id = c.id AND eo.direction = 1 "
                    "JOIN edges AS ei ON ei.ref_id = eo.ref_id AND ei.direction = 0 "
                    "JOIN calls AS k ON k.id = ei.call_id"
                )
            ]

    def ref_hids_among(self, hids: Iterable[str]) -> list[str]:
        """The given ids that name refs (values), not calls."""
        with self._db.lock:
            self.seed(hids)
            return [r[0] for r in self._db.run("SELECT r.hid FROM temp._gs_seed AS s JOIN refs AS r ON r.hid = s.hid")]

    def delete_seeded(self, with_dependents: bool) -> list[tuple[str, str]]:
        """Inside a write transaction: delete the seeded calls (and their dependents); returns ``(hid, op name)``."""
        self._db.conn.execute("CREATE TEMP TABLE IF NOT EXISTS _gs_doomed (id INTEGER PRIMARY KEY)")
        self._db.conn.execute("DELETE FROM temp._gs_doomed")
        if with_dependents:
            self._db.run_write(_DEPENDENTS)
        else:
            self._db.run_write(
                "INSERT OR IGNORE INTO temp._gs_doomed (id) SELECT c.id FROM temp._gs_seed AS s "
                "JOIN calls AS c ON c.hid = s.hid"
            )
        doomed = [
            tuple(r)
            for r in self._db.conn.execute(
                "SELECT c.hid, c.op_name FROM temp._gs_doomed AS d JOIN calls AS c ON c.id = d.id ORDER BY c.id"
            )
        ]
        self._db.run_write("DELETE FROM edges WHERE call_id IN (SELECT id FROM temp._gs_doomed)")
        self._db.run_write("DELETE FROM calls WHERE id IN (SELECT id FROM temp._gs_doomed)")
        return doomed

    def cleanup_refs(self, dry_run: bool = False) -> tuple[int, int, list[str]]:
        """Delete refs no call references and values no ref holds; returns (refs, values, overflow file names).
        With ``dry_run`` the same deletions are rolled back: what would go, counted by the statements that delete."""
        with self._db.lock:
            self._db.begin_write()
            try:
                refs = self._db.run_write(_UNREFERENCED_REFS)
                self._db.run_write("DELETE FROM members WHERE coll_id NOT IN (SELECT id FROM refs)")
                doomed = "SELECT cid FROM \"values\" WHERE cid NOT IN (SELECT cid FROM refs WHERE kind = 'atom')"
                files = [
                    r[0]
                    for r in self._db.conn.execute(
                        f'SELECT path FROM "values" WHERE path IS NOT NULL AND cid IN ({doomed})'
                    ).fetchall()
                ]
                values = self._db.run_write(f'DELETE FROM "values" WHERE cid IN ({doomed})')
                if dry_run:
                    self._db.run_traced("ROLLBACK")
                    return refs, values, files
                if refs or values:
                    self._deletions.count_deletion()
                self._db.run_traced("COMMIT")
            except BaseException as exc:
                self._db.rollback(exc)
                raise
        return refs, values, files

    def vacuum(self) -> None:
        """Give the space of deleted rows back to the file system."""
        with self._db.lock:
            try:
                self._db.run_write("VACUUM")
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot vacuum store {self._db.location}: {exc}") from exc
