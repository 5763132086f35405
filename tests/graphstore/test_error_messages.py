"""Errors name what they concern: a bad source given to ``storage.cf``, and a value that cannot be unpickled."""

from __future__ import annotations

import sqlite3

import pytest
import xxhash
from graphstore.query.errors import FrameStructureError, QueryError

from graphstore import GraphstoreError, SerializationError, Storage, op


@op
def halve(x):
    return x / 2


@pytest.mark.parametrize("source", [12345, [1, 2], 2.5])
def test_cf_of_something_it_cannot_take(source):
    s = Storage()
    with s:
        halve(3)
    with pytest.raises(FrameStructureError) as ei:
        s.cf(source)
    assert isinstance(ei.value, QueryError) and isinstance(ei.value, GraphstoreError)
    message = str(ei.value)
    assert type(source if not isinstance(source, list) else source[0]).__name__ in message
    assert "an op, a Ref" in message and "history ids" in message


def test_an_unpicklable_value_is_named(tmp_path):
    path = str(tmp_path / "store.db")
    s = Storage(path)
    with s:
        y = halve(3)
    s.close()
    data = b"\x80\x05\x95not a pickle"
    conn = sqlite3.connect(path)
    conn.execute(
        'UPDATE "values" SET data = ?, size = ?, checksum = ? WHERE cid = ?',
        (data, len(data), xxhash.xxh3_64_hexdigest(data), y.cid),
    )
    conn.commit()
    conn.close()
    s = Storage(path, read_only=True)
    try:
        with s:
            lazy = halve(3)
        with pytest.raises(SerializationError) as ei:
            s.unwrap(lazy)
        for part in (y.cid, y.hid, "'halve'", path):
            assert part in str(ei.value)
    finally:
        s.close()
