"""Bad input: each is refused with graphstore's own error naming the op, argument or file, and nothing already stored
is lost or changed. Also: stores of every earlier schema version are migrated, damaged database files raise StoreError
(never a raw sqlite3 error), and read-only stores refuse to record.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import threading

import pandas as pd
import pytest

import store_tools
from graphstore import (
    GraphstoreError,
    HashingError,
    MList,
    NewCallsNotAllowedError,
    OpCallError,
    OpDefinitionError,
    ReadOnlyStoreError,
    SchemaVersionError,
    SerializationError,
    Storage,
    StoreError,
    op,
)
from graphstore.backends.schema import SCHEMA_VERSION, stored_schema_version
from store_tools import damage_file, snapshot, value_files


class BadReduce:
    def __reduce__(self):
        raise RuntimeError("refuses to be pickled")


class PicklesOnce:
    """Pickles once (enough to hash it), then refuses: it hashes but cannot be stored."""

    def __init__(self) -> None:
        self.pickled = 0

    def __reduce__(self):
        self.pickled += 1
        if self.pickled > 1:
            raise RuntimeError("refuses to be pickled twice")
        return (PicklesOnce, ())


def _frame_with_lock() -> pd.DataFrame:
    df = pd.DataFrame({"a": [1, 2]})
    df.attrs["lock"] = threading.Lock()
    return df


def _series_with_lock() -> pd.Series:
    s = pd.Series([1.0, 2.0])
    s.attrs["lock"] = threading.Lock()  # not part of the content hash, but pickled with the series
    return s


UNHASHABLE = {
    "lock": threading.Lock,
    "generator": lambda: (i for i in range(3)),
    "bad_reduce": BadReduce,
    "nested_lock": lambda: [1, {"k": (2, threading.Lock())}],
    "frame_with_lock": _frame_with_lock,
}
UNSTORABLE = {"pickles_once": PicklesOnce, "series_with_lock": _series_with_lock}


@pytest.fixture
def store(db_path, log):
    """A file store with a few calls already in it, and ops that log their runs."""

    @op
    def inc(x):
        log.append("inc")
        return x + 1

    @op
    def kind_of(x):
        log.append("kind_of")
        return type(x).__name__

    @op(output_names=["result"])
    def produce(kind):
        log.append("produce")
        return (UNHASHABLE | UNSTORABLE)[kind]()

    s = Storage(db_path)
    with s:
        for i in range(5):
            inc(i)
    s.ops = {"inc": inc, "kind_of": kind_of, "produce": produce}
    yield s
    s.close()


def assert_kept(before: dict, after: dict) -> None:
    """Every row is as it was; only descriptions of ops seen for the first time may have been added."""
    assert set(before["ops"]) <= set(after["ops"])
    assert {t: rows for t, rows in after.items() if t != "ops"} == {t: r for t, r in before.items() if t != "ops"}


def _unchanged_after(storage: Storage, before: dict) -> None:
    """The store holds exactly what it did, nothing is pending, and recording still works."""
    storage.commit()
    assert storage.cache_info()["pending_calls"] == 0
    assert_kept(before, snapshot(storage.db_path))
    with storage:
        storage.ops["inc"](100)
    assert storage.check().ok


# --- arguments and return values --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(UNHASHABLE))
def test_argument_that_cannot_be_hashed(store, log, kind):
    before = snapshot(store.db_path)
    with pytest.raises(HashingError) as ei:
        with store:
            store.ops["kind_of"](UNHASHABLE[kind]())
    assert "op kind_of, argument 'x'" in str(ei.value)
    assert "kind_of" not in log  # refused before running
    _unchanged_after(store, before)


@pytest.mark.parametrize("kind", sorted(UNSTORABLE))
def test_argument_that_cannot_be_pickled(store, kind):
    before = snapshot(store.db_path)
    with pytest.raises(SerializationError) as ei:
        with store:
            store.ops["kind_of"](UNSTORABLE[kind]())
    assert "op kind_of, argument 'x'" in str(ei.value)
    _unchanged_after(store, before)


@pytest.mark.parametrize("kind", sorted(UNHASHABLE) + sorted(UNSTORABLE))
def test_return_value_that_cannot_be_stored(store, kind):
    before = snapshot(store.db_path)
    expected = HashingError if kind in UNHASHABLE else SerializationError
    with pytest.raises(expected) as ei:
        with store:
            store.ops["inc"](1)  # already stored: a lookup
            store.ops["produce"](kind)
    assert "op produce, output 'result'" in str(ei.value)
    _unchanged_after(store, before)


@pytest.mark.parametrize("where", ["argument", "output"])
def test_value_over_the_threshold_without_overflow_dir_goes_beside_the_store(db_path, where):
    """No value is refused after its op ran: without an overflow_dir, a file store keeps large values in the folder
    ``<db_path>-overflow`` beside it."""
    ran = []

    @op
    def ident(x):
        ran.append("ident")
        return x

    @op
    def grow(n):
        ran.append("grow")
        return b"x" * n

    storage = Storage(db_path, overflow_threshold_MB=0.001)
    try:
        assert not os.path.exists(db_path + "-overflow")  # made only when a large value comes
        with storage:
            ref = ident(b"x" * 5000) if where == "argument" else grow(5000)
        assert len(value_files(db_path + "-overflow")) == 1
        assert storage.check().ok
    finally:
        storage.close()
    again = Storage(db_path, overflow_threshold_MB=0.001)
    try:
        with again.allow_new_calls(False), again:
            ref2 = ident(b"x" * 5000) if where == "argument" else grow(5000)
        assert again.unwrap(ref2) == b"x" * 5000 and ref2.hid == ref.hid
        assert len(ran) == 1
    finally:
        again.close()


def test_an_error_does_not_block_later_writes(store):
    """A refused call leaves nothing pending that could make every later write fail."""
    for kind in ("lock", "pickles_once"):
        with pytest.raises(GraphstoreError):
            with store:
                store.ops["kind_of"]((UNHASHABLE | UNSTORABLE)[kind]())
    with store:
        for i in range(50, 60):
            store.ops["inc"](i)
    assert store.cache_info()["calls"] == 15


# --- overflow files at load time --------------------------------------------------------------------------------------


@pytest.fixture
def overflow_store(tmp_path, db_path):
    ovf = tmp_path / "ovf"

    @op
    def blob(n):
        return bytes(range(256)) * n

    s = Storage(db_path, overflow_dir=ovf, overflow_threshold_MB=0.001)
    with s:
        ref = blob(20)
    s.close()
    (name,) = value_files(ovf)
    return {"ovf": str(ovf), "file": str(ovf / name), "blob": blob, "cid": ref.cid}


@pytest.mark.parametrize("how", ["missing", "directory", "truncated", "corrupted"])
def test_bad_overflow_file_at_load_time(db_path, overflow_store, how):
    damage_file(overflow_store["file"], how)
    before = snapshot(db_path)
    s = Storage(db_path, overflow_dir=overflow_store["ovf"], overflow_threshold_MB=0.001)
    try:
        with s:
            ref = overflow_store["blob"](20)  # retraced: the value is not read
        with pytest.raises(StoreError) as ei:
            s.unwrap(ref)
        assert overflow_store["file"] in str(ei.value)
        report = s.check()
        assert not report.ok and overflow_store["file"] in report.problems[0]
    finally:
        s.close()
    assert snapshot(db_path) == before


def test_overflow_value_without_overflow_dir(db_path, overflow_store):
    s = Storage(db_path)
    try:
        with s:
            ref = overflow_store["blob"](20)
        with pytest.raises(StoreError) as ei:
            s.unwrap(ref)
        assert os.path.basename(overflow_store["file"]) in str(ei.value) and "overflow_dir" in str(ei.value)
    finally:
        s.close()


# --- paths that are not stores ----------------------------------------------------------------------------------------


def test_path_that_is_a_directory(tmp_path):
    with pytest.raises(StoreError) as ei:
        Storage(tmp_path)
    assert str(tmp_path) in str(ei.value) and "directory" in str(ei.value)


def test_path_in_a_missing_folder(tmp_path):
    path = tmp_path / "nope" / "store.db"
    with pytest.raises(StoreError) as ei:
        Storage(path)
    assert str(path) in str(ei.value)
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("content", [b"name,value\n1,2\n" * 300, random.Random(0).randbytes(5000)])
def test_path_that_is_not_a_sqlite_file(tmp_path, content):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    for read_only in (False, True):
        with pytest.raises(StoreError) as ei:
            Storage(path, read_only=read_only)
        assert str(path) in str(ei.value)
    assert path.read_bytes() == content
    assert sorted(os.listdir(tmp_path)) == ["data.csv"]


def test_sqlite_file_of_another_application(tmp_path):
    path = str(tmp_path / "other.db")
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('ada')")
    conn.close()
    before = snapshot(path)
    with pytest.raises(StoreError) as ei:
        Storage(path)
    assert path in str(ei.value) and "not a graphstore store" in str(ei.value)
    assert snapshot(path) == before  # no graphstore tables were added to someone else's database


# --- schema versions --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("read_only", [False, True])
def test_store_of_a_newer_schema_version_is_refused(db_path, read_only):
    s = Storage(db_path)
    with s:
        op(lambda x: x, name="keep")(1)
    s.close()
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.close()
    before = snapshot(db_path)
    with pytest.raises(SchemaVersionError) as ei:
        Storage(db_path, read_only=read_only)
    message = str(ei.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message and f"version {SCHEMA_VERSION}" in message
    assert db_path in message
    assert snapshot(db_path) == before


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_store_of_every_earlier_schema_version_is_migrated(db_path, version):
    counts = store_tools.make_store_at_version(db_path, version)
    conn = sqlite3.connect(db_path)
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    # really the old layout: outputs kept in calls since version 5, refs indexed by cid until version 6, edges
    # by text id until version 7
    assert ("outputs" in store_tools.columns(conn, "calls")) == (version >= 5)
    assert ("refs_cid" in indexes) == (version < 6)
    assert "call_hid" in store_tools.columns(conn, "edges") and "id" not in store_tools.columns(conn, "calls")
    conn.close()
    with pytest.raises(StoreError, match="needs migrating"):
        Storage(db_path, read_only=True)  # a read-only store cannot migrate itself

    storage = Storage(db_path)
    try:
        conn = sqlite3.connect(db_path)
        assert stored_schema_version(conn) == SCHEMA_VERSION
        applied = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
        assert applied == store_tools.MIGRATION_NAMES
        conn.close()
        info = storage.cache_info()
        assert {k: info[k] for k in counts} == counts  # nothing lost
        assert storage.check().ok, storage.check().problems

        store_tools.RAN.clear()
        with storage.allow_new_calls(False), storage:
            results = store_tools.program(version)  # every call of the old store retraces
        assert store_tools.RAN == []
        assert {k: storage.unwrap(v) for k, v in results.items()} == {k: store_tools.EXPECTED[k] for k in results}
        with storage:
            assert storage.unwrap(store_tools.m_inc(results["b"])) == 4  # and the migrated store records
        assert store_tools.RAN == ["m_inc"]
    finally:
        storage.close()
    reopened = Storage(db_path, read_only=True)
    try:
        assert reopened.check().ok
    finally:
        reopened.close()


# --- damaged database files -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def healthy_store(tmp_path_factory):
    """A closed store (no WAL left) of a few thousand calls, its values' payloads spilling over SQLite pages."""
    path = str(tmp_path_factory.mktemp("healthy") / "store.db")

    @op
    def payload(i):
        return bytes([i % 256]) * 600

    s = Storage(path)
    with s:
        refs = [payload(i) for i in range(3000)]
    s.close()
    assert not os.path.exists(path + "-wal")
    return path, payload, refs


