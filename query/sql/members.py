"""The statements of expansion and membership: a frame's non-full function nodes staged into a members table (one
recursive query), a variable's members, and the ops and labels at them (discovery); op labels and call counts.

>>> p = Params()
>>> render(emit_op_counts(["inc"], p), p)[0]
'SELECT "c"."op_name", COUNT(*) AS n FROM "calls" AS "c" WHERE "c"."op_name" IN (:p0) GROUP BY "c"."op_name"'
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from ..plan import CallSource
from .build import (
    Params,
    _and,
    _union,
    col,
    edge_on,
    ident,
    known_ids,
    label_test,
    op_condition,
    render,
    select_members,
    table,
)
from .dialect import Dialect

__all__ = ["render"]


MEMBER_COLUMNS = [("node", "text"), ("id", "integer")]
"""The columns of a members table: a function node's name and the row id of one of its member calls."""


def emit_members_insert(plan: Any, target: str, p: Params) -> exp.Expression:
    """``INSERT INTO target`` the members of every function node that is not full (a recursive CTE).

    ``plan`` is a :class:`graphstore.query.compile.MemberPlan`: seed rows, pulls from var seeds, from full nodes, and
    recursive pulls from other non-full nodes. Seeds (text ids) become row ids first; everything else joins by row id.
    """
    parts: list[exp.Select] = []
    for node, hids in plan.func_seeds:
        parts.append(
            exp.select(exp.alias_(p.add(node), "node", quoted=True, copy=False), col("s", "id")).from_(
                known_ids("calls", hids, p).as_("s"), copy=False
            )
        )
    recursive: list[exp.Select] = []
    # Pulls into the same node through the same edge differ only in where they start: one term each (a UNION may
    # hold at most 500 terms, and a merged variable with k edges makes k * k pulls).
    groups: dict[tuple, list] = {}
    for pull in plan.pulls:
        kind = "seeds" if pull.var_seeds is not None else "calls" if pull.source.members_table is None else "fm"
        groups.setdefault((pull.target.node, pull.dir, pull.label, kind), []).append(pull)
    for (_, _, _, kind), pulls in groups.items():
        first = pulls[0]
        chain = exp.select(
            exp.alias_(p.add(first.target.node), "node", quoted=True, copy=False),
            exp.alias_(col("e2", "call_id"), "id", quoted=True, copy=False),
        )
        if kind == "seeds":
            seeds = frozenset().union(*(pull.var_seeds for pull in pulls))
            q = chain.from_(known_ids("refs", seeds, p).as_("s"), copy=False)
            ref = col("s", "id")
        else:
            starts = [
                _and(
                    op_condition("g", pull.source, p)
                    if kind == "calls"
                    else col("g", "node").eq(p.add(pull.source.node)),
                    col("e1", "direction").eq(exp.Literal.number(pull.src_dir)),
                    label_test(col("e1", "label"), pull.src_label, p),
                )
                for pull in pulls
            ]
            q = (
                chain.from_(table("calls" if kind == "calls" else "fm", "g"), copy=False)
                .join(table("edges", "e1"), on=col("e1", "call_id").eq(col("g", "id")), copy=False)
                .where(starts[0] if len(starts) == 1 else exp.or_(*starts, copy=False), copy=False)
            )
            ref = col("e1", "ref_id")
        q = q.join(table("edges", "e2"), on=edge_on("e2", "ref_id", ref, first.dir, first.label, p), copy=False)
        q = q.join(
            table("calls", "c"),
            on=_and(col("c", "id").eq(col("e2", "call_id")), op_condition("c", first.target, p)),
            copy=False,
        )
        (recursive if kind == "fm" else parts).append(q)
    if not parts:
        parts.append(exp.select(exp.Null().as_("node"), exp.Null().as_("id")).where(exp.false(), copy=False))
    body = _union(parts + recursive, distinct=True)
    cte = exp.select(exp.column("node", quoted=True), exp.column("id", quoted=True)).from_(
        exp.to_table("fm"), copy=False
    )
    cte = p.dialect.with_recursive(cte, "fm", [name for name, _ in MEMBER_COLUMNS], body)
    cte = cte.where(exp.Not(this=exp.Is(this=exp.column("id", quoted=True), expression=exp.Null())), copy=False)
    return exp.insert(cte, exp.Table(this=ident(target)), copy=False)


