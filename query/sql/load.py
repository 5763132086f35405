"""Statements that read stored rows by their ids for the query layer: refs (with their values), values by cid, calls
with their edges, creation times, and the kind of given ids. Built with the emitter's helpers (see
``graphstore.query.sql.build``), and the few statements that read ops and scan values.

>>> p = Params()
>>> render(emit_lookup_hids(["abc"], p), p)[1]
{'p0': '["abc"]'}
"""

from __future__ import annotations

from sqlglot import exp

from .build import Params, _and, col, id_list, label_test, render, table

__all__ = ["render"]

VALUE_COLUMNS = ("cid", "codec", "size", "data", "path", "checksum")
"""The columns of a stored value that its decoding needs, in ``ValueRecord`` order."""


def emit_load_refs(hids: list, with_values: bool, p: Params) -> exp.Expression:
    cols = [col("r", "hid"), col("r", "cid"), col("r", "kind")]
    q = exp.select(*cols).from_(table("refs", "r"), copy=False)
    if with_values:
        q = q.select(*[col("v", c) for c in VALUE_COLUMNS[1:]], append=True, copy=False)
        q = q.join(table("values", "v"), on=col("v", "cid").eq(col("r", "cid")), join_type="left", copy=False)
    return q.where(col("r", "hid").isin(query=exp.select(col("f", "hid")).from_(id_list(hids, p).as_("f"))), copy=False)


def emit_load_values(cids: list, p: Params) -> exp.Expression:
    """Stored values of these content ids, driven by the id list (one primary-key search per id)."""
    q = exp.select(*[col("v", c) for c in VALUE_COLUMNS])
    q = q.from_(p.dialect.id_list(cids, p, "cid").as_("f"), copy=False)
    q.append("joins", exp.Join(this=table("values", "v"), on=col("v", "cid").eq(col("f", "cid"))))
    return q


def emit_load_calls(hids: list, p: Params) -> exp.Expression:
    """Calls with their edges and the refs at them, by call hid; edges in position order."""
    return (
        exp.select(
            col("c", "hid"),
            col("c", "cid"),
            col("c", "op_name"),
            col("c", "op_version"),
            col("e", "direction"),
            col("e", "label"),
            col("r", "hid"),
            col("r", "cid"),
            col("r", "kind"),
        )
        .from_(table("calls", "c"), copy=False)
        .join(table("edges", "e"), on=col("e", "call_id").eq(col("c", "id")), join_type="left", copy=False)
        .join(table("refs", "r"), on=col("r", "id").eq(col("e", "ref_id")), join_type="left", copy=False)
        .where(col("c", "hid").isin(query=exp.select(col("f", "hid")).from_(id_list(hids, p).as_("f"))), copy=False)
        .order_by(col("c", "hid"), col("e", "pos"), copy=False)
    )


def emit_call_edges(hids: list, p: Params) -> exp.Expression:
    """``(call hid, direction, ref hid)`` of these calls' edges, each call's inputs and outputs in position order."""
    return (
        exp.select(col("c", "hid"), col("e", "direction"), col("r", "hid"))
        .from_(table("calls", "c"), copy=False)
        .join(table("edges", "e"), on=col("e", "call_id").eq(col("c", "id")), copy=False)
        .join(table("refs", "r"), on=col("r", "id").eq(col("e", "ref_id")), copy=False)
        .where(col("c", "hid").isin(query=exp.select(col("f", "hid")).from_(id_list(hids, p).as_("f"))), copy=False)
        .order_by(col("c", "id"), col("e", "direction"), col("e", "pos"), copy=False)
    )


def emit_creation_times(hids: list, p: Params) -> exp.Expression:
    """``(hid, created_at)`` for these ids: a call's own time, a ref's creator call's time (none for raw values)."""
    ids = exp.select(col("f", "hid")).from_(id_list(hids, p).as_("f"), copy=False)
    calls = (
        exp.select(col("c", "hid"), col("c", "created_at"))
        .from_(table("calls", "c"), copy=False)
        .where(col("c", "hid").isin(query=ids), copy=False)
    )
    refs = (
        exp.select(col("r", "hid"), col("c", "created_at"))
        .from_(table("refs", "r"), copy=False)
        .join(
            table("edges", "e"),
            on=_and(col("e", "ref_id").eq(col("r", "id")), col("e", "direction").eq(exp.Literal.number(1))),
            copy=False,
        )
        .join(table("calls", "c"), on=col("c", "id").eq(col("e", "call_id")), copy=False)
        .where(col("r", "hid").isin(query=ids.copy()), copy=False)
    )
    return exp.union(calls, refs, distinct=False)


