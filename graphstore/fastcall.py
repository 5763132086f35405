"""The common call, recorded without the general machinery: plain parameters, plain values or atom Refs in, one
output out.

:meth:`FastRecorder._call_fast` handles a call to an op with a ``_fast_output`` name (no collection types, no
ignored arguments, no ``NewArgDefault``, plain parameters, one output) on a storage that does not track code versions,
when every argument is a builtin scalar or an :class:`~graphstore.refs.AtomRef`. It makes the same ids and the same
records as the general path (``tests/test_fastcall.py`` compares them), in fewer steps; anything else it hands back
before it has done anything, and the general path takes over.
"""

from __future__ import annotations

import time
from typing import Any

from .errors import HashingError
from .hashing import derive_call_ids, derive_output_hid, hash_value
from .ops import Op, SimpleBound
from .refs import AtomRef, Ref, wrap_atom

NOT_FAST = object()
"""Returned by :meth:`FastRecorder._call_fast` when the general path must record the call."""

_SCALARS = frozenset({int, float, str, bytes, bool, type(None)})
_STRUCTURES = frozenset({list, tuple, dict, set, frozenset})


def is_immutable(obj: Any, depth: int = 0) -> bool:
    """Whether an op cannot change ``obj`` in place: a builtin scalar, or a tuple or frozenset of such values."""
    t = type(obj)
    if t in _SCALARS:
        return True
    if (t is tuple or t is frozenset) and depth < 20:
        return all(is_immutable(x, depth + 1) for x in obj)
    return False


class FastRecorder:
    """The fast half of a Storage's recording (see the module docstring)."""

    def _call_fast(self, op: Op, out_name: str, args: tuple, kwargs: dict) -> Any:
        deletions = self._deletions  # (read before anything remembered about the store is)
        names = op._simple_names
        if kwargs or len(args) != len(names):  # (plain positional arguments for every parameter need no binding)
            bound = op.bind(args, kwargs)
            if type(bound) is not SimpleBound:
                return NOT_FAST
            pairs = bound.arguments.items()
        else:
            pairs = zip(names, args)
        in_refs = []
        for name, value in pairs:
            t = type(value)
            if t in _SCALARS:
                in_refs.append((name, wrap_atom(value)))
            elif t is AtomRef:
                in_refs.append((name, value))
            else:
                return NOT_FAST
        hid, cid = derive_call_ids(op.op_id, [(n, r.hid, r.cid) for n, r in in_refs])
        if self._pending.holds_call(hid, cid):
            found = self._lookup(hid, cid, op)
        else:  # (the usual case: nothing waiting, so the store's answer is the answer)
            found = self.backend.lookup_call_or_content(hid, cid, op._key)
        if found is not None:
            if found.hid == hid:
                return self._lazy_outputs(found)
            return self._record_content_hit(op, hid, cid, found, in_refs, self._new_todo(deletions))
        if not self._allow_new:
            return NOT_FAST  # the general path raises the error
        self._check_writable(op)
        lazy = [r for _, r in in_refs if not r.in_memory]
        if lazy:
            self.attach(lazy, inplace=True)
        values: dict = {}  # new input values, serialized before the op runs (it may change them)
        stored = self._stored_cids
        mutable = held = None
        for name, r in in_refs:
            obj = r._obj
            if r.cid not in stored:
                if r.cid not in values:
                    values[r.cid] = self._values.record(r.cid, obj, f"op {op.name}, argument {name!r}")
            else:
                held = held or {}
                held[r.cid] = obj
            if type(obj) not in _SCALARS:
                mutable = True
        started = time.time()
        t0 = time.perf_counter()
        result = op.func(**{n: r._obj for n, r in in_refs})
        duration = time.perf_counter() - t0
        if mutable:
            self._check_unchanged(op, in_refs)
        t = type(result)
        if (
            (t is tuple and op.nout == "auto" and op.output_names is None)
            or isinstance(result, Ref)
            or (t in _STRUCTURES and self._holds_ref(result))
        ):
            return self._finish_call(
                op, in_refs, self._new_todo(deletions), (hid, cid), result, started, duration, values=values
            )
        out_hid = derive_output_hid(hid, out_name)
        try:
            out = AtomRef(hash_value(result), out_hid, result)
        except HashingError as exc:
            raise HashingError(f"op {op.name}, output {out_name!r}: {exc}") from exc
        out_cid = out.cid
        inputs: list = []
        refs = {}
        for name, r in in_refs:
            inputs += (name, r.hid, r.cid)
            refs[r.hid] = (r.hid, r.cid, "atom")
        refs[out_hid] = (out_hid, out_cid, "atom")
        if out_cid not in stored:
            if out_cid not in values:
                values[out_cid] = self._values.record(out_cid, result, f"op {op.name}, output {out_name!r}")
        else:
            held = held or {}
            held[out_cid] = result
        row = (
            hid,
            cid,
            op.name,
            op.version,
            (out_name, out_hid, out_cid),
            False,
            tuple(inputs),
            started,
            duration,
            ("atom",),
            None,
        )
        self._pending.add_call(row, list(refs.values()), [tuple(v) for v in values.values()], deletions, held)
        self._remember_cids(values)
        return out
