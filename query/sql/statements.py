"""The statements of an extraction (plan -> SQL): the members table, root probes, history queries staged through
temporary tables, and how a single-stage history query is read by column in chunks; :func:`sql_text` shows them as
one script.

>>> from graphstore.query.model import Pattern, FuncNode
>>> stmts, temps = plan_statements(Pattern(funcs=(FuncNode("inc", "inc", full=True),)))
>>> [s.kind for s in stmts], temps
(['probe', 'lazy'], [])
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model import Pattern
from ..plan import LongPlan, TreePlan, compile_long, compile_members, compile_trees, is_simple, needs_members
from . import history, members
from .build import render
from .dialect import SQLITE, Dialect, dialect_for

_COUNTER = itertools.count()
_LOCK = threading.Lock()


def temp_name(prefix: str) -> str:
    """A new name for a temporary table (unique in the process)."""
    with _LOCK:
        return f"_gs_{prefix}{next(_COUNTER)}"


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
    chunkable: bool = False  # a history query that may be read by column (see :func:`chunks_of`)


def plan_statements(pattern: Pattern, dialect: Dialect | str = SQLITE) -> tuple[list, list]:
    """The statements that extract ``pattern``'s histories, and the temporary tables to drop afterwards (``dialect``:
    a dialect object or its name)."""
    if isinstance(dialect, str):
        dialect = dialect_for(dialect)
    stmts: list[Statement] = []
    temps: list[str] = []
    table = None
    if needs_members(pattern):
        table = temp_name("m")
        temps.append(table)
        stmts.append(Statement("exec", members.emit_create_members(table, dialect), {}))
        p = dialect.params()
        sql, params = render(members.emit_members_insert(compile_members(pattern, table), table, p), p)
        stmts.append(Statement("exec", sql, params))
    if is_simple(pattern):
        trees = compile_trees(pattern, table)
        for tree in trees:  # one root probe per root node (extraction may run them side by side)
            p = dialect.params()
            sql, params = render(history.emit_root_probe([tree], p), p)
            stmts.append(Statement("probe", sql, params))
        for tree in trees:
            stmts.append(Statement("lazy", "", {}, tree))
    else:
        plan: LongPlan = compile_long(pattern, table)
        p = dialect.params()
        sql, params = render(history.emit_long(plan, p), p)
        stmts.append(Statement("long", sql, params))
    return stmts, temps


def _tree_statements(tree: TreePlan, temps: list, dialect: Dialect) -> list:
    out = []
    staged: list = []
    done: list = []
    stages = tree.stages()
    for i, steps in enumerate(stages):
        p = dialect.params()
        last = i == len(stages) - 1
        q = history.emit_tree_stage(tree, steps, staged, p, last)
        done = done + steps
        if last:
            q = history.wrap_filtered(q, tree, p)
            sql, params = render(q, p)
            columns = ["root", "created"] + [f"{k}{s.id}" for s in done for k in "scx"]
            chunkable = len(stages) == 1 and tree.root.kind == "call" and tree.root.source.members_table is None
            out.append(Statement("tree", sql, params, tree, columns, chunkable))
        else:
            name = temp_name("s")
            temps.append(name)
            out.append(Statement("exec", dialect.create_temp_as(name, q), dict(p.values)))
            staged.append((name, steps))
    return out


def chunks_of(tree: TreePlan, columns: list, dialect: Dialect = SQLITE) -> Chunks:
    """How to read the histories of a single-stage tree whose roots are the calls of an op, by column."""
    p = dialect.params()
    range_sql, range_params = render(history.emit_root_range(tree, p), p)
    p = dialect.params()
    lo, hi = p.add(0), p.add(0)
    q = history.wrap_filtered(history.emit_tree_stage(tree, tree.steps, [], p, True, (lo, hi)), tree, p)
    wanted = columns[1:]  # the root is the first step's element: its column is read once
    sql, params = render(history.emit_json_columns(q, wanted, p), p)
    return Chunks(range_sql, range_params, sql, params, lo.name, hi.name, wanted)


def expand_lazy(stmts: list, temps: list, has_roots: set | None, dialect: Dialect = SQLITE) -> list:
    """Replace each deferred history query by its statements (only for root nodes that have roots)."""
    out = []
    for s in stmts:
        if s.kind != "lazy":
            out.append(s)
        elif has_roots is None or s.tree.root.node in has_roots:
            out.extend(_tree_statements(s.tree, temps, dialect))
    return out


def sql_text(pattern: Pattern, run: Callable[[str, Any], list] | None = None, dialect: Dialect = SQLITE) -> str:
    """The SQL extraction runs, as one script. With ``run``, the root probes are run first, so that (as in
    extraction) only the root nodes that have roots get a history query."""
    stmts, temps = plan_statements(pattern, dialect)
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
                run(dialect.drop_temp(t), {})
    stmts = expand_lazy(stmts, temps, has_roots, dialect)
    parts = [s.sql for s in stmts] + [dialect.drop_temp(t) for t in temps]
    return ";\n".join(parts) + ";"
