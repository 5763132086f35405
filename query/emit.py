"""The emitter: turns compiled plans into SQL text with sqlglot (the only module that imports it).

Every identifier is quoted by :func:`ident`; every value is a named parameter made by :meth:`Params.add`, so no
SQL text ever holds data. ``dialect`` is any sqlglot dialect name ("sqlite" by default; "postgres" works too, though
id lists use SQLite's ``json_each``: a PostgreSQL backend swaps :func:`id_list` for ``jsonb_array_elements_text``).

>>> p = Params()
>>> sql, params = render(select_op_calls("inc", None, p), p)
>>> sql
'SELECT "c"."hid" AS "hid" FROM "calls" AS "c" WHERE "c"."op_name" = :p0'
>>> params
{'p0': 'inc'}
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Optional

import sqlglot
from sqlglot import exp

from .compile import CallSource, RootPlan, Step, TreePlan
from .model import group_prefix, is_group

DIALECT = "sqlite"


class Params:
    """Named parameters collected while building one statement."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> exp.Placeholder:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return exp.Placeholder(this=name)


def render(tree: exp.Expression, params: Params, dialect: str = DIALECT) -> tuple[str, dict]:
    return tree.sql(dialect=dialect), dict(params.values)


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def col(table: str, name: str) -> exp.Column:
    return exp.Column(this=ident(name), table=ident(table))


def table(name: str, alias: str) -> exp.Table:
    return exp.Table(this=ident(name), alias=exp.TableAlias(this=ident(alias)))


def id_list(ids: Iterable[str], p: Params) -> exp.Subquery:
    """A subquery of the ids (one parameter, a JSON array) with one column, ``hid``."""
    src = exp.select(exp.alias_(exp.column("value"), "hid", quoted=True, copy=False)).from_(
        exp.Anonymous(this="json_each", expressions=[p.add(json.dumps(sorted(ids)))]), copy=False)
    return src.subquery(copy=False)


def _and(*conds: exp.Expression) -> exp.Expression:
    return exp.and_(*[c for c in conds if c is not None], copy=False)


# --- membership ---------------------------------------------------------------------------------------------------


def op_condition(alias: str, source: CallSource, p: Params) -> exp.Expression:
    cond = col(alias, "op_name").eq(p.add(source.op))
    if source.versions is not None:
        cond = _and(cond, col(alias, "op_version").isin(*[p.add(v) for v in sorted(source.versions)]))
    return cond


def member_join(alias: str, source: CallSource, hid: exp.Expression, p: Params) -> tuple[exp.Table, exp.Expression]:
    """A table to join so that ``alias.hid`` is ``hid`` when that call is a member of the function node."""
    if source.members_table is None:
        return table("calls", alias), _and(col(alias, "hid").eq(hid), op_condition(alias, source, p))
    return table(source.members_table, alias), _and(
        col(alias, "node").eq(p.add(source.node)), col(alias, "hid").eq(hid)
    )


def select_op_calls(op: str, versions: Optional[frozenset], p: Params) -> exp.Select:
    src = CallSource(op, op, versions, None)
    q = exp.select(exp.alias_(col("c", "hid"), "hid", quoted=True, copy=False))
    return q.from_(table("calls", "c"), copy=False).where(
        op_condition("c", src, p), copy=False)


def select_members(source: CallSource, p: Params) -> exp.Select:
    """``SELECT hid`` of the member calls of one function node."""
    if source.members_table is None:
        return select_op_calls(source.op, source.versions, p)
    return (
        exp.select(exp.alias_(col("m", "hid"), "hid", quoted=True, copy=False))
        .from_(table(source.members_table, "m"), copy=False)
        .where(col("m", "node").eq(p.add(source.node)), copy=False)
    )


def edge_on(alias: str, anchor: str, hid: exp.Expression, direction: int, label: str, p: Params) -> exp.Expression:
    """Join condition for ``edges AS alias`` anchored at its ``call_hid`` or ``ref_hid`` column.

    A group label (``*elts``) matches every stored label with its prefix (``elts_0``, ``elts_1``, ...)."""
    return _and(
        col(alias, anchor).eq(hid), col(alias, "direction").eq(exp.Literal.number(direction)),
        label_test(col(alias, "label"), label, p),
    )


