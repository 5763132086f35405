"""Running an extraction's statements (SQL -> rows): staging, root probes side by side, history queries read whole
or by column in chunks, and the rows of histories they return.

A history row is ``Row(root, created, cells)`` where ``cells`` maps a node name to the sorted ids (ref or call hids)
the row holds there. ``graphstore.query.table`` turns rows into a DataFrame.
"""

from __future__ import annotations

import itertools
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphstore import progress

from .model import Pattern
from .plan import is_simple, python_filters
from .sql.dialect import SQLITE, Dialect
from .sql.statements import Chunks, Statement, chunks_of, expand_lazy, plan_statements

CHUNK_ROWS = 25_000
"""The most histories read per chunk when a history query is read by column (see ``Chunks``; a dialect may ask for
fewer: ``Dialect.chunk_rows``)."""


@dataclass
class Row:
    """One history: ``cells`` maps a node to the sorted hids it holds; ``info`` (shared by all rows of one
    extraction) maps every hid to ``(cid, extra)``, extra being a ref's kind or a call's op version."""

    root: str
    created: float
    cells: dict
    info: dict = field(default_factory=dict, repr=False)


@dataclass
class Table:
    """The histories of a pattern by column: ``cells[node][i]`` is what history ``i`` holds at ``node``: ``None``,
    one hid, or a sorted tuple of several. Histories are in root creation order. ``meta[node]``, when present, is
    ``(cids, extras)`` aligned with ``cells[node]`` (single ids only); ``info`` maps every hid to ``(cid, extra)``
    as in ``Row`` (built on first use from ``raw``, the ``(hids, cids, extras)`` columns a query returned)."""

    roots: list
    created: list
    cells: dict
    _info: dict | None = None
    meta: dict = field(default_factory=dict)
    raw: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.roots)

    @property
    def info(self) -> dict:
        if self._info is None:
            info: dict = {}
            for hids, cids, extras in reversed(self.raw):  # the first occurrence wins (repeats may skip their cid)
                info.update(zip(hids, zip(cids, extras)))
            info.pop(None, None)
            self._info = info
        return self._info

    @classmethod
    def of_rows(cls, rows: list, nodes: Any) -> Table:
        info = rows[0].info if rows else {}
        cells = {n: [_cell(r.cells.get(n, ())) for r in rows] for n in nodes}
        return cls([r.root for r in rows], [r.created for r in rows], cells, info)


def _union(a: Any, b: Any) -> Any:
    return _cell(tuple(sorted(set(a if type(a) is tuple else (a,)) | set(b if type(b) is tuple else (b,)))))


def _cell(hids: tuple) -> Any:
    return None if not hids else hids[0] if len(hids) == 1 else hids


class Columns(list):
    """A history query's result by column (``columns[k]`` lists the values of its k-th column), not by row."""


def history_table(
    run: Callable[[str, Any], list],
    pattern: Pattern,
    run_many: Callable | None = None,
    stream: Callable | None = None,
    on_count: Callable | None = None,
    dialect: Dialect = SQLITE,
) -> Table:
    """The histories of ``pattern`` as a ``Table``. A single history query whose roots are distinct (the common
    case) is turned into columns as it comes, without a per-history object; with ``stream`` (see
    ``Reader.run_stream``) a query of an op's calls is read by column, in chunks of roots. ``on_count(n)``, told
    how many roots such a query has, may return work for the time spent waiting on the stream (its ``idle``)."""
    results = _run_all(run, pattern, run_many, stream, on_count, dialect)
    if len(results) == 1 and results[0][0].kind == "tree":
        table = _tree_table(results[0][0], results[0][1])
        if table is not None:
            return table
    rows = _rows_of_results(results)
    return Table.of_rows(rows, pattern.names())


PROGRESS_ROWS = 100_000
"""A history table of at least this many histories shows a progress bar while it is read (see
``graphstore.progress``)."""


