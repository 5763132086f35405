"""The one path of a call: its inputs as Refs, its lookup, its run on a miss, and the queueing of its records.

``Recorder`` is a part of :class:`graphstore.Storage`, built over the storage's
:class:`~graphstore.store_state.StoreState` with the parts it calls: the loader, a :class:`RefMaker` (arguments and
results as Refs) and a :class:`CallQueue` (records queued for the store). A call whose arguments are all builtin
scalars or atom Refs, to an op with plain parameters and one plain output, takes cheap front checks on this path
(:meth:`RefMaker.simple_inputs`,
:func:`single_atom_result`) instead of the general binding and wrapping; it gets the same ids and the same records.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from .backends import CallRecord, OpRecord
from .call_records import CallQueue, PendingCall, call_row_of
from .call_refs import SCALARS, RefMaker, ref_kind, single_atom_result
from .errors import NewCallsNotAllowedError, ReadOnlyStoreError
from .hashing import derive_call_ids, derive_output_hid, op_identity
from .loading import Loader
from .ops import Op
from .refs import _NOT_LOADED, Ref
from .store_state import StoreState
from .structs import STRUCTURAL_OPS, StructType
from .tracking import collecting, stop_collecting
from .versioning import Versioner

_MISS = object()


class Recorder:
    """The recording part of a Storage: :meth:`call_op` is the one path of every call recorded."""

    def __init__(self, state: StoreState, loader: Loader, refs: RefMaker, queue: CallQueue, owner: str) -> None:
        self._state = state
        self._owner = owner
        """How the storage is named in messages (its repr)."""
        self._backend = state.backend
        self._db_path = state.db_path
        self._pending = state.pending
        self._versioner = state.versioner
        self._claims = state.claims
        ops = state.ops
        self._known_ops = ops.known
        self._ops_by_name = ops.by_name
        self._source_hashes = ops.source_hashes
        self._warned = ops.warned
        self._refs = refs
        # (bound once: the methods this path calls on every call)
        self._simple_inputs = refs.simple_inputs
        self._wrap_input = refs.wrap_input
        self._wrap_output = refs.wrap_output
        self._atom_output = refs.atom_output
        self._argument_value = refs.argument_value
        self._input_records = queue.input_records
        self._queue_call = queue.queue_call
        self.attach = loader.attach
        self.make_ref = loader.make_ref

    def call_noop(self, op: Op, args: tuple, kwargs: dict) -> Any:
        """A call in noop mode: the function gets plain values (lazy Refs loaded from this store, markers
        unwrapped); nothing is looked up or recorded."""
        bound = op.bind(args, kwargs)
        self.attach(list(bound.arguments.values()), inplace=True)  # lazy Refs, in one read
        return Op.call_bound(op.func, bound, self._argument_value)

    def call_op(self, op: Op, args: tuple, kwargs: dict) -> Any:
        """Look a call up (pending records first when some wait, then the store); on a miss, run and record it."""
        state = self._state
        pending = self._pending
        pending.raise_background_error()
        if op.op_id not in self._known_ops or self._ops_by_name.get((op.name, op.version)) is not op:
            self._register_op(op)  # also when an op of the same name and version was redefined in this session
        deletions = state.deletions  # (read before anything remembered about the store is)
        versioner = self._versioner
        todo: PendingCall | None = None
        bound = None
        in_refs = None
        if op._fast_output is not None and versioner is None:
            in_refs = self._simple_inputs(op, args, kwargs)
        if in_refs is None:
            bound = op.bind(args, kwargs)
            todo = PendingCall()
            in_refs = [
                (name, self._wrap_input(op, name, value, stype, todo)) for name, value, stype in op.iter_inputs(bound)
            ]
        ids = None
        if versioner is None:
            ids = hid, cid = derive_call_ids(op.op_id, [(n, r.hid, r.cid) for n, r in in_refs])
            if pending.holds_call(hid, cid):
                found = self._lookup(hid, cid, op)
            else:  # (the usual case: nothing waiting, so the store's answer is the answer)
                found = self._backend.lookup_call_or_content(hid, cid, op._key)
            if found is not None:
                if found.hid == hid:
                    return self._lazy_outputs(found)
                return self._record_content_hit(op, hid, cid, found, in_refs, todo, deletions)
        else:
            found = self._lookup_versioned(op, versioner, in_refs, todo, deletions)
            if found is not _MISS:
                return found
        if not state.allow_new:
            raise NewCallsNotAllowedError(f"Call to {op.name} does not exist and new calls are not allowed.")
        self._check_writable(op)
        return self._execute(op, bound, in_refs, todo, ids, deletions)

    def _lookup(self, hid: str, cid: str, op: Op | None = None) -> CallRecord | None:
        """The call with this history id, else one with this content id: pending records first, then one read
        (none when the backend holds every id of ``op``'s stored calls)."""
        found = self._pending.call(hid)
        if found is not None:
            return found
        stored = self._backend.lookup_call_or_content(hid, cid, None if op is None else op._key)
        if stored is not None and stored.hid == hid:
            return stored
        return self._pending.call_by_cid(cid) or stored

    def _check_writable(self, op: Op) -> None:
        if self._backend.read_only:
            raise ReadOnlyStoreError(
                f"store {self._db_path} is open read-only: the call to op {op.name} is not stored, so it cannot be "
                "recorded; open the store without read_only to compute it"
            )

    def _lookup_versioned(
        self, op: Op, versioner: Versioner, in_refs: list, todo: PendingCall | None, deletions: int | None
    ) -> Any:
        """Look the call up under every version of the op that is still valid for the code as it is now."""
        triples = [(n, r.hid, r.cid) for n, r in in_refs]
        ids = [
            derive_call_ids(op_identity(op.name, op.version, sv), triples)
            for sv in versioner.candidates(op.name, op.version)
        ]
        if not ids:
            return _MISS
        if len(ids) == 1:  # the usual case: one statement, by history id else by content id
            record = self._lookup(*ids[0], op)
        else:
            record = next((r for r in map(self._pending.call, (h for h, _ in ids)) if r), None)
            record = record or self._backend.lookup_any_call([h for h, _ in ids])
            record = record or next((r for r in map(self._pending.call_by_cid, (c for _, c in ids)) if r), None)
            record = record or self._backend.lookup_any_call([c for _, c in ids], by="cid")
        if record is None:
            return _MISS
        versioner.absorb(op, record.version_id)
        if any(h == record.hid for h, _ in ids):
            return self._lazy_outputs(record)
        hid = next(h for h, c in ids if c == record.cid)
        return self._record_content_hit(op, hid, record.cid, record, in_refs, todo, deletions, record.version_id)

    def _register_op(self, op: Op) -> None:
        self._claims.claim(op, self._owner)  # another function recording under this name: OpNameConflictError
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
        if stored is None and not self._backend.read_only:  # (a known op's row is there: nothing to write)
            self._pending.add_op(OpRecord(op.name, op.version, sig, op.source_hash, tuple(op.output_names or ())))
        self._known_ops.add(op.op_id)

    # --- running ------------------------------------------------------------------------------------------------------

    def _execute(
        self,
        op: Op,
        bound: Any,
        in_refs: list[tuple[str, Ref]],
        todo: PendingCall | None,
        ids: tuple[str, str] | None,
        deletions: int | None,
    ) -> Any:
        """Run a call found nowhere and record it (``bound``: None when its inputs are simple, see
        :meth:`RefMaker._simple_inputs`)."""
        for _, r in in_refs:
            if r._obj is _NOT_LOADED:
                self.attach([r for _, r in in_refs if not r.in_memory], inplace=True)
                break
        inputs = self._input_records(op, in_refs, todo)  # before the op runs: it may change its inputs
        started = time.time()
        op_key, version_id = op.op_id, None
        t0 = time.perf_counter()
        if bound is None:  # simple inputs, all in memory now
            result = op.func(**{n: r._obj for n, r in in_refs})
        elif self._versioner is None:
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
            op_key = op_identity(op.name, op.version, version.semantic_version)
            version_id = version.version_id
        duration = time.perf_counter() - t0
        for _, r in in_refs:
            if type(r._obj) not in SCALARS:  # (a scalar cannot have been changed)
                self._refs.check_unchanged(op, in_refs)
                break
        if ids is None or version_id is not None:
            ids = derive_call_ids(op_key, [(n, r.hid, r.cid) for n, r in in_refs])
        hid, cid = ids
        name = op._fast_output
        if name is not None and (
            type(result) in SCALARS or single_atom_result(op, result)
        ):  # one output, stored as one value
            out = self._atom_output(op, derive_output_hid(hid, name), name, result)
            row = call_row_of(
                hid, cid, op.name, op.version, in_refs, [(name, out)], False, started, duration, version_id
            )
            self._queue_call(op, row, [(name, out)], todo, deletions, inputs)
            return out
        todo = PendingCall() if todo is None else todo
        named, returns_tuple = op.split_outputs(result)
        out_refs: list[tuple[str, Ref]] = []
        for position, (name, value) in enumerate(named):
            stype = op.output_struct(position, len(named))
            out_refs.append((name, self._wrap_output(op, derive_output_hid(hid, name), name, value, stype, todo)))
        row = call_row_of(
            hid, cid, op.name, op.version, in_refs, out_refs, returns_tuple, started, duration, version_id
        )
        self._queue_call(op, row, out_refs, todo, deletions, inputs)
        return Op.package([r for _, r in out_refs], returns_tuple)

    def _record_content_hit(
        self,
        op: Op,
        hid: str,
        cid: str,
        same: CallRecord,
        in_refs: list[tuple[str, Ref]],
        todo: PendingCall | None,
        deletions: int | None,
        version_id: str | None = None,
    ) -> Any:
        """Same content as a stored call but another history: record a new call sharing its values."""
        self._check_writable(op)
        todo = PendingCall() if todo is None else todo
        inputs = self._input_records(op, in_refs, todo)
        out_refs: list[tuple[str, Ref]] = []
        kinds = same.output_kinds or ("atom",) * len(same.outputs)
        for (name, old_hid, old_cid), kind in zip(same.outputs, kinds):
            old = self.make_ref(kind, old_cid, old_hid)
            stype = StructType(kind) if kind != "atom" else None
            out_refs.append((name, self._wrap_output(op, derive_output_hid(hid, name), name, old, stype, todo)))
        row = call_row_of(
            hid, cid, op.name, op.version, in_refs, out_refs, same.tuple_out, time.time(), 0.0, version_id
        )
        self._queue_call(op, row, out_refs, todo, deletions, inputs)
        refs = [self.make_ref(ref_kind(r), r.cid, r.hid) for _, r in out_refs]
        return Op.package(refs, same.tuple_out)

    def _lazy_outputs(self, record: CallRecord) -> Any:
        kinds = record.output_kinds or ("atom",) * len(record.outputs)
        refs = [self.make_ref(kind, cid, hid) for (_, hid, cid), kind in zip(record.outputs, kinds)]
        return Op.package(refs, record.tuple_out)


def is_structural(op_name: str) -> bool:
    """Whether an op name belongs to a structural call (collections).

    >>> is_structural("__make_list__"), is_structural("inc")
    (True, False)
    """
    return op_name in STRUCTURAL_OPS