def label_test(column: exp.Expression, label: str, p: Params) -> exp.Expression:
    if not is_group(label):
        return column.eq(p.add(label))
    prefix = group_prefix(label)
    return exp.Substring(this=column, start=exp.Literal.number(1), length=exp.Literal.number(len(prefix))).eq(
        p.add(prefix))


def emit_members_insert(plan: Any, target: str, p: Params) -> exp.Expression:
    """``INSERT INTO target`` the members of every function node that is not full (a recursive CTE).

    ``plan`` is a :class:`query.compile.MemberPlan`: seed rows, pulls from var seeds, from full nodes, and recursive
    pulls from other non-full nodes.
    """
    parts: list[exp.Select] = []
    for node, hids in plan.func_seeds:
        parts.append(exp.select(exp.alias_(p.add(node), "node", quoted=True, copy=False), col("s", "hid")).from_(
            id_list(hids, p).as_("s"), copy=False))
    recursive: list[exp.Select] = []
    # Pulls into the same node through the same edge differ only in where they start: one term each (a UNION may
    # hold at most 500 terms, and a merged variable with k edges makes k * k pulls).
    groups: dict[tuple, list] = {}
    for pull in plan.pulls:
        kind = "seeds" if pull.var_seeds is not None else "calls" if pull.source.members_table is None else "fm"
        groups.setdefault((pull.target.node, pull.dir, pull.label, kind), []).append(pull)
    for (_, _, _, kind), pulls in groups.items():
        first = pulls[0]
        chain = (
            exp.select(exp.alias_(p.add(first.target.node), "node", quoted=True, copy=False),
                       exp.alias_(col("e2", "call_hid"), "hid", quoted=True, copy=False))
        )
        if kind == "seeds":
            seeds = frozenset().union(*(pull.var_seeds for pull in pulls))
            q = chain.from_(id_list(seeds, p).as_("s"), copy=False)
            ref = col("s", "hid")
        else:
            starts = [
                _and(op_condition("g", pull.source, p) if kind == "calls"
                     else col("g", "node").eq(p.add(pull.source.node)),
                     col("e1", "direction").eq(exp.Literal.number(pull.src_dir)),
                     label_test(col("e1", "label"), pull.src_label, p))
                for pull in pulls
            ]
            q = chain.from_(table("calls" if kind == "calls" else "fm", "g"), copy=False).join(
                table("edges", "e1"), on=col("e1", "call_hid").eq(col("g", "hid")), copy=False).where(
                starts[0] if len(starts) == 1 else exp.or_(*starts, copy=False), copy=False)
            ref = col("e1", "ref_hid")
        q = q.join(table("edges", "e2"), on=edge_on("e2", "ref_hid", ref, first.dir, first.label, p), copy=False)
        q = q.join(table("calls", "c"), on=_and(col("c", "hid").eq(col("e2", "call_hid")),
                                               op_condition("c", first.target, p)), copy=False)
        (recursive if kind == "fm" else parts).append(q)
    if not parts:
        parts.append(exp.select(exp.Null().as_("node"), exp.Null().as_("hid")).where(exp.false(), copy=False))
    body: exp.Expression = parts[0]
    for q in parts[1:] + recursive:
        body = exp.union(body, q, distinct=True, copy=False)
    cte = exp.select(exp.column("node", quoted=True), exp.column("hid", quoted=True)).from_(
        exp.to_table("fm"), copy=False).with_(exp.to_identifier("fm"), as_=body, recursive=True, copy=False)
    cte.args["with_"].expressions[0].set("alias", exp.TableAlias(
        this=ident("fm"), columns=[ident("node"), ident("hid")]))
    cte = cte.where(exp.Not(this=exp.Is(this=exp.column("hid", quoted=True), expression=exp.Null())), copy=False)
    return exp.insert(cte, exp.Table(this=ident(target)), copy=False)


def emit_var_members(var_sources: Any, p: Params) -> exp.Expression:
    """``SELECT hid`` of a variable's members: its seeds and the refs at its edges of member calls."""
    parts: list[exp.Select] = []
    if var_sources.seeds:
        parts.append(exp.select(col("s", "hid")).from_(id_list(var_sources.seeds, p).as_("s"), copy=False))
    for source, direction, label in var_sources.edges:
        q = exp.select(exp.alias_(col("e", "ref_hid"), "hid", quoted=True, copy=False)).from_(
            select_members(source, p).subquery("m"), copy=False).join(
            table("edges", "e"), on=edge_on("e", "call_hid", col("m", "hid"), direction, label, p), copy=False)
        parts.append(q)
    if not parts:
        return exp.select(exp.Null().as_("hid")).where(exp.false(), copy=False)
    body: exp.Expression = parts[0]
    for q in parts[1:]:
        body = exp.union(body, q, distinct=True, copy=False)
    return body