def _read_chunks(
    run: Callable, stream: Callable, chunks: Chunks, side: bool, per_chunk: int, on_count: Callable | None = None
) -> Columns:
    """A history query read by column, chunk by chunk (see :class:`Chunks`)."""
    low, high, count = run(chunks.range_sql, chunks.range_params)[0]
    cols: list = [[] for _ in chunks.columns]
    idle = on_count(count) if on_count is not None and count else None
    if count:
        n = -(-count // per_chunk)
        step = (high - low) // n + 1
        param_sets = [
            {**chunks.params, chunks.lo: low + k * step, chunks.hi: low + (k + 1) * step - 1} for k in range(n)
        ]
        loads = json.loads
        side = side and n > 1  # (one chunk is read at once, here)
        with progress.bar(count, "reading histories", unit="histories", at_least=PROGRESS_ROWS) as shown:
            for rows in stream(chunks.sql, param_sets, side, idle):
                before = len(cols[0])
                for col, text in zip(cols, rows[0]):
                    col.extend(loads(text))
                shown.update(len(cols[0]) - before)
    return Columns([cols[1]] + cols)  # the root (the first step's element), then every column read


def _tree_table(stmt: Statement, result: list) -> Table | None:
    steps = {s.id: s for s in stmt.tree.steps}
    ids = [int(c[1:]) for c in stmt.columns[2::3]]
    if not result or not result[0]:
        return Table([], [], {steps[i].node: [] for i in ids}, {})
    data = result if type(result) is Columns else list(zip(*result))
    roots = data[0]
    if len(set(roots)) != len(roots):
        return None
    raw = [(data[2 + 3 * j], data[3 + 3 * j], data[4 + 3 * j]) for j in range(len(ids))]
    by_node: dict = {}
    for j, i in enumerate(ids):
        by_node.setdefault(steps[i].node, []).append(raw[j])
    created = data[1] if None not in data[1] else [c or 0.0 for c in data[1]]
    if all(map(operator.lt, created, itertools.islice(created, 1, None))):  # already in order: nothing to pick
        pick: Callable = _same
    else:
        order = sorted(range(len(roots)), key=list(zip(created, roots)).__getitem__)
        pick = operator.itemgetter(*order) if len(order) > 1 else list  # a tuple of the picked items, in C
    cells, meta = {}, {}
    for node, cols in by_node.items():
        first = col = cols[0][0]
        for other, _, _ in cols[1:]:  # a node reached twice (a value two branches share): mostly the same ids
            if other != col and other.count(None) != len(other):
                col = [a if b is None or b == a else b if a is None else _union(a, b) for a, b in zip(col, other)]
        cells[node] = pick(col)
        if col is first and first.count(None) == cols[0][1].count(None):  # every id came with its cid
            meta[node] = (pick(cols[0][1]), pick(cols[0][2]))
    return Table(pick(roots), pick(data[1]), cells, None, meta, raw)


def _same(column: Any) -> Any:
    return column


def history_rows(
    run: Callable[[str, Any], list], pattern: Pattern, run_many: Callable | None = None, dialect: Dialect = SQLITE
) -> list:
    """Every history row of ``pattern``, ordered by the creation time of its root (then root id)."""
    return _rows_of_results(_run_all(run, pattern, run_many, dialect=dialect))


def _rows_of_results(results: list) -> list:
    rows: list[Row] = []
    info: dict = {}
    for s, result in results:
        if type(result) is Columns:
            result = list(zip(*result))
        if s.kind == "tree":
            rows.extend(_tree_rows(s, result, info))
        else:
            rows.extend(_long_rows(result, info))
    if (
        any(s.kind != "tree" for s, _ in results)
        or len({r.root for r in rows}) != len(rows)
        or any(len(h) > 1 for r in rows for h in r.cells.values())
    ):
        rows = _merge_same_root(rows)
    rows.sort(key=lambda r: (r.created or 0.0, r.root))
    return rows


def _run_all(
    run: Callable[[str, Any], list],
    pattern: Pattern,
    run_many: Callable | None = None,
    stream: Callable | None = None,
    on_count: Callable | None = None,
    dialect: Dialect = SQLITE,
) -> list:
    """Run the statements of ``pattern``: the ``(statement, result)`` of those that return histories. The root
    probes go through ``run_many`` (statements -> results, maybe side by side) when it is given; with ``stream``,
    a history query that can be is read by column (its result is then a ``Columns``)."""
    stmts, temps = plan_statements(pattern, dialect)
    results: list = []
    try:
        i = 0
        while i < len(stmts):
            s = stmts[i]
            i += 1
            if s.kind == "lazy":
                continue
            if s.kind == "probe":  # the probes of every root node, side by side when they touch no temporary table
                probes = [s] + [x for x in stmts[i:] if x.kind == "probe"]
                i += len(probes) - 1
                pairs = [(x.sql, x.params) for x in probes]
                parts = run_many(pairs) if run_many is not None and not temps else [run(*x) for x in pairs]
                result = [row for part in parts for row in part]
            elif s.chunkable and stream is not None:
                result = _read_chunks(
                    run,
                    stream,
                    chunks_of(s.tree, s.columns, dialect),
                    not temps,
                    min(CHUNK_ROWS, dialect.chunk_rows),
                    on_count,
                )
                on_count = None  # (one waiting task)
            else:
                result = run(s.sql, s.params)
            if s.kind == "probe":
                stmts = stmts[:i] + expand_lazy(stmts[i:], temps, {r[0] for r in result}, dialect)
            elif s.kind in ("tree", "long"):
                results.append((s, result))
    finally:
        for t in temps:
            run(dialect.drop_temp(t), {})
    return results


def _tree_rows(stmt: Statement, result: list, info: dict) -> list:
    steps = {s.id: s for s in stmt.tree.steps}
    ids = [int(c[1:]) for c in stmt.columns[2::3]]
    nodes = [steps[i].node for i in ids]
    if not result:
        return []
    data = list(zip(*result))
    for j in reversed(range(len(ids))):  # the first occurrence of an element wins (repeats may skip their cid)
        info.update(zip(data[2 + 3 * j], zip(data[3 + 3 * j], data[4 + 3 * j])))
    info.pop(None, None)
    hid_cols = [(nodes[j], 2 + 3 * j) for j in range(len(ids))]
    if len(set(nodes)) == len(nodes):
        return [Row(rec[0], rec[1], {n: (rec[k],) for n, k in hid_cols if rec[k] is not None}, info) for rec in result]
    out = []
    for rec in result:
        cells: dict = {}
        for n, k in hid_cols:
            hid = rec[k]
            if hid is not None and hid not in cells.setdefault(n, []):
                cells[n].append(hid)
        out.append(Row(rec[0], rec[1], {n: tuple(h) for n, h in cells.items() if h}, info))
    return out


def _long_rows(result: list, info: dict) -> list:
    by_root: dict = {}
    for root, created, node, hid, cid, extra in result:
        row = by_root.get(root)
        if row is None:
            row = by_root[root] = Row(root, created, {}, info)
        row.cells.setdefault(node, []).append(hid)
        info[hid] = (cid, extra)
    return list(by_root.values())


def _merge_same_root(rows: list) -> list:
    merged: dict = {}
    for r in rows:
        if r.root in merged:
            cells = merged[r.root].cells
            for node, hids in r.cells.items():
                cells[node] = tuple(cells.get(node, ())) + tuple(hids)
        else:
            merged[r.root] = r
    for r in merged.values():
        for node, hids in r.cells.items():
            if len(hids) > 1:
                r.cells[node] = tuple(sorted(set(hids)))
            elif type(hids) is not tuple:
                r.cells[node] = tuple(hids)
    return list(merged.values())


def after_filters(pattern: Pattern) -> list:
    return python_filters(pattern, is_simple(pattern))
