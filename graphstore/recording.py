"""The hot path: binding a call, looking it up, running it on a miss, and queuing its records.

``Recorder`` is a part of :class:`graphstore.Storage`; it relies on the storage's backend, pending writes, value
codec and loading methods.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from .backends import CallRecord, MemberRecord, OpRecord, ValueRecord
from .errors import (
    HashingError,
    InputMutatedWarning,
    NewCallsNotAllowedError,
    OpCallError,
    ReadOnlyStoreError,
    UnstableIdWarning,
)
from .fastcall import _SCALARS, NOT_FAST, FastRecorder, is_immutable
from .hashing import derive_call_id, derive_call_ids, derive_output_hid, derive_source_hid, hash_value
from .objhash import hash_value_noting
from .ops import Op, storable_text
from .refs import _NOT_LOADED, AtomRef, Ignore, NewArgDefault, PointerRef, Ref, ValuePointer, wrap_atom
from .structs import (
    COLLECTION_LABEL,
    GETITEM_OPS,
    KEY_LABEL,
    MAKE_OPS,
    REF_CLASSES,
    STRUCTURAL_OPS,
    CollectionRef,
    StructType,
    assemble,
    iter_members,
    struct_cid,
)
from .tracking import collecting, stop_collecting
from .values import ValueCodec

_MISS = object()

_STRUCTURES = (list, tuple, dict, set, frozenset)
_PY_TYPES = {"list": (list, tuple), "tuple": (tuple, list), "dict": (dict,), "set": (set, frozenset)}


def has_ref(value: Any, depth: int = 0) -> bool:
    """Whether a plain container holds Refs anywhere inside."""
    if isinstance(value, Ref):
        return True
    t = type(value)
    if t not in _STRUCTURES or depth > 50:
        return False
    items = list(value.keys()) + list(value.values()) if t is dict else value
    return any(has_ref(x, depth + 1) for x in items)


def implicit_struct(value: Any) -> StructType | None:
    """The collection type under which a plain container holding Refs is stored (None: store it as one value)."""
    t = type(value)
    if t is list or t is tuple:
        return StructType("list" if t is list else "tuple")
    if t is dict and all(type(k) is str for k in value):
        return StructType("dict")
    if t is set:
        return StructType("set")
    return None


def ref_kind(ref: Ref) -> str:
    return ref.kind if isinstance(ref, CollectionRef) else "atom"


@dataclass
class PendingCall:
    """One call to record, with its Refs by label, plus the structural calls and members it brings along."""

    extra: list[tuple[CallRecord, list[tuple[str, Ref]], list[tuple[str, Ref]]]] = field(default_factory=list)
    members: list[MemberRecord] = field(default_factory=list)
    deletions: int | None = None
    """The storage's deletion count when the call started (before anything remembered about the store was read)."""