def emit_discovery(targets: list, direction: int, p: Params) -> exp.Expression:
    """For each target variable: the ops and labels of the calls that create (OUT) or consume (IN) its members.

    Columns: var, op_name, label, ``n`` (distinct calls) and ``m`` (how many of them are already members of a
    function node of that op through an edge at that label from another variable). ``targets`` holds
    ``(name, VarSources, [(CallSource, label), ...] of the existing edges)``.
    """
    parts = []
    for name, var_sources, existing in targets:
        known = [
            _and(label_test(col("e", "label"), label, p),
                 _is_member(source, col("e", "call_hid"), col("c", "op_name"), col("c", "op_version"), p))
            for source, label in existing
        ]
        # A call holds one ref per label, and the members are distinct: COUNT(*) counts distinct calls.
        hit = (exp.Case(ifs=[exp.If(this=exp.or_(*known, copy=False), true=exp.Literal.number(1))],
                        default=exp.Literal.number(0)) if known else exp.Literal.number(0))
        q = (
            exp.select(
                exp.alias_(p.add(name), "var", quoted=True, copy=False), col("c", "op_name"), col("e", "label"),
                exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True, copy=False),
                exp.alias_(exp.Sum(this=hit), "m", quoted=True, copy=False),
            )
            .from_(emit_var_members(var_sources, p).subquery("m"), copy=False)
            .join(table("edges", "e"), on=_and(
                col("e", "ref_hid").eq(col("m", "hid")), col("e", "direction").eq(exp.Literal.number(direction))),
                copy=False)
            .join(table("calls", "c"), on=col("c", "hid").eq(col("e", "call_hid")), copy=False)
            .group_by(col("c", "op_name"), col("e", "label"), copy=False)
        )
        parts.append(q)
    body: exp.Expression = parts[0]
    for q in parts[1:]:
        body = exp.union(body, q, distinct=False, copy=False)
    return body


def _is_member(source: CallSource, hid: exp.Expression, op_col: exp.Expression, version_col: exp.Expression,
               p: Params) -> exp.Expression:
    """Whether the call ``hid`` (whose calls row gives ``op_col`` and ``version_col``) is a member of ``source``."""
    if source.members_table is None:
        cond = op_col.eq(p.add(source.op))
        if source.versions is not None:
            cond = _and(cond, version_col.isin(*[p.add(v) for v in sorted(source.versions)]))
        return cond
    sub = exp.select(exp.Literal.number(1)).from_(table(source.members_table, "mm"), copy=False).where(_and(
        col("mm", "node").eq(p.add(source.node)), col("mm", "hid").eq(hid)), copy=False)
    return exp.Exists(this=sub)


def emit_op_labels(op: str, p: Params, sample: Optional[int] = None) -> exp.Expression:
    """The (direction, label, first position) of an op's edges, over all its calls or the first ``sample``."""
    calls = exp.select(col("c", "hid")).from_(table("calls", "c"), copy=False).where(
        col("c", "op_name").eq(p.add(op)), copy=False)
    if sample is not None:
        calls = calls.limit(sample, copy=False)
    return (
        exp.select(col("e", "direction"), col("e", "label"), exp.Min(this=col("e", "pos")).as_("n"))
        .from_(table("edges", "e"), copy=False)
        .where(col("e", "call_hid").isin(query=calls), copy=False)
        .group_by(col("e", "direction"), col("e", "label"), copy=False)
    )


def emit_op_counts(ops: list, p: Params) -> exp.Expression:
    return (
        exp.select(col("c", "op_name"), exp.Count(this=exp.Star()).as_("n"))
        .from_(table("calls", "c"), copy=False)
        .where(col("c", "op_name").isin(*[p.add(o) for o in ops]), copy=False)
        .group_by(col("c", "op_name"), copy=False)
    )


# --- roots and histories -------------------------------------------------------------------------------------------


