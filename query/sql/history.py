"""The statements that read histories: a tree of steps from root calls, joined stage by stage, its filters, and
the long (one row per node and element) and column (one JSON array per column) shapes that extraction reads.

Built from the shared pieces of :mod:`graphstore.query.sql.build` (parameters, identifiers, edge and member joins).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from ..plan import RootPlan, Step, TreePlan
from .build import Params, _and, _not_consumed, _union, col, edge_on, id_list, member_join, op_condition, table


def root_conditions(root: RootPlan, row_id: exp.Expression, p: Params) -> list[exp.Expression]:
    """Conditions that make a member (its row id ``row_id``) a row root: no output consumed (calls); no creator, not
    consumed (refs)."""
    conds: list[exp.Expression] = []
    if root.kind == "call":
        for j, (label, consumers) in enumerate(root.out_consumers):
            o = f"o{j}"
            sub_conds = _not_consumed(col(o, "ref_id"), consumers, p, o)
            if not sub_conds:
                continue
            sub = (
                exp.select(exp.Literal.number(1))
                .from_(table("edges", o), copy=False)
                .where(
                    _and(edge_on(o, "call_id", row_id, 1, label, p), exp.not_(exp.and_(*sub_conds), copy=False)),
                    copy=False,
                )
            )
            conds.append(exp.Not(this=exp.Exists(this=sub)))
        return conds
    for i, (source, label) in enumerate(root.creators):
        k, m = f"r{i}", f"rm{i}"
        mt, mon = member_join(m, source, col(k, "call_id"), p)
        sub = (
            exp.select(exp.Literal.number(1))
            .from_(table("edges", k), copy=False)
            .join(mt, on=mon, copy=False)
            .where(edge_on(k, "ref_id", row_id, 1, label, p), copy=False)
        )
        conds.append(exp.Not(this=exp.Exists(this=sub)))
    conds.extend(_not_consumed(row_id, root.consumers, p, "x"))
    return conds


STEP_KEYS = "iscx"
"""The columns of a step in a history query: ``i`` its element's row id (joins only: kept in staged tables, not
returned), ``s`` the element's hid, ``c`` its cid, ``x`` a ref's kind (NULL for an atom: no string to read) or a
call's op version."""


