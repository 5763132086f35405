"""Writing a batch into a PostgreSQL store, in one transaction that can be run again.

Rows go through ``COPY`` into temporary staging tables (emptied at each commit), then ``INSERT ... SELECT ... ON
CONFLICT DO NOTHING`` into the store's tables: always in the same order of tables (ops, values, refs, calls, edges,
members) and, within a table, in the order of its key, so that writers whose batches overlap take their row locks in
the same order and never deadlock. Calls and refs get their row ids when staged, in the order they were recorded
(the staging tables draw from the store's own sequences), so ids follow recording order as on SQLite. Edges and
members are staged with text ids and joined to the row ids of their calls and refs.

Deletions hold an exclusive advisory lock and batches a shared one: a batch sees the deletion count, and the values
it needs, as they are until it commits (see ``sqlite_deletions`` for what the count is for).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import psycopg
from psycopg import errors as pg_errors

from ..errors import MissingValuesError, StoreError
from .base import Batch
from .postgres_schema import IN, OUT
from .sqlite_write import SEP_FIELD, SEP_OUTPUT

DELETION_LOCK = 0x67_73_64_6C
"""Advisory lock: exclusive for a deletion, shared for a batch write."""

READ_DELETIONS = "SELECT value FROM meta WHERE key = 'deletions'"

_STAGING = {
    "values": "CREATE TEMP TABLE IF NOT EXISTS _gs_values (cid UUID, codec TEXT, size BIGINT, data BYTEA, path TEXT, "
    "checksum TEXT) ON COMMIT DELETE ROWS",
    "refs": "CREATE TEMP TABLE IF NOT EXISTS _gs_refs (id BIGINT DEFAULT "
    "nextval(pg_get_serial_sequence('refs', 'id')), hid UUID, cid UUID, kind TEXT) ON COMMIT DELETE ROWS",
    "calls": "CREATE TEMP TABLE IF NOT EXISTS _gs_calls (id BIGINT DEFAULT nextval(pg_get_serial_sequence('calls', "
    "'id')), hid UUID, cid UUID, op_name TEXT, op_version INTEGER, tuple_out INTEGER, created_at DOUBLE PRECISION, "
    "duration DOUBLE PRECISION, version_id TEXT, outputs TEXT) ON COMMIT DELETE ROWS",
    "edges": "CREATE TEMP TABLE IF NOT EXISTS _gs_edges (call_hid UUID, direction INTEGER, label TEXT, pos INTEGER, "
    "ref_hid UUID) ON COMMIT DELETE ROWS",
    "members": "CREATE TEMP TABLE IF NOT EXISTS _gs_members (coll_hid UUID, pos INTEGER, key TEXT, elt_hid UUID) "
    "ON COMMIT DELETE ROWS",
}

_COPY = {
    "values": "COPY _gs_values (cid, codec, size, data, path, checksum) FROM STDIN",
    "refs": "COPY _gs_refs (hid, cid, kind) FROM STDIN",
    "calls": "COPY _gs_calls (hid, cid, op_name, op_version, tuple_out, created_at, duration, version_id, outputs) "
    "FROM STDIN",
    "edges": "COPY _gs_edges (call_hid, direction, label, pos, ref_hid) FROM STDIN",
    "members": "COPY _gs_members (coll_hid, pos, key, elt_hid) FROM STDIN",
}

_CALL_ID = "(SELECT c.id FROM calls AS c WHERE c.hid = s.{})"
_REF_ID = "(SELECT r.id FROM refs AS r WHERE r.hid = s.{})"
"""Row ids looked up one staged row at a time, through the unique index (a join would be planned as a scan of the
whole table: the staging tables have no statistics, and the store's tables grow with every batch)."""

_INSERT = {
    "values": 'INSERT INTO "values" (cid, codec, size, data, path, checksum) SELECT cid, codec, size, data, path, '
    "checksum FROM _gs_values ORDER BY cid ON CONFLICT DO NOTHING",
    "refs": "INSERT INTO refs (id, hid, cid, kind) SELECT id, hid, cid, kind FROM _gs_refs ORDER BY hid "
    "ON CONFLICT DO NOTHING",
    "calls": "INSERT INTO calls (id, hid, cid, op_name, op_version, tuple_out, created_at, duration, version_id, "
    "outputs) SELECT id, hid, cid, op_name, op_version, tuple_out, created_at, duration, version_id, outputs "
    "FROM _gs_calls ORDER BY hid ON CONFLICT DO NOTHING",
    "edges": "INSERT INTO edges (call_id, direction, label, pos, ref_id) SELECT "
    f"{_CALL_ID.format('call_hid')}, s.direction, s.label, s.pos, {_REF_ID.format('ref_hid')} FROM _gs_edges AS s "
    "ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING",
    "members": "INSERT INTO members (coll_id, pos, key, elt_id) SELECT "
    f"{_REF_ID.format('coll_hid')}, s.pos, s.key, {_REF_ID.format('elt_hid')} FROM _gs_members AS s "
    "ORDER BY 1, 2 ON CONFLICT DO NOTHING",
}
"""Each table's move from staging, in the order of its key."""

_ORDER = ("values", "refs", "calls", "edges", "members")
"""The order tables are written in: rows that others' rows refer to first."""

LOST_REF = "graphstore: a ref is used but not stored"
"""The message of the error a batch's transaction raises (the ref's id as its detail) when staged edges or members
use a ref that is neither in the batch nor stored (the store is damaged)."""


def _lost_refs_check(hids: str) -> str:
    return (
        f"DO $$DECLARE h uuid; BEGIN SELECT s.h INTO h FROM ({hids}) AS s WHERE {_REF_ID.format('h')} IS NULL "
        f"LIMIT 1; IF h IS NOT NULL THEN RAISE EXCEPTION '{LOST_REF}' USING DETAIL = replace(h::text, '-', ''); "
        "END IF; END$$"
    )


_LOST_REFS = {
    "edges": _lost_refs_check("SELECT ref_hid AS h FROM _gs_edges"),
    "members": _lost_refs_check("SELECT coll_hid AS h FROM _gs_members UNION SELECT elt_hid FROM _gs_members"),
}
"""Checks that the refs staged edges and members use are stored, run after the refs are written."""

_BEGIN = "; ".join([*_STAGING.values(), f"SELECT pg_advisory_xact_lock_shared({DELETION_LOCK})", READ_DELETIONS])
"""A batch's first statements, sent together: the staging tables (made once per connection), the shared deletion
lock, and the deletion count (a statement of its own, so that it sees a deletion that committed while the lock was
awaited)."""


def pack_outputs(flat: tuple, kinds: tuple) -> str:
    """A call's outputs as kept in its row (as on SQLite), from the flat ``(name, hid, cid, ...)`` of a batch row."""
    kinds = kinds or ("atom",) * (len(flat) // 3)
    return SEP_OUTPUT.join(
        SEP_FIELD.join((flat[j], flat[j + 1], flat[j + 2], k)) for j, k in zip(range(0, len(flat), 3), kinds)
    )


def staged_rows(batch: Batch, now: float) -> dict[str, list[tuple]]:
    """The rows of each staging table: values, edges and members sorted by key; refs and calls in recording order
    (their row ids are drawn in that order; the insert sorts them)."""
    refs = list({r[0]: (r[0], r[1], r[2]) for r in batch.refs}.values())
    calls = list({c[0]: c for c in batch.calls}.values())
    edges: list[tuple] = []
    for c in calls:
        ins, outs = c[6], c[4]
        edges += [(c[0], IN, ins[j], j // 3, ins[j + 1]) for j in range(0, len(ins), 3)]
        edges += [(c[0], OUT, outs[j], j // 3, outs[j + 1]) for j in range(0, len(outs), 3)]
    return {
        "values": sorted({v[0]: v[:6] for v in batch.values}.values(), key=lambda v: v[0]),
        "refs": refs,
        "calls": [
            (c[0], c[1], c[2], c[3], int(c[5]), c[7] or now, c[8], c[10], pack_outputs(c[4], c[9])) for c in calls
        ],
        "edges": sorted(edges, key=lambda e: (e[0], e[1], e[2])),
        "members": sorted({(m[0], m[1]): tuple(m) for m in batch.members}.values(), key=lambda m: (m[0], m[1])),
    }


class BatchWriter:
    """Writes batches on a connection of the store at ``location``; ``trace`` sees each statement."""

    def __init__(self, location: str, trace: Callable[..., None]) -> None:
        self.location = location
        self._trace = trace
        self.seen: int | None = None
        """The deletion count the last batch written was checked against."""

    def write(self, conn: psycopg.Connection, batch: Batch) -> None:
        """The whole batch in the caller's transaction, which it commits, or nothing (an error). A few round trips
        whatever the batch's size: the first statements together, one ``COPY`` per staging table, then the moves from
        staging, the check that the refs edges and members use are there, and the commit, together."""
        with conn.cursor() as cur:
            self._trace(_BEGIN)
            cur.execute(_BEGIN)
            while cur.nextset():
                pass
            row = cur.fetchone()
            self.check_deletions(conn, batch, int(row[0]) if row else 0)
            now = time.time()
            if batch.ops:
                self._write_ops(cur, batch, now)
            rows = staged_rows(batch, now)
            tables = [t for t in _ORDER if rows[t]]
            for table in tables:
                self._trace(_COPY[table], (len(rows[table]),))
                with cur.copy(_COPY[table]) as copy:
                    for r in rows[table]:
                        copy.write_row(r)
            # one round trip from the first row inserted to the commit, so that a writer whose rows overlap waits
            # for as short a time as can be (an insert waits for a conflicting row until its writer commits)
            statements = [_INSERT[t] for t in tables if t not in _LOST_REFS]
            statements += [_LOST_REFS[t] for t in tables if t in _LOST_REFS]
            statements += [_INSERT[t] for t in tables if t in _LOST_REFS]
            try:
                self._run_all(cur, [*statements, "COMMIT"])
            except pg_errors.RaiseException as exc:
                if exc.diag.message_primary != LOST_REF:
                    raise
                raise StoreError(
                    f"store {self.location}: ref {exc.diag.message_detail} is used by a recorded call but is not stored"
                ) from None

    def _run_all(self, cur: psycopg.Cursor, statements: list[str]) -> None:
        """Statements sent together, in one round trip (they take no parameters)."""
        for sql in statements:
            self._trace(sql)
        cur.execute("; ".join(statements))

    def _write_ops(self, cur: psycopg.Cursor, batch: Batch, now: float) -> None:
        sql = (
            "INSERT INTO ops (name, version, signature, source_hash, output_names, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
        )
        self._trace(sql, (len(batch.ops),))
        ops = sorted({(o.name, o.version): o for o in batch.ops}.values(), key=lambda o: (o.name, o.version))
        cur.executemany(
            sql, [(o.name, o.version, o.signature, o.source_hash, json.dumps(list(o.output_names)), now) for o in ops]
        )

    def check_deletions(self, conn: psycopg.Connection, batch: Batch, count: int) -> None:
        """Refuse the batch if a deletion since the count it carries removed a value it needs (and did not bring);
        ``count``: the store's deletion count, read under the shared deletion lock."""
        if batch.deletions is None:
            return
        if count != batch.deletions:
            carried = {v[0] for v in batch.values}
            needed = sorted({r[1] for r in batch.refs if r[2] == "atom" and r[1] not in carried})
            stored = {
                r[0] for r in conn.execute('SELECT cid FROM "values" WHERE cid = ANY(CAST(%s AS UUID[]))', (needed,))
            }
            missing = [cid for cid in needed if cid not in stored]
            if missing:
                raise MissingValuesError(
                    f"store {self.location}: {len(missing)} values that recorded calls use were deleted by another "
                    f"process (value {missing[0]} first)",
                    missing,
                    count,
                )
        self.seen = count