def _not_consumed(ref: exp.Expression, consumers: list, p: Params, alias: str) -> list[exp.Expression]:
    conds = []
    for i, (source, label) in enumerate(consumers):
        k, m = f"{alias}k{i}", f"{alias}m{i}"
        mt, mon = member_join(m, source, col(k, "call_hid"), p)
        sub = exp.select(exp.Literal.number(1)).from_(table("edges", k), copy=False).join(mt, on=mon, copy=False).where(
            edge_on(k, "ref_hid", ref, 0, label, p), copy=False)
        conds.append(exp.Not(this=exp.Exists(this=sub)))
    return conds


def root_conditions(root: RootPlan, hid: exp.Expression, p: Params) -> list[exp.Expression]:
    """Conditions that make a member a row root: no output consumed (calls); no creator, not consumed (refs)."""
    conds: list[exp.Expression] = []
    if root.kind == "call":
        for j, (label, consumers) in enumerate(root.out_consumers):
            o = f"o{j}"
            sub_conds = _not_consumed(col(o, "ref_hid"), consumers, p, o)
            if not sub_conds:
                continue
            sub = exp.select(exp.Literal.number(1)).from_(table("edges", o), copy=False).where(
                _and(edge_on(o, "call_hid", hid, 1, label, p), exp.not_(exp.and_(*sub_conds), copy=False)), copy=False)
            conds.append(exp.Not(this=exp.Exists(this=sub)))
        return conds
    for i, (source, label) in enumerate(root.creators):
        k, m = f"r{i}", f"rm{i}"
        mt, mon = member_join(m, source, col(k, "call_hid"), p)
        sub = exp.select(exp.Literal.number(1)).from_(table("edges", k), copy=False).join(mt, on=mon, copy=False).where(
            edge_on(k, "ref_hid", hid, 1, label, p), copy=False)
        conds.append(exp.Not(this=exp.Exists(this=sub)))
    conds.extend(_not_consumed(hid, root.consumers, p, "x"))
    return conds


def _step_column(step: Step, staged: Optional[str]) -> exp.Column:
    if staged is not None:
        return col(staged, f"s{step.id}")
    if step.kind == "call":
        return col(f"m{step.id}", "hid")
    return col(f"t{step.id}", "call_hid" if False else "ref_hid")


def emit_tree_stage(tree: TreePlan, steps: list, prev: Optional[str], prev_steps: list, p: Params) -> exp.Select:
    """One stage of a history query: the root (first stage) or the previous stage's table, then LEFT JOINs.

    Columns: ``root``, ``created`` (of the root call), and for every step so far ``s<id>`` (the element's hid),
    ``c<id>`` (its cid) and ``x<id>`` (a ref's kind, a call's op version). The query grows in place
    (``copy=False``): sqlglot's builders otherwise copy the whole tree at every join.
    """
    cols: dict[int, tuple] = {s.id: (("prev", f"s{s.id}"), ("prev", f"c{s.id}"), ("prev", f"x{s.id}"))
                              for s in prev_steps}
    steps_by_id = {s.id: s for s in tree.steps}
    if prev is None:
        q = _root_select(tree, steps[0], p)
        cols[steps[0].id] = (("r", "hid"), ("r", "cid"), ("r", "extra"))
        rest = steps[1:]
    else:
        q = exp.select(col("prev", "root"), col("prev", "created"),
                       *[col("prev", f"{k}{s.id}") for s in prev_steps for k in "scx"])
        q = q.from_(table(prev, "prev"), copy=False)
        rest = steps
    for s in rest:
        parent = col(*cols[s.parent][0])
        t = f"t{s.id}"
        if s.how in ("in", "out"):
            on = edge_on(t, "call_hid", parent, 0 if s.how == "in" else 1, s.label, p)
            q = _left_join(q, table("edges", t), on)
            r = f"r{s.id}"
            q = _left_join(q, table("refs", r), _and(col(r, "hid").eq(col(t, "ref_hid")),
                                                     _differs(col(t, "ref_hid"), s, cols, steps_by_id)))
            cols[s.id] = ((t, "ref_hid"), (r, "cid"), (r, "kind"))
        else:  # creator
            on = _and(edge_on(t, "ref_hid", parent, 1, s.label, p), _differs(parent, steps_by_id[s.parent], cols,
                                                                              steps_by_id))
            q = _left_join(q, table("edges", t), on)
            m = f"m{s.id}"
            mt, mon = member_join(m, s.source, col(t, "call_hid"), p)
            q = _left_join(q, mt, mon)
            c = m
            if s.source.members_table is not None:
                c = f"c{s.id}"
                q = _left_join(q, table("calls", c), col(c, "hid").eq(col(m, "hid")))
            cols[s.id] = ((m, "hid"), (c, "cid"), (c, "op_version"))
    if prev is None:
        q = q.select(exp.alias_(col("r", "hid"), "root", quoted=True, copy=False),
                     exp.alias_(col("r", "created"), "created", quoted=True, copy=False), append=True, copy=False)
    return q.select(*[exp.alias_(col(*cols[s.id][i]), f"{k}{s.id}", quoted=True, copy=False)
                      for s in steps for i, k in enumerate("scx")], append=True, copy=False)


