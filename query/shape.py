"""Shaping frames: sub-frames, set operations, merges and filters.

Operations that only move edges (``merge_vars``, ``rename``, ``drop``) keep the frame lazy. Operations whose result
is defined by *what* the frames hold (``upstream``, ``intersection``, ...) take a snapshot: every node's content is
read once (one extraction) and becomes the node's explicit seeds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from graphstore.hashing import hash_value
from graphstore.refs import Call, Ref

from .errors import FrameStructureError
from .model import Filter, FuncNode, Pattern, VarNode
from .store import Reader
from .table import rows_of


def contents(reader: Reader, pattern: Pattern, rows: list | None = None) -> dict:
    out: dict = {n: set() for n in pattern.names()}
    for r in rows_of(reader, pattern) if rows is None else rows:
        for n, hids in r.cells.items():
            out[n].update(hids)
    return out


def snapshot(pattern: Pattern, content: dict, keep: Iterable[str] | None = None) -> Pattern:
    """A pattern with the same graph (restricted to ``keep``) whose nodes hold exactly ``content``."""
    keep = set(pattern.names() if keep is None else keep)
    funcs = tuple(
        replace(f, full=False, seeds=frozenset(content.get(f.name, ()))) for f in pattern.funcs if f.name in keep
    )
    vars_ = tuple(replace(v, seeds=frozenset(content.get(v.name, ()))) for v in pattern.vars if v.name in keep)
    edges = tuple(replace(e, pull=False) for e in pattern.edges if e.func in keep and e.var in keep)
    filters = tuple(f for f in pattern.filters if f.node in keep)
    return Pattern(funcs, vars_, edges, filters, frozenset(), frozenset())


def select(reader: Reader, pattern: Pattern, nodes: list) -> Pattern:
    for n in nodes:
        pattern.node(n)
    return snapshot(pattern, contents(reader, pattern), nodes)


def _restricted(reader: Reader, pattern: Pattern, given: tuple, area: set) -> Pattern:
    for n in given:
        pattern.node(n)
    rows = [r for r in rows_of(reader, pattern) if any(r.cells.get(n) for n in given)]
    return snapshot(pattern, contents(reader, pattern, rows), area)


def upstream(reader: Reader, pattern: Pattern, given: tuple) -> Pattern:
    area = pattern.reach(given, pattern.predecessors)
    return _restricted(reader, pattern, given, area)


def downstream(reader: Reader, pattern: Pattern, given: tuple) -> Pattern:
    area = pattern.reach(given, pattern.successors)
    return _restricted(reader, pattern, given, area)


def midstream(reader: Reader, pattern: Pattern, given: tuple) -> Pattern:
    down = pattern.reach(given, pattern.successors)
    up = pattern.reach(given, pattern.predecessors)
    return _restricted(reader, pattern, given, down & up)


def merge_vars(reader: Reader, pattern: Pattern) -> Pattern:
    """Merge every group of variables that share a ref into the group's first variable."""
    content = contents(reader, pattern)
    names = [n for n in pattern.topo_names() if not pattern.is_func(n)]
    parent = {n: n for n in names}

    def find(n: str) -> str:
        while parent[n] != n:
            n = parent[n]
        return n

    owner: dict = {}
    for n in names:
        for h in content[n]:
            if h in owner:
                a, b = find(owner[h]), find(n)
                if a != b:
                    parent[b] = a
            else:
                owner[h] = n
    for n in names:
        root = find(n)
        if root != n:
            pattern = pattern.merge_var_into(n, root)
    return pattern


def _check_compatible(a: Pattern, b: Pattern) -> None:
    for n in set(a.names()) & set(b.names()):
        na, nb = a.node(n), b.node(n)
        if type(na) is not type(nb):
            raise FrameStructureError(f"node {n!r} is a variable in one frame and a function in the other")
        if isinstance(na, FuncNode) and na.op != nb.op:
            raise FrameStructureError(f"function node {n!r} is op {na.op!r} in one frame and {nb.op!r} in the other")


def union(reader: Reader, a: Pattern, b: Pattern) -> Pattern:
    """Graph union; a node in both frames holds the union of what each holds."""
    _check_compatible(a, b)
    out = a
    for f in b.funcs:
        if not out.has(f.name):
            out = out.add_func(f)
        else:
            g = out.func(f.name)
            versions = None if g.versions is None or f.versions is None else g.versions | f.versions
            out = out.replace_node(replace(g, full=g.full or f.full, seeds=g.seeds | f.seeds, versions=versions))
    for v in b.vars:
        out = (
            out.add_var(v)
            if not out.has(v.name)
            else out.replace_node(replace(out.var(v.name), seeds=out.var(v.name).seeds | v.seeds))
        )
    for e in b.edges:
        out = out.add_edge(e)
    return replace(
        out,
        filters=tuple(dict.fromkeys(a.filters + b.filters)),
        done_back=a.done_back & b.done_back,
        done_fwd=a.done_fwd & b.done_fwd,
    )


