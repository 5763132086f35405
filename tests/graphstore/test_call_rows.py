"""Calls travel to the store as CallRow rows: named where they are built and read, plain tuples while they wait."""

from __future__ import annotations

import gc
import marshal

from graphstore import Storage, op
from graphstore.backends import CallRecord, CallRow, MemberRecord, RefRecord, ValueRecord
from graphstore.backends.base import call_row, row_call
from graphstore.backends.sqlite_helper import batch_message, message_batch
from graphstore.structs import MList


@op
def inc(x):
    return x + 1


@op
def total(xs: MList[int]) -> int:
    return sum(xs)


def test_a_row_has_the_fields_of_a_call_record_in_their_order():
    assert CallRow._fields == CallRecord._fields
    record = CallRecord("h", "c", "f", 1, (("a", "ah", "ac"), ("b", "bh", "bc")), True, (("x", "xh", "xc"),))
    row = CallRow._make(call_row(record))
    assert row.outputs == ("a", "ah", "ac", "b", "bh", "bc") and row.output_hids() == ("ah", "bh")
    assert row.input_hids() == ("xh",) and row_call(row) == record


def test_waiting_records_are_plain_tuples_that_the_collector_leaves_alone():
    storage = Storage()
    with storage:
        inc(1)
        total([inc(2), 3])
        batch = storage._pending._current.batch
        assert len(batch.calls) >= 3 and batch.members
        for records, kind in (
            (batch.calls, CallRow),
            (batch.refs, RefRecord),
            (batch.values, ValueRecord),
            (batch.members, MemberRecord),
        ):
            assert all(type(r) is tuple and len(r) == len(kind._fields) for r in records)
        gc.collect()
        gc.collect()  # (a row's inner tuples are let go by one pass, the row itself by the next)
        assert not any(gc.is_tracked(r) for r in batch.calls + batch.refs + batch.members)
        # the message to a helper process is plain data, and comes back as the same batch
        again = message_batch(marshal.loads(marshal.dumps(batch_message(batch))))
        assert again.calls == batch.calls and again.refs == batch.refs and again.members == batch.members
        names = {CallRow._make(c).op_name for c in batch.calls}
        assert names == {"inc", "total", "__make_list__"}