def _differs(value: exp.Expression, step: Step, cols: dict, steps_by_id: dict) -> Optional[exp.Expression]:
    """For a repeated step: true unless it holds the same element as the step it repeats (whose subtree then
    already holds everything this one would add), so the repeat's joins are skipped in the common case."""
    if step.dup is None:
        return None
    first = col(*cols[step.dup][0])
    return exp.or_(exp.Is(this=first, expression=exp.Null()), exp.NEQ(this=value.copy(), expression=first.copy()),
                   copy=False)


def _left_join(q: exp.Select, tbl: exp.Expression, on: exp.Expression) -> exp.Select:
    q.append("joins", exp.Join(this=tbl, on=on, side="LEFT"))
    return q


def emit_root_probe(trees: list, p: Params) -> exp.Expression:
    """One statement: the names of the root nodes that have at least one root (the others need no history query)."""
    parts = []
    for tree in trees:
        inner = _root_select(tree, None, p).select(exp.Literal.number(1), copy=False)  # type: ignore[arg-type]
        parts.append(exp.select(exp.alias_(p.add(tree.root.node), "node", quoted=True, copy=False)).where(
            exp.Exists(this=inner.limit(1, copy=False))))
    body: exp.Expression = parts[0]
    for q in parts[1:]:
        body = exp.union(body, q, distinct=False, copy=False)
    return body


def _root_select(tree: TreePlan, root: Step, p: Params) -> exp.Select:
    plan = tree.root
    if plan.kind == "call":
        src = plan.source
        inner = exp.select(exp.alias_(col("c", "hid"), "hid", quoted=True, copy=False),
                           exp.alias_(col("c", "created_at"), "created", quoted=True, copy=False),
                           exp.alias_(col("c", "cid"), "cid", quoted=True, copy=False),
                           exp.alias_(col("c", "op_version"), "extra", quoted=True, copy=False))
        inner = inner.from_(table("calls", "c"), copy=False)
        if src.members_table is None:
            inner = inner.where(op_condition("c", src, p), copy=False)
        else:
            inner = inner.join(table(src.members_table, "mm"), on=_and(
                col("mm", "node").eq(p.add(src.node)), col("mm", "hid").eq(col("c", "hid"))), copy=False)
        conds = root_conditions(plan, col("c", "hid"), p)
        if conds:
            inner = inner.where(exp.and_(*conds, copy=False), append=True, copy=False)
    else:
        inner = exp.select(col("s", "hid"), exp.alias_(exp.Literal.number(0), "created", quoted=True, copy=False),
                           exp.alias_(col("rr", "cid"), "cid", quoted=True, copy=False),
                           exp.alias_(col("rr", "kind"), "extra", quoted=True, copy=False)).from_(
            id_list(plan.seeds, p).as_("s"), copy=False)
        inner = _left_join(inner, table("refs", "rr"), col("rr", "hid").eq(col("s", "hid")))
        conds = root_conditions(plan, col("s", "hid"), p)
        if conds:
            inner = inner.where(exp.and_(*conds, copy=False), copy=False)
    return exp.select().from_(inner.subquery("r"), copy=False)


def emit_tree_filters(tree: TreePlan, q: exp.Select, p: Params, staged: bool) -> exp.Select:
    """Row filters on ids, pushed into the last stage: some step of the node must hold an allowed id."""
    for flt in tree.filters:
        steps = [s for s in tree.steps if s.node == flt.node]
        if not steps:
            q = q.where(exp.false(), append=True, copy=False)
            continue
        ors = []
        for s in steps:
            column = col("prev", f"s{s.id}") if staged else None
            column = column if column is not None else exp.column(f"s{s.id}", quoted=True)
            ors.append(_id_test(column, s.kind, flt, p))
        q = q.where(exp.or_(*ors, copy=False), append=True, copy=False)
    return q