def emit_var_members(var_sources: Any, p: Params, distinct: bool = True) -> exp.Expression:
    """``SELECT id`` of a variable's members (ref row ids): its stored seeds and the refs at its edges of member
    calls; each once, or (not ``distinct``) as often as they are found, which a server can stream without
    gathering them all first."""
    parts: list[exp.Select] = []
    if var_sources.seeds:
        parts.append(exp.select(col("s", "id")).from_(known_ids("refs", var_sources.seeds, p).as_("s"), copy=False))
    for source, direction, label in var_sources.edges:
        q = (
            exp.select(exp.alias_(col("e", "ref_id"), "id", quoted=True, copy=False))
            .from_(select_members(source, p).subquery("m", copy=False), copy=False)
            .join(table("edges", "e"), on=edge_on("e", "call_id", col("m", "id"), direction, label, p), copy=False)
        )
        parts.append(q)
    if not parts:
        return exp.select(exp.Null().as_("id")).where(exp.false(), copy=False)
    if not distinct:
        return _union(parts, distinct=False)
    return _union(parts, distinct=True) if len(parts) > 1 else parts[0].distinct(copy=False)  # (each ref once)


def emit_discovery(targets: list, direction: int, p: Params, sample: int | None = None) -> exp.Expression:
    """For each target variable: the ops and labels of the calls that create (OUT) or consume (IN) its members.

    Columns: var, op_name, label, ``n`` (distinct calls) and ``m`` (how many of them are already members of a
    function node of that op through an edge at that label from another variable). ``targets`` holds
    ``(name, VarSources, [(CallSource, label), ...] of the existing edges)``. With ``sample``, only the first
    ``sample`` members found (some maybe more than once) are looked at, to learn which groups exist (see
    :func:`emit_discovery_counts`), and a row ``(var, NULL, NULL, k, 0)`` tells how many were found: fewer than
    ``sample``, they were all the members and the answer is whole.
    """
    parts = []
    for name, var_sources, existing in targets:
        q = exp.select(
            exp.alias_(p.add(name), "var", quoted=True, copy=False),
            col("c", "op_name"),
            col("e", "label"),
            exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True, copy=False),
            exp.alias_(exp.Sum(this=_known_hit(existing, p)), "m", quoted=True, copy=False),
        ).group_by(col("c", "op_name"), col("e", "label"), copy=False)
        parts.append(_from_consumers(q, var_sources, direction, p, sample))
        if sample is not None:
            parts.append(
                exp.select(
                    p.add(name), exp.Null(), exp.Null(), exp.Count(this=exp.Star()), exp.Literal.number(0)
                ).from_(_sample(var_sources, p, sample).subquery("m", copy=False), copy=False)
            )
    return _union(parts, distinct=False)


def _sample(var_sources: Any, p: Params, sample: int) -> exp.Select:
    """The first ``sample`` members found, repeats not removed (so that the server stops at the limit instead of
    gathering every member to remove repeats first)."""
    found = emit_var_members(var_sources, p, distinct=False)
    return exp.select(exp.Star()).from_(found.subquery("s", copy=False), copy=False).limit(sample, copy=False)


def emit_discovery_counts(target: Any, direction: int, groups: list, p: Params) -> exp.Expression:
    """:func:`emit_discovery` for one target when its groups ``[(op, label), ...]`` are known: one row, the
    count of all its edges of that direction, then ``n`` and ``m`` of each group. Counting into known groups spares
    the sort a ``GROUP BY`` needs; the total tells whether the groups were all of them."""
    name, var_sources, existing = target
    hit = _known_hit(existing, p)
    cols: list = [exp.Count(this=exp.Star())]
    for op, label in groups:
        member = _and(col("c", "op_name").eq(p.add(op)), col("e", "label").eq(p.add(label)))
        cols.append(
            exp.Sum(this=exp.Case(ifs=[exp.If(this=member, true=exp.Literal.number(1))], default=exp.Literal.number(0)))
        )
        cols.append(
            exp.Sum(this=exp.Case(ifs=[exp.If(this=member.copy(), true=hit.copy())], default=exp.Literal.number(0)))
        )
    return _from_consumers(exp.select(*cols), var_sources, direction, p)