def emit_lookup_hids(hids: list, p: Params) -> exp.Expression:
    """Which of these ids are calls (with their op) and which are refs."""
    ids = exp.select(col("f", "hid")).from_(id_list(hids, p).as_("f"), copy=False)
    calls = (
        exp.select(exp.Literal.string("call").as_("kind"), col("c", "hid"), col("c", "op_name"))
        .from_(table("calls", "c"), copy=False)
        .where(col("c", "hid").isin(query=ids), copy=False)
    )
    refs = (
        exp.select(exp.Literal.string("ref").as_("kind"), col("r", "hid"), exp.Null().as_("op_name"))
        .from_(table("refs", "r"), copy=False)
        .where(col("r", "hid").isin(query=ids.copy()), copy=False)
    )
    return exp.union(calls, refs, distinct=False)


# --- ops ------------------------------------------------------------------------------------------------------------


def emit_op_signatures(op: str, p: Params) -> exp.Expression:
    """The signatures of an op's versions."""
    return exp.select(col("o", "signature")).from_(table("ops", "o"), copy=False).where(_op_is("o", op, p), copy=False)


def emit_output_names(op: str, p: Params) -> exp.Expression:
    """The output names (a JSON list) of an op's latest version."""
    return (
        exp.select(col("o", "output_names"))
        .from_(table("ops", "o"), copy=False)
        .where(_op_is("o", op, p), copy=False)
        .order_by(exp.Ordered(this=col("o", "version"), desc=True), copy=False)
        .limit(1, copy=False)
    )


def _op_is(alias: str, op: str, p: Params) -> exp.Expression:
    return col(alias, "name").eq(p.add(op))


def emit_self_applied(op: str, out_label: str, in_label: str, p: Params) -> exp.Expression:
    """One row if some call of ``op`` takes, at ``in_label``, a ref made at ``out_label`` by a call of ``op`` that
    took there a ref made the same way (the op applied to its own output twice in a row)."""
    q = exp.select(exp.Literal.number(1)).from_(table("calls", "c1"), copy=False)
    for k in (1, 2):  # c(k) made a ref at out_label that c(k+1) took at in_label
        e_out, e_in, c_next = f"e{2 * k - 1}", f"e{2 * k}", f"c{k + 1}"
        q = q.join(
            table("edges", e_out),
            on=_and(
                col(e_out, "call_id").eq(col(f"c{k}", "id")),
                col(e_out, "direction").eq(exp.Literal.number(1)),
                col(e_out, "label").eq(p.add(out_label)),
            ),
            copy=False,
        )
        q = q.join(
            table("edges", e_in),
            on=_and(
                col(e_in, "ref_id").eq(col(e_out, "ref_id")),
                col(e_in, "direction").eq(exp.Literal.number(0)),
                label_test(col(e_in, "label"), in_label, p),
            ),
            copy=False,
        )
        q = q.join(
            table("calls", c_next),
            on=_and(col(c_next, "id").eq(col(e_in, "call_id")), col(c_next, "op_name").eq(p.add(op))),
            copy=False,
        )
    return q.where(col("c1", "op_name").eq(p.add(op)), copy=False).limit(1, copy=False)


# --- value scans ----------------------------------------------------------------------------------------------------


def emit_values_top(p: Params) -> exp.Expression:
    """The largest scan key of the stored values (see ``Dialect.range_scan``)."""
    return exp.select(exp.Max(this=p.dialect.range_scan("v"))).from_(table("values", "v"), copy=False)


def _inline(max_bytes: int, p: Params) -> exp.Expression:
    """A small plain value kept in its row: a pickle of at most ``max_bytes``, not in a file."""
    return _and(
        col("v", "codec").eq(exp.Literal.string("pickle")),
        exp.Is(this=col("v", "path"), expression=exp.Null()),
        col("v", "size") <= p.add(max_bytes),
    )


def emit_values_piece(lo: int, hi: int, max_bytes: int, p: Params) -> exp.Expression:
    """The small plain values whose scan keys lie in ``[lo, hi]``, as ``VALUE_COLUMNS``."""
    key = p.dialect.range_scan("v")
    return (
        exp.select(*[col("v", c) for c in VALUE_COLUMNS])
        .from_(table("values", "v"), copy=False)
        .where(_and(exp.Between(this=key, low=p.add(lo), high=p.add(hi)), _inline(max_bytes, p)), copy=False)
    )


def emit_values_skipped(top: int, max_bytes: int, p: Params) -> exp.Expression:
    """The cids of the values a scan up to ``top`` leaves out: stored after it began, large, in files, or not plain
    pickles."""
    return (
        exp.select(col("v", "cid"))
        .from_(table("values", "v"), copy=False)
        .where(exp.or_(p.dialect.range_scan("v") > p.add(top), exp.not_(_inline(max_bytes, p))), copy=False)
    )
