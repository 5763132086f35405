"""The shared pieces of statements: quoted identifiers and columns, table aliases, id lists, and the joins of
members and edges every stage uses. Every identifier is quoted by :func:`ident`; every value is a named parameter made
by :meth:`Params.add`, so no SQL text ever holds data.

Calls, refs, edges and member tables are joined by integer row ids (``calls.id``, ``refs.id``, ``edges.call_id``,
``edges.ref_id``). Text ids (hids) only cross the boundaries: given ids become row ids by a join to the unique ``hid``
columns (:func:`known_ids`); rows read by Python carry hids, from the ``calls`` or ``refs`` row a query joins anyway.

>>> p = Params()
>>> sql, params = render(select_op_calls("inc", None, p), p)
>>> sql
'SELECT "c"."id" AS "id" FROM "calls" AS "c" WHERE "c"."op_name" = :p0'
>>> params
{'p0': 'inc'}
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from ..model import group_prefix, is_group
from ..plan import CallSource
from .dialect import Params, ident

__all__ = ["Params", "ident"]


def render(tree: exp.Expression, params: Params) -> tuple[str, dict]:
    """SQL text and parameters of a statement, in the dialect of its parameters."""
    return params.dialect.render(tree, params)


def col(table: str, name: str) -> exp.Column:
    return exp.Column(this=ident(name), table=ident(table))


def table(name: str, alias: str) -> exp.Table:
    return exp.Table(this=ident(name), alias=exp.TableAlias(this=ident(alias)))


def id_list(ids: Iterable[str], p: Params) -> exp.Subquery:
    """A subquery of the ids (one parameter) with one column, ``hid``."""
    return p.dialect.id_list(ids, p)


def known_ids(tbl: str, hids: Iterable[str], p: Params) -> exp.Subquery:
    """A subquery with one column, ``id``: the row ids in ``tbl`` ("calls" or "refs") of the stored ones of these
    text ids (one search of the table's unique ``hid`` index per id; ids not stored drop out)."""
    ids = exp.select(col("f", "hid")).from_(id_list(hids, p).as_("f"), copy=False)
    return (
        exp.select(exp.alias_(col("k", "id"), "id", quoted=True, copy=False))
        .from_(table(tbl, "k"), copy=False)
        .where(col("k", "hid").isin(query=ids), copy=False)
        .subquery(copy=False)
    )


def _union(parts: list, distinct: bool) -> exp.Expression:
    body = parts[0]
    for q in parts[1:]:
        body = exp.union(body, q, distinct=distinct, copy=False)
    return body


def _and(*conds: exp.Expression) -> exp.Expression:
    return exp.and_(*[c for c in conds if c is not None], copy=False)


# --- membership ---------------------------------------------------------------------------------------------------


def op_condition(alias: str, source: CallSource, p: Params) -> exp.Expression:
    cond = col(alias, "op_name").eq(p.add(source.op))
    if source.versions is not None:
        cond = _and(cond, col(alias, "op_version").isin(*[p.add(v) for v in sorted(source.versions)]))
    return cond


def member_join(alias: str, source: CallSource, call_id: exp.Expression, p: Params) -> tuple[exp.Table, exp.Expression]:
    """A table to join so that ``alias.id`` is ``call_id`` when that call is a member of the function node (an alias
    of ``calls`` for a full node, else of its members table)."""
    if source.members_table is None:
        return table("calls", alias), _and(col(alias, "id").eq(call_id), op_condition(alias, source, p))
    return table(source.members_table, alias), _and(
        col(alias, "node").eq(p.add(source.node)), col(alias, "id").eq(call_id)
    )


def select_op_calls(op: str, versions: frozenset | None, p: Params) -> exp.Select:
    src = CallSource(op, op, versions, None)
    q = exp.select(exp.alias_(col("c", "id"), "id", quoted=True, copy=False))
    return q.from_(table("calls", "c"), copy=False).where(op_condition("c", src, p), copy=False)


def select_members(source: CallSource, p: Params) -> exp.Select:
    """``SELECT id`` of the member calls of one function node."""
    if source.members_table is None:
        return select_op_calls(source.op, source.versions, p)
    return (
        exp.select(exp.alias_(col("m", "id"), "id", quoted=True, copy=False))
        .from_(table(source.members_table, "m"), copy=False)
        .where(col("m", "node").eq(p.add(source.node)), copy=False)
    )


def edge_on(alias: str, anchor: str, value: exp.Expression, direction: int, label: str, p: Params) -> exp.Expression:
    """Join condition for ``edges AS alias`` anchored at its ``call_id`` or ``ref_id`` column.

    A group label (``*elts``) matches every stored label with its prefix (``elts_0``, ``elts_1``, ...)."""
    return _and(
        col(alias, anchor).eq(value),
        col(alias, "direction").eq(exp.Literal.number(direction)),
        label_test(col(alias, "label"), label, p),
    )


def label_test(column: exp.Expression, label: str, p: Params) -> exp.Expression:
    if not is_group(label):
        return column.eq(p.add(label))
    prefix = group_prefix(label)
    return exp.Substring(this=column, start=exp.Literal.number(1), length=exp.Literal.number(len(prefix))).eq(
        p.add(prefix)
    )


def _not_consumed(ref: exp.Expression, consumers: list, p: Params, alias: str) -> list[exp.Expression]:
    conds = []
    for i, (source, label) in enumerate(consumers):
        k, m = f"{alias}k{i}", f"{alias}m{i}"
        mt, mon = member_join(m, source, col(k, "call_id"), p)
        sub = (
            exp.select(exp.Literal.number(1))
            .from_(table("edges", k), copy=False)
            .join(mt, on=mon, copy=False)
            .where(edge_on(k, "ref_id", ref, 0, label, p), copy=False)
        )
        conds.append(exp.Not(this=exp.Exists(this=sub)))
    return conds
