"""Writing a batch of recorded calls into a SQLite store, inside the caller's write transaction.

Refs and calls are appended in the order they were recorded (their row ids follow it); edges and members are written
with the row ids of their calls and refs, known from the inserts or, for records stored before, read in the same
transaction. Every insert is ``INSERT OR IGNORE`` keyed by history id, hundreds of rows per statement.
"""

from __future__ import annotations

import itertools
import json
import operator
import sqlite3
from collections.abc import Callable, Iterator

from ..errors import StoreError
from .base import Batch, CallRow, MemberRecord
from .schema import IN, OUT

SEP_FIELD, SEP_OUTPUT = "\x1f", "\x1e"
"""Separators of a call's packed outputs (``SQLiteBackend._parse_row`` reads them)."""

_ROWS_PER_STATEMENT = 256
"""Rows per multi-row INSERT. Every full chunk of a table reuses one prepared statement; the remainder of a batch goes
through ``executemany``, so the statement cache never fills with one-off statements of thousands of placeholders."""

_first = operator.itemgetter(0)
"""Values are written in content-id order: each page of their index is then visited once per batch, not once per
row. (Refs and calls are written in recording order, which their row ids follow.)"""


def _insert_chunks(conn: sqlite3.Connection, head: str, rows: list) -> Iterator[tuple[list, int]]:
    """``head VALUES (...), (...), ...``: hundreds of rows per statement, so a batch costs a few hundred statement
    executions instead of one per row. Yields each chunk of rows once inserted, with the number of rows it inserted
    (fewer than its length for ``INSERT OR IGNORE`` when some were stored before), before the next one goes in."""
    width, per = len(rows[0]), _ROWS_PER_STATEMENT
    group = "(" + ",".join("?" * width) + ")"
    full = len(rows) - len(rows) % per
    if full:
        sql = f"{head} VALUES {','.join([group] * per)}"
        for start in range(0, full, per):
            chunk = rows[start : start + per]
            yield chunk, conn.execute(sql, list(itertools.chain.from_iterable(chunk))).rowcount
    if full < len(rows):
        chunk = rows[full:]
        yield chunk, conn.executemany(f"{head} VALUES {group}", chunk).rowcount


def _insert_rows(conn: sqlite3.Connection, head: str, rows: list) -> None:
    for _ in _insert_chunks(conn, head, rows):
        pass


