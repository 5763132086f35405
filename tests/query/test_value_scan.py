"""Values of a large table are read in one pass over the store's small values (``Reader.values_of``); the values
that pass skips (large, cloudpickled, in overflow files) are then read by id. Both ways give the same table."""

from __future__ import annotations

import graphstore.query.store
import pytest

from graphstore import Storage, op


def expected(i):
    if i % 7 == 0:
        return bytes([i % 251]) * 5000  # over the pass's size limit, kept in the row
    if i % 11 == 0:
        return bytes([i % 251]) * 30_000  # over the overflow threshold: a file
    if i % 13 == 0:
        return (lambda k: lambda: k)(i)  # cloudpickled
    return i * 3


@op
def make(i):
    return expected(i)


@op
def triple(i):
    return 3 * i


def _table(storage, monkeypatch, scan: bool):
    monkeypatch.setattr(graphstore.query.store, "SCAN_MIN", 1 if scan else 10**12)
    statements = []
    storage.backend.tracer = lambda sql, params: statements.append(sql)
    try:
        df = storage.cf(make).expand_all().df(values="objs")
    finally:
        storage.backend.tracer = None
    scanned = any('FROM "values"' in s and "BETWEEN" in s for s in statements)
    return df, scanned


@pytest.mark.parametrize("reopen", [False, True])
def test_pass_and_lookups_give_the_same_values(tmp_path, monkeypatch, reopen):
    path = tmp_path / "store.db"
    storage = Storage(path, overflow_dir=tmp_path / "big", overflow_threshold_MB=0.02)
    n = 300
    with storage:
        for i in range(n):
            make(i)
    if reopen:
        storage.close()
        storage = Storage(path, overflow_dir=tmp_path / "big", overflow_threshold_MB=0.02)
    scanned_df, scanned = _table(storage, monkeypatch, scan=True)
    looked_df, looked = _table(storage, monkeypatch, scan=False)
    assert scanned and not looked
    for df in (scanned_df, looked_df):
        assert sorted(df["i"]) == list(range(n))
        for i, out in zip(df["i"], df["var_0"]):
            want = expected(i)
            if callable(want):
                assert out() == want()
            else:
                assert out == want, i
    assert (tmp_path / "big").exists() and any((tmp_path / "big").iterdir())
    storage.close()


def test_a_small_share_is_read_by_id(tmp_path, monkeypatch):
    storage = Storage(tmp_path / "store.db")
    with storage:
        for i in range(200):
            triple(i)
    monkeypatch.setattr(graphstore.query.store, "SCAN_MIN", 1)
    monkeypatch.setattr(graphstore.query.store, "SCAN_SHARE", 10.0)  # cells must be ten times the values: never here
    statements = []
    storage.backend.tracer = lambda sql, params: statements.append(sql)
    df = storage.cf(triple).df()
    assert not any(s.startswith('SELECT cid, data FROM "values"') for s in statements)
    assert sorted(df["var_0"]) == [3 * i for i in range(200)]
    storage.close()
