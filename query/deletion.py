"""Which calls deleting a frame's histories removes: ``ComputationFrame.delete_calls``.

The selected histories are the frame's rows (after its filters). Their calls are deleted except those that other
histories use: a call that is also in a row the filters left out, or whose outputs feed a call that is neither
deleted nor downstream of the selected histories' final calls (an upstream call shared with a kept history, such as
the ``load_data`` call of several ``train`` calls). Calls downstream of a deleted call go with it (they cannot stay
without their inputs), and the report names them as dependents. ``include_shared_upstream=True`` deletes every call
of the selected histories, shared or not, and everything downstream of them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .model import Pattern
from .store import Reader
from .table import rows_of


def selected_calls(pattern: Pattern, rows: list) -> dict:
    """hid -> op name of every call in the rows' function cells."""
    out: dict = {}
    for f in pattern.funcs:
        for r in rows:
            for h in r.cells.get(f.name, ()):
                out[h] = f.op
    return out


def plan(reader: Reader, pattern: Pattern, include_shared_upstream: bool) -> tuple[list, dict]:
    """``(hids to delete with their dependents, {hid: op} of the selected calls kept because others use them)``."""
    rows = rows_of(reader, pattern)
    chosen = selected_calls(pattern, rows)
    if include_shared_upstream or not chosen:
        return sorted(chosen), {}
    doomed = set(chosen)
    if pattern.filters:  # the calls of the histories the filters left out stay
        picked = {_key(r) for r in rows}
        others = [r for r in rows_of(reader, replace(pattern, filters=())) if _key(r) not in picked]
        doomed -= set(selected_calls(pattern, others))
    backend = reader.storage.backend
    consumers: dict = {h: set() for h in doomed}
    for call, consumer in backend.output_consumers(sorted(doomed)) if doomed else ():
        consumers[call].add(consumer)
    # The final calls of the selection (no selected call uses their outputs) and everything downstream of them go.
    heads = [h for h in doomed if not consumers[h] & chosen.keys()]
    downstream = {h for h, _ in backend.delete_calls(sorted(heads), with_dependents=True, dry_run=True)} - doomed
    changed = True
    while changed:  # a call whose outputs feed a call that stays, stays (and so, in turn, do its own inputs' creators)
        changed = False
        for h in sorted(doomed):
            if any(k not in doomed and k not in downstream for k in consumers[h]):
                doomed.discard(h)
                changed = True
    return sorted(doomed), {h: op for h, op in chosen.items() if h not in doomed}


def _key(row: Any) -> tuple:
    return row.root, tuple(sorted((n, tuple(h)) for n, h in row.cells.items()))


__all__ = ["plan", "selected_calls"]
