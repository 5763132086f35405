"""A call's arguments and results as Refs: atoms, collections (with the structural calls and members they bring
along), and the check that an op left its arguments as they were.

``RefMaker`` is a part of a :class:`graphstore.Storage`'s recorder, built over the storage's
:class:`~graphstore.store_state.StoreState`; it loads values through the storage's loader and registers the
structural ops its collections bring along.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from .backends import MemberRecord, OpRecord
from .call_records import PendingCall, call_row_of
from .errors import HashingError, InputMutatedWarning, OpCallError, UnstableIdWarning
from .hashing import (
    derive_call_id,
    derive_collection_cid,
    derive_output_hid,
    derive_source_hid,
    hash_value,
    op_identity,
)
from .objhash import hash_value_noting
from .ops import Op, SimpleBound
from .refs import _NOT_LOADED, AtomRef, Ignore, NewArgDefault, PointerRef, Ref, ValuePointer, wrap_atom
from .structs import (
    COLLECTION_LABEL,
    GETITEM_OPS,
    KEY_LABEL,
    MAKE_OPS,
    REF_CLASSES,
    CollectionRef,
    StructType,
    assemble,
    iter_members,
)

if TYPE_CHECKING:
    from .loading import Loader
    from .store_state import StoreState

SCALARS = frozenset({int, float, str, bytes, bool, type(None)})
"""Builtin scalar types: hashed without the pickle, never changed in place by an op."""

_STRUCTURES = (list, tuple, dict, set, frozenset)
_PY_TYPES = {"list": (list, tuple), "tuple": (tuple, list), "dict": (dict,), "set": (set, frozenset)}


def is_immutable(obj: Any, depth: int = 0) -> bool:
    """Whether an op cannot change ``obj`` in place: a builtin scalar, or a tuple or frozenset of such values.

    >>> is_immutable((1, "a", frozenset({2.0}))), is_immutable([1])
    (True, False)
    """
    t = type(obj)
    if t in SCALARS:
        return True
    if (t is tuple or t is frozenset) and depth < 20:
        return all(is_immutable(x, depth + 1) for x in obj)
    return False


def has_ref(value: Any, depth: int = 0) -> bool:
    """Whether a plain container holds Refs anywhere inside.

    >>> has_ref([1, {"a": wrap_atom(2)}]), has_ref([1, 2])
    (True, False)
    """
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
    """The kind a ref is stored under: "atom", or its collection's kind."""
    return ref.kind if isinstance(ref, CollectionRef) else "atom"


def single_atom_result(op: Op, result: Any) -> bool:
    """Whether an op with one plain output (``op._fast_output``) returned a value stored as one atom: not a tuple that
    names several outputs, not a Ref, not a container holding Refs."""
    t = type(result)
    if t in SCALARS:
        return True
    if t is tuple and op.nout == "auto" and op.output_names is None:
        return False
    return not (isinstance(result, Ref) or (t in _STRUCTURES and has_ref(result)))


def member_records(coll_hid: str, kind: str, elements: list[tuple[Any, Ref]]) -> list[MemberRecord]:
    """The member records of a collection's ``(key, element Ref)`` pairs."""
    return [
        MemberRecord(coll_hid, pos, key if kind == "dict" else None, ref.hid) for pos, (key, ref) in enumerate(elements)
    ]