class Recorder(FastRecorder):
    """The recording half of a Storage."""

    def _call_op(self, op: Op, args: tuple, kwargs: dict) -> Any:
        self._pending.raise_background_error()
        if op.op_id not in self._known_ops or self._ops_by_name.get((op.name, op.version)) is not op:
            self._register_op(op)  # also when an op of the same name and version was redefined in this session
        if op._fast_output is not None and self._versioner is None:
            out = self._call_fast(op, op._fast_output, args, kwargs)
            if out is not NOT_FAST:
                return out
        bound = op.bind(args, kwargs)
        todo = PendingCall(deletions=self._deletions)
        in_refs = [
            (name, self._wrap_input(op, name, value, stype, todo)) for name, value, stype in op.iter_inputs(bound)
        ]
        ids = None
        if self._versioner is None:
            ids = derive_call_ids(op.op_id, [(n, r.hid, r.cid) for n, r in in_refs])
            found = self._lookup(*ids, op)
            if found is not None:
                if found.hid == ids[0]:
                    return self._lazy_outputs(found)
                return self._record_content_hit(op, ids[0], ids[1], found, in_refs, todo)
        else:
            found = self._lookup_versioned(op, in_refs, todo)
            if found is not _MISS:
                return found
        if not self._allow_new:
            raise NewCallsNotAllowedError(f"Call to {op.name} does not exist and new calls are not allowed.")
        self._check_writable(op)
        return self._execute(op, bound, in_refs, todo, ids)

    def _lookup(self, hid: str, cid: str, op: Op | None = None) -> CallRecord | None:
        """The call with this history id, else one with this content id: pending records first, then one read
        (none when the backend holds every id of ``op``'s stored calls)."""
        found = self._pending.call(hid)
        if found is not None:
            return found
        stored = self.backend.lookup_call_or_content(hid, cid, None if op is None else op._key)
        if stored is not None and stored.hid == hid:
            return stored
        return self._pending.call_by_cid(cid) or stored

    def _check_writable(self, op: Op) -> None:
        if self.backend.read_only:
            raise ReadOnlyStoreError(
                f"store {self.db_path} is open read-only: the call to op {op.name} is not stored, so it cannot be "
                "recorded; open the store without read_only to compute it"
            )

    def _lookup_versioned(self, op: Op, in_refs: list, todo: PendingCall) -> Any:
        """Look the call up under every version of the op that is still valid for the code as it is now."""
        triples = [(n, r.hid, r.cid) for n, r in in_refs]
        ids = [derive_call_ids(f"{op.op_id}#{sv}", triples) for sv in self._versioner.candidates(op.name, op.version)]
        if not ids:
            return _MISS
        if len(ids) == 1:  # the usual case: one statement, by history id else by content id
            record = self._lookup(*ids[0], op)
        else:
            record = next((r for r in map(self._pending.call, (h for h, _ in ids)) if r), None)
            record = record or self.backend.lookup_any_call([h for h, _ in ids])
            record = record or next((r for r in map(self._pending.call_by_cid, (c for _, c in ids)) if r), None)
            record = record or self.backend.lookup_any_call([c for _, c in ids], by="cid")
        if record is None:
            return _MISS
        self._versioner.absorb(op, record.version_id)
        if any(h == record.hid for h, _ in ids):
            return self._lazy_outputs(record)
        hid = next(h for h, c in ids if c == record.cid)
        return self._record_content_hit(op, hid, record.cid, record, in_refs, todo, record.version_id)

    def _register_op(self, op: Op) -> None:
        self._claims.claim(op, repr(self))  # another function recording under this name: OpNameConflictError
        self._ops_by_name[(op.name, op.version)] = op
        stored = self._source_hashes.get((op.name, op.version))
        changed = stored is not None and stored[0] != op.source_hash and not op.only_added_new_defaults(stored[1])
        if self._versioner is None and changed and op.op_id not in self._warned:
            self._warned.add(op.op_id)
            warnings.warn(
                f"op {op.name} (version {op.version}) has changed since its calls were stored, and this store does "
                "not track code versions: its old results are still reused. Bump @op(version=...) if the change "
                "alters results, use Storage(deps_path=...) to track code versions, or give new parameters a "
                "NewArgDefault",
                stacklevel=4,
            )
        sig = op.signature_text
        self._source_hashes.setdefault((op.name, op.version), (op.source_hash, sig))  # what the ops table keeps
        if stored is None and not self.backend.read_only:  # (a known op's row is there: nothing to write)
            self._pending.add_op(OpRecord(op.name, op.version, sig, op.source_hash, tuple(op.output_names or ())))
        self._known_ops.add(op.op_id)

    def _register_structural(self, name: str) -> None:
        if name + "@0" not in self._known_ops and not self.backend.read_only:
            self._pending.add_op(OpRecord(name, 0, "(structural)", "structural", ()))
            self._known_ops.add(name + "@0")

    # --- inputs -------------------------------------------------------------------------------------------------------

    def _wrap_input(self, op: Op, name: str, value: Any, stype: StructType | None, todo: PendingCall) -> Ref:
        if isinstance(value, NewArgDefault):
            value = value.value
        if stype is not None:
            return self._struct_input(op, name, stype, value, todo)
        if isinstance(value, Ref):
            return value
        if isinstance(value, ValuePointer):
            return wrap_atom(value)
        if has_ref(value):
            implicit = implicit_struct(value)
            if implicit is not None:  # keep the Refs' histories: store it as a collection of them
                return self._struct_input(op, name, implicit, value, todo)
            value = self.unwrap(value)
        try:
            if type(value) in _SCALARS:  # (nothing in it can need the pickle)
                return wrap_atom(value)
            cid, unstable = hash_value_noting(value)
        except HashingError as exc:
            raise HashingError(f"op {op.name}, argument {name!r}: {exc}") from exc
        if unstable:
            self._warn_unstable(op, name, unstable)
        return AtomRef(cid, derive_source_hid(cid), value)

    def _warn_unstable(self, op: Op, name: str, parts: list[str]) -> None:
        key = f"unstable-id\x00{op.op_id}\x00{name}"
        if key in self._warned:
            return
        self._warned.add(key)
        warnings.warn(
            f"op {op.name}, argument {name!r}: its content id may differ in another process (so the call may be "
            f"computed again there), since a part of it could only be hashed through its pickle: {'; '.join(parts)}",
            UnstableIdWarning,
            stacklevel=_caller_level(),
        )

    def _struct_input(self, op: Op, name: str, stype: StructType, value: Any, todo: PendingCall) -> Ref:
        """A collection argument: reuse its Ref, or build one from its elements with a ``__make_*__`` call."""
        if isinstance(value, CollectionRef) and value.kind == stype.kind:
            return value
        if isinstance(value, Ref):
            value = self.unwrap(value)
        self._check_struct_value(op, f"argument {name!r}", stype, value)
        elements: list[tuple[Any, Ref]] = []
        for i, (key, item) in enumerate(iter_members(stype.kind, value)):
            etype = stype.element_type(i)
            elements.append((key, self._wrap_input(op, f"{name}[{key!r}]", item, etype, todo)))
        kind = stype.kind
        labels = [f"elts_{key}" if kind == "dict" else f"elts_{i}" for i, (key, _) in enumerate(elements)]
        make = MAKE_OPS[kind]
        self._register_structural(make)
        op_id = make + "@0"
        call_hid = derive_call_id("hid", op_id, [(lb, r.hid) for lb, (_, r) in zip(labels, elements)])
        call_cid = derive_call_id("cid", op_id, [(lb, r.cid) for lb, (_, r) in zip(labels, elements)])
        out_label = COLLECTION_LABEL[kind]
        coll = REF_CLASSES[kind](
            struct_cid(kind, [(k, r.cid) for k, r in elements]),
            derive_output_hid(call_hid, out_label),
            members=elements,
            resolver=self._resolve_members,
        )
        if all(r.in_memory for _, r in elements):
            coll._set_obj(assemble(kind, [(k, r.obj) for k, r in elements]))
        ins = [(lb, r) for lb, (_, r) in zip(labels, elements)]
        record = CallRecord(
            call_hid,
            call_cid,
            make,
            0,
            ((out_label, coll.hid, coll.cid),),
            False,
            tuple((lb, r.hid, r.cid) for lb, r in ins),
            output_kinds=(kind,),
        )
        todo.extra.append((record, ins, [(out_label, coll)]))
        todo.members.extend(self._member_records(coll.hid, kind, elements))
        return coll

    @staticmethod
    def _member_records(coll_hid: str, kind: str, elements: list[tuple[Any, Ref]]) -> list[MemberRecord]:
        return [
            MemberRecord(coll_hid, pos, key if kind == "dict" else None, ref.hid)
            for pos, (key, ref) in enumerate(elements)
        ]

    @staticmethod
    def _check_struct_value(op: Op, what: str, stype: StructType, value: Any) -> None:
        if not isinstance(value, _PY_TYPES[stype.kind]):
            raise OpCallError(
                f"op {op.name}, {what}: annotated as M{stype.kind.capitalize()} but got a {type(value).__qualname__}"
            )
        if stype.kind == "dict":
            bad = [k for k in value if not isinstance(k, str)]
            if bad:
                raise OpCallError(f"op {op.name}, {what}: MDict keys must be strings, got {bad[0]!r}")

    # --- running ------------------------------------------------------------------------------------------------------

    def _execute(self, op: Op, bound: Any, in_refs: list, todo: PendingCall, ids: tuple[str, str] | None = None) -> Any:
        lazy = [r for _, r in in_refs if not r.in_memory]
        if lazy:
            self.attach(lazy, inplace=True)
        values = self._input_values(op, in_refs, todo)  # before the op runs: it may change its inputs
        started = time.time()
        op_key, version_id = op.op_id, None
        t0 = time.perf_counter()
        if self._versioner is None:
            result = Op.call_bound(op.func, bound, self._argument_value)
        else:
            collector = self._versioner.collector(op)
            token = collecting(collector)
            try:
                result = Op.call_bound(op.func, bound, self._argument_value)
            finally:
                stop_collecting(token)
            version = self._versioner.finish(op, collector)
            self._versioner.absorb(op, version.version_id)
            op_key, version_id = f"{op.op_id}#{version.semantic_version}", version.version_id
        duration = time.perf_counter() - t0
        self._check_unchanged(op, in_refs)
        if ids is None or version_id is not None:
            ids = derive_call_ids(op_key, [(n, r.hid, r.cid) for n, r in in_refs])
        return self._finish_call(op, in_refs, todo, ids, result, started, duration, version_id, values)

    def _input_values(self, op: Op, in_refs: list, todo: PendingCall) -> dict[str, ValueRecord]:
        """The stored form of the call's input values not stored yet, made before the op runs: the bytes stored
        under a content id must be those of the value that was hashed, even if the op then changes it."""
        values: dict[str, ValueRecord] = {}
        stored = self._stored_cids
        for ins in [in_refs] + [ins for _, ins, _ in todo.extra]:
            for name, ref in ins:
                cid = ref.cid
                if cid not in stored and cid not in values and ref.in_memory and not isinstance(ref, CollectionRef):
                    values[cid] = self._value_record(op.name, "argument", name, ref)
        return values

    def _check_unchanged(self, op: Op, in_refs: list) -> bool:
        """Warn (once per op and argument) if the op changed an input in place, and let go of the changed object:
        the Ref is lazy again, and its stored value (the one before the change) is loaded when it is needed.
        Returns whether some input had changed."""
        changed = False
        for name, ref in in_refs:
            if isinstance(ref, CollectionRef):
                if ref.in_memory and self._check_unchanged(op, [(f"{name}[{k!r}]", r) for k, r in ref.members()]):
                    ref._obj = _NOT_LOADED  # (it holds the changed element)
                    changed = True
                continue
            if not ref.in_memory or isinstance(ref, PointerRef) or is_immutable(ref._obj):
                continue
            try:
                same = hash_value(ref._obj) == ref.cid
            except HashingError:
                same = False
            if not same:
                changed = True
                self._input_changed(op, name, ref)
        return changed

    def _input_changed(self, op: Op, name: str, ref: Ref) -> None:
        ref._obj = _NOT_LOADED
        key = f"{op.op_id}\x00{name}"
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(
                f"op {op.name} changed its argument {name!r} in place: the value stored for the argument is the one "
                "the op was called with, but its results were computed as the op changed it; copy the argument "
                "inside the op before changing it",
                InputMutatedWarning,
                stacklevel=6,
            )

    def _finish_call(
        self,
        op: Op,
        in_refs: list,
        todo: PendingCall,
        ids: tuple[str, str],
        result: Any,
        started: float,
        duration: float,
        version_id: str | None = None,
        values: dict | None = None,
    ) -> Any:
        """Record a call whose function has run and returned ``result``; returns its output Refs (``values``: the
        input values serialized before the run)."""
        hid, cid = ids
        named, returns_tuple = op.split_outputs(result)
        out_refs: list[tuple[str, Ref]] = []
        for position, (name, value) in enumerate(named):
            stype = op.output_struct(position, len(named))
            out_refs.append((name, self._wrap_output(op, derive_output_hid(hid, name), name, value, stype, todo)))
        record = CallRecord(
            hid,
            cid,
            op.name,
            op.version,
            tuple([(n, r.hid, r.cid) for n, r in out_refs]),
            returns_tuple,
            tuple([(n, r.hid, r.cid) for n, r in in_refs]),
            started,
            duration,
            tuple([ref_kind(r) for _, r in out_refs]),
            version_id,
        )
        self._save_call(op, record, in_refs, out_refs, todo, values)
        return Op.package([r for _, r in out_refs], returns_tuple)

    def _argument_value(self, value: Any) -> Any:
        if isinstance(value, Ref):
            # a Ref may still be lazy here: one passed to an ignored or NewArgDefault parameter is not attached
            if isinstance(value, CollectionRef) or not value.in_memory:
                return self.unwrap(value)
            return value.obj
        if isinstance(value, (Ignore, NewArgDefault)):
            return self._argument_value(value.value)
        if isinstance(value, ValuePointer):
            return value.obj
        if has_ref(value):
            return self.unwrap(value)
        return value

    def _wrap_output(self, op: Op, hid: str, name: str, value: Any, stype: StructType | None, todo: PendingCall) -> Ref:
        if stype is None and isinstance(value, CollectionRef):
            stype = StructType(value.kind)
        if stype is not None:
            return self._struct_output(op, hid, name, stype, value, todo)
        if isinstance(value, Ref):
            if isinstance(value, PointerRef):
                return PointerRef(value.cid, hid, value._obj, pointer_id=value.pointer_id)
            return AtomRef(value.cid, hid, value._obj)
        if has_ref(value):
            implicit = implicit_struct(value)
            if implicit is not None:
                return self._struct_output(op, hid, name, implicit, value, todo)
            value = self.unwrap(value)
        try:
            return AtomRef(hash_value(value), hid, value)
        except HashingError as exc:
            raise HashingError(f"op {op.name}, output {name!r}: {exc}") from exc

    def _struct_output(self, op: Op, hid: str, name: str, stype: StructType, value: Any, todo: PendingCall) -> Ref:
        """A collection output with history id ``hid``: each element gets a ``__*_getitem__`` call of its own."""
        kind = stype.kind
        if isinstance(value, CollectionRef):
            pairs = value.members() if value.kind == kind else iter_members(kind, self.unwrap(value))
        else:
            if isinstance(value, Ref):
                value = self.unwrap(value)
            self._check_struct_value(op, f"output {name!r}", stype, value)
            pairs = iter_members(kind, value)
        getitem = GETITEM_OPS[kind]
        self._register_structural(getitem)
        op_id = getitem + "@0"
        coll_label, key_label = COLLECTION_LABEL[kind], KEY_LABEL[kind]
        elements: list[tuple[Any, Ref, Ref, str]] = []
        for i, (key, item) in enumerate(pairs):
            key_ref = wrap_atom(
                item.cid if kind == "set" and isinstance(item, Ref) else hash_value(item) if kind == "set" else key
            )
            g_hid = derive_call_id("hid", op_id, [(coll_label, hid), (key_label, key_ref.hid)])
            etype = stype.element_type(i)
            elt = self._wrap_output(op, derive_output_hid(g_hid, "elt"), f"{name}[{key!r}]", item, etype, todo)
            elements.append((key, elt, key_ref, g_hid))
        coll = REF_CLASSES[kind](
            struct_cid(kind, [(k, e.cid) for k, e, _, _ in elements]),
            hid,
            members=[(k, e) for k, e, _, _ in elements],
            resolver=self._resolve_members,
        )
        if all(e.in_memory for _, e, _, _ in elements):
            coll._set_obj(assemble(kind, [(k, e.obj) for k, e, _, _ in elements]))
        for _key, elt, key_ref, g_hid in elements:
            g_cid = derive_call_id("cid", op_id, [(coll_label, coll.cid), (key_label, key_ref.cid)])
            ins = [(coll_label, coll), (key_label, key_ref)]
            record = CallRecord(
                g_hid,
                g_cid,
                getitem,
                0,
                (("elt", elt.hid, elt.cid),),
                False,
                tuple((lb, r.hid, r.cid) for lb, r in ins),
                output_kinds=(ref_kind(elt),),
            )
            todo.extra.append((record, ins, [("elt", elt)]))
        todo.members.extend(self._member_records(hid, kind, [(k, e) for k, e, _, _ in elements]))
        return coll

    def _record_content_hit(
        self,
        op: Op,
        hid: str,
        cid: str,
        same: CallRecord,
        in_refs: list,
        todo: PendingCall,
        version_id: str | None = None,
    ) -> Any:
        """Same content as a stored call but another history: record a new call sharing its values."""
        self._check_writable(op)
        out_refs: list[tuple[str, Ref]] = []
        kinds = same.output_kinds or ("atom",) * len(same.outputs)
        for (name, old_hid, old_cid), kind in zip(same.outputs, kinds):
            old = self.make_ref(kind, old_cid, old_hid)
            stype = StructType(kind) if kind != "atom" else None
            out_refs.append((name, self._wrap_output(op, derive_output_hid(hid, name), name, old, stype, todo)))
        record = CallRecord(
            hid,
            cid,
            op.name,
            op.version,
            tuple((n, r.hid, r.cid) for n, r in out_refs),
            same.tuple_out,
            tuple((n, r.hid, r.cid) for n, r in in_refs),
            time.time(),
            0.0,
            output_kinds=tuple(ref_kind(r) for _, r in out_refs),
            version_id=version_id,
        )
        self._save_call(op, record, in_refs, out_refs, todo)
        return self._lazy_outputs(record)

    @staticmethod
    def _new_todo(deletions: int | None = None) -> PendingCall:
        return PendingCall(deletions=deletions)

    @staticmethod
    def _holds_ref(value: Any) -> bool:
        return has_ref(value)

    def _lazy_outputs(self, record: CallRecord) -> Any:
        kinds = record.output_kinds or ("atom",) * len(record.outputs)
        refs = [self.make_ref(kind, cid, hid) for (_, hid, cid), kind in zip(record.outputs, kinds)]
        return Op.package(refs, record.tuple_out)

    # --- queuing records ----------------------------------------------------------------------------------------------

    def _save_call(
        self, op: Op, record: CallRecord, in_refs: list, out_refs: list, todo: PendingCall, values: dict | None = None
    ) -> None:
        """Queue a call, its structural calls, refs and new values (all serialized before anything is queued;
        ``values``: those already serialized)."""
        values = {} if values is None else values
        held: dict | None = None  # cid -> Ref of values left out as stored (to supply them if they were deleted)
        refs: dict[str, tuple] = {}  # hid -> the fields of a RefRecord
        calls = [record] + [rec for rec, _, _ in todo.extra]
        groups = [(op.name, in_refs, out_refs)] + [(op.name, ins, outs) for _, ins, outs in todo.extra]
        stored = self._stored_cids
        for op_name, ins, outs in groups:
            for role, pairs in (("argument", ins), ("output", outs)):
                for name, ref in pairs:
                    hid, cid = ref.hid, ref.cid
                    collection = isinstance(ref, CollectionRef)
                    refs[hid] = (hid, cid, ref.kind if collection else "atom")  # a RefRecord's fields
                    if collection or not ref.in_memory or cid in values:
                        continue
                    if cid not in stored:
                        values[cid] = self._value_record(op_name, role, name, ref)
                    else:
                        if held is None:
                            held = {}
                        held[cid] = ref.obj if type(ref) is not PointerRef else self._value_record("", "", "", ref)
        self._check_names(op, calls, todo.members)
        self._pending.add(calls, list(refs.values()), list(values.values()), todo.members, todo.deletions, held)
        self._remember_cids(values)

    @staticmethod
    def _check_names(op: Op, calls: list[CallRecord], members: list[MemberRecord]) -> None:
        """Refuse argument names and dict keys the store cannot hold (lone surrogates) before anything is queued:
        queued, they would make this and every later write fail."""
        for m in members:
            if m.key is not None and not storable_text(m.key):
                raise OpCallError(f"op {op.name}: dict key {m.key!r} cannot be stored: it is not valid Unicode text")
        for call in calls:
            for name, _, _ in call.inputs:
                if not storable_text(name):
                    raise OpCallError(
                        f"op {op.name}: argument name {name!r} cannot be stored: it is not valid Unicode text"
                    )

    def _value_record(self, op_name: str, role: str, name: str, ref: Ref) -> ValueRecord:
        if isinstance(ref, PointerRef):
            return ValueCodec.pointer_record(ref.cid, ref.pointer_id)
        return self._values.record(ref.cid, ref.obj, f"op {op_name}, {role} {name!r}")

    def _remember_cids(self, cids: Any) -> None:
        if len(self._stored_cids) > 200_000:
            self._stored_cids.clear()
        self._stored_cids.update(cids)


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside graphstore, counted from the caller's ``warnings.warn``."""
    import os
    import sys

    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(2), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def is_structural(op_name: str) -> bool:
    """Whether an op name belongs to a structural call (collections)."""
    return op_name in STRUCTURAL_OPS
