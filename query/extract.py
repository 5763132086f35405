"""Running a compiled pattern: the statements, their staging through temporary tables, and rows of histories.

A history row is ``Row(root, created, cells)`` where ``cells`` maps a node name to the sorted ids (ref or call hids)
the row holds there. ``graphstore.query.table`` turns rows into a DataFrame.
"""

from __future__ import annotations

import itertools
import json
import operator
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import emit, emit_history
from .compile import (
    LongPlan,
    TreePlan,
    compile_long,
    compile_members,
    compile_trees,
    is_simple,
    needs_members,
    python_filters,
)
from .model import Pattern

_COUNTER = itertools.count()
_LOCK = threading.Lock()


def temp_name(prefix: str) -> str:
    with _LOCK:
        return f"_gs_{prefix}{next(_COUNTER)}"


CHUNK_ROWS = 25_000
"""Histories read per chunk when a history query is read by column (see :class:`Chunks`)."""


@dataclass
class Chunks:
    """A single-stage history query of an op's calls, read by column in chunks of root row ids: ``range_sql`` gives
    the ids' ``(min, max, count)``; ``sql`` (with ``params`` and the range's two parameters ``lo`` and ``hi``)
    returns a chunk as one JSON array per column of ``columns``."""

    range_sql: str
    range_params: dict
    sql: str
    params: dict
    lo: str
    hi: str
    columns: list


@dataclass
class Statement:
    """One SQL statement of an extraction: ``kind`` is "exec" (staging), "tree" or "long" (returns rows)."""

    kind: str
    sql: str
    params: dict
    tree: TreePlan | None = None
    columns: list = field(default_factory=list)
    chunkable: bool = False  # a history query that may be read by column (see :func:`_chunks`)


@dataclass
class Row:
    """One history: ``cells`` maps a node to the sorted hids it holds; ``info`` (shared by all rows of one
    extraction) maps every hid to ``(cid, extra)``, extra being a ref's kind or a call's op version."""

    root: str
    created: float
    cells: dict
    info: dict = field(default_factory=dict, repr=False)


def plan_statements(pattern: Pattern, dialect: str = emit.DIALECT) -> tuple[list, list]:
    """The statements that extract ``pattern``'s histories, and the temporary tables to drop afterwards."""
    stmts: list[Statement] = []
    temps: list[str] = []
    table = None
    if needs_members(pattern):
        table = temp_name("m")
        temps.append(table)
        stmts.append(Statement("exec", emit.emit_create_members(table), {}))
        p = emit.Params()
        sql, params = emit.render(emit.emit_members_insert(compile_members(pattern, table), table, p), p, dialect)
        stmts.append(Statement("exec", sql, params))
    if is_simple(pattern):
        trees = compile_trees(pattern, table)
        for tree in trees:  # one root probe per root node (extraction may run them side by side)
            p = emit.Params()
            sql, params = emit.render(emit_history.emit_root_probe([tree], p), p, dialect)
            stmts.append(Statement("probe", sql, params))
        for tree in trees:
            stmts.append(Statement("lazy", "", {}, tree))
    else:
        plan: LongPlan = compile_long(pattern, table)
        p = emit.Params()
        sql, params = emit.render(emit_history.emit_long(plan, p), p, dialect)
        stmts.append(Statement("long", sql, params))
    return stmts, temps


def _tree_statements(tree: TreePlan, temps: list, dialect: str) -> list:
    out = []
    prev: str | None = None
    done: list = []
    stages = tree.stages()
    for i, steps in enumerate(stages):
        p = emit.Params()
        last = i == len(stages) - 1
        q = emit_history.emit_tree_stage(tree, steps, prev, done, p, last)
        done = done + steps
        if last:
            q = emit_history.wrap_filtered(q, tree, p)
            sql, params = emit.render(q, p, dialect)
            columns = ["root", "created"] + [f"{k}{s.id}" for s in done for k in "scx"]
            chunkable = len(stages) == 1 and tree.root.kind == "call" and tree.root.source.members_table is None
            out.append(Statement("tree", sql, params, tree, columns, chunkable))
        else:
            name = temp_name("s")
            temps.append(name)
            out.append(Statement("exec", emit.emit_create_as(name, q, dialect), dict(p.values)))
            prev = name
    return out


