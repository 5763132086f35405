"""Stores from someone else: ``trusted=False`` decodes plain values only and never unpickles anything else;
``check()`` never unpickles; two stores cannot share an overflow folder (their cleanups would delete each other's
files)."""

from __future__ import annotations

import pickle
import sqlite3

import numpy as np
import pytest
import xxhash

from graphstore import ConfigurationError, Storage, StoreError, op
from graphstore.errors import OverflowDirInUseError, UntrustedValueError
from store_tools import value_files


class Point:
    def __init__(self, x):
        self.x = x


class _Marker:
    """Unpickling it creates a file: proof that a pickle was loaded."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@op
def plain(n):
    return {
        "list": [n, 2.5, "x", None, True],
        "set": {1, 2},
        "complex": complex(1, n),
        "bytes": b"ab",
        "array": np.arange(n, dtype=np.float32).reshape(2, -1),
        "strings": np.array(["a", "bc"]),
    }


@op
def fancy(n):
    return Point(n)


@pytest.fixture
def store(tmp_path):
    path = str(tmp_path / "store.db")
    s = Storage(path)
    with s:
        a, b = plain(4), fancy(4)
    s.close()
    return path, a, b


def test_untrusted_store_decodes_plain_values_only(store):
    path, a, b = store
    s = Storage(path, read_only=True, trusted=False)
    try:
        with s:
            a2, b2 = plain(4), fancy(4)
        got = s.unwrap(a2)
        assert got["list"] == [4, 2.5, "x", None, True] and got["set"] == {1, 2} and got["complex"] == 1 + 4j
        assert np.array_equal(got["array"], np.arange(4, dtype=np.float32).reshape(2, -1))
        assert list(got["strings"]) == ["a", "bc"]
        with pytest.raises(UntrustedValueError) as ei:
            s.unwrap(b2)
        message = str(ei.value)
        assert isinstance(ei.value, StoreError)
        for part in (b.cid, b.hid, "fancy", path, "trusted=True"):
            assert part in message
        assert s.check().ok
    finally:
        s.close()
    trusting = Storage(path, read_only=True)
    try:
        with trusting:
            assert trusting.unwrap(fancy(4)).x == 4
    finally:
        trusting.close()


def _plant(path: str, cid: str, marker) -> None:
    """Replace the stored bytes of value ``cid`` by a pickle that creates ``marker`` (with a matching checksum)."""
    data = pickle.dumps(_Marker(str(marker)))
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE \"values\" SET codec = 'pickle', data = ?, size = ?, checksum = ? WHERE cid = ?",
        (data, len(data), xxhash.xxh3_64_hexdigest(data), cid),
    )
    conn.commit()
    conn.close()


def test_a_crafted_pickle_is_never_run_by_check_or_an_untrusted_load(store, tmp_path):
    path, a, _ = store
    marker = tmp_path / "unpickled"
    _plant(path, a.cid, marker)
    for read_only in (False, True):
        s = Storage(path, read_only=read_only)
        try:
            assert s.check(full=True).ok  # checksums match: tampering is not damage, and nothing is unpickled
        finally:
            s.close()
    s = Storage(path, read_only=True, trusted=False)
    try:
        with s:
            ref = plain(4)
        with pytest.raises(UntrustedValueError) as ei:
            s.unwrap(ref)
        assert ".open, which is not a plain type" in str(ei.value) and a.cid in str(ei.value)
        with pytest.raises(UntrustedValueError):
            s.cf(plain).df()  # the query layer's own fast decoding is held to the same rule
    finally:
        s.close()
    assert not marker.exists()
    s = Storage(path, read_only=True)  # trusted (the default): this is what trusted=False protects from
    try:
        with s:
            s.unwrap(plain(4))
    finally:
        s.close()
    assert marker.exists()


@op
def big(n):
    return bytes(range(256)) * n


def test_two_stores_cannot_share_an_overflow_folder(tmp_path):
    ovf = tmp_path / "ovf"
    one = Storage(tmp_path / "one.db", overflow_dir=ovf, overflow_threshold_MB=0.001)
    with one:
        r = big(20)
    one.close()
    for read_only in (False, True):
        other = Storage(tmp_path / "two.db")  # (created, so it has its own id)
        other.close()
        with pytest.raises(OverflowDirInUseError) as ei:
            Storage(tmp_path / "two.db", overflow_dir=ovf, read_only=read_only)
        assert isinstance(ei.value, ConfigurationError)
        assert str(ovf) in str(ei.value) and str(tmp_path / "two.db") in str(ei.value)
    assert value_files(ovf) == [f"{r.cid}.bin"]
    again = Storage(tmp_path / "one.db", overflow_dir=ovf, overflow_threshold_MB=0.001)  # its owner still opens it
    try:
        assert again.unwrap(again.load_ref(r.hid)) == bytes(range(256)) * 20
    finally:
        again.close()
