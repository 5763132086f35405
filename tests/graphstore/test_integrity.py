"""storage.check() finds each kind of damage (made by editing the database with sqlite3) and passes on healthy
stores; listing and querying ids never unpickles a value (on both stores).

SQLite only, the damage: made by editing the SQLite file (PostgreSQL's checks: test_postgres_store.py).
"""

from __future__ import annotations

import os
import pickle
import sqlite3

import pytest

from graphstore import IntegrityError, MList, SerializationError, Storage, StoreError, op
from store_tools import damage_file

# --- check() ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def checked(tmp_path, db_path):
    """A healthy store with an overflow file, an inline value and a collection; returns its ids."""
    ovf = str(tmp_path / "ovf")

    @op
    def big(n):
        return b"b" * n

    @op
    def inc(x):
        return x + 1

    @op
    def listing(n) -> MList[int]:
        return list(range(n))

    s = Storage(db_path, overflow_dir=ovf, overflow_threshold_MB=0.001)
    with s:
        b, y, xs = big(3000), inc(100), listing(3)  # 101: a value no other ref holds
    assert s.check().ok and s.check(full=False).ok
    call = s.get_ref_creator(y)
    s.close()
    return {
        "db": db_path,
        "ovf": ovf,
        "file": os.path.join(ovf, f"{b.cid}.bin"),
        "big": b.cid,
        "y": y,
        "call": call.hid,
        "xs": xs.hid,
    }


def _edit(path: str, sql: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(path)
    with conn:
        assert conn.execute(sql, params).rowcount >= 1
    conn.close()


def _problems(info: dict) -> list[str]:
    s = Storage(info["db"], overflow_dir=info["ovf"])
    try:
        report = s.check()
        if not report.ok:
            with pytest.raises(IntegrityError):
                s.check(raise_on_error=True)
        return report.problems
    finally:
        s.close()


def _row_id(path: str, table: str, hid: str) -> int:
    conn = sqlite3.connect(path)
    (found,) = conn.execute(f"SELECT id FROM {table} WHERE hid = ?", (hid,)).fetchone()
    conn.close()
    return found


def test_check_finds_a_dangling_edge(checked):
    call_id = _row_id(checked["db"], "calls", checked["call"])
    _edit(checked["db"], "DELETE FROM calls WHERE hid = ?", (checked["call"],))
    (problem,) = _problems(checked)  # the call is gone: the problem names the id its edges still hold
    assert f"call id {call_id} " in problem and "missing call" in problem


def test_check_finds_an_edge_to_a_missing_ref(checked):
    ref_id = _row_id(checked["db"], "refs", checked["y"].hid)
    _edit(checked["db"], "DELETE FROM refs WHERE hid = ?", (checked["y"].hid,))
    assert any(checked["call"] in p and f"ref id {ref_id}" in p and "missing ref" in p for p in _problems(checked))


def test_check_finds_a_ref_made_by_two_calls(checked):
    y_id = _row_id(checked["db"], "refs", checked["y"].hid)  # the output of inc: now also claimed by big
    _edit(
        checked["db"],
        "UPDATE edges SET ref_id = ? WHERE direction = 1 AND call_id = (SELECT id FROM calls WHERE op_name = 'big')",
        (y_id,),
    )
    assert f"ref {checked['y'].hid} is the output of 2 calls" in _problems(checked)


def test_check_finds_a_ref_without_value(checked):
    _edit(checked["db"], 'DELETE FROM "values" WHERE cid = ?', (checked["y"].cid,))
    (problem,) = _problems(checked)
    assert checked["y"].hid in problem and "no stored value" in problem


def test_check_finds_a_collection_with_a_missing_element(checked):
    _edit(
        checked["db"],
        "DELETE FROM refs WHERE id IN (SELECT m.elt_id FROM members AS m JOIN refs AS c "
        "ON c.id = m.coll_id WHERE c.hid = ?)",
        (checked["xs"],),
    )
    assert any(checked["xs"] in p and "missing element" in p for p in _problems(checked))


@pytest.mark.parametrize("how", ["missing", "truncated", "corrupted"])
def test_check_finds_a_bad_overflow_file(checked, how):
    damage_file(checked["file"], how)
    (problem,) = _problems(checked)
    assert checked["file"] in problem and checked["big"] in problem
    expected = {"missing": "missing", "truncated": "expected 3", "corrupted": "checksum"}[how]
    assert expected in problem


def test_check_finds_corrupted_value_bytes(checked):
    conn = sqlite3.connect(checked["db"])
    (data,) = conn.execute('SELECT data FROM "values" WHERE cid = ?', (checked["y"].cid,)).fetchone()
    conn.close()
    damaged = data[:-2] + bytes([data[-2] ^ 0x01]) + data[-1:]
    _edit(checked["db"], 'UPDATE "values" SET data = ? WHERE cid = ?', (damaged, checked["y"].cid))
    (problem,) = _problems(checked)
    assert checked["y"].cid in problem and "checksum" in problem
    s = Storage(checked["db"], overflow_dir=checked["ovf"])
    try:
        assert s.check(full=False).ok  # the quick check does not re-checksum
        with pytest.raises(StoreError, match=checked["y"].cid):
            s.unwrap(checked["y"].detached())  # damaged bytes are never unpickled
    finally:
        s.close()


# --- trust: ids never unpickle ----------------------------------------------------------------------------------------


def test_listing_and_querying_ids_never_unpickles(db_path, store_kind, monkeypatch, log):
    @op
    def inc(x):
        log.append("inc")
        return x + 1

    @op
    def split(n) -> MList[int]:
        log.append("split")
        return list(range(n))

    @op
    def total(xs: MList[int]) -> int:
        log.append("total")
        return sum(xs)

    def program():
        parts = split(4)
        ys = [inc(p) for p in parts]
        return parts, ys, total(ys), total([inc(10), inc(ys[0])])

    s = Storage(db_path)
    with s:
        program()
    s.close()
    ran = list(log)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle.loads was called")

    monkeypatch.setattr(pickle, "loads", refuse)
    s = Storage(db_path)
    try:
        with s.allow_new_calls(False), s:
            parts, ys, t, t2 = program()  # the whole program retraces without loading a value
        assert log == ran
        assert s.check().ok
        assert len(s.get_creators(ys + [t, t2])) == 6 and len(s.get_consumers(ys)) == 2
        assert s.cache_info()["calls"] > 10
        assert [c.op_name for c in s.get_consumers([parts])] == ["__list_getitem__"] * 4
        with pytest.raises(SerializationError):
            s.unwrap(t)  # loading does unpickle: the patch is in force
        monkeypatch.undo()
        assert s.unwrap(t) == 10
    finally:
        s.close()
