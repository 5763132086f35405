"""Completing a batch that the store refused because values it uses were deleted by another process meanwhile.

A recording process leaves out of its batches the values it knows are stored, keeping a reference to each such
value's object (``held``; for a value pointer, its stored record). When the store refuses a batch
(:class:`~graphstore.errors.MissingValuesError`, see ``graphstore.backends.sqlite_deletions``), each missing value is
serialized again from its object, if the object still hashes to the content id; a call that uses a value nobody can
supply any more (its Ref was lazy, or the object changed since) is left out of the batch, with the refs and collection
members that need that value, and the caller warns about it. (Objects rather than Refs are held: plain values such as
numbers cost the garbage collector nothing while they wait.)
"""

from __future__ import annotations

from typing import Any

from .backends import Batch, CallRow, MemberRecord, RefRecord, ValueRecord
from .errors import GraphstoreError
from .hashing import hash_value
from .values import POINTER_CODEC, ValueCodec

_ABSENT = object()


def _record(codec: ValueCodec, cid: str, obj: Any) -> Any:
    """The stored form of a held object, or None if there is none or it does not hash to ``cid`` any more."""
    if obj is _ABSENT:
        return None
    if type(obj) is ValueRecord and obj.codec == POINTER_CODEC and obj.cid == cid:
        return obj
    try:
        if hash_value(obj) != cid:
            return None
        return codec.record(cid, obj, f"value {cid}")
    except GraphstoreError:
        return None


def complete_batch(batch: Batch, held: dict, missing: list[str], codec: ValueCodec) -> list[str]:
    """Add to ``batch`` the missing values that ``held`` (cid -> Ref) can supply; leave out the calls that need the
    others. Returns the names of the ops whose calls were left out."""
    lost = set()
    for cid in missing:
        rec = _record(codec, cid, held.get(cid, _ABSENT))
        if rec is None:
            lost.add(cid)
        else:
            batch.values.append(tuple(rec))
    if not lost:
        return []
    refs = [RefRecord._make(r) for r in batch.refs]
    members = [MemberRecord._make(m) for m in batch.members]
    bad = {r.hid for r in refs if r.kind == "atom" and r.cid in lost}
    grown = True
    while grown:  # collections holding such a ref, at any depth
        grown = False
        for m in members:
            if m.elt_hid in bad and m.coll_hid not in bad:
                bad.add(m.coll_hid)
                grown = True

    def uses_bad(call: tuple) -> bool:
        row = CallRow._make(call)
        return any(h in bad for h in row.output_hids() + row.input_hids())

    left_out = [CallRow._make(c) for c in batch.calls if uses_bad(c)]
    batch.calls[:] = [c for c in batch.calls if not uses_bad(c)]
    batch.refs[:] = [tuple(r) for r in refs if r.hid not in bad]
    batch.members[:] = [tuple(m) for m in members if m.coll_hid not in bad]
    return sorted({c.op_name for c in left_out})