def emit_tree_stage(
    tree: TreePlan,
    steps: list,
    staged: list,
    p: Params,
    last: bool = True,
    id_range: tuple | None = None,
) -> exp.Select:
    """One stage of a history query: the root (first stage) or the previous stage's table, then LEFT JOINs.

    ``staged`` lists the tables of the stages before, in order, each as ``(name, its steps)``. Columns: ``root`` (its
    hid), ``created`` (of the root call), and per step so far (see :data:`STEP_KEYS`) ``s<id>``, ``c<id>``, ``x<id>``,
    and ``i<id>`` in the stages before the ``last``. Where a table's row is bounded (:attr:`Dialect.split_stages`:
    PostgreSQL keeps a row in one 8 kB page) a staged table holds the ``s``, ``c`` and ``x`` of its own stage's steps
    only, with the ``i`` of every step so far (the joins of later stages start from them) and ``up``, the key of its
    row in the stage before (:meth:`Dialect.range_scan`); the last stage joins each staged table back by those keys.
    Elements are joined by row id. The query grows in place (``copy=False``): sqlglot's builders otherwise copy the
    whole tree at every join. With ``id_range`` (two placeholders), only the root calls whose row ids lie in that
    range are read.

    >>> from graphstore.query.model import Pattern, FuncNode
    >>> from graphstore.query.plan import compile_trees
    >>> from graphstore.query.sql.build import render
    >>> from graphstore.query.sql.dialect import POSTGRES
    >>> tree = compile_trees(Pattern(funcs=(FuncNode("inc", "inc", full=True),)), None)[0]
    >>> p = Params(POSTGRES)
    >>> sql, _ = render(emit_tree_stage(tree, [], [("_gs_s0", tree.steps)], p), p)
    >>> sql.split(" FROM ")[0]
    'SELECT "prev"."root", "prev"."created", "prev"."s0" AS "s0", "prev"."c0" AS "c0", "prev"."x0" AS "x0"'
    """
    keys = STEP_KEYS[1:] if last else STEP_KEYS
    split = p.dialect.split_stages
    prev_steps = [s for _, done in staged for s in done]
    cols: dict[int, tuple] = {}
    for j, (_, done) in enumerate(staged):
        held = "prev" if j == len(staged) - 1 or not split else f"g{j}"
        for s in done:
            cols[s.id] = (col("prev", f"i{s.id}"), *(col(held, f"{k}{s.id}") for k in STEP_KEYS[1:]))
    steps_by_id = {s.id: s for s in tree.steps}
    if not staged:
        q = _root_select(tree, steps[0], p, id_range)
        cols[steps[0].id] = (col("r", "id"), col("r", "hid"), col("r", "cid"), col("r", "extra"))
        rest = steps[1:]
    else:
        q = exp.select(col("prev", "root"), col("prev", "created"))
        if not split:  # every column so far, as it is
            q = q.select(*[col("prev", f"{k}{s.id}") for s in prev_steps for k in keys], append=True, copy=False)
        elif last:
            q = q.select(*_step_columns(prev_steps, keys, cols), append=True, copy=False)
        else:
            q = q.select(
                *[col("prev", f"i{s.id}") for s in prev_steps],
                exp.alias_(p.dialect.range_scan("prev"), "up", quoted=True, copy=False),
                append=True,
                copy=False,
            )
        q = q.from_(table(staged[-1][0], "prev"), copy=False)
        if last and split:  # each staged table's row, back along the chain of keys
            for j in range(len(staged) - 2, -1, -1):
                after = "prev" if j == len(staged) - 2 else f"g{j + 1}"
                on = p.dialect.range_scan(f"g{j}").eq(col(after, "up"))
                q = q.join(table(staged[j][0], f"g{j}"), on=on, copy=False)
        rest = steps
    for s in rest:
        parent = cols[s.parent][0]
        t = f"t{s.id}"
        if s.how in ("in", "out"):
            on = edge_on(t, "call_id", parent.copy(), 0 if s.how == "in" else 1, s.label, p)
            q = _left_join(q, table("edges", t), on)
            r = f"r{s.id}"
            q = _left_join(
                q,
                table("refs", r),
                _and(col(r, "id").eq(col(t, "ref_id")), _differs(col(t, "ref_id"), s, cols, steps_by_id)),
            )
            # a repeat of the same element joins no refs row: its columns are NULL, the first step has them
            cols[s.id] = (
                col(t, "ref_id"),
                col(r, "hid"),
                col(r, "cid"),
                exp.func("nullif", col(r, "kind"), exp.Literal.string("atom")),
            )
        else:  # creator
            on = _and(
                edge_on(t, "ref_id", parent.copy(), 1, s.label, p),
                _differs(parent.copy(), steps_by_id[s.parent], cols, steps_by_id),
            )
            q = _left_join(q, table("edges", t), on)
            m = f"m{s.id}"
            mt, mon = member_join(m, s.source, col(t, "call_id"), p)
            q = _left_join(q, mt, mon)
            c = m
            if s.source.members_table is not None:
                c = f"c{s.id}"
                q = _left_join(q, table("calls", c), col(c, "id").eq(col(m, "id")))
            cols[s.id] = (col(m, "id"), col(c, "hid"), col(c, "cid"), col(c, "op_version"))
    if not staged:
        q = q.select(
            exp.alias_(col("r", "hid"), "root", quoted=True, copy=False),
            exp.alias_(col("r", "created"), "created", quoted=True, copy=False),
            append=True,
            copy=False,
        )
    q = q.select(*_step_columns(steps, keys, cols), append=True, copy=False)
    return q if last or not split else p.dialect.keyed(q)


def _step_columns(steps: list, keys: str, cols: dict) -> list:
    return [
        exp.alias_(cols[s.id][STEP_KEYS.index(k)].copy(), f"{k}{s.id}", quoted=True, copy=False)
        for s in steps
        for k in keys
    ]


def _differs(value: exp.Expression, step: Step, cols: dict, steps_by_id: dict) -> exp.Expression | None:
    """For a repeated step: true unless it holds the same element as the step it repeats (whose subtree then
    already holds everything this one would add), so the repeat's joins are skipped in the common case."""
    if step.dup is None:
        return None
    first = cols[step.dup][0]
    return exp.or_(
        exp.Is(this=first.copy(), expression=exp.Null()),
        exp.NEQ(this=value.copy(), expression=first.copy()),
        copy=False,
    )


