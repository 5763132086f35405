"""A recorded call's records (its row, the refs and values it introduces, its collections' members) and their
queueing for the store.

Every call is queued the same way, whichever way it was looked up and run: :meth:`CallQueue._queue_call` builds the
call's :class:`~graphstore.backends.CallRow` with :func:`call_row_of` (as the structural calls of its collections
are built), serializes the values the store does not hold yet, and hands everything to the pending writes in one
:meth:`~graphstore.writer.PendingWrites.add`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backends import CallRow, MemberRecord, RefRecord, ValueRecord
from .errors import OpCallError
from .ops import Op, storable_text
from .refs import PointerRef, Ref
from .structs import CollectionRef
from .values import ValueCodec

if TYPE_CHECKING:
    from .writer import PendingWrites


class PendingCall:
    """What a call brings along besides its own row: structural calls (rows with their input and output Refs by
    label) and collection members."""

    __slots__ = ("extra", "members")

    def __init__(self) -> None:
        self.extra: list[tuple[CallRow, list[tuple[str, Ref]], list[tuple[str, Ref]]]] = []
        self.members: list[MemberRecord] = []


def _flat(pairs: list[tuple[str, Ref]]) -> tuple[str, ...]:
    """``(name, hid, cid, name, hid, cid, ...)`` of named Refs, as a row holds a call's inputs and outputs."""
    if len(pairs) == 1:
        ((name, ref),) = pairs
        return (name, ref.hid, ref.cid)
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
    kinds = tuple([ref.kind if isinstance(ref, CollectionRef) else "atom" for _, ref in out_refs])
    return CallRow(
        hid,
        cid,
        op_name,
        op_version,
        _flat(out_refs),
        tuple_out,
        _flat(in_refs),
        created_at,
        duration,
        kinds,
        version_id,
    )


class CallQueue:
    """Building a call's records and queueing them (see the module docstring); a part of a Storage."""

    _pending: PendingWrites
    _stored_cids: set[str]
    """Content ids of values known stored (their records are left out of later batches)."""
    _values: ValueCodec

    def _input_values(self, op: Op, in_refs: list[tuple[str, Ref]], todo: PendingCall | None) -> dict:
        """The stored form of the call's input values not stored yet (cid -> ValueRecord), made before the op runs:
        the bytes stored under a content id must be those of the value that was hashed, even if the op then changes
        it."""
        values: dict[str, ValueRecord] = {}
        stored = self._stored_cids
        groups = [in_refs] if todo is None else [in_refs] + [ins for _, ins, _ in todo.extra]
        for ins in groups:
            for name, ref in ins:
                cid = ref.cid
                if cid not in stored and cid not in values and ref.in_memory and not isinstance(ref, CollectionRef):
                    values[cid] = self._value_record(op.name, "argument", name, ref)
        return values

    def _queue_call(
        self,
        op: Op,
        row: CallRow,
        in_refs: list[tuple[str, Ref]],
        out_refs: list[tuple[str, Ref]],
        todo: PendingCall | None,
        deletions: int | None,
        values: dict | None = None,
    ) -> None:
        """Queue a call's row, its structural calls, the refs they use and the values not stored yet (all
        serialized before anything is queued; ``values``: those serialized already, by content id), under the
        store's deletion count ``deletions`` read when the call started."""
        values = {} if values is None else values
        held: dict | None = None  # cid -> object of values left out as stored (to supply them if they were deleted)
        refs: dict[str, RefRecord] = {}
        stored = self._stored_cids
        calls = [row]
        groups = [(in_refs, out_refs)]
        members: list[MemberRecord] = []
        if todo is not None:
            calls += [extra_row for extra_row, _, _ in todo.extra]
            groups += [(ins, outs) for _, ins, outs in todo.extra]
            members = todo.members
        for ins, outs in groups:
            for role, pairs in (("argument", ins), ("output", outs)):
                for name, ref in pairs:
                    hid, cid = ref.hid, ref.cid
                    if isinstance(ref, CollectionRef):
                        refs[hid] = RefRecord(hid, cid, ref.kind)
                        continue
                    refs[hid] = RefRecord(hid, cid, "atom")
                    if cid in values or not ref.in_memory:
                        continue
                    if cid not in stored:
                        values[cid] = self._value_record(op.name, role, name, ref)
                    else:
                        if held is None:
                            held = {}
                        held[cid] = ref.obj if type(ref) is not PointerRef else self._value_record("", "", "", ref)
        if todo is not None:
            _check_names(op, calls, members)
        self._pending.add(calls, list(refs.values()), list(values.values()), members, deletions, held)
        self._remember_cids(values)

    def _value_record(self, op_name: str, role: str, name: str, ref: Ref) -> ValueRecord:
        if isinstance(ref, PointerRef):
            return ValueCodec.pointer_record(ref.cid, ref.pointer_id)
        return self._values.record(ref.cid, ref.obj, f"op {op_name}, {role} {name!r}")

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