class RefMaker:
    """Arguments and results of calls as Refs (see the module docstring).

    ``resolver``: what reads a collection's elements for the collection Refs made here (the storage's)."""

    def __init__(
        self, state: StoreState, loader: Loader, resolver: Callable[[CollectionRef], list[tuple[Any, Ref]]]
    ) -> None:
        self._state = state
        self._warned = state.ops.warned
        """Keys of the warnings given once."""
        self._known_ops = state.ops.known
        self._resolve_members = resolver
        self.unwrap = loader.unwrap

    def register_structural(self, name: str) -> None:
        """Queue the op record of a structural op (``__make_list__``...) the first time this storage meets it."""
        op_id = op_identity(name, 0)
        state = self._state
        if op_id not in self._known_ops and not state.backend.read_only:
            state.pending.add_op(OpRecord(name, 0, "(structural)", "structural", ()))
            self._known_ops.add(op_id)

    # --- arguments ----------------------------------------------------------------------------------------------------

    @staticmethod
    def simple_inputs(op: Op, args: tuple, kwargs: dict) -> list[tuple[str, Ref]] | None:
        """The input Refs of a call whose arguments are all builtin scalars or AtomRefs, bound to plain parameters
        (``op._simple_names``); None for any other call, before anything is done."""
        names = op._simple_names
        if names is None:
            return None
        if kwargs or len(args) != len(names):  # (plain positional arguments for every parameter need no binding)
            bound = op.bind(args, kwargs)
            if type(bound) is not SimpleBound:
                return None
            pairs: Any = bound.arguments.items()
        else:
            pairs = zip(names, args)
        in_refs: list[tuple[str, Ref]] = []
        for name, value in pairs:
            t = type(value)
            if t in SCALARS:
                in_refs.append((name, wrap_atom(value)))
            elif t is AtomRef:
                in_refs.append((name, value))
            else:
                return None
        return in_refs

    def wrap_input(self, op: Op, name: str, value: Any, stype: StructType | None, todo: PendingCall) -> Ref:
        if isinstance(value, NewArgDefault):
            value = value.value
        if stype is not None:
            return self.struct_input(op, name, stype, value, todo)
        if isinstance(value, Ref):
            return value
        if isinstance(value, ValuePointer):
            return wrap_atom(value)
        if has_ref(value):
            implicit = implicit_struct(value)
            if implicit is not None:  # keep the Refs' histories: store it as a collection of them
                return self.struct_input(op, name, implicit, value, todo)
            value = self.unwrap(value)
        try:
            if type(value) in SCALARS:  # (nothing in it can need the pickle)
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

    def struct_input(self, op: Op, name: str, stype: StructType, value: Any, todo: PendingCall) -> Ref:
        """A collection argument: reuse its Ref, or build one from its elements with a ``__make_*__`` call."""
        if isinstance(value, CollectionRef) and value.kind == stype.kind:
            return value
        if isinstance(value, Ref):
            value = self.unwrap(value)
        _check_struct_value(op, f"argument {name!r}", stype, value)
        elements: list[tuple[Any, Ref]] = []
        for i, (key, item) in enumerate(iter_members(stype.kind, value)):
            etype = stype.element_type(i)
            elements.append((key, self.wrap_input(op, f"{name}[{key!r}]", item, etype, todo)))
        kind = stype.kind
        labels = [f"elts_{key}" if kind == "dict" else f"elts_{i}" for i, (key, _) in enumerate(elements)]
        make = MAKE_OPS[kind]
        self.register_structural(make)
        op_id = op_identity(make, 0)
        ins = [(lb, r) for lb, (_, r) in zip(labels, elements)]
        call_hid = derive_call_id("hid", op_id, [(lb, r.hid) for lb, r in ins])
        call_cid = derive_call_id("cid", op_id, [(lb, r.cid) for lb, r in ins])
        out_label = COLLECTION_LABEL[kind]
        coll = REF_CLASSES[kind](
            derive_collection_cid(kind, [(k, r.cid) for k, r in elements]),
            derive_output_hid(call_hid, out_label),
            members=elements,
            resolver=self._resolve_members,
        )
        if all(r.in_memory for _, r in elements):
            coll._set_obj(assemble(kind, [(k, r.obj) for k, r in elements]))
        outs: list[tuple[str, Ref]] = [(out_label, coll)]
        todo.extra.append((call_row_of(call_hid, call_cid, make, 0, ins, outs), ins, outs))
        todo.members.extend(member_records(coll.hid, kind, elements))
        return coll

    def argument_value(self, value: Any) -> Any:
        """The value an op receives for a bound argument."""
        if isinstance(value, Ref):
            # a Ref may still be lazy here: one passed to an ignored or NewArgDefault parameter is not attached
            if isinstance(value, CollectionRef) or not value.in_memory:
                return self.unwrap(value)
            return value.obj
        if isinstance(value, (Ignore, NewArgDefault)):
            return self.argument_value(value.value)
        if isinstance(value, ValuePointer):
            return value.obj
        if has_ref(value):
            return self.unwrap(value)
        return value

    # --- arguments changed by the op ----------------------------------------------------------------------------------

    def check_unchanged(self, op: Op, in_refs: list) -> bool:
        """Warn (once per op and argument) if the op changed an input in place, and let go of the changed object:
        the Ref is lazy again, and its stored value (the one before the change) is loaded when it is needed.
        Returns whether some input had changed."""
        changed = False
        for name, ref in in_refs:
            if isinstance(ref, CollectionRef):
                if ref.in_memory and self.check_unchanged(op, [(f"{name}[{k!r}]", r) for k, r in ref.members()]):
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
                stacklevel=_caller_level(),
            )

    # --- results ------------------------------------------------------------------------------------------------------

    @staticmethod
    def atom_output(op: Op, hid: str, name: str, value: Any) -> AtomRef:
        """A result stored as one value."""
        try:
            return AtomRef(hash_value(value), hid, value)
        except HashingError as exc:
            raise HashingError(f"op {op.name}, output {name!r}: {exc}") from exc

    def wrap_output(self, op: Op, hid: str, name: str, value: Any, stype: StructType | None, todo: PendingCall) -> Ref:
        if stype is None and isinstance(value, CollectionRef):
            stype = StructType(value.kind)
        if stype is not None:
            return self.struct_output(op, hid, name, stype, value, todo)
        if isinstance(value, Ref):
            if isinstance(value, PointerRef):
                return PointerRef(value.cid, hid, value._obj, pointer_id=value.pointer_id)
            return AtomRef(value.cid, hid, value._obj)
        if has_ref(value):
            implicit = implicit_struct(value)
            if implicit is not None:
                return self.struct_output(op, hid, name, implicit, value, todo)
            value = self.unwrap(value)
        return self.atom_output(op, hid, name, value)

    def struct_output(self, op: Op, hid: str, name: str, stype: StructType, value: Any, todo: PendingCall) -> Ref:
        """A collection output with history id ``hid``: each element gets a ``__*_getitem__`` call of its own."""
        kind = stype.kind
        if isinstance(value, CollectionRef):
            pairs = value.members() if value.kind == kind else iter_members(kind, self.unwrap(value))
        else:
            if isinstance(value, Ref):
                value = self.unwrap(value)
            _check_struct_value(op, f"output {name!r}", stype, value)
            pairs = iter_members(kind, value)
        getitem = GETITEM_OPS[kind]
        self.register_structural(getitem)
        op_id = op_identity(getitem, 0)
        coll_label, key_label = COLLECTION_LABEL[kind], KEY_LABEL[kind]
        elements: list[tuple[Any, Ref, AtomRef, str]] = []
        for i, (key, item) in enumerate(pairs):
            key_ref = wrap_atom(
                item.cid if kind == "set" and isinstance(item, Ref) else hash_value(item) if kind == "set" else key
            )
            g_hid = derive_call_id("hid", op_id, [(coll_label, hid), (key_label, key_ref.hid)])
            etype = stype.element_type(i)
            elt = self.wrap_output(op, derive_output_hid(g_hid, "elt"), f"{name}[{key!r}]", item, etype, todo)
            elements.append((key, elt, key_ref, g_hid))
        coll = REF_CLASSES[kind](
            derive_collection_cid(kind, [(k, e.cid) for k, e, _, _ in elements]),
            hid,
            members=[(k, e) for k, e, _, _ in elements],
            resolver=self._resolve_members,
        )
        if all(e.in_memory for _, e, _, _ in elements):
            coll._set_obj(assemble(kind, [(k, e.obj) for k, e, _, _ in elements]))
        for _key, elt, key_ref, g_hid in elements:
            g_cid = derive_call_id("cid", op_id, [(coll_label, coll.cid), (key_label, key_ref.cid)])
            ins: list[tuple[str, Ref]] = [(coll_label, coll), (key_label, key_ref)]
            outs: list[tuple[str, Ref]] = [("elt", elt)]
            todo.extra.append((call_row_of(g_hid, g_cid, getitem, 0, ins, outs), ins, outs))
        todo.members.extend(member_records(hid, kind, [(k, e) for k, e, _, _ in elements]))
        return coll


def _check_struct_value(op: Op, what: str, stype: StructType, value: Any) -> None:
    if not isinstance(value, _PY_TYPES[stype.kind]):
        raise OpCallError(
            f"op {op.name}, {what}: annotated as M{stype.kind.capitalize()} but got a {type(value).__qualname__}"
        )
    if stype.kind == "dict":
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise OpCallError(f"op {op.name}, {what}: MDict keys must be strings, got {bad[0]!r}")


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside graphstore, counted from the caller's ``warnings.warn``."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame: FrameType | None = sys._getframe(2)
    level = 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level