def _exercise(path: str, payload, refs) -> tuple[bool, list[str]]:
    """Use a possibly damaged store every way a user might; returns (damage seen, errors). Anything but a StoreError
    fails the test."""
    seen, errors = False, []
    try:
        s = Storage(path)
    except StoreError as exc:
        return True, [str(exc)]
    steps = [
        ("check", lambda: s.check().ok),
        ("retrace", lambda: [payload(i) for i in range(0, 3000, 7)]),
        ("unwrap", lambda: [s.unwrap(r.detached()) for r in refs[::97]]),
        ("creators", lambda: s.get_creators(refs[::13])),
        ("consumers", lambda: s.get_consumers(refs[::13])),
        ("cache_info", s.cache_info),
    ]
    try:
        for name, step in steps:
            try:
                with s.allow_new_calls(False), s:
                    result = step()
                if name == "check" and result is False:
                    seen = True
            except (StoreError, NewCallsNotAllowedError) as exc:  # a damaged value is an IntegrityError
                seen = True
                errors.append(f"{name}: {exc}")
    finally:
        try:
            s.close()
        except StoreError:
            pass
    return seen, errors


@pytest.mark.parametrize("fraction", [0.95, 0.6, 0.2, 0.01])
def test_truncated_database_file(tmp_path, healthy_store, fraction):
    src, payload, refs = healthy_store
    path = str(tmp_path / "truncated.db")
    shutil.copy(src, path)
    with open(path, "r+b") as fh:
        fh.truncate(int(os.path.getsize(src) * fraction))
    seen, errors = _exercise(path, payload, refs)
    assert seen and errors
    assert any(path in e for e in errors)