def _left_join(q: exp.Select, tbl: exp.Expression, on: exp.Expression) -> exp.Select:
    q.append("joins", exp.Join(this=tbl, on=on, side="LEFT"))
    return q


def emit_root_probe(trees: list, p: Params) -> exp.Expression:
    """One statement: the names of the root nodes that have at least one root (the others need no history query)."""
    parts = []
    for tree in trees:
        inner = _root_select(tree, None, p).select(exp.Literal.number(1), copy=False)
        parts.append(
            exp.select(exp.alias_(p.add(tree.root.node), "node", quoted=True, copy=False)).where(
                exp.Exists(this=inner.limit(1, copy=False))
            )
        )
    return _union(parts, distinct=False)


def _root_select(tree: TreePlan, root: Step, p: Params, id_range: tuple | None = None) -> exp.Select:
    """``FROM`` the roots of a tree, as ``r``: ``id`` (row id), ``hid``, ``created``, ``cid`` and ``extra``.

    Seed refs come from their text ids joined to ``refs``; a seed that is not stored keeps its hid (and no id)."""
    plan = tree.root
    if plan.kind == "call":
        src = plan.source
        inner = exp.select(
            exp.alias_(col("c", "id"), "id", quoted=True, copy=False),
            exp.alias_(col("c", "hid"), "hid", quoted=True, copy=False),
            exp.alias_(col("c", "created_at"), "created", quoted=True, copy=False),
            exp.alias_(col("c", "cid"), "cid", quoted=True, copy=False),
            exp.alias_(col("c", "op_version"), "extra", quoted=True, copy=False),
        )
        inner = inner.from_(table("calls", "c"), copy=False)
        if src.members_table is None:
            inner = inner.where(op_condition("c", src, p), copy=False)
        else:
            inner = inner.join(
                table(src.members_table, "mm"),
                on=_and(col("mm", "node").eq(p.add(src.node)), col("mm", "id").eq(col("c", "id"))),
                copy=False,
            )
        conds = root_conditions(plan, col("c", "id"), p)
        if id_range is not None:
            conds.append(exp.Between(this=col("c", "id"), low=id_range[0], high=id_range[1]))
        if conds:
            inner = inner.where(exp.and_(*conds, copy=False), append=True, copy=False)
    else:
        inner = exp.select(
            exp.alias_(col("rr", "id"), "id", quoted=True, copy=False),
            col("s", "hid"),
            exp.alias_(exp.Literal.number(0), "created", quoted=True, copy=False),
            exp.alias_(col("rr", "cid"), "cid", quoted=True, copy=False),
            exp.alias_(col("rr", "kind"), "extra", quoted=True, copy=False),
        ).from_(id_list(plan.seeds, p).as_("s"), copy=False)
        inner = _left_join(inner, table("refs", "rr"), col("rr", "hid").eq(col("s", "hid")))
        conds = root_conditions(plan, col("rr", "id"), p)
        if conds:
            inner = inner.where(exp.and_(*conds, copy=False), copy=False)
    return exp.select().from_(inner.subquery("r", copy=False), copy=False)


def emit_root_range(tree: TreePlan, p: Params) -> exp.Select:
    """``(min id, max id, count)`` of the calls of a tree's root node (a whole op, or some of its versions)."""
    return (
        exp.select(exp.Min(this=col("c", "id")), exp.Max(this=col("c", "id")), exp.Count(this=exp.Star()))
        .from_(table("calls", "c"), copy=False)
        .where(op_condition("c", tree.root.source, p), copy=False)
    )


def emit_json_columns(q: exp.Select, columns: list, p: Params) -> exp.Select:
    """The rows of ``q`` as one JSON array per column (each a text value to decode at once): reading a few long
    texts is much cheaper than a row object per history. ``created`` becomes integer nanoseconds, which keep the
    order of the stored times (JSON keeps only 15 digits of a real)."""
    arrays = []
    for name in columns:
        value: exp.Expression = exp.column(name, quoted=True)
        if name == "created":
            value = p.dialect.nanoseconds(value)
        arrays.append(p.dialect.json_array(value))
    return exp.select(*arrays).from_(q.subquery("j", copy=False), copy=False)