def _pack_outputs(flat: tuple, kinds: tuple) -> str:
    """A call's outputs as stored in its row, from the flat ``(name, hid, cid, ...)`` of a batch row."""
    if len(flat) == 3:  # the usual single output
        return f"{flat[0]}{SEP_FIELD}{flat[1]}{SEP_FIELD}{flat[2]}{SEP_FIELD}{kinds[0] if kinds else 'atom'}"
    kinds = kinds or ("atom",) * (len(flat) // 3)
    return SEP_OUTPUT.join(
        SEP_FIELD.join((flat[j], flat[j + 1], flat[j + 2], k)) for j, k in zip(range(0, len(flat), 3), kinds)
    )


class BatchWriter:
    """Writes batches for the store at ``location``; ``trace`` sees each statement (as the backend's tracer)."""

    def __init__(self, location: str, trace: Callable[[str, tuple], None]) -> None:
        self.location = location
        self._trace = trace

    def write(self, conn: sqlite3.Connection, batch: Batch, now: float) -> None:
        """Refs and calls are appended in the order they were recorded (their row ids follow it); edges and members
        are written with the row ids of their calls and refs, known from the inserts or, for records stored before,
        read in the same transaction. Rows already stored (the same hid) are left as they are, and so are their
        edges."""

        def run_many(head: str, rows: list) -> None:
            if rows:
                self._trace(head, (len(rows),))
                _insert_rows(conn, head, rows)

        run_many(
            "INSERT OR IGNORE INTO ops (name, version, signature, source_hash, output_names, created_at)",
            [(o.name, o.version, o.signature, o.source_hash, json.dumps(list(o.output_names)), now) for o in batch.ops],
        )
        run_many(
            'INSERT OR IGNORE INTO "values" (cid, codec, size, data, path, checksum)', sorted(batch.values, key=_first)
        )
        # one row per hid (records of one hid are the same), in the order of its first appearance
        ref_ids = self._insert_ids(conn, "refs", "hid, cid, kind", list({r[0]: r for r in batch.refs}.values()))
        calls = list({c.hid: c for c in map(CallRow._make, batch.calls)}.values())
        call_ids = self._insert_ids(
            conn,
            "calls",
            "hid, cid, op_name, op_version, tuple_out, created_at, duration, version_id, outputs",
            [
                (
                    c.hid,
                    c.cid,
                    c.op_name,
                    c.op_version,
                    int(c.tuple_out),
                    c.created_at or now,
                    c.duration,
                    c.version_id,
                    _pack_outputs(c.outputs, c.output_kinds),
                )
                for c in calls
            ],
        )
        edges: list[tuple] = []
        for c in calls:  # inputs and outputs flat: (name, hid, cid, ...)
            call_id, ins, outs = call_ids[c.hid], c.inputs, c.outputs
            edges += [(call_id, IN, ins[j], j // 3, ins[j + 1]) for j in range(0, len(ins), 3)]
            edges += [(call_id, OUT, outs[j], j // 3, outs[j + 1]) for j in range(0, len(outs), 3)]
        members = list(map(MemberRecord._make, batch.members))
        unknown = {e[4] for e in edges if e[4] not in ref_ids}
        unknown.update(h for m in members for h in (m.coll_hid, m.elt_hid) if h not in ref_ids)
        if unknown:  # refs a batch uses without carrying them: stored before
            ref_ids.update(self._find_ids(conn, "refs", list(unknown)))
        get = ref_ids.__getitem__
        run_many(
            "INSERT OR IGNORE INTO edges (call_id, direction, label, pos, ref_id)",
            [(e[0], e[1], e[2], e[3], get(e[4])) for e in edges],
        )
        run_many(
            "INSERT OR IGNORE INTO members (coll_id, pos, key, elt_id)",
            [(get(m.coll_hid), m.pos, m.key, get(m.elt_hid)) for m in members],
        )

    def _insert_ids(self, conn: sqlite3.Connection, table: str, columns: str, rows: list) -> dict:
        """Insert rows keyed by ``hid`` (their first column) unless stored; returns ``{hid: id}`` for all of them.

        SQLite numbers inserted rows on from the largest id ever used (this transaction holds the write lock), so
        the ids of a chunk inserted whole are known without reading them; a chunk in which some rows were ignored
        has its ids read back, and the numbering of the next chunk too."""
        if not rows:
            return {}
        next_sql = (
            f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0), "
            f"coalesce((SELECT max(id) FROM {table}), 0)) + 1"
        )
        next_id = conn.execute(next_sql).fetchone()[0]
        head = f"INSERT OR IGNORE INTO {table} ({columns})"
        self._trace(head, (len(rows),))
        ids: dict = {}
        for chunk, inserted in _insert_chunks(conn, head, rows):
            if inserted == len(chunk):
                ids.update(zip(map(_first, chunk), range(next_id, next_id + inserted)))
                next_id += inserted
            else:  # an ignored row may use up a number too: read the chunk's ids and where numbering goes on
                ids.update(self._find_ids(conn, table, [r[0] for r in chunk]))
                next_id = conn.execute(next_sql).fetchone()[0]
        return ids

    def _find_ids(self, conn: sqlite3.Connection, table: str, hids: list) -> dict:
        """``{hid: id}`` of stored calls or refs; every one must be there."""
        sql = f"SELECT t.hid, t.id FROM json_each(?) AS j JOIN {table} AS t ON t.hid = j.value"
        self._trace(sql, (len(hids),))
        found = dict(conn.execute(sql, (json.dumps(hids),)).fetchall())
        lost = [h for h in hids if h not in found]
        if lost:
            what = "ref" if table == "refs" else "call"
            raise StoreError(f"store {self.location}: {what} {lost[0]} is used by a recorded call but is not stored")
        return found
