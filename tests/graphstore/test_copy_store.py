"""Copying a store between engines with ``graphstore.copy_store``: SQLite -> PostgreSQL -> a new SQLite file keeps
every id, every table of the query layer, every large value (with its overflow file), every code version, and a
program run again on a copy computes nothing. Copying into a store that has some of the calls merges them."""

from __future__ import annotations

import os
import sys

import pytest

from graphstore import (
    ConfigurationError,
    MDict,
    MList,
    SchemaVersionError,
    Storage,
    StoreError,
    copy_store,
    op,
    upgrade_store,
)
from graphstore.backends import open_backend, schema_versions
from test_postgres_store import record_two_versions

RAN: list[str] = []
"""Names of the op bodies that ran."""


@op
def make(n: int) -> MList[int]:
    RAN.append("make")
    return list(range(n))


@op
def total(xs: MList[int]) -> int:
    RAN.append("total")
    return sum(xs)


@op
def spread(n: int) -> MDict[str, int]:
    RAN.append("spread")
    return {f"k{i}": i * i for i in range(n)}


@op
def blob(n: int) -> bytes:
    RAN.append("blob")
    return bytes(range(256)) * n  # over the threshold below: an overflow file


@op(version=1)
def scale(x: int) -> int:
    RAN.append("scale")
    return 10 * x


@op(name="scale", version=2)  # another version of the op: its calls are separate
def scale2(x: int) -> int:
    RAN.append("scale2")
    return 100 * x


THRESHOLD_MB = 0.001


def program(storage: Storage, upto: int = 4) -> None:
    with storage:
        for n in range(1, upto):
            total(make(n))
            spread(n)
            scale(n)
        scale2(upto)
        blob(20)


def tables(storage: Storage) -> dict[str, list]:
    """Each function's table of calls, as sorted rows of plain values."""
    out = {}
    for f in (make, total, spread, blob, scale):
        df = storage.cf(f).expand_all().df()
        out[f.name] = sorted(map(repr, df.sort_index(axis=1).to_dict("records")))
    return out


def ids(location: str, **kw) -> tuple[set, set, set]:
    backend = open_backend(location, read_only=True)
    try:
        batches = list(backend.export_batches(1000, 1 << 20))
    finally:
        backend.close()
    calls = {c[0] for b in batches for c in b.calls}
    refs = {r[0] for b in batches for r in b.refs}
    values = {(v[0], v[5]) for b in batches for v in b.values}
    return calls, refs, values


def test_round_trip_sqlite_postgres_sqlite(tmp_path, pg_url):
    first, back = str(tmp_path / "first.db"), str(tmp_path / "back.db")
    pg_overflow = str(tmp_path / "pg-overflow")
    storage = Storage(first, overflow_threshold_MB=THRESHOLD_MB)
    program(storage)
    expected, n_calls = tables(storage), storage.cache_info()["calls"]
    storage.close()
    assert os.listdir(first + "-overflow"), "the program keeps no value in an overflow file"

    with pytest.raises(ConfigurationError, match=r"overflow file .* no overflow folder.* target_overflow_dir="):
        copy_store(first, pg_url, batch_size=1)  # (stops at the large value, the batches before it written)
    to_pg = copy_store(first, pg_url, target_overflow_dir=pg_overflow)
    assert to_pg.read["calls"] == to_pg.added["calls"] == n_calls
    assert to_pg.read["overflow_files"] == to_pg.added["overflow_files"] == 1
    from_pg = copy_store(pg_url, back, source_overflow_dir=pg_overflow)
    for kind in ("ops", "values", "refs", "calls", "members", "overflow_files"):
        assert from_pg.read[kind] == from_pg.added[kind] == to_pg.read[kind], kind
    assert ids(first) == ids(pg_url) == ids(back)

    for location, overflow in ((pg_url, pg_overflow), (back, None)):
        RAN.clear()
        copy = Storage(location, overflow_dir=overflow, overflow_threshold_MB=THRESHOLD_MB)
        assert copy.check().ok, copy.check()
        assert tables(copy) == expected
        program(copy)
        assert RAN == [], f"the program computed {RAN} again on the copy in {location}"
        with copy:
            assert copy.unwrap(blob(20)) == bytes(range(256)) * 20
        copy.close()
    source = Storage(first, read_only=True)  # never changed
    assert source.cache_info()["calls"] == n_calls
    source.close()