def _chunks(tree: TreePlan, columns: list, dialect: str = emit.DIALECT) -> Chunks:
    """How to read the histories of a single-stage tree whose roots are the calls of an op, by column."""
    p = emit.Params()
    range_sql, range_params = emit.render(emit_history.emit_root_range(tree, p), p, dialect)
    p = emit.Params()
    lo, hi = p.add(0), p.add(0)
    q = emit_history.wrap_filtered(emit_history.emit_tree_stage(tree, tree.steps, None, [], p, True, (lo, hi)), tree, p)
    wanted = columns[1:]  # the root is the first step's element: its column is read once
    sql, params = emit.render(emit_history.emit_json_columns(q, wanted), p, dialect)
    return Chunks(range_sql, range_params, sql, params, lo.name, hi.name, wanted)


def _expand_lazy(stmts: list, temps: list, has_roots: set | None, dialect: str = emit.DIALECT) -> list:
    """Replace each deferred history query by its statements (only for root nodes that have roots)."""
    out = []
    for s in stmts:
        if s.kind != "lazy":
            out.append(s)
        elif has_roots is None or s.tree.root.node in has_roots:
            out.extend(_tree_statements(s.tree, temps, dialect))
    return out


def sql_text(pattern: Pattern, run: Callable[[str, Any], list] | None = None) -> str:
    """The SQL extraction runs, as one script. With ``run``, the root probes are run first, so that (as in
    extraction) only the root nodes that have roots get a history query."""
    stmts, temps = plan_statements(pattern)
    has_roots = None
    probes = [s for s in stmts if s.kind == "probe"]
    if run is not None and probes:
        staging = [s for s in stmts[: stmts.index(probes[0])]]
        try:
            for s in staging:
                run(s.sql, s.params)
            has_roots = {r[0] for s in probes for r in run(s.sql, s.params)}
        finally:
            for t in temps:
                run(emit.emit_drop_temp(t), {})
    stmts = _expand_lazy(stmts, temps, has_roots)
    parts = [s.sql for s in stmts] + [emit.emit_drop_temp(t) for t in temps]
    return ";\n".join(parts) + ";"


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
) -> Table:
    """The histories of ``pattern`` as a ``Table``. A single history query whose roots are distinct (the common
    case) is turned into columns as it comes, without a per-history object; with ``stream`` (see
    ``Reader.run_stream``) a query of an op's calls is read by column, in chunks of roots. ``on_count(n)``, told
    how many roots such a query has, may return work for the time spent waiting on the stream (its ``idle``)."""
    results = _run_all(run, pattern, run_many, stream, on_count)
    if len(results) == 1 and results[0][0].kind == "tree":
        table = _tree_table(results[0][0], results[0][1])
        if table is not None:
            return table
    rows = _rows_of_results(results)
    return Table.of_rows(rows, pattern.names())


def _read_chunks(
    run: Callable, stream: Callable, chunks: Chunks, side: bool, on_count: Callable | None = None
) -> Columns:
    """A history query read by column, chunk by chunk (see :class:`Chunks`)."""
    low, high, count = run(chunks.range_sql, chunks.range_params)[0]
    cols: list = [[] for _ in chunks.columns]
    idle = on_count(count) if on_count is not None and count else None
    if count:
        n = -(-count // CHUNK_ROWS)
        step = (high - low) // n + 1
        param_sets = [
            {**chunks.params, chunks.lo: low + k * step, chunks.hi: low + (k + 1) * step - 1} for k in range(n)
        ]
        loads = json.loads
        side = side and n > 1  # (one chunk is read at once, here)
        for rows in stream(chunks.sql, param_sets, side, idle):
            for col, text in zip(cols, rows[0]):
                col.extend(loads(text))
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


def history_rows(run: Callable[[str, Any], list], pattern: Pattern, run_many: Callable | None = None) -> list:
    """Every history row of ``pattern``, ordered by the creation time of its root (then root id)."""
    return _rows_of_results(_run_all(run, pattern, run_many))


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
) -> list:
    """Run the statements of ``pattern``: the ``(statement, result)`` of those that return histories. The root
    probes go through ``run_many`` (statements -> results, maybe side by side) when it is given; with ``stream``,
    a history query that can be is read by column (its result is then a ``Columns``)."""
    stmts, temps = plan_statements(pattern)
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
                result = _read_chunks(run, stream, _chunks(s.tree, s.columns), not temps, on_count)
                on_count = None  # (one waiting task)
            else:
                result = run(s.sql, s.params)
            if s.kind == "probe":
                stmts = stmts[:i] + _expand_lazy(stmts[i:], temps, {r[0] for r in result})
            elif s.kind in ("tree", "long"):
                results.append((s, result))
    finally:
        for t in temps:
            run(emit.emit_drop_temp(t), {})
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