def _known_hit(existing: list, p: Params) -> exp.Expression:
    """1 when the edge ``e`` (of call ``c``) is at a label where ``c`` is a member through another variable."""
    known = [
        _and(
            label_test(col("e", "label"), label, p),
            _is_member(source, col("e", "call_id"), col("c", "op_name"), col("c", "op_version"), p),
        )
        for source, label in existing
    ]
    # A call holds one ref per label, and the members are distinct: counting rows counts distinct calls.
    return (
        exp.Case(
            ifs=[exp.If(this=exp.or_(*known, copy=False), true=exp.Literal.number(1))], default=exp.Literal.number(0)
        )
        if known
        else exp.Literal.number(0)
    )


def _from_consumers(
    q: exp.Select, var_sources: Any, direction: int, p: Params, sample: int | None = None
) -> exp.Select:
    """``q`` over the edges ``e`` of that direction at the members of a variable, and their calls ``c``."""
    if sample is None:
        members = emit_var_members(var_sources, p)
    else:  # each member of the sample once
        members = (
            exp.select(col("f", "id"))
            .distinct(copy=False)
            .from_(_sample(var_sources, p, sample).subquery("f", copy=False), copy=False)
        )
    return (
        q.from_(members.subquery("m", copy=False), copy=False)
        .join(
            table("edges", "e"),
            on=_and(col("e", "ref_id").eq(col("m", "id")), col("e", "direction").eq(exp.Literal.number(direction))),
            copy=False,
        )
        .join(table("calls", "c"), on=col("c", "id").eq(col("e", "call_id")), copy=False)
    )


def _is_member(
    source: CallSource, call_id: exp.Expression, op_col: exp.Expression, version_col: exp.Expression, p: Params
) -> exp.Expression:
    """Whether the call ``call_id`` (whose calls row gives ``op_col`` and ``version_col``) is a member of
    ``source``."""
    if source.members_table is None:
        cond = op_col.eq(p.add(source.op))
        if source.versions is not None:
            cond = _and(cond, version_col.isin(*[p.add(v) for v in sorted(source.versions)]))
        return cond
    sub = (
        exp.select(exp.Literal.number(1))
        .from_(table(source.members_table, "mm"), copy=False)
        .where(_and(col("mm", "node").eq(p.add(source.node)), col("mm", "id").eq(call_id)), copy=False)
    )
    return exp.Exists(this=sub)


def emit_op_labels(op: str, p: Params, sample: int | None = None) -> exp.Expression:
    """The (direction, label, first position) of an op's edges, over all its calls or the first ``sample``."""
    calls = (
        exp.select(col("c", "id"))
        .from_(table("calls", "c"), copy=False)
        .where(col("c", "op_name").eq(p.add(op)), copy=False)
    )
    if sample is not None:
        calls = calls.limit(sample, copy=False)
    return (
        exp.select(col("e", "direction"), col("e", "label"), exp.Min(this=col("e", "pos")).as_("n"))
        .from_(table("edges", "e"), copy=False)
        .where(col("e", "call_id").isin(query=calls), copy=False)
        .group_by(col("e", "direction"), col("e", "label"), copy=False)
    )


def emit_op_counts(ops: list, p: Params) -> exp.Expression:
    return (
        exp.select(col("c", "op_name"), exp.Count(this=exp.Star()).as_("n"))
        .from_(table("calls", "c"), copy=False)
        .where(col("c", "op_name").isin(*[p.add(o) for o in ops]), copy=False)
        .group_by(col("c", "op_name"), copy=False)
    )


def emit_create_members(name: str, dialect: Dialect) -> str:
    """A temporary members table, keyed by all its columns (membership tests are searches, not scans)."""
    return dialect.create_temp(name, MEMBER_COLUMNS, [c for c, _ in MEMBER_COLUMNS])