def test_copy_merges_into_a_store_holding_some_of_the_calls(tmp_path):
    source, target = str(tmp_path / "source.db"), str(tmp_path / "target.db")
    s = Storage(source, overflow_threshold_MB=THRESHOLD_MB)
    program(s, upto=5)
    s.close()
    t = Storage(target, overflow_threshold_MB=THRESHOLD_MB)
    program(t, upto=3)  # some of the same calls, and one (scale2(3)) of its own
    before = t.backend.counts()
    t.close()
    s = Storage(source, read_only=True)
    n_source = s.cache_info()["calls"]
    s.close()

    report = copy_store(source, target)
    assert report.read["calls"] == n_source
    assert report.added["calls"] == n_source - (before["calls"] - 1)  # all but the target's own scale2(3)
    again = copy_store(source, target)
    assert again.added["calls"] == again.added["refs"] == again.added["values"] == 0
    assert again.added["overflow_files"] == 0

    merged = Storage(target, overflow_threshold_MB=THRESHOLD_MB)
    assert merged.check().ok
    assert merged.cache_info()["calls"] == n_source + 1
    RAN.clear()
    program(merged, upto=5)
    with merged:
        scale2(3)
    assert RAN == []
    merged.close()


def test_refusals_name_both_stores(tmp_path):
    import sqlite3

    a, b = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    s = Storage(a, overflow_threshold_MB=THRESHOLD_MB)
    program(s)
    s.close()
    with pytest.raises(StoreError, match="no graphstore store there"):
        copy_store(str(tmp_path / "missing.db"), b)
    assert not os.path.exists(tmp_path / "missing.db") and not os.path.exists(b)
    with pytest.raises(ConfigurationError, match="into itself"):
        copy_store(a, a)

    current = schema_versions(a)[1]
    Storage(b).close()
    with sqlite3.connect(b) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(current + 1),))
    with pytest.raises(SchemaVersionError, match=rf"into store {b} .*{a}.*version {current + 1}.*version {current}"):
        copy_store(a, b)
    with pytest.raises(SchemaVersionError, match=rf"from store {b} .*version {current + 1}.*upgrade graphstore"):
        copy_store(b, str(tmp_path / "c.db"))
    with pytest.raises(SchemaVersionError, match="newer"):
        upgrade_store(b)
    with pytest.raises(StoreError, match="cannot copy overflow file"):
        copy_store(a, str(tmp_path / "e.db"), source_overflow_dir=str(tmp_path / "nothing-here"))


def test_a_versioned_store_keeps_its_versions(tmp_path, pg_url, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    folder = tmp_path / "cpv_src"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    first, back = str(tmp_path / "v.db"), str(tmp_path / "v-back.db")
    try:
        storage, module = record_two_versions(first, folder, "cpv_mod")
        storage.close()
        report = copy_store(first, pg_url)
        assert report.read["versions"] == 2 and report.read["commits"] >= 3
        copy_store(pg_url, back)
        with pytest.raises(ConfigurationError, match="versioning"):
            copy_store(back, _plain(tmp_path))
        for location in (pg_url, back):
            copy = Storage(location, deps_path=str(folder), on_change="breaking")
            versions = copy.versions(module.scaled, show=False)
            assert len(versions) == 2 and sorted(v.calls for v in versions) == [1, 1]
            assert len(copy.source_history(module.helper)) == 2
            assert copy.check().ok
            copy.close()
    finally:
        sys.modules.pop("cpv_mod", None)


def _plain(tmp_path) -> str:
    """A store made without versioning, holding a call."""
    path = str(tmp_path / "plain.db")
    s = Storage(path)
    with s:
        scale(1)
    s.close()
    return path
