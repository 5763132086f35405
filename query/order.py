"""The order of the elements of a table cell that holds several: their position in the history.

A history is walked from its root, upstream first: a call's inputs in argument order (each input's own history
before it), then the call, then its outputs in order. Each element takes the place where the walk first meets it.
So a cell lists its elements in the order of the branches they belong to, the same in every column of a row: in
``ensemble([train(n) for n in ns])`` the ``n`` cell, the ``train`` cell and the models' cell all follow the list's
order, and zipping two of them pairs each input with its own output. Along a chain (a loop feeding an op its own
output) elements come upstream first, which is also the order they were computed in. Elements the walk does not
reach (none, by the definition of a history) come last, by creation time and id.
"""

from __future__ import annotations

from collections.abc import Callable


def history_ranks(root: str, elements: set, edges: dict) -> dict:
    """``hid -> place`` of a history's elements; ``edges[call] = (inputs, outputs)`` for its calls."""
    creator = {r: c for c in edges for r in edges[c][1]}
    rank: dict = {}
    seen: set = set()
    # Explicit stack (loops can make histories thousands of calls deep): ("call", c) opens a call, ("emit", x)
    # places an element, ("ref", r) places a ref after its creator.
    stack = [("call" if root in edges else "ref", root)]
    while stack:
        kind, x = stack.pop()
        if kind == "emit":
            rank.setdefault(x, len(rank))
        elif kind == "ref":
            c = creator.get(x)
            if c is not None and c not in seen:
                stack.append(("emit", x))
                stack.append(("call", c))
            else:
                rank.setdefault(x, len(rank))
        elif x not in seen:
            seen.add(x)
            ins, outs = edges[x]
            later = [("emit", r) for r in reversed(outs) if r in elements] + [("emit", x)]
            stack.extend(later)
            stack.extend(("ref", r) for r in reversed(ins) if r in elements and r not in rank)
    return rank


def cell_orders(reader: object, table: object, funcs: list, rows: list, fallback: Callable) -> dict:
    """Row index -> sort key for the cells of the given rows (those with a cell of several elements): the
    elements' places in the history, read with the edges of the rows' calls in one statement."""
    calls = {h for n in funcs if n in table.cells for i in rows for h in _ids(table.cells[n][i])}
    edges = reader.call_edges(calls)
    out = {}
    for i in rows:
        elements = {h for col in table.cells.values() for h in _ids(col[i])}
        rank = history_ranks(table.roots[i], elements, {c: edges[c] for c in elements if c in edges})
        out[i] = _key(rank, fallback)
    return out


def _key(rank: dict, fallback: Callable) -> Callable:
    last = len(rank)
    return lambda h: (rank.get(h, last), fallback(h))


def _ids(cell: object) -> tuple:
    if cell is None:
        return ()
    return cell if type(cell) is tuple else (cell,)


__all__ = ["cell_orders", "history_ranks"]