def _id_test(column: exp.Expression, kind: str, flt: Any, p: Params) -> exp.Expression:
    if flt.kind == "hid":
        return column.isin(query=exp.select(col("f", "hid")).from_(id_list(flt.values, p).as_("f"), copy=False))
    tbl = "calls" if kind == "call" else "refs"
    sub = exp.select(exp.Literal.number(1)).from_(table(tbl, "x"), copy=False).where(_and(
        col("x", "hid").eq(column),
        col("x", "cid").isin(query=exp.select(col("f", "hid")).from_(id_list(flt.values, p).as_("f")))), copy=False)
    return exp.Exists(this=sub)


def wrap_filtered(stage: exp.Select, tree: TreePlan, p: Params) -> exp.Select:
    outer = exp.select(exp.Star()).from_(stage.subquery("q"), copy=False)
    return emit_tree_filters(tree, outer, p, staged=False)


def emit_long(plan: Any, p: Params) -> exp.Expression:
    """The history closure of every root as ``(root, created, node, hid)`` rows: a recursive CTE over the edges."""
    parts: list[exp.Expression] = []
    for tree in plan.roots:
        r = _root_select(tree, None, p)  # type: ignore[arg-type]
        parts.append(r.select(col("r", "hid").as_("root"), col("r", "created").as_("created"),
                              exp.alias_(p.add(tree.root.node), "node", quoted=True, copy=False),
                              col("r", "hid").as_("hid"), copy=False))
    if not parts:
        return exp.select(exp.Null().as_("root")).where(exp.false(), copy=False)
    moves = []
    for mv in plan.moves:
        t = "e"
        base = exp.select(col("h", "root"), col("h", "created"),
                          exp.alias_(p.add(mv.dst), "node", quoted=True, copy=False))
        if mv.how in ("in", "out"):
            q = base.select(exp.alias_(col(t, "ref_hid"), "hid", quoted=True, copy=False), append=True, copy=False)
            q = q.from_(table("h", "h"), copy=False)
            q = q.join(table("edges", t), on=edge_on(t, "call_hid", col("h", "hid"), 0 if mv.how == "in" else 1,
                                                     mv.label, p), copy=False)
        else:
            q = base.select(exp.alias_(col(t, "call_hid"), "hid", quoted=True, copy=False), append=True, copy=False)
            q = q.from_(table("h", "h"), copy=False)
            q = q.join(table("edges", t), on=edge_on(t, "ref_hid", col("h", "hid"), 1, mv.label, p), copy=False)
            mt, mon = member_join("m", mv.source, col(t, "call_hid"), p)
            q = q.join(mt, on=mon, copy=False)
        moves.append(q.where(col("h", "node").eq(p.add(mv.src)), copy=False))
    body: exp.Expression = parts[0]
    for q in parts[1:] + moves:
        body = exp.union(body, q, distinct=True, copy=False)
    out = exp.select(col("h", "root"), col("h", "created"), col("h", "node"), col("h", "hid"),
                     exp.func("coalesce", col("r", "cid"), col("c", "cid")),
                     exp.func("coalesce", col("r", "kind"), col("c", "op_version"))).from_(table("h", "h"), copy=False)
    out = _left_join(out, table("refs", "r"), col("r", "hid").eq(col("h", "hid")))
    out = _left_join(out, table("calls", "c"), col("c", "hid").eq(col("h", "hid")))
    out = out.with_(exp.to_identifier("h"), as_=body, recursive=True, copy=False)
    out.args["with_"].expressions[0].set("alias", exp.TableAlias(
        this=ident("h"), columns=[ident("root"), ident("created"), ident("node"), ident("hid")]))
    return out


# --- temp tables and loading ---------------------------------------------------------------------------------------


def emit_create_temp(name: str, columns: list) -> str:
    cols = ", ".join(f"{ident(c).sql(DIALECT)} TEXT" for c in columns)
    return f"CREATE TEMP TABLE {ident(name).sql(DIALECT)} ({cols})"


def emit_drop_temp(name: str) -> str:
    return f"DROP TABLE IF EXISTS temp.{ident(name).sql(DIALECT)}"


