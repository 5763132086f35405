"""From history rows to a pandas DataFrame: one column per node, in topological order.

A cell holds the node's single element (a value, a Ref or a Call), ``None`` when the history has none there, or a
collection of elements (``query/cells.py``: a list, in history order, the same in every column: see ``query/order.py``)
when the history holds several
(loops, aggregation, histories that disagree). Ids, cids and op versions come with the history rows; values are
read in one statement, for the returned cells only; calls' inputs and outputs in one more, when first used.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from .cells import KINDS
from .errors import FrameStructureError
from .model import Pattern
from .order import cell_orders
from .rows import Row, Table, after_filters, history_rows, history_table
from .store import CallBatch, LazyCall, Reader, ValuePass

VALUES = ("objs", "refs")
JOINS = ("outer", "inner")


def rows_of(reader: Reader, pattern: Pattern) -> list:
    """History rows after every filter (id filters in SQL; predicates here, on loaded values)."""
    reader.sync()
    return _filtered(reader, pattern, history_rows(reader.run, pattern, reader.run_many, reader.dialect))


def table_of(reader: Reader, pattern: Pattern, on_count: Callable | None = None) -> Table:
    """The histories after every filter, by column (``on_count``: see ``history_table``)."""
    reader.sync()
    if not after_filters(pattern):
        return history_table(reader.run, pattern, reader.run_many, reader.run_stream, on_count, reader.dialect)
    return Table.of_rows(
        _filtered(reader, pattern, history_rows(reader.run, pattern, reader.run_many, reader.dialect)), pattern.names()
    )


def _filtered(reader: Reader, pattern: Pattern, rows: list) -> list:
    preds = [f for f in after_filters(pattern)]
    if not preds:
        return rows
    need = {h for r in rows for f in preds if not pattern.is_func(f.node) for h in r.cells.get(f.node, ())}
    refs = reader.load_refs(need, with_values=any(f.kind == "pred" for f in preds))
    calls = reader.load_calls(
        {h for r in rows for f in preds if pattern.is_func(f.node) for h in r.cells.get(f.node, ())}
    )
    return [r for r in rows if all(_passes(r, f, refs, calls) for f in preds)]


def _passes(row: Row, flt: Any, refs: dict, calls: dict) -> bool:
    for hid in row.cells.get(flt.node, ()):
        elem = calls.get(hid) if hid in calls else refs.get(hid)
        if elem is None:
            continue
        if flt.kind == "hid" and hid in flt.values:
            return True
        if flt.kind == "cid" and elem.cid in flt.values:
            return True
        if flt.kind == "pred" and _safe(flt.values, elem.obj if hid in refs else elem):
            return True
    return False


def _safe(pred: Any, value: Any) -> bool:
    return bool(pred(value))


def columns_of(pattern: Pattern, nodes: Iterable[str], include_calls: bool) -> list:
    wanted = list(nodes)
    for n in wanted:
        pattern.node(n)
    cols = [n for n in pattern.topo_names() if not wanted or n in wanted]
    if not include_calls:
        cols = [n for n in cols if not pattern.is_func(n)]
    return cols


def build_table(
    reader: Reader,
    pattern: Pattern,
    nodes: tuple = (),
    values: str = "objs",
    lazy_vars: Iterable | None = None,
    include_calls: bool = True,
    join_how: str = "outer",
) -> pd.DataFrame:
    # Extraction makes millions of small objects that all stay alive: the cyclic garbage collector would rescan
    # them again and again (its passes grow with the heap), so it is paused meanwhile.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_table(reader, pattern, nodes, values, lazy_vars, include_calls, join_how)
    finally:
        if enabled:
            gc.enable()


def _build_table(
    reader: Reader,
    pattern: Pattern,
    nodes: tuple,
    values: str,
    lazy_vars: Iterable | None,
    include_calls: bool,
    join_how: str,
) -> pd.DataFrame:
    if values not in VALUES:
        raise FrameStructureError(f"values must be one of {VALUES}, got {values!r}")
    if join_how not in JOINS:
        raise FrameStructureError(f"join_how must be one of {JOINS}, got {join_how!r}")
    cols = columns_of(pattern, nodes, include_calls)
    lazy = set(lazy_vars or ())
    kinds = ["call" if pattern.is_func(c) else "obj" if values == "objs" and c not in lazy else "ref" for c in cols]
    value_pass = ValuePass(reader, kinds.count("obj"))  # may be read while the histories are
    table = table_of(reader, pattern, value_pass.plan)
    columns = [table.cells.get(c) or [None] * len(table) for c in cols]
    metas = [table.meta.get(c) for c in cols]
    keep: Iterable[int] = range(len(table))
    if nodes or join_how == "inner":
        if nodes:
            keep = [i for i in keep if any(col[i] is not None for col in columns)]
            keep = _distinct(keep, columns)
        if join_how == "inner":
            keep = [i for i in keep if all(col[i] is not None for col in columns)]
        columns = [[col[i] for i in keep] for col in columns]
        metas = [None if m is None else tuple([x[i] for i in keep] for x in m) for m in metas]
    if not cols or not columns[0]:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    multi = [
        set() if meta is not None else {h for cell in col if type(cell) is tuple for h in cell}
        for col, meta in zip(columns, metas)
    ]  # a column with meta holds single ids only
    # A column is "direct" when its cells are single ids that came with their cid (and, for values, are atoms):
    # its elements are made from those columns, without the table-wide id -> (cid, kind) map.
    direct = [
        not m and meta is not None and (kind != "obj" or set(meta[1]) <= _ATOM_KINDS)
        for m, meta, kind in zip(multi, metas, kinds)
    ]
    info = table.info if not all(direct) else {}
    times = reader.creation_times(set().union(*multi)) if any(multi) else {}
    by_time = lambda h: (times.get(h, -1.0), h)  # noqa: E731  (for elements a history's walk does not reach)
    keys: list = []
    if any(multi):  # cells of several elements: in history order, the same in every column (see query/order.py)
        keep = list(keep)
        several = [j for j, i in enumerate(keep) if any(type(col[j]) is tuple for col in columns)]
        orders = cell_orders(reader, table, list(pattern.fnames()), [keep[j] for j in several], by_time)
        keys = [None] * len(keep)
        for j in several:
            keys[j] = orders[keep[j]]
    batch = CallBatch(reader)
    hid_sets = [set() if d else _hids(col, m) for col, m, d in zip(columns, multi, direct)]
    atoms, others = _split_atoms(set().union(*[h for h, k in zip(hid_sets, kinds) if k == "obj"]), info)
    loaded = reader.values_of(
        [list(atoms.values())] + [meta[0] for meta, k, d in zip(metas, kinds, direct) if d and k == "obj"], value_pass
    )
    objs = {h: loaded.get(c) for h, c in atoms.items()}
    if others:
        objs.update({h: r.obj for h, r in reader.make_refs(info, others, with_values=True).items()})
    refs = reader.make_refs(info, set().union(*[h for h, k in zip(hid_sets, kinds) if k == "ref"]), False)
    make = reader.storage.make_ref
    ops = getattr(reader.storage, "_ops_by_name", {})
    data = {}
    for name, col, kind, hids, m, meta, d in zip(cols, columns, kinds, hid_sets, multi, metas, direct):
        if d and kind == "obj":
            data[name] = list(map(loaded.get, meta[0]))  # get(None) is None: a missing cell
            continue
        if d:
            if kind == "ref":
                elems = {h: make(k or "atom", c, h) for h, c, k in zip(col, *meta) if h is not None}
            else:
                op = pattern.func(name).op
                by_version = {v: ops.get((op, v), op) for v in set(meta[1])}
                op_objs = (
                    itertools.repeat(next(iter(by_version.values())))
                    if len(by_version) == 1
                    else map(by_version.__getitem__, meta[1])
                )
                elems = dict(zip(col, map(LazyCall, op_objs, col, meta[0], itertools.repeat(batch))))  # (in C)
                elems.pop(None, None)  # (the one made for missing cells)
                batch.hids.extend(elems)
        else:
            elems = (
                objs
                if kind == "obj"
                else refs
                if kind == "ref"
                else _calls(reader, pattern.func(name).op, hids, info, batch)
            )
            if kind == "call":
                batch.hids.extend(hids)
        get = elems.get  # get(None) is None: a missing cell
        cell_of = KINDS[kind]  # a cell of several elements: a ValueCollection, RefCollection or CallCollection
        data[name] = (
            [
                get(c) if type(c) is not tuple else cell_of([elems[h] for h in sorted(c, key=keys[j])])
                for j, c in enumerate(col)
            ]
            if m
            else list(map(get, col))
        )
    return pd.DataFrame(data, columns=cols)


_ATOM_KINDS = {None, "atom"}


def _hids(col: list, multi: set) -> set:
    """The ids a column holds: its single-id cells and the members of its several-id cells."""
    out = set(col)
    out.discard(None)
    return {c for c in out if type(c) is not tuple} | multi if multi else out


def _split_atoms(hids: set, info: dict) -> tuple[dict, list]:
    """``({hid: cid} of the atoms, [hids of collections])``: atoms' values are read by cid, collections are
    assembled by the storage."""
    atoms: dict = {}
    others = []
    for h in hids:
        cid, kind = info[h]
        if kind is None or kind == "atom":
            atoms[h] = cid
        else:
            others.append(h)
    return atoms, others


def _calls(reader: Reader, op_name: str, hids: set, info: dict, batch: CallBatch) -> dict:
    """Calls of the table, built from what extraction read; inputs and outputs load on first use (one batch)."""
    ops = getattr(reader.storage, "_ops_by_name", {})
    out: dict = {}
    for h in hids:
        cid, version = info[h]
        out[h] = LazyCall(ops.get((op_name, version), op_name), h, cid, batch)
    return out


def _distinct(keep: list, columns: list) -> list:
    seen, out = set(), []
    for i in keep:
        key = tuple(col[i] for col in columns)
        if key not in seen:
            seen.add(key)
            out.append(i)
    return out