@pytest.mark.parametrize("seed", range(6))
def test_corrupted_database_file(tmp_path, healthy_store, seed):
    src, payload, refs = healthy_store
    path = str(tmp_path / "corrupted.db")
    shutil.copy(src, path)
    data = bytearray(open(path, "rb").read())
    rng = random.Random(seed)
    for _ in range(3):  # overwrite whole pages (never page 1, tested below) with noise
        page = rng.randrange(1, len(data) // 4096)
        data[page * 4096 : (page + 1) * 4096] = rng.randbytes(4096)
    open(path, "wb").write(data)
    seen, _ = _exercise(path, payload, refs)
    assert seen  # check() reports it, or using the store raises StoreError; never a raw sqlite3 error


def test_corrupted_database_header(tmp_path, healthy_store):
    src, payload, refs = healthy_store
    path = str(tmp_path / "header.db")
    shutil.copy(src, path)
    with open(path, "r+b") as fh:
        fh.write(b"definitely not sqlite")
    with pytest.raises(StoreError) as ei:
        Storage(path)
    assert path in str(ei.value)


# --- read-only stores -------------------------------------------------------------------------------------------------


def test_read_only_store(db_path, store_kind, log):
    @op
    def inc(x):
        log.append("inc")
        return x + 1

    @op
    def total(xs: MList[int]) -> int:
        log.append("total")
        return sum(xs)

    s = Storage(db_path)
    with s:
        ys = [inc(i) for i in range(5)]
        total(ys)
    s.close()
    before, ran = snapshot(db_path), list(log)

    ro = Storage(db_path, read_only=True)
    try:
        with ro:
            again = [inc(i) for i in range(5)]
            assert ro.unwrap(total(again)) == 15  # retraces work, values load
        assert len(ro.get_creators(again)) == 5 and len(ro.get_consumers(again)) == 1
        assert ro.check().ok and ro.cache_info()["calls"] == s_calls(db_path)
        with pytest.raises(ReadOnlyStoreError) as ei:
            with ro:
                inc(99)
        assert "op inc" in str(ei.value) and db_path in str(ei.value)
        with pytest.raises(ReadOnlyStoreError, match="op total"):
            with ro:
                total([inc(0), inc(1)])  # same values as stored, other history: would need a new record
        for name, attempt in [
            ("drop_calls", lambda: ro.drop_calls(again[:1])),
            ("cleanup_refs", ro.cleanup_refs),
            ("vacuum", ro.vacuum),
        ]:
            with pytest.raises(ReadOnlyStoreError) as ei:
                attempt()
            assert name in str(ei.value) and db_path in str(ei.value)
        assert log == ran
    finally:
        ro.close()
    assert snapshot(db_path) == before


def s_calls(path: str) -> int:
    return len(snapshot(path)["calls"])


# --- odd names --------------------------------------------------------------------------------------------------------


def test_names_sqlite_cannot_store_are_refused_and_not_stored(store):
    before = snapshot(store.db_path)
    with pytest.raises(OpDefinitionError, match="op name"):
        op(lambda x: x, name="bad\ud800")
    with pytest.raises(OpDefinitionError, match="output names"):
        op(lambda x: (x, x), output_names=["ok", "bad\udc80"])

    @op
    def kw(**kwargs):
        return len(kwargs)

    with pytest.raises(OpCallError) as ei:
        with store:
            kw(**{"fine": 1, "bad\udc80": 2})
    assert "op kw" in str(ei.value) and "'bad\\udc80'" in str(ei.value)
    _unchanged_after(store, before)
