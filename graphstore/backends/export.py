"""Reading every record of a store out, in batches, for a copy into another store (see ``graphstore.copying``).

Both stores name their tables and columns alike, so the statements are shared: each store runs them inside one
read snapshot (its own transaction) and hands :func:`export_batches` a function that opens a cursor over one
statement. Records come out in the order a store can take them back with ``save_batch``: ops, values, refs, calls
(with their edges, as :class:`~graphstore.backends.base.CallRow` tuples), collection members, each batch holding one
kind. Nothing is held but the batch being filled: calls and their edges are read side by side, both in call order.

>>> from graphstore.backends import open_backend
>>> store = open_backend(":memory:")
>>> [len(b) for b in store.export_batches(100, 1 << 20)]
[]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from .base import Batch, OpRecord

OPS = "SELECT name, version, signature, source_hash, output_names FROM ops ORDER BY name, version"
VALUES = 'SELECT cid, codec, size, data, path, checksum FROM "values"'
REFS = "SELECT hid, cid, kind FROM refs ORDER BY id"
CALLS = "SELECT id, hid, cid, op_name, op_version, tuple_out, created_at, duration, version_id FROM calls ORDER BY id"
EDGES = (
    "SELECT e.call_id, e.direction, e.pos, e.label, r.hid, r.cid, r.kind FROM edges AS e "
    "JOIN refs AS r ON r.id = e.ref_id ORDER BY e.call_id"
)
MEMBERS = (
    "SELECT c.hid, m.pos, m.key, r.hid FROM members AS m JOIN refs AS c ON c.id = m.coll_id "
    "JOIN refs AS r ON r.id = m.elt_id ORDER BY m.coll_id, m.pos"
)

_FETCH = 256
"""Rows fetched from a cursor at a time."""


class Cursor(Protocol):
    def fetchmany(self, size: int) -> list[Any]: ...


def _rows(cursor: Cursor) -> Iterator[tuple]:
    while True:
        rows = cursor.fetchmany(_FETCH)
        if not rows:
            return
        yield from rows


def _chunks(rows: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _value_chunks(rows: Iterator[tuple], size: int, max_bytes: int) -> Iterator[list[tuple]]:
    """Values in batches of at most ``size`` rows and about ``max_bytes`` of inline data (one larger value goes
    alone)."""
    chunk: list[tuple] = []
    held = 0
    for row in rows:
        data = row[3]
        if chunk and held + (len(data) if data is not None else 0) > max_bytes:
            yield chunk
            chunk, held = [], 0
        chunk.append((row[0], row[1], int(row[2]), None if data is None else bytes(data), row[4], row[5]))
        held += len(data) if data is not None else 0
        if len(chunk) >= size:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def _call_rows(heads: Iterator[tuple], edges: Iterator[tuple]) -> Iterator[tuple]:
    """Each call as a ``CallRow`` tuple, from its row and its edges (both in call id order)."""
    edge = next(edges, None)
    for call_id, hid, cid, op_name, op_version, tuple_out, created_at, duration, version_id in heads:
        mine: list[tuple] = []
        while edge is not None and edge[0] < call_id:  # edges of a call that is not there (check() reports them)
            edge = next(edges, None)
        while edge is not None and edge[0] == call_id:
            mine.append(edge)
            edge = next(edges, None)
        mine.sort(key=lambda e: (e[1], e[2]))
        ins = tuple(x for e in mine if e[1] == 0 for x in (e[3], e[4], e[5]))
        outs = [e for e in mine if e[1] == 1]
        yield (
            hid,
            cid,
            op_name,
            int(op_version),
            tuple(x for e in outs for x in (e[3], e[4], e[5])),
            bool(tuple_out),
            ins,
            float(created_at),
            float(duration),
            tuple(e[6] for e in outs),
            version_id,
        )


def export_batches(open_cursor: Callable[[str], Cursor], batch_size: int, value_bytes: int) -> Iterator[Batch]:
    """Every record of the store that ``open_cursor`` reads (all in one snapshot), in batches of one kind each."""
    ops = [
        OpRecord(name, int(version), signature, source_hash, tuple(json.loads(names)))
        for name, version, signature, source_hash, names in _rows(open_cursor(OPS))
    ]
    if ops:
        yield Batch(ops=ops)
    for chunk in _value_chunks(_rows(open_cursor(VALUES)), batch_size, value_bytes):
        yield Batch(values=chunk)
    for chunk in _chunks(_rows(open_cursor(REFS)), batch_size):
        yield Batch(refs=chunk)
    calls = _call_rows(_rows(open_cursor(CALLS)), _rows(open_cursor(EDGES)))
    for chunk in _chunks(calls, batch_size):
        yield Batch(calls=chunk)
    for chunk in _chunks(((c, int(p), k, e) for c, p, k, e in _rows(open_cursor(MEMBERS))), batch_size):
        yield Batch(members=chunk)
