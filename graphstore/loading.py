"""Reading values back: loading lazy Refs in batches, and reading the elements of stored collections.

``Loader`` is a part of :class:`graphstore.Storage`, built over the storage's
:class:`~graphstore.store_state.StoreState`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import GraphstoreError, IntegrityError, RefNotLoadedError, SerializationError, UntrustedValueError
from .refs import AtomRef, Call, Ref
from .store_state import StoreState
from .structs import REF_CLASSES, CollectionRef, assemble

_STRUCTURES = (list, tuple, dict, set, frozenset)


def _hint(exc: Exception) -> str:
    if isinstance(exc, UntrustedValueError):
        return "; the store was opened with trusted=False: open it with trusted=True only if you trust whoever wrote it"
    return ""


class Loader:
    """The loading part of a Storage: Refs made lazy, and loaded in batches (pending records first, then the store).

    ``resolver``: what reads a collection's elements for the Refs made here (the storage's, so that a Ref made
    before the state was replaced reads from the state that replaced it)."""

    def __init__(self, state: StoreState, resolver: Callable[[CollectionRef], list[tuple[Any, Ref]]]) -> None:
        self._pending = state.pending
        self._backend = state.backend
        self._values = state.values
        self._db_path = state.db_path
        self._ops_by_name = state.ops.by_name
        self._resolver = resolver

    def make_ref(self, kind: str, cid: str, hid: str) -> Ref:
        """A lazy Ref of the given kind ("atom", "list", "dict", "set", "tuple")."""
        if kind == "atom":
            return AtomRef(cid, hid)
        cls = REF_CLASSES.get(kind)
        if cls is None:
            raise IntegrityError(
                f"ref {hid} in store {self._db_path} has kind {kind!r}, which graphstore never writes: the store is "
                "damaged (storage.check() lists what else is)"
            )
        return cls(cid, hid, resolver=self._resolver)

    def resolve_members(self, coll: CollectionRef) -> list[tuple[Any, Ref]]:
        pending = self._pending.members(coll.hid)
        if pending is None:
            rows = self._backend.load_members([coll.hid]).get(coll.hid, [])
        else:
            known: dict[str, Any] = {hid: self._pending.ref(hid) for _, _, hid in pending}
            missing = [hid for hid, found in known.items() if found is None]
            if missing:
                known.update(self._backend.get_refs(missing))
            rows = [(pos, key, hid, *known[hid]) for pos, key, hid in pending]
        return [
            (key if coll.kind == "dict" else pos, self.make_ref(kind, cid, hid)) for pos, key, hid, cid, kind in rows
        ]

    def attach(self, obj: Any, inplace: bool = False) -> Any:
        """The Refs in ``obj`` (a Ref, or nested lists, tuples, dicts and sets of them) with their values loaded.

        With ``inplace=False`` (the default) a copy of ``obj`` is returned, its Refs copies loaded, and the given Refs
        stay as they were; with ``inplace=True`` the given Refs are loaded and None is returned.
        """
        if inplace:
            self._attach_inplace(obj)
            return None
        copy = _copy_refs(obj)
        self._attach_inplace(copy)
        return copy

    def _attach_inplace(self, refs: Any) -> None:
        lazy: dict[str, list[Ref]] = {}
        collections: list[CollectionRef] = []
        self._collect_lazy(refs, lazy, collections)
        if lazy:
            self._load_atoms(lazy)
        for coll in collections:  # innermost first: elements are complete before their collection
            coll._set_obj(assemble(coll.kind, [(k, self._strip(r)) for k, r in coll.members()]))

    def _load_atoms(self, lazy: dict[str, list[Ref]]) -> None:
        records = {}
        for cid in lazy:
            rec = self._pending.value(cid)
            if rec is not None:
                records[cid] = rec
        missing = [cid for cid in lazy if cid not in records]
        if missing:
            records.update(self._backend.load_values(missing))
        for cid, group in lazy.items():
            rec = records.get(cid)
            if rec is None:
                raise RefNotLoadedError(f"{group[0]!r}: its value {cid} is not in store {self._db_path}")
            try:
                obj = self._values.load(rec)
            except (SerializationError, UntrustedValueError) as exc:
                raise type(exc)(f"{self._describe_value(group[0], cid)}: {exc}{_hint(exc)}") from exc
            for ref in group:
                ref._set_obj(obj)

    def _describe_value(self, ref: Ref, cid: str) -> str:
        """Which value failed to load, for messages: its ref, the op and output that made it, its store."""
        where = ""
        try:
            creator = self._backend.creator_calls([ref.hid]).get(ref.hid)
            record = self._backend.get_calls([creator]).get(creator) if creator else None
            if record is not None:
                label = next((n for n, h, _ in record.outputs if h == ref.hid), "?")
                where = f" (output {label!r} of op {record.op_name!r}, call {record.hid})"
        except GraphstoreError:  # a damaged store: the ids alone must do
            pass
        return f"value {cid} of ref {ref.hid}{where} in store {self._db_path}"

    def _collect_lazy(self, x: Any, out: dict[str, list[Ref]], colls: list[CollectionRef], depth: int = 0) -> None:
        if isinstance(x, CollectionRef):
            if not x.in_memory:
                for _, elt in x.members():
                    self._collect_lazy(elt, out, colls, depth + 1)
                colls.append(x)
            return
        if isinstance(x, Ref):
            if not x.in_memory:
                out.setdefault(x.cid, []).append(x)
            return
        t = type(x)
        if (t not in _STRUCTURES and not hasattr(t, "__unwrap_into__")) or depth > 100:
            return
        for item in x.values() if t is dict else x:
            self._collect_lazy(item, out, colls, depth + 1)

    def unwrap(self, x: Any) -> Any:
        """The plain value of a Ref, or of nested lists/tuples/dicts/sets of Refs, loading what is needed."""
        self._attach_inplace(x)
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
        into = getattr(t, "__unwrap_into__", None)  # a list type that says what its unwrapped elements make
        if into is not None:
            return into(self._strip(v) for v in x)
        return x

    def call_from_record(self, record: Any) -> Call:
        """A stored call (a ``CallRecord``) as a Call, its input and output Refs lazy."""
        op = self._ops_by_name.get((record.op_name, record.op_version), record.op_name)
        kinds = record.output_kinds or ("atom",) * len(record.outputs)
        in_kinds = self._backend.get_refs([h for _, h, _ in record.inputs])
        return Call(
            op,
            record.hid,
            record.cid,
            {n: self.make_ref(in_kinds.get(h, (c, "atom"))[1], c, h) for n, h, c in record.inputs},
            {n: self.make_ref(k, c, h) for (n, h, c), k in zip(record.outputs, kinds)},
        )

    def load_ref(self, hid: str, in_memory: bool = True) -> Ref:
        """The stored Ref with history id ``hid``, with its value loaded when ``in_memory`` is true."""
        found = self._pending.ref(hid)
        if found is None:
            found = self._backend.get_refs([hid]).get(hid)
        if found is None:
            raise RefNotLoadedError(f"no ref with hid {hid} in store {self._db_path}")
        cid, kind = found
        ref = self.make_ref(kind, cid, hid)
        if in_memory:
            self._attach_inplace(ref)
        return ref


def _copy_refs(x: Any, depth: int = 0) -> Any:
    """``x`` with every Ref in it (and in its collections' elements) replaced by a copy with the same ids and value."""
    if isinstance(x, CollectionRef):
        members = [(k, _copy_refs(r, depth + 1)) for k, r in x.members()]
        copy = type(x)(x.cid, x.hid, x._obj, members=members, resolver=x._resolver)
        return copy
    if isinstance(x, Ref):
        detached = x.detached()
        detached._set_obj(x._obj)
        return detached
    t = type(x)
    if t not in _STRUCTURES or depth > 100:
        return x
    if t is dict:
        return {k: _copy_refs(v, depth + 1) for k, v in x.items()}
    return t(_copy_refs(v, depth + 1) for v in x)