def emit_tree_filters(tree: TreePlan, q: exp.Select, p: Params) -> exp.Select:
    """Row filters on ids, on the last stage's columns: some step of the node must hold an allowed id (its ``s``
    column, the hid, or its ``c`` column, the cid)."""
    for flt in tree.filters:
        steps = [s for s in tree.steps if s.node == flt.node]
        if not steps:
            q = q.where(exp.false(), append=True, copy=False)
            continue
        key = "s" if flt.kind == "hid" else "c"
        ors = [
            exp.column(f"{key}{s.id}", quoted=True).isin(
                query=exp.select(col("f", "hid")).from_(id_list(flt.values, p).as_("f"), copy=False)
            )
            for s in steps
        ]
        q = q.where(exp.or_(*ors, copy=False), append=True, copy=False)
    return q


def wrap_filtered(stage: exp.Select, tree: TreePlan, p: Params) -> exp.Select:
    outer = exp.select(exp.Star()).from_(stage.subquery("q", copy=False), copy=False)
    return emit_tree_filters(tree, outer, p)


LONG_COLUMNS = ["root", "created", "node", "id", "is_call"]
"""The closure of a long history query: root hid, its creation time, node, element row id, a call's (1) or ref's (0)."""


def emit_long(plan: Any, p: Params) -> exp.Expression:
    """The history closure of every root as ``(root, created, node, hid, cid, extra)`` rows: a recursive CTE over
    the edges, by row id; the hid, cid and extra of each element are read from its row at the end."""
    parts: list[exp.Expression] = []
    for tree in plan.roots:
        r = _root_select(tree, None, p)
        parts.append(
            r.select(
                col("r", "hid").as_("root"),
                col("r", "created").as_("created"),
                exp.alias_(p.add(tree.root.node), "node", quoted=True, copy=False),
                col("r", "id").as_("id"),
                _is_call(tree.root.kind == "call"),
                copy=False,
            )
        )
    if not parts:
        return exp.select(exp.Null().as_("root")).where(exp.false(), copy=False)
    moves = []
    for mv in plan.moves:
        t = "e"
        base = exp.select(
            col("h", "root"), col("h", "created"), exp.alias_(p.add(mv.dst), "node", quoted=True, copy=False)
        )
        if mv.how in ("in", "out"):
            q = base.select(
                exp.alias_(col(t, "ref_id"), "id", quoted=True, copy=False), _is_call(False), append=True, copy=False
            )
            q = q.from_(table("h", "h"), copy=False)
            q = q.join(
                table("edges", t),
                on=edge_on(t, "call_id", col("h", "id"), 0 if mv.how == "in" else 1, mv.label, p),
                copy=False,
            )
        else:
            q = base.select(
                exp.alias_(col(t, "call_id"), "id", quoted=True, copy=False), _is_call(True), append=True, copy=False
            )
            q = q.from_(table("h", "h"), copy=False)
            q = q.join(table("edges", t), on=edge_on(t, "ref_id", col("h", "id"), 1, mv.label, p), copy=False)
            mt, mon = member_join("m", mv.source, col(t, "call_id"), p)
            q = q.join(mt, on=mon, copy=False)
        moves.append(q.where(col("h", "node").eq(p.add(mv.src)), copy=False))
    body = _union(parts + moves, distinct=True)
    # A seed ref that is not stored has no row id: its own row keeps the root's hid.
    hid = exp.Case(
        ifs=[exp.If(this=exp.Is(this=col("h", "id"), expression=exp.Null()), true=col("h", "root"))],
        default=exp.func("coalesce", col("r", "hid"), col("c", "hid")),
    )
    out = exp.select(
        col("h", "root"),
        col("h", "created"),
        col("h", "node"),
        hid,
        exp.func("coalesce", col("r", "cid"), col("c", "cid")),
        exp.func("coalesce", col("r", "kind"), col("c", "op_version")),
    ).from_(table("h", "h"), copy=False)
    out = _left_join(
        out, table("refs", "r"), _and(col("h", "is_call").eq(exp.Literal.number(0)), col("r", "id").eq(col("h", "id")))
    )
    out = _left_join(
        out, table("calls", "c"), _and(col("h", "is_call").eq(exp.Literal.number(1)), col("c", "id").eq(col("h", "id")))
    )
    return p.dialect.with_recursive(out, "h", LONG_COLUMNS, body)


def _is_call(is_call: bool) -> exp.Expression:
    return exp.alias_(exp.Literal.number(int(is_call)), "is_call", quoted=True, copy=False)


# --- temp tables and loading ---------------------------------------------------------------------------------------