def emit_create_as(name: str, query: exp.Expression, dialect: str = DIALECT) -> str:
    return f"CREATE TEMP TABLE {ident(name).sql(dialect)} AS {query.sql(dialect=dialect)}"


def emit_load_refs(hids: list, with_values: bool, p: Params) -> exp.Expression:
    cols = [col("r", "hid"), col("r", "cid"), col("r", "kind")]
    q = exp.select(*cols).from_(table("refs", "r"), copy=False)
    if with_values:
        q = q.select(col("v", "codec"), col("v", "size"), col("v", "data"), col("v", "path"), append=True, copy=False)
        q = q.join(table("values", "v"), on=col("v", "cid").eq(col("r", "cid")), join_type="left", copy=False)
    return q.where(col("r", "hid").isin(query=exp.select(col("f", "hid")).from_(id_list(hids, p).as_("f"))), copy=False)


def emit_load_values(cids: list, p: Params) -> exp.Expression:
    """Stored values of these content ids, driven by the id list (one primary-key search per id)."""
    ids = exp.Subquery(this=exp.select(exp.alias_(exp.column("value"), "cid", quoted=True, copy=False)).from_(
        exp.Anonymous(this="json_each", expressions=[p.add(json.dumps(sorted(cids)))]), copy=False),
        alias=exp.TableAlias(this=ident("f")))
    q = exp.select(col("v", "cid"), col("v", "codec"), col("v", "size"), col("v", "data"), col("v", "path"))
    q = q.from_(ids, copy=False)
    q.append("joins", exp.Join(this=table("values", "v"), on=col("v", "cid").eq(col("f", "cid"))))
    return q


def emit_load_calls(hids: list, p: Params) -> exp.Expression:
    return (
        exp.select(col("c", "hid"), col("c", "cid"), col("c", "op_name"), col("c", "op_version"),
                   col("e", "direction"), col("e", "label"), col("e", "ref_hid"), col("r", "cid"), col("r", "kind"))
        .from_(table("calls", "c"), copy=False)
        .join(table("edges", "e"), on=col("e", "call_hid").eq(col("c", "hid")), join_type="left", copy=False)
        .join(table("refs", "r"), on=col("r", "hid").eq(col("e", "ref_hid")), join_type="left", copy=False)
        .where(col("c", "hid").isin(query=exp.select(col("f", "hid")).from_(id_list(hids, p).as_("f"))), copy=False)
        .order_by(col("c", "hid"), col("e", "pos"), copy=False)
    )


def emit_creation_times(hids: list, p: Params) -> exp.Expression:
    """``(hid, created_at)`` for these ids: a call's own time, a ref's creator call's time (none for raw values)."""
    ids = exp.select(col("f", "hid")).from_(id_list(hids, p).as_("f"), copy=False)
    calls = exp.select(col("c", "hid"), col("c", "created_at")).from_(table("calls", "c"), copy=False).where(
        col("c", "hid").isin(query=ids), copy=False)
    refs = (
        exp.select(col("e", "ref_hid"), col("c", "created_at")).from_(table("edges", "e"), copy=False)
        .join(table("calls", "c"), on=col("c", "hid").eq(col("e", "call_hid")), copy=False)
        .where(_and(col("e", "ref_hid").isin(query=ids.copy()), col("e", "direction").eq(exp.Literal.number(1))),
               copy=False)
    )
    return exp.union(calls, refs, distinct=False)


def emit_lookup_hids(hids: list, p: Params) -> exp.Expression:
    """Which of these ids are calls (with their op) and which are refs."""
    ids = exp.select(col("f", "hid")).from_(id_list(hids, p).as_("f"), copy=False)
    calls = exp.select(exp.Literal.string("call").as_("kind"), col("c", "hid"), col("c", "op_name")).from_(
        table("calls", "c"), copy=False).where(col("c", "hid").isin(query=ids), copy=False)
    refs = exp.select(exp.Literal.string("ref").as_("kind"), col("r", "hid"), exp.Null().as_("op_name")).from_(
        table("refs", "r"), copy=False).where(col("r", "hid").isin(query=ids.copy()), copy=False)
    return exp.union(calls, refs, distinct=False)


def pretty(sql: str, dialect: str = DIALECT) -> str:
    """Reformat SQL text for reading."""
    return ";\n".join(s.sql(dialect=dialect, pretty=True) for s in sqlglot.parse(sql, read=DIALECT) if s)
