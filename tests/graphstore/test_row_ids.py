"""Integer row ids: calls and refs are numbered in recording order, edges and members point at those numbers, and
a batch that meets records another writer stored first links to theirs instead of duplicating anything."""

from __future__ import annotations

import sqlite3

from graphstore import MList, Storage, op


def _rows(path, sql, params=()):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@op
def inc(x):
    return x + 1


@op
def add(x, y):
    return x + y


@op
def total(xs: MList[int]) -> int:
    return sum(xs)


def test_ids_follow_recording_order(tmp_path):
    path = str(tmp_path / "s.db")
    s = Storage(path)
    with s:
        for i in range(50):
            add(inc(i), i)
    s.close()
    calls = _rows(path, "SELECT id, created_at FROM calls ORDER BY id")
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)
    # every edge of an add call points at the ref it recorded, by id
    edges = _rows(
        path,
        "SELECT c.hid, e.label, r.hid FROM edges AS e JOIN calls AS c ON c.id = e.call_id "
        "JOIN refs AS r ON r.id = e.ref_id WHERE c.op_name = 'add' AND e.direction = 0",
    )
    assert len(edges) == 100 and {label for _, label, _ in edges} == {"x", "y"}


def test_a_batch_meeting_records_stored_by_another_writer(tmp_path):
    path = str(tmp_path / "s.db")
    first, second = Storage(path), Storage(path)
    with first:
        shared = [inc(i) for i in range(300)]  # stored by the first writer
    with second:  # the same calls again (found, not recorded), and new calls using the stored refs
        again = [inc(i) for i in range(300)]
        sums = [add(r, 1) for r in again]
        listed = total(again[:5])
    assert [r.hid for r in again] == [r.hid for r in shared]
    for s in (first, second):
        s.close()
    counts = dict(_rows(path, "SELECT op_name, count(*) FROM calls GROUP BY op_name"))
    assert counts["inc"] == 300 and counts["add"] == 300 and counts["total"] == 1
    assert _rows(path, "SELECT count(*) FROM refs")[0][0] == len({h for (h,) in _rows(path, "SELECT hid FROM refs")})
    check = Storage(path)
    try:
        assert check.check().ok
        with check:
            assert check.unwrap(sums[7]) == 9 and check.unwrap(listed) == sum(range(1, 6))
        df = check.cf(add).expand_back(recursive=True).df()
        assert sorted(df["var_0"]) == list(range(2, 302))
    finally:
        check.close()


def _edges_are_consistent(path):
    """Every output edge points at the ref whose hid its call derives, and every input edge at a stored ref."""
    from graphstore.hashing import derive_output_hid

    outs = _rows(
        path,
        "SELECT c.hid, e.label, r.hid FROM edges AS e JOIN calls AS c ON c.id = e.call_id "
        "JOIN refs AS r ON r.id = e.ref_id WHERE e.direction = 1",
    )
    assert outs and all(derive_output_hid(call, label) == ref for call, label, ref in outs)
    assert _rows(path, "SELECT count(*) FROM edges WHERE ref_id NOT IN (SELECT id FROM refs)") == [(0,)]


def test_a_batch_whose_first_rows_were_stored_before_numbers_the_rest_right(tmp_path):
    """Refs stored by an earlier batch come first in the next one (as arguments), ahead of hundreds of new ones: the
    ids of the rows after them must still be the ones SQLite gave."""
    path = str(tmp_path / "s.db")
    s = Storage(path)
    with s:
        made = [inc(i) for i in range(600)]
        s.commit()
        sums = [add(r, made[-1 - k]) for k, r in enumerate(made)]
        s.commit()
        more = [inc(r) for r in sums]
    s.close()
    _edges_are_consistent(path)
    check = Storage(path)
    with check:
        assert [check.unwrap(r) for r in more[:3]] == [602, 602, 602]
    df = check.cf(inc).expand_all().df()
    assert len(df) == 600  # one history per final inc call
    check.close()


def test_a_batch_written_twice_adds_nothing(tmp_path):
    path = str(tmp_path / "s.db")
    s = Storage(path)
    with s:
        add(inc(1), 2)
    batch = _rows(path, "SELECT count(*) FROM calls")[0][0], _rows(path, "SELECT count(*) FROM edges")[0][0]
    records = s.backend.get_calls([h for (h,) in _rows(path, "SELECT hid FROM calls")])
    from graphstore.backends.base import Batch, call_row

    again = Batch(
        calls=[call_row(r) for r in records.values()],
        refs=[(h, c, "atom") for r in records.values() for _, h, c in r.inputs + r.outputs],
    )
    s.backend.save_batch(again)
    assert (_rows(path, "SELECT count(*) FROM calls")[0][0], _rows(path, "SELECT count(*) FROM edges")[0][0]) == batch
    assert s.check().ok
    s.close()


def test_ids_are_never_reused_after_deletion(tmp_path):
    path = str(tmp_path / "s.db")
    s = Storage(path)
    with s:
        ys = [inc(i) for i in range(10)]
    top = _rows(path, "SELECT max(id) FROM calls")[0][0], _rows(path, "SELECT max(id) FROM refs")[0][0]
    s.drop_calls([s.get_ref_creator(y) for y in ys[-3:]], delete_dependents=False)
    s.cleanup_refs()
    with s:
        y = inc(100)
    new_call = _rows(path, "SELECT id FROM calls WHERE hid = ?", (s.get_ref_creator(y).hid,))
    assert new_call[0][0] > top[0]
    assert min(i for (i,) in _rows(path, "SELECT id FROM refs WHERE id > ?", (top[1] - 6,))) > top[1] - 6
    assert s.check().ok
    s.close()