def intersection(reader: Reader, a: Pattern, b: Pattern) -> Pattern:
    _check_compatible(a, b)
    ca, cb = contents(reader, a), contents(reader, b)
    common = set(a.names()) & set(b.names())
    content = {n: ca[n] & cb[n] for n in common}
    keys = {e.key for e in b.edges}
    base = snapshot(a, content, common)
    return replace(base, edges=tuple(e for e in base.edges if e.key in keys))


def difference(reader: Reader, a: Pattern, b: Pattern) -> Pattern:
    ca = contents(reader, a)
    cb = contents(reader, b) if b.names() else {}
    return snapshot(a, {n: ca[n] - cb.get(n, set()) for n in a.names()})


def isin(pattern: Pattern, node: str, values: Iterable[Any], by: str) -> Pattern:
    pattern.node(node)
    if by not in ("val", "hid", "cid"):
        raise FrameStructureError(f"isin(by=...) must be 'val', 'hid' or 'cid', got {by!r}")
    ids = set()
    for v in values:
        if by == "val":
            ids.add(v.cid if isinstance(v, (Ref, Call)) else hash_value(v))
        else:
            ids.add(getattr(v, by) if isinstance(v, (Ref, Call)) else v)
    kind = "hid" if by == "hid" else "cid"
    return pattern.with_filter(Filter(node, kind, frozenset(ids)))


def where(
    pattern: Pattern, node: str, predicate: Callable | None, hids: Iterable, cids: Iterable, version: int | None
) -> Pattern:
    pattern.node(node)
    if version is not None:
        f = pattern.func(node)
        pattern = pattern.replace_node(replace(f, versions=frozenset([version])))
    if predicate is not None:
        pattern = pattern.with_filter(Filter(node, "pred", predicate))
    if hids:
        pattern = pattern.with_filter(Filter(node, "hid", frozenset(hids)))
    if cids:
        pattern = pattern.with_filter(Filter(node, "cid", frozenset(cids)))
    return pattern


_ID = re.compile(r"[0-9a-f]{32}\Z")
"""What a history id looks like (any other string given to ``storage.cf`` names an op)."""


def from_source(reader: Reader, source: Any) -> Pattern:
    """The pattern of ``storage.cf(source)``: an op, a Ref, Refs, ``{name: Ref(s)}``, Calls, or ids."""
    from graphstore.ops import Op

    from .expand import op_pattern

    reader.sync()
    if isinstance(source, Op):
        return op_pattern(reader, source.name, source.version)
    if isinstance(source, Ref):
        return Pattern().add_var(VarNode("v", frozenset([source.hid])))
    if isinstance(source, dict):
        p = Pattern()
        for name, refs in source.items():
            refs = [refs] if isinstance(refs, Ref) else list(refs)
            p = p.add_var(VarNode(name, frozenset(r.hid for r in refs)))
        return p
    if isinstance(source, str) and not _ID.match(source):
        if source not in reader.op_names():
            known = ", ".join(reader.op_names()) or "none"
            raise FrameStructureError(
                f"storage.cf({source!r}): the store holds no op of that name and no call or ref of that id "
                f"(ops: {known})"
            )
        return op_pattern(reader, source, None)
    if isinstance(source, (str, Call)):
        source = [source]
    accepted = "an op, a Ref, Refs, {name: Refs}, Calls, or history ids (strings)"
    try:
        items = list(source)
    except TypeError:
        raise FrameStructureError(
            f"storage.cf() cannot make a frame of {type(source).__name__} {source!r:.80}: it takes {accepted}"
        ) from None
    if all(isinstance(x, Ref) for x in items):
        return Pattern().add_var(VarNode("v", frozenset(r.hid for r in items)))
    ids = [x.hid if isinstance(x, (Ref, Call)) else x for x in items]
    bad = [x for x in ids if not isinstance(x, str)]
    if bad:
        raise FrameStructureError(
            f"storage.cf() cannot make a frame of {type(bad[0]).__name__} {bad[0]!r:.80} (in the "
            f"{type(source).__name__} it was given): it takes {accepted}"
        )
    return _from_ids(reader, ids)


def _from_ids(reader: Reader, ids: list) -> Pattern:
    from .expand import _add_inputs, _add_outputs

    calls, refs = reader.classify(ids)
    unknown = set(ids) - set(calls) - refs
    if unknown:
        raise FrameStructureError(f"no call or ref with id {sorted(unknown)[0]!r} in the store")
    p = Pattern()
    if refs:
        p = p.add_var(VarNode("v", frozenset(refs)))
    by_op: dict = {}
    for hid, op in calls.items():
        by_op.setdefault(op, set()).add(hid)
    for op in sorted(by_op):
        name = p.fresh_name(op)
        p = p.add_func(FuncNode(name, op, seeds=frozenset(by_op[op])))
        p = _add_outputs(reader, _add_inputs(reader, p, name, op), name, op)
    return p
