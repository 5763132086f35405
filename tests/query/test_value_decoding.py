"""The query layer decodes values through graphstore's checksummed path (``graphstore.values.decode_values``): bytes
that do not match their checksum are an IntegrityError in a frame's table, whether its values are read by id or in
one pass over the store; a store opened with ``trusted=False`` builds plain values only."""

from __future__ import annotations

import sqlite3

import graphstore.query.store
import pytest

from graphstore import IntegrityError, Storage, op
from graphstore.codecs import encode_value
from graphstore.errors import UntrustedValueError


@op
def twice(i):
    return 2 * i


@op
def boxed(i):
    return type("Box", (), {})  # a class: cloudpickled


def _damage(path, value) -> None:
    conn = sqlite3.connect(path)
    cur = conn.execute(
        'UPDATE "values" SET data = ? WHERE data = ?', (encode_value(value + 1)[1], encode_value(value)[1])
    )
    assert cur.rowcount == 1
    conn.commit()
    conn.close()


@pytest.mark.parametrize("scan", [False, True])
def test_damaged_bytes_are_reported(tmp_path, monkeypatch, scan):
    path = tmp_path / "store.db"
    s = Storage(path)
    with s:
        for i in range(20):
            twice(i)
    s.close()
    _damage(path, 38)  # twice(19)
    monkeypatch.setattr(graphstore.query.store, "SCAN_MIN", 1 if scan else 10**12)
    s = Storage(path)
    with pytest.raises(IntegrityError, match="checksum"):
        s.cf(twice).df(values="objs")
    s.close()


def test_untrusted_store_refuses_code(tmp_path):
    path = tmp_path / "store.db"
    s = Storage(path)
    with s:
        boxed(1)
        twice(1)
    s.close()
    s = Storage(path, trusted=False)
    assert s.cf(twice).df(values="objs", include_calls=False)["var_0"].tolist() == [2]
    with pytest.raises(UntrustedValueError):
        s.cf(boxed).df(values="objs")
    s.close()
