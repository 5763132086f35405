"""Overflow file names in value rows are confined to the store's overflow folder: a crafted store whose rows point
at an absolute path, at ``..`` or through a symbolic link out of the folder makes graphstore read, check or delete
nothing outside it."""

from __future__ import annotations

import os
import pickle
import sqlite3

import pytest
import xxhash

from graphstore import IntegrityError, Storage, op
from graphstore.errors import OverflowPathError


class _Marker:
    """Unpickling it creates a file: proof that a pickle was loaded."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@op
def big(n):
    return bytes(range(256)) * n


@pytest.fixture
def crafted(tmp_path):
    """A store with one overflow value whose row is rewritten to name ``target`` (set per test)."""
    ovf = tmp_path / "ovf"
    db = str(tmp_path / "store.db")
    s = Storage(db, overflow_dir=ovf, overflow_threshold_MB=0.001)
    with s:
        ref = big(20)
    s.close()
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.bin"
    marker = tmp_path / "unpickled"
    data = pickle.dumps(_Marker(str(marker)))
    victim.write_bytes(data)

    def point_at(name: str) -> None:
        conn = sqlite3.connect(db)
        conn.execute(
            'UPDATE "values" SET path = ?, size = ?, checksum = ? WHERE cid = ?',
            (name, len(data), xxhash.xxh3_64_hexdigest(data), ref.cid),
        )
        conn.commit()
        conn.close()

    return {"db": db, "ovf": str(ovf), "ref": ref, "victim": victim, "marker": marker, "point_at": point_at}


def _names(crafted, how):
    ovf = crafted["ovf"]
    if how == "absolute":
        return str(crafted["victim"])
    if how == "dotdot":
        return os.path.join("..", "outside", "victim.bin")
    link = os.path.join(ovf, "link.bin")
    os.symlink(crafted["victim"], link)
    return "link.bin"


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_a_row_pointing_outside_the_folder_is_never_followed(crafted, how):
    crafted["point_at"](_names(crafted, how))
    s = Storage(crafted["db"], overflow_dir=crafted["ovf"], overflow_threshold_MB=0.001)
    try:
        with s:
            ref = big(20)  # retraced: lazy
        with pytest.raises(OverflowPathError) as ei:
            s.unwrap(ref)
        assert isinstance(ei.value, IntegrityError)
        assert crafted["ref"].cid in str(ei.value) and "outside the overflow folder" in str(ei.value)
        report = s.check()
        assert not report.ok
        assert any("outside the overflow folder" in p and crafted["ref"].cid in p for p in report.problems)
        s.drop_calls([s.get_ref_creator(ref)])
        assert s.cleanup_refs()["values"] == 2  # the input 20 and the crafted value
    finally:
        s.close()
    assert crafted["victim"].exists()  # not deleted by the cleanup
    assert not crafted["marker"].exists()  # never unpickled


def test_a_plain_name_in_the_folder_still_works(crafted):
    s = Storage(crafted["db"], overflow_dir=crafted["ovf"], overflow_threshold_MB=0.001)
    try:
        with s:
            ref = big(20)
        assert s.unwrap(ref) == bytes(range(256)) * 20
        assert s.check().ok
    finally:
        s.close()
