"""Provenance steps, deletions and their count on a PostgreSQL store, computed by the server (recursive queries).

Ids travel as one array parameter (``= ANY(CAST(%s AS UUID[]))``), never as one parameter each. A deletion runs in one
transaction holding the exclusive deletion lock (batches hold it shared, see ``postgres_write``) and adds one to the
store's deletion count.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from .postgres_conn import PgConnections, ids_only
from .postgres_write import DELETION_LOCK, READ_DELETIONS

_IDS = "CAST(%(ids)s AS UUID[])"

CLOSURE = f"""
WITH RECURSIVE doomed(id) AS (
    SELECT c.id FROM calls AS c WHERE c.hid = ANY({_IDS})
    UNION
    SELECT ei.call_id FROM doomed AS d
    JOIN edges AS eo ON eo.call_id = d.id AND eo.direction = 1
    JOIN edges AS ei ON ei.ref_id = eo.ref_id AND ei.direction = 0
)
SELECT c.id, c.hid, c.op_name FROM doomed JOIN calls AS c ON c.id = doomed.id ORDER BY c.id
"""
SEEDS = f"SELECT c.id, c.hid, c.op_name FROM calls AS c WHERE c.hid = ANY({_IDS}) ORDER BY c.id"

_BUMP = (
    "INSERT INTO meta (key, value) VALUES ('deletions', '1') "
    "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)"
)

# A ref stays while an edge uses it, or while it is an element, at any depth, of a collection an edge uses.
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
_UNUSED_VALUES = (
    "DELETE FROM \"values\" AS v WHERE NOT EXISTS (SELECT 1 FROM refs AS r WHERE r.cid = v.cid AND r.kind = 'atom') "
    "RETURNING v.path"
)


class PgHistory:
    """Traversal and deletion of the calls of the store that ``db`` reaches."""

    def __init__(self, db: PgConnections) -> None:
        self._db = db

    def _ids(self, sql: str, hids: Iterable[str]) -> list[tuple]:
        ids = ids_only(hids)
        return self._db.run(sql, {"ids": ids}) if ids else []

    def creator_calls(self, ref_hids: Iterable[str]) -> dict[str, str]:
        rows = self._ids(
            f"SELECT r.hid, c.hid FROM refs AS r JOIN edges AS e ON e.ref_id = r.id AND e.direction = 1 "
            f"JOIN calls AS c ON c.id = e.call_id WHERE r.hid = ANY({_IDS})",
            ref_hids,
        )
        return dict(rows)

    def consumer_calls(self, ref_hids: Iterable[str]) -> list[str]:
        rows = self._ids(
            f"SELECT DISTINCT c.hid FROM refs AS r JOIN edges AS e ON e.ref_id = r.id AND e.direction = 0 "
            f"JOIN calls AS c ON c.id = e.call_id WHERE r.hid = ANY({_IDS})",
            ref_hids,
        )
        return [r[0] for r in rows]

    def output_consumers(self, call_hids: Iterable[str]) -> list[tuple[str, str]]:
        rows = self._ids(
            "SELECT DISTINCT c.hid, k.hid FROM calls AS c "
            "JOIN edges AS eo ON eo.call_id = c.id AND eo.direction = 1 "
            "JOIN edges AS ei ON ei.ref_id = eo.ref_id AND ei.direction = 0 "
            f"JOIN calls AS k ON k.id = ei.call_id WHERE c.hid = ANY({_IDS})",
            call_hids,
        )
        return [(a, b) for a, b in rows]

    def ref_hids_among(self, hids: Iterable[str]) -> list[str]:
        return [r[0] for r in self._ids(f"SELECT r.hid FROM refs AS r WHERE r.hid = ANY({_IDS})", hids)]

    def deletion_count(self) -> int:
        rows = self._db.run(READ_DELETIONS)
        return int(rows[0][0]) if rows else 0

    def delete_calls(self, hids: Iterable[str], with_dependents: bool, dry_run: bool = False) -> list[tuple[str, str]]:
        """Delete calls (and, if asked, every call downstream of their outputs) in one transaction; returns ``(hid,
        op name)`` of each, in recording order. ``dry_run`` only reads what would go."""
        ids = ids_only(hids)
        if not ids:
            return []
        sql = CLOSURE if with_dependents else SEEDS
        if dry_run:
            return [(h, n) for _, h, n in self._db.run(sql, {"ids": ids})]

        def body(conn: psycopg.Connection) -> list[tuple[str, str]]:
            self.lock_out_writers(conn)
            doomed = conn.execute(sql, {"ids": ids}).fetchall()
            self.delete_rows(conn, [d[0] for d in doomed])
            return [(h, n) for _, h, n in doomed]

        return self._db.transaction(body, doing="delete calls from")

    def lock_out_writers(self, conn: psycopg.Connection) -> None:
        """Inside a deletion's transaction: wait for batches being written, and keep new ones out until it ends."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DELETION_LOCK,))

    def delete_rows(self, conn: psycopg.Connection, call_ids: list[int]) -> None:
        """Inside a deletion's transaction: delete these calls (by row id) and their edges, and count a deletion."""
        if not call_ids:
            return
        self._db.trace("DELETE FROM edges, calls", (len(call_ids),))
        conn.execute("DELETE FROM edges WHERE call_id = ANY(%s)", (call_ids,))
        conn.execute("DELETE FROM calls WHERE id = ANY(%s)", (call_ids,))
        conn.execute(_BUMP)

    def cleanup_refs(self, dry_run: bool = False) -> tuple[int, int, list[str]]:
        """Delete refs no call references and values no ref holds; returns (refs, values, overflow file names).
        With ``dry_run`` the same deletions run in a savepoint rolled back: what would go."""

        def body(conn: psycopg.Connection) -> tuple[int, int, list[str]]:
            self.lock_out_writers(conn)
            found: list[tuple[int, int, list[str]]] = []
            with conn.transaction():  # a savepoint, rolled back for a dry run
                refs = conn.execute(_UNREFERENCED_REFS).rowcount
                conn.execute(
                    "DELETE FROM members AS m WHERE NOT EXISTS (SELECT 1 FROM refs AS r WHERE r.id = m.coll_id)"
                )
                paths = conn.execute(_UNUSED_VALUES).fetchall()
                found.append((refs, len(paths), [p[0] for p in paths if p[0] is not None]))
                if dry_run:
                    raise psycopg.Rollback()
            if not dry_run and (refs or paths):
                conn.execute(_BUMP)
            return found[0]

        return self._db.transaction(body, doing="clean up")

    def vacuum(self) -> None:
        """Let the server reclaim the space of deleted rows."""
        self._db.run("VACUUM")
