"""Statements that read stored rows by their ids for the query layer: refs (with their values), values by cid, calls
with their edges, creation times, and the kind of given ids. Built with the emitter's helpers (see
``graphstore.query.emit``).

>>> from graphstore.query.emit import Params, render
>>> p = Params()
>>> render(emit_lookup_hids(["abc"], p), p)[1]
{'p0': '["abc"]'}
"""

from __future__ import annotations

import json

from sqlglot import exp

from .emit import Params, _and, col, id_list, ident, table


def emit_load_refs(hids: list, with_values: bool, p: Params) -> exp.Expression:
    cols = [col("r", "hid"), col("r", "cid"), col("r", "kind")]
    q = exp.select(*cols).from_(table("refs", "r"), copy=False)
    if with_values:
        q = q.select(col("v", "codec"), col("v", "size"), col("v", "data"), col("v", "path"), append=True, copy=False)
        q = q.join(table("values", "v"), on=col("v", "cid").eq(col("r", "cid")), join_type="left", copy=False)
    return q.where(col("r", "hid").isin(query=exp.select(col("f", "hid")).from_(id_list(hids, p).as_("f"))), copy=False)


def emit_load_values(cids: list, p: Params) -> exp.Expression:
    """Stored values of these content ids, driven by the id list (one primary-key search per id)."""
    ids = exp.Subquery(
        this=exp.select(exp.alias_(exp.column("value"), "cid", quoted=True, copy=False)).from_(
            exp.Anonymous(this="json_each", expressions=[p.add(json.dumps(sorted(cids)))]), copy=False
        ),
        alias=exp.TableAlias(this=ident("f")),
    )
    q = exp.select(col("v", "cid"), col("v", "codec"), col("v", "size"), col("v", "data"), col("v", "path"))
    q = q.from_(ids, copy=False)
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
