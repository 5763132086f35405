"""The query oracle: a frame's history rows computed in plain Python from every call in the store, without SQL joins.

It follows the definition in docs/querying.md ("Semantics") step by step: members by a fixed point over seeds and
pull edges; roots; the closure of each root; row filters. The compiler's output must equal it row for row.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphstore.query.model import IN, OUT, Pattern


@dataclass
class Store:
    calls: dict  # hid -> (op_name, op_version)
    ins: dict  # call hid -> {label: ref hid}
    outs: dict  # call hid -> {label: ref hid}
    creator: dict  # ref hid -> [(call hid, label)]
    consumers: dict  # ref hid -> [(call hid, label)]
    cids: dict  # hid -> cid (refs and calls)


def read_store(storage) -> Store:
    storage.commit()
    run = storage.backend.execute
    calls = {h: (op, v) for h, op, v in run("SELECT hid, op_name, op_version FROM calls")}
    cids = dict(run("SELECT hid, cid FROM refs"))
    cids.update(run("SELECT hid, cid FROM calls"))
    ins: dict = {h: {} for h in calls}
    outs: dict = {h: {} for h in calls}
    creator: dict = {}
    consumers: dict = {}
    edges = run(
        "SELECT c.hid, e.direction, e.label, r.hid FROM edges AS e "
        "JOIN calls AS c ON c.id = e.call_id JOIN refs AS r ON r.id = e.ref_id"
    )
    for call, direction, label, ref in edges:
        if direction == OUT:
            outs[call][label] = ref
            creator.setdefault(ref, []).append((call, label))
        else:
            ins[call][label] = ref
            consumers.setdefault(ref, []).append((call, label))
    return Store(calls, ins, outs, creator, consumers, cids)


def _ports(store: Store, call: str, direction: int) -> dict:
    return store.outs[call] if direction == OUT else store.ins[call]


def _at(store: Store, call: str, direction: int, label: str) -> list:
    """The refs a call has at an edge label (a group label such as ``*elts`` matches ``elts_0``, ``elts_1``...)."""
    ports = _ports(store, call, direction)
    if label.startswith("*"):
        prefix = label[1:] + "_"
        return [r for lab, r in ports.items() if lab.startswith(prefix)]
    return [ports[label]] if label in ports else []


def members(store: Store, p: Pattern) -> tuple[dict, dict]:
    """Function node -> member calls, variable -> member refs (least fixed point)."""

    def cand(f) -> set:
        return {h for h, (op, v) in store.calls.items() if op == f.op and (f.versions is None or v in f.versions)}

    cands = {f.name: cand(f) for f in p.funcs}
    fm = {f.name: set(cands[f.name]) if f.full else set(f.seeds) for f in p.funcs}
    while True:
        vm = {v.name: set(v.seeds) for v in p.vars}
        for e in p.edges:
            for c in fm[e.func]:
                vm[e.var].update(_at(store, c, e.direction, e.label))
        grew = False
        for e in p.edges:
            if not e.pull or p.func(e.func).full:
                continue
            for c in cands[e.func] - fm[e.func]:
                if any(r in vm[e.var] for r in _at(store, c, e.direction, e.label)):
                    fm[e.func].add(c)
                    grew = True
        if not grew:
            return fm, vm


def _consumed(store: Store, p: Pattern, fm: dict, var: str, ref: str) -> bool:
    return any(ref in _at(store, c, IN, e.label) for e in p.consumers(var) for c in fm[e.func])


def roots(store: Store, p: Pattern, fm: dict) -> list:
    out = []
    for f in p.funcs:
        for c in fm[f.name]:
            if not any(
                _consumed(store, p, fm, e.var, r) for e in p.outputs(f.name) for r in _at(store, c, OUT, e.label)
            ):
                out.append((f.name, c))
    for v in p.vars:
        for s in v.seeds:
            made = any(s in _at(store, c, OUT, e.label) for e in p.creators(v.name) for c in fm[e.func])
            if not made and not _consumed(store, p, fm, v.name, s):
                out.append((v.name, s))
    return out


def closure(store: Store, p: Pattern, fm: dict, start: tuple) -> set:
    seen, todo = {start}, [start]
    while todo:
        node, x = todo.pop()
        nxt = []
        if p.is_func(node):
            for e in p.edges_of(node):
                nxt.extend((e.var, r) for r in _at(store, x, e.direction, e.label))
        else:
            for e in p.creators(node):
                for c, label in store.creator.get(x, ()):
                    if (
                        label == e.label or (e.label.startswith("*") and label.startswith(e.label[1:] + "_"))
                    ) and c in fm[e.func]:
                        nxt.append((e.func, c))
        for item in nxt:
            if item not in seen:
                seen.add(item)
                todo.append(item)
    return seen


def naive_rows(storage, p: Pattern, store: Store | None = None) -> list:
    """Rows as sorted tuples of ``(node, (hids...))``, themselves sorted (filters on ids applied)."""
    store = store or read_store(storage)
    fm, _ = members(store, p)
    by_root: dict = {}
    for node, x in roots(store, p, fm):
        cells = by_root.setdefault(x, {})
        for n, h in closure(store, p, fm, (node, x)):
            cells.setdefault(n, set()).add(h)
    rows = []
    for cells in by_root.values():
        if all(_passes(store, cells.get(f.node, ()), f) for f in p.filters if f.kind in ("hid", "cid")):
            rows.append(tuple(sorted((n, tuple(sorted(h))) for n, h in cells.items())))
    return sorted(rows)


def _passes(store: Store, hids, flt) -> bool:
    if flt.kind == "hid":
        return any(h in flt.values for h in hids)
    return any(store.cids.get(h) in flt.values for h in hids)


def sql_rows(storage, p: Pattern) -> list:
    """The compiler's rows in the same shape (id filters only, as the oracle)."""
    from graphstore.query.store import Reader
    from graphstore.query.table import rows_of

    p = _without_predicates(p)
    rows = rows_of(Reader(storage), p)
    return sorted(tuple(sorted((n, tuple(h)) for n, h in r.cells.items())) for r in rows)


def sql_table_rows(storage, p: Pattern) -> list:
    """The rows of the compiler's columnar table (what ``df()`` builds on), in the same shape."""
    from graphstore.query.store import Reader
    from graphstore.query.table import table_of

    p = _without_predicates(p)
    table = table_of(Reader(storage), p)
    rows = []
    for i in range(len(table)):
        cells = {n: col[i] for n, col in table.cells.items() if col[i] is not None}
        rows.append(tuple(sorted((n, c if type(c) is tuple else (c,)) for n, c in cells.items())))
    return sorted(rows)


def _without_predicates(p: Pattern) -> Pattern:
    from dataclasses import replace

    return replace(p, filters=tuple(f for f in p.filters if f.kind != "pred"))


__all__ = ["IN", "OUT", "members", "naive_rows", "read_store", "sql_rows", "sql_table_rows"]
