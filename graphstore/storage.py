"""``Storage``: where calls are recorded and looked up, and the context in which ops are memoized.

>>> from graphstore import op, Storage
>>> @op
... def inc(x):
...     return x + 1
>>> storage = Storage()
>>> with storage:
...     y = inc(1)
>>> storage.unwrap(y)
2
>>> with storage:
...     inc(1)  # retraced: nothing runs, nothing is loaded
AtomRef(hid=..., in_memory=False)
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterable, Optional, Union

from .backends import CallRecord, OpRecord, RefRecord, Tracer, ValueRecord, open_backend
from .context import ModeContext
from .errors import (
    ConfigurationError,
    GraphstoreError,
    HashingError,
    NewCallsNotAllowedError,
    RefNotLoadedError,
)
from .hashing import derive_call_id, derive_output_hid, hash_value
from .ops import Op
from .refs import AtomRef, Call, Ignore, NewArgDefault, PointerRef, Ref, ValuePointer, wrap_atom
from .values import ValueCodec
from .writer import PendingWrites

_STRUCTURES = (list, tuple, dict, set, frozenset)


def _has_ref(value: Any, depth: int = 0) -> bool:
    t = type(value)
    if isinstance(value, Ref):
        return True
    if t not in _STRUCTURES or depth > 50:
        return False
    items = list(value.keys()) + list(value.values()) if t is dict else value
    return any(_has_ref(x, depth + 1) for x in items)


class _AllowNewCalls:
    """Returned by ``Storage.allow_new_calls``: the setting is already in force; as a context it is restored on exit."""

    def __init__(self, storage: "Storage", previous: bool) -> None:
        self.storage = storage
        self.previous = previous

    def __enter__(self) -> "Storage":
        return self.storage

    def __exit__(self, *exc: Any) -> None:
        self.storage._allow_new = self.previous


class Storage:
    """A store of memoized calls: a SQLite file (``db_path``) or, by default, memory.

    Use it as a context (``with storage:``) to record and retrace op calls. Large values (over
    ``overflow_threshold_MB``) go to files in ``overflow_dir``.
    """

    def __init__(
        self,
        db_path: "Union[str, os.PathLike[str]]" = ":memory:",
        overflow_dir: "Optional[Union[str, os.PathLike[str]]]" = None,
        overflow_threshold_MB: float = 50.0,
        deps_path: Optional[str] = None,
        tracer: Optional[Tracer] = None,
    ) -> None:
        if deps_path is not None:
            raise ConfigurationError(
                "code versioning (deps_path) is not available in this version of graphstore; "
                "use @op(version=...) to separate incompatible versions of an op"
            )
        if overflow_threshold_MB <= 0:
            raise ConfigurationError(f"overflow_threshold_MB must be positive, got {overflow_threshold_MB}")
        self.db_path = os.fspath(db_path)
        self.backend = open_backend(self.db_path, tracer=tracer)
        self._values = ValueCodec(overflow_dir, int(overflow_threshold_MB * 1e6))
        self._pending = PendingWrites(self.backend)
        self._context = ModeContext(self, "run")
        self._allow_new = True
        self._known_ops: set[str] = set()
        self._stored_cids: set[str] = set()
        self._ops_by_name: dict[tuple[str, int], Op] = {}

    def __repr__(self) -> str:
        return f"Storage({self.db_path!r})"

    # --- contexts -----------------------------------------------------------------------------------------------------

    def __enter__(self) -> "Storage":
        return self._context.__enter__()

    def __exit__(self, *exc: Any) -> None:
        try:
            self.commit()
        finally:
            self._context.__exit__(*exc)

    def __call__(self, mode: str = "run") -> ModeContext:
        """A context in the given mode: ``"run"`` records calls, ``"noop"`` runs ops as plain functions."""
        return ModeContext(self, mode)

    def allow_new_calls(self, allow: bool) -> _AllowNewCalls:
        """Forbid (or allow again) computing calls that are not in the store; usable as a context too.

        >>> s = Storage()
        >>> with s.allow_new_calls(False):
        ...     s._allow_new
        False
        >>> s._allow_new
        True
        """
        previous = self._allow_new
        self._allow_new = bool(allow)
        return _AllowNewCalls(self, previous)

    def commit(self) -> None:
        """Write every pending call now."""
        self._pending.flush()

    def close(self) -> None:
        """Write pending calls and close the store."""
        self._pending.close()
        self.backend.close()

    # --- the hot path -----------------------------------------------------------------------------------------------

    def _call_op(self, op: Op, args: tuple, kwargs: dict) -> Any:
        self._pending.raise_background_error()
        if op.op_id not in self._known_ops:
            self._register_op(op)
        bound = op.bind(args, kwargs)
        in_refs = [(name, self._wrap_input(op, name, value)) for name, value in op.iter_inputs(bound)]
        hid = derive_call_id("hid", op.op_id, [(n, r.hid) for n, r in in_refs])
        record = self._pending.call(hid) or self.backend.lookup_call(hid)
        if record is not None:
            return self._lazy_outputs(record)
        cid = derive_call_id("cid", op.op_id, [(n, r.cid) for n, r in in_refs])
        same = self._pending.call_by_cid(cid) or self.backend.lookup_call_by_cid(cid)
        if same is not None:
            return self._record_content_hit(op, hid, cid, same, in_refs)
        if not self._allow_new:
            raise NewCallsNotAllowedError(f"Call to {op.name} does not exist and new calls are not allowed.")
        return self._execute(op, bound, hid, cid, in_refs)

    def _register_op(self, op: Op) -> None:
        self._ops_by_name[(op.name, op.version)] = op
        sig = str(op.signature)
        self._pending.add_op(OpRecord(op.name, op.version, sig, op.source_hash, tuple(op.output_names or ())))
        self._known_ops.add(op.op_id)

    def _wrap_input(self, op: Op, name: str, value: Any) -> Ref:
        if isinstance(value, Ref):
            return value
        if isinstance(value, NewArgDefault):
            value = value.value
        if isinstance(value, ValuePointer):
            return wrap_atom(value)
        if _has_ref(value):
            value = self.unwrap(value)
        try:
            return wrap_atom(value)
        except HashingError as exc:
            raise HashingError(f"op {op.name}, argument {name!r}: {exc}") from exc

    def _lazy_outputs(self, record: CallRecord) -> Any:
        refs: list[Ref] = [AtomRef(cid, hid) for _, hid, cid in record.outputs]
        return Op.package(refs, record.tuple_out)

    def _record_content_hit(
        self, op: Op, hid: str, cid: str, same: CallRecord, in_refs: list[tuple[str, Ref]]
    ) -> Any:
        """Same content as a stored call but another history: record a new call sharing its values."""
        outputs = tuple((name, derive_output_hid(hid, name), ocid) for name, _, ocid in same.outputs)
        record = CallRecord(
            hid, cid, op.name, op.version, outputs, same.tuple_out,
            inputs=tuple((n, r.hid, r.cid) for n, r in in_refs), created_at=time.time(),
        )
        out_refs: list[tuple[str, Ref]] = [(n, AtomRef(c, h)) for n, h, c in outputs]
        self._save_call(op, record, in_refs, out_refs)
        return self._lazy_outputs(record)

    def _execute(self, op: Op, bound: Any, hid: str, cid: str, in_refs: list[tuple[str, Ref]]) -> Any:
        self.attach([r for _, r in in_refs if not r.in_memory])
        started = time.time()
        t0 = time.perf_counter()
        result = Op.call_bound(op.func, bound, self._argument_value)
        duration = time.perf_counter() - t0
        named, returns_tuple = op.split_outputs(result)
        out_refs: list[tuple[str, Ref]] = []
        for name, value in named:
            out_refs.append((name, self._wrap_output(op, hid, name, value)))
        record = CallRecord(
            hid, cid, op.name, op.version, tuple((n, r.hid, r.cid) for n, r in out_refs), returns_tuple,
            inputs=tuple((n, r.hid, r.cid) for n, r in in_refs), created_at=started, duration=duration,
        )
        self._save_call(op, record, in_refs, out_refs)
        return Op.package([r for _, r in out_refs], returns_tuple)

    def _argument_value(self, value: Any) -> Any:
        if isinstance(value, Ref):
            return value.obj
        if isinstance(value, (Ignore, NewArgDefault)):
            return value.value
        if isinstance(value, ValuePointer):
            return value.obj
        if _has_ref(value):
            return self.unwrap(value)
        return value

    def _wrap_output(self, op: Op, call_hid: str, name: str, value: Any) -> Ref:
        hid = derive_output_hid(call_hid, name)
        if isinstance(value, Ref):
            if isinstance(value, PointerRef):
                return PointerRef(value.cid, hid, value._obj, pointer_id=value.pointer_id)
            return AtomRef(value.cid, hid, value._obj)
        if _has_ref(value):
            value = self.unwrap(value)
        try:
            return AtomRef(hash_value(value), hid, value)
        except HashingError as exc:
            raise HashingError(f"op {op.name}, output {name!r}: {exc}") from exc

    def _save_call(
        self, op: Op, record: CallRecord, in_refs: list[tuple[str, Ref]], out_refs: list[tuple[str, Ref]]
    ) -> None:
        """Queue a call with its refs and any values not yet stored (all serialized before anything is queued)."""
        values: list[ValueRecord] = []
        refs: list[RefRecord] = []
        for role, pairs in (("argument", in_refs), ("output", out_refs)):
            for name, ref in pairs:
                refs.append(RefRecord(ref.hid, ref.cid))
                if ref.in_memory and ref.cid not in self._stored_cids:
                    values.append(self._value_record(op, role, name, ref))
        self._pending.add(record, refs, values)
        self._remember_cids(v.cid for v in values)

    def _value_record(self, op: Op, role: str, name: str, ref: Ref) -> ValueRecord:
        if isinstance(ref, PointerRef):
            return ValueCodec.pointer_record(ref.cid, ref.pointer_id)
        return self._values.record(ref.cid, ref.obj, f"op {op.name}, {role} {name!r}")

    def _remember_cids(self, cids: Iterable[str]) -> None:
        if len(self._stored_cids) > 200_000:
            self._stored_cids.clear()
        self._stored_cids.update(cids)

    # --- loading ----------------------------------------------------------------------------------------------------

    def attach(self, refs: Any) -> None:
        """Load the values of the Refs in ``refs`` (a Ref or nested lists/tuples/dicts/sets of them) in place."""
        lazy: dict[str, list[Ref]] = {}
        self._collect_lazy(refs, lazy)
        if not lazy:
            return
        records = {}
        for cid in lazy:
            rec = self._pending.value(cid)
            if rec is not None:
                records[cid] = rec
        missing = [cid for cid in lazy if cid not in records]
        if missing:
            records.update(self.backend.load_values(missing))
        for cid, group in lazy.items():
            rec = records.get(cid)
            if rec is None:
                raise RefNotLoadedError(f"{group[0]!r}: its value {cid} is not in store {self.db_path}")
            obj = self._values.load(rec)
            for ref in group:
                ref._set_obj(obj)

    def _collect_lazy(self, x: Any, out: dict[str, list[Ref]], depth: int = 0) -> None:
        if isinstance(x, Ref):
            if not x.in_memory:
                out.setdefault(x.cid, []).append(x)
            return
        t = type(x)
        if t not in _STRUCTURES or depth > 100:
            return
        for item in (x.values() if t is dict else x):
            self._collect_lazy(item, out, depth + 1)

    def unwrap(self, x: Any) -> Any:
        """The plain value of a Ref, or of nested lists/tuples/dicts/sets of Refs, loading what is needed.

        >>> Storage().unwrap([wrap_atom(1), (wrap_atom("a"),)])
        [1, ('a',)]
        """
        self.attach(x)
        return self._strip(x)

    def _strip(self, x: Any) -> Any:
        if isinstance(x, Ref):
            return x.obj
        t = type(x)
        if t is list:
            return [self._strip(v) for v in x]
        if t is tuple:
            return tuple(self._strip(v) for v in x)
        if t is dict:
            return {k: self._strip(v) for k, v in x.items()}
        if t in (set, frozenset):
            return t(self._strip(v) for v in x)
        return x

    def load_ref(self, hid: str, in_memory: bool = True) -> AtomRef:
        """The stored Ref with history id ``hid``, with its value loaded when ``in_memory`` is true."""
        cid = self._pending.ref_cid(hid) or self.backend.ref_cids([hid]).get(hid)
        if cid is None:
            raise RefNotLoadedError(f"no ref with hid {hid} in store {self.db_path}")
        ref = AtomRef(cid, hid)
        if in_memory:
            self.attach(ref)
        return ref

    def get_call(self, hid: str) -> Call:
        """The stored call with history id ``hid``, its input and output Refs lazy."""
        self.commit()
        record = self.backend.get_calls([hid]).get(hid)
        if record is None:
            raise GraphstoreError(f"no call with hid {hid} in store {self.db_path}")
        op = self._ops_by_name.get((record.op_name, record.op_version), record.op_name)
        return Call(
            op, record.hid, record.cid,
            {n: AtomRef(c, h) for n, h, c in record.inputs},
            {n: AtomRef(c, h) for n, h, c in record.outputs},
        )

    def cache_info(self) -> dict[str, int]:
        """Counts of what the store holds (ops, values, refs, calls, edges) and of calls not yet written."""
        info = self.backend.counts()
        info["pending_calls"] = len(self._pending)
        return info
