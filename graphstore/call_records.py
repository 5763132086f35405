"""A recorded call's records (its row, the refs and values it introduces, its collections' members) and their
queueing for the store.

Every call is queued the same way, whichever way it was looked up and run: its row is a
:class:`~graphstore.backends.CallRow` made by :func:`call_row_of` (as are the rows of its collections' structural
calls); :meth:`CallQueue.input_records` makes the records of its inputs before the op runs, and
:meth:`CallQueue.queue_call` those of its outputs and structural calls, then hands everything to the pending writes
in one :meth:`~graphstore.writer.PendingWrites.add`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backends import CallRow, MemberRecord, RefRecord, ValueRecord
from .errors import OpCallError
from .ops import Op, storable_text
from .refs import _NOT_LOADED, PointerRef, Ref
from .structs import CollectionRef
from .values import ValueCodec

if TYPE_CHECKING:
    from .store_state import StoreState


class PendingCall:
    """What a call brings along besides its own row: structural calls (rows with their input and output Refs by
    label) and collection members."""

    __slots__ = ("extra", "members")

    def __init__(self) -> None:
        self.extra: list[tuple[CallRow, list[tuple[str, Ref]], list[tuple[str, Ref]]]] = []
        self.members: list[MemberRecord] = []


def _flat(pairs: list[tuple[str, Ref]]) -> tuple[str, ...]:
    """``(name, hid, cid, name, hid, cid, ...)`` of named Refs, as a row holds a call's inputs and outputs."""
    return tuple([x for name, ref in pairs for x in (name, ref.hid, ref.cid)])


def call_row_of(
    hid: str,
    cid: str,
    op_name: str,
    op_version: int,
    in_refs: list[tuple[str, Ref]],
    out_refs: list[tuple[str, Ref]],
    tuple_out: bool = False,
    created_at: float = 0.0,
    duration: float = 0.0,
    version_id: str | None = None,
) -> CallRow:
    """The row of a call with these ids, named input and output Refs, and what its run took.

    >>> from graphstore.refs import wrap_atom
    >>> row = call_row_of("h", "c", "inc", 0, [("x", wrap_atom(1))], [("output_0", wrap_atom(2))])
    >>> row.inputs[0], row.output_kinds
    ('x', ('atom',))
    """
    if len(out_refs) == 1:  # (the usual single output and single input, without the general joins)
        ((name, ref),) = out_refs
        outputs: tuple[str, ...] = (name, ref.hid, ref.cid)
        kinds: tuple[str, ...] = (ref.kind,) if isinstance(ref, CollectionRef) else _ONE_ATOM
    else:
        outputs = _flat(out_refs)
        kinds = tuple([ref.kind if isinstance(ref, CollectionRef) else "atom" for _, ref in out_refs])
    if len(in_refs) == 1:
        ((name, ref),) = in_refs
        inputs: tuple[str, ...] = (name, ref.hid, ref.cid)
    else:
        inputs = _flat(in_refs)
    return CallRow(hid, cid, op_name, op_version, outputs, tuple_out, inputs, created_at, duration, kinds, version_id)


_ONE_ATOM = ("atom",)


class CallQueue:
    """Building a call's records and queueing them (see the module docstring); a part of a Storage's recorder."""

    def __init__(self, state: StoreState) -> None:
        self._pending = state.pending
        self._stored_cids = state.stored_cids
        """Content ids of values known stored (their records are left out of later batches)."""
        self._values = state.values

    def input_records(
        self, op: Op, in_refs: list[tuple[str, Ref]], todo: PendingCall | None
    ) -> tuple[dict[str, RefRecord], dict[str, ValueRecord], dict | None]:
        """The records of a call's inputs, made before the op runs (the bytes stored under a content id must be those
        of the value that was hashed, even if the op then changes it): ``(refs, values, held)`` as
        :meth:`add_refs` makes them; the values of the structural calls' inputs are among the values."""
        refs: dict[str, RefRecord] = {}
        values: dict[str, ValueRecord] = {}
        held = self.add_refs(op, "argument", in_refs, refs, values, None)
        if todo is not None:
            for _, ins, _ in todo.extra:
                self.add_refs(op, "argument", ins, {}, values, None)
        return refs, values, held

    def add_refs(
        self,
        op: Op,
        role: str,
        pairs: list[tuple[str, Ref]],
        refs: dict[str, RefRecord],
        values: dict[str, ValueRecord],
        held: dict | None,
    ) -> dict | None:
        """Add the records of named Refs (``role``: "argument" or "output"): to ``refs`` their RefRecords, to
        ``values`` the ValueRecords of the values in memory not stored yet. Returns ``held`` (made when first needed),
        with the objects of the values left out as stored, to supply them if they were deleted meanwhile."""
        stored = self._stored_cids
        for name, ref in pairs:
            hid, cid = ref.hid, ref.cid
            if isinstance(ref, CollectionRef):
                refs[hid] = RefRecord(hid, cid, ref.kind)
                continue
            refs[hid] = RefRecord(hid, cid, "atom")
            if cid in values or ref._obj is _NOT_LOADED:
                continue
            if cid in stored:
                if held is None:
                    held = {}
                held[cid] = ValueCodec.pointer_record(cid, ref.pointer_id) if type(ref) is PointerRef else ref._obj
            elif type(ref) is PointerRef:
                values[cid] = ValueCodec.pointer_record(cid, ref.pointer_id)
            else:
                values[cid] = self._values.record(cid, ref._obj, f"op {op.name}, {role} {name!r}")
        return held

    def queue_call(
        self,
        op: Op,
        row: CallRow,
        out_refs: list[tuple[str, Ref]],
        todo: PendingCall | None,
        deletions: int | None,
        inputs: tuple[dict[str, RefRecord], dict[str, ValueRecord], dict | None],
    ) -> None:
        """Queue a call's row with the records of its outputs and of its structural calls, after ``inputs`` (made
        by :meth:`input_records`): everything is serialized before anything is queued. ``deletions``: the store's
        deletion count read when the call started."""
        refs, values, held = inputs
        held = self.add_refs(op, "output", out_refs, refs, values, held)
        calls = [row]
        members: list[MemberRecord] = []
        if todo is not None:
            for extra_row, ins, outs in todo.extra:
                calls.append(extra_row)
                held = self.add_refs(op, "argument", ins, refs, values, held)
                held = self.add_refs(op, "output", outs, refs, values, held)
            members = todo.members
            _check_names(op, calls, members)
        self._pending.add(calls, list(refs.values()), list(values.values()), members, deletions, held)
        self._remember_cids(values)

    def _remember_cids(self, cids: Any) -> None:
        if len(self._stored_cids) > 200_000:
            self._stored_cids.clear()
        self._stored_cids.update(cids)


def _check_names(op: Op, calls: list[CallRow], members: list[MemberRecord]) -> None:
    """Refuse argument names and dict keys the store cannot hold (lone surrogates) before anything is queued: queued,
    they would make this and every later write fail."""
    for m in members:
        if m.key is not None and not storable_text(m.key):
            raise OpCallError(f"op {op.name}: dict key {m.key!r} cannot be stored: it is not valid Unicode text")
    for call in calls:
        for name in call.inputs[0::3]:
            if not storable_text(name):
                raise OpCallError(
                    f"op {op.name}: argument name {name!r} cannot be stored: it is not valid Unicode text"
                )
