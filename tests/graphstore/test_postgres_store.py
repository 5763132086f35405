"""The PostgreSQL store on a real server: recording, retracing, collections, tables, provenance, deletion, versioning,
checks, read-only access, schema versions and errors."""

from __future__ import annotations

import importlib
import sys
import time

import psycopg
import pytest

from graphstore import (
    ConfigurationError,
    GraphstoreError,
    MList,
    ReadOnlyStoreError,
    SchemaVersionError,
    Storage,
    StoreError,
    op,
)
from graphstore.backends import Batch, open_backend
from graphstore.backends.postgres import PostgresBackend, upgrade
from graphstore.backends.postgres_schema import SCHEMA_VERSION
from test_deletion import chain_ops as chain

TABLES = ("values", "refs", "calls", "edges", "members")


def counts(storage: Storage) -> dict[str, int]:
    info = storage.cache_info()
    return {t: info[t] for t in TABLES}


def test_url_opens_a_postgres_store_and_records(pg_url, log):
    storage = Storage(pg_url)
    assert isinstance(storage.backend, PostgresBackend)
    assert storage.backend.sql_dialect == "postgres"
    ra, rb, rc = chain(log)(storage)
    assert storage.unwrap([ra, rb, rc]) == [3, 6, 2]
    # 4 refs (raw 2, 3, 6, c's 2), 3 values (the raw 2 and c's 2 share one), 3 calls, 6 edges
    assert counts(storage) == {"values": 3, "refs": 4, "calls": 3, "edges": 6, "members": 0}
    assert storage.check().ok
    storage.close()
    with psycopg.connect(pg_url) as conn:  # ids are uuids in the database, 32-hex text for the engine
        types = dict(
            conn.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'calls'")
        )
        assert types["hid"] == types["cid"] == "uuid" and types["id"] == "bigint"
        assert conn.execute("SELECT count(*) FROM refs WHERE hid = %s", (rc.hid,)).fetchone() == (1,)


def test_db_path_and_postgres_scheme_alias(pg_url):
    url = pg_url.replace("postgresql://", "postgres://", 1)
    storage = Storage(db_path=url)
    assert isinstance(storage.backend, PostgresBackend)
    storage.close()


def test_retracing_computes_nothing_twice_across_processes_views(pg_url, log):
    program = chain(log)
    first = program(Storage(pg_url))
    assert log == ["a", "b", "c"]
    log.clear()
    again = Storage(pg_url)  # a new connection: everything comes from the server
    second = program(again)
    assert log == []
    assert [r.hid for r in first] == [r.hid for r in second]
    assert again.unwrap(list(second)) == [3, 6, 2]
    again.close()


def test_collections_are_stored_element_by_element(pg_url, log):
    @op
    def split(n: int) -> MList[int]:
        log.append("split")
        return list(range(n))

    @op
    def total(xs: MList[int]) -> int:
        log.append("total")
        return sum(xs)

    storage = Storage(pg_url)
    with storage:
        parts = split(4)
        t = total(parts)
    assert storage.unwrap(t) == 6
    storage.close()
    log.clear()
    storage = Storage(pg_url)
    with storage:
        parts = split(4)
        assert storage.unwrap(total(parts)) == 6
        assert storage.unwrap(parts) == [0, 1, 2, 3]
    assert log == []
    assert storage.cache_info()["members"] == 4
    df = storage.cf(total).expand_back(recursive=True).df()
    assert [c.op_name for c in df["total"]] == ["total"]
    assert [v for col in df.columns for v in df[col].tolist() if v == 6] == [6]
    storage.close()


def test_frames_give_tables(pg_url):
    @op
    def inc(x):
        return x + 1

    @op
    def add(x, y):
        return x + y

    storage = Storage(pg_url)
    with storage:
        for i in range(6):
            add(inc(i), i)
    df = storage.cf(add).expand_back(recursive=True).df()
    assert sorted(zip(df["x_0"], df["inc"].map(lambda c: c.op_name), df["var_0"])) == [
        (i, "inc", 2 * i + 1) for i in range(6)
    ]
    inc_df = storage.cf(inc).df()
    assert sorted(inc_df[inc_df.columns[-1]].tolist()) == list(range(1, 7))
    storage.close()


def test_provenance_steps(pg_url, log):
    storage = Storage(pg_url)
    ra, rb, rc = chain(log)(storage)
    assert storage.get_ref_creator(rb).op_name == "b"
    assert {c.op_name for c in storage.get_consumers([ra])} == {"b"}
    assert {c.op_name for c in storage.get_creators([ra, rb, rc])} == {"a", "b", "c"}
    storage.close()


def test_deletion_cleanup_and_retrace(pg_url, log):
    storage = Storage(pg_url)
    program = chain(log)
    ra, rb, rc = program(storage)
    before = storage.backend.deletion_count()
    report = storage.drop_calls(storage.get_ref_creator(rb), delete_dependents=True, dry_run=True)
    assert report == 2 and counts(storage)["calls"] == 3  # a dry run deletes nothing
    assert storage.drop_calls(storage.get_ref_creator(rb), delete_dependents=True) == 2
    assert storage.backend.deletion_count() == before + 1
    assert counts(storage) == {"values": 3, "refs": 4, "calls": 1, "edges": 2, "members": 0}
    assert storage.cleanup_refs() == {"refs": 2, "values": 1, "overflow_files": 0}
    assert counts(storage) == {"values": 2, "refs": 2, "calls": 1, "edges": 2, "members": 0}
    assert storage.check().ok
    log.clear()
    again = program(storage)
    assert log == ["b", "c"]
    assert [r.hid for r in again] == [r.hid for r in (ra, rb, rc)]
    storage.vacuum()
    storage.close()


def test_check_finds_damage(pg_url, log):
    storage = Storage(pg_url)
    chain(log)(storage)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute('UPDATE "values" SET data = \'\\x00\'::bytea WHERE id = (SELECT min(id) FROM "values")')
        conn.execute("DELETE FROM refs WHERE id = (SELECT max(id) FROM refs)")
    report = storage.check()
    assert not report.ok
    text = "\n".join(report.problems)
    assert "do not match their checksum" in text and "points at a missing ref" in text
    storage.close()


def test_large_values_go_to_the_overflow_folder(pg_url, tmp_path):
    @op
    def big(n):
        return b"x" * n

    storage = Storage(pg_url, overflow_dir=str(tmp_path / "over"), overflow_threshold_MB=0.01)
    with storage:
        r = big(50_000)
    assert storage.unwrap(r) == b"x" * 50_000
    assert len(list((tmp_path / "over").iterdir())) >= 1
    assert storage.check().ok
    storage.close()
    again = Storage(pg_url, overflow_dir=str(tmp_path / "over"), overflow_threshold_MB=0.01)
    with again:
        assert again.unwrap(big(50_000)) == b"x" * 50_000
    again.close()


VERSIONED = """\
from graphstore import op, track

RATE = 2


@track
def helper(x):
    return x * RATE


@op
def scaled(x):
    return helper(x) + 1
"""


def record_two_versions(location: str, folder, name: str):
    """Record ``scaled(3)`` of module ``name`` (``VERSIONED``, written into ``folder``, which is on the path) into a
    versioned store at ``location``, then again after an edit of the helper it tracks; returns the storage and the
    edited module."""
    (folder / f"{name}.py").write_text(VERSIONED)
    module = importlib.import_module(name)
    storage = Storage(location, deps_path=str(folder), on_change="breaking")
    with storage:
        assert storage.unwrap(module.scaled(3)) == 7
    (folder / f"{name}.py").write_text(VERSIONED.replace("x * RATE", "RATE * x + 1"))
    sys.modules.pop(name)
    importlib.invalidate_caches()
    module = importlib.import_module(name)
    with storage:
        assert storage.unwrap(module.scaled(3)) == 8
    return storage, module


def test_versioning(pg_url, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    folder = tmp_path / "pgv_src"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    try:
        storage, module = record_two_versions(pg_url, folder, "pgv_mod")
        versions = storage.versions(module.scaled, show=False)
        assert len(versions) == 2 and sorted(v.calls for v in versions) == [1, 1]
        assert len(storage.source_history(module.helper)) == 2
        old = next(v for v in versions if not v.is_current)
        assert storage.drop_version(old.version_id) == 1
        assert storage.cache_info()["calls"] == 1
        storage.close()
    finally:
        sys.modules.pop("pgv_mod", None)


def test_read_only_access(pg_url, log):
    chain(log)(Storage(pg_url))
    reader = Storage(pg_url, read_only=True)
    assert reader.cache_info()["calls"] == 3
    assert reader.check().ok
    with pytest.raises(ReadOnlyStoreError, match="read-only"):
        reader.backend.save_batch(Batch(refs=[("0" * 32, "1" * 32, "atom")]))
    with pytest.raises(ReadOnlyStoreError, match="read-only"):
        reader.backend.delete_calls([], with_dependents=True)
    reader.close()


def test_read_only_refuses_an_empty_database(pg_url):
    with pytest.raises(StoreError, match="no graphstore store"):
        open_backend(pg_url, read_only=True)


def test_a_foreign_database_is_refused(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int)")
    with pytest.raises(StoreError, match="customers"):
        open_backend(pg_url)


def test_schema_versions_newer_refused_older_upgraded_only_on_request(pg_url):
    open_backend(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
        with pytest.raises(SchemaVersionError, match=f"version {SCHEMA_VERSION + 1}.*version {SCHEMA_VERSION}"):
            open_backend(pg_url)
        # an older store (without the last migration's index) is refused until upgraded
        conn.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION - 1),))
        conn.execute("DROP INDEX calls_version")
        with pytest.raises(SchemaVersionError, match=r"older.*upgrade\(url\)"):
            open_backend(pg_url)
        assert conn.execute("SELECT to_regclass('calls_version')").fetchone() == (None,)  # nothing done silently
        assert upgrade(pg_url) == (SCHEMA_VERSION - 1, SCHEMA_VERSION)
        assert conn.execute("SELECT to_regclass('calls_version') IS NOT NULL").fetchone() == (True,)
    open_backend(pg_url).close()


def test_bad_urls_and_unreachable_servers_name_the_store_without_password():
    with pytest.raises(ConfigurationError, match="names no database"):
        open_backend("postgresql://alice:hunter2@127.0.0.1:5432")
    with pytest.raises(ConfigurationError, match="malformed"):
        open_backend("postgresql://alice:hunter2@127.0.0.1:notaport/db")
    with pytest.raises(StoreError) as info:
        Storage("postgresql://alice:hunter2@127.0.0.1:1/runs")
    message = str(info.value)
    assert "cannot connect to store postgresql://alice:***@127.0.0.1:1/runs" in message
    assert "hunter2" not in message


def test_a_dropped_connection_is_survived(pg_url, log):
    storage = Storage(pg_url)
    program = chain(log)
    program(storage)

    def kill_sessions():
        with psycopg.connect(pg_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid != pg_backend_pid()) AS t"
            ).fetchone()
        assert killed is not None and killed[0] >= 1

    kill_sessions()
    log.clear()
    program(storage)  # lookups run again on a new connection
    assert log == []

    @op
    def fresh(x):
        log.append("fresh")
        return -x

    with storage:
        first = [fresh(i) for i in range(50)]
        kill_sessions()  # mid-run: the writer's connection goes too
        second = [fresh(i) for i in range(50, 100)]
    assert storage.unwrap(first + second) == [-i for i in range(100)]
    assert storage.cache_info()["calls"] == 103
    storage.close()
    log.clear()
    again = Storage(pg_url)
    with again:
        assert again.unwrap([fresh(i) for i in range(100)]) == [-i for i in range(100)]
    assert log == []
    assert again.check().ok
    again.close()


def test_messages_and_repr_never_show_the_password(pg_url):
    url = pg_url.replace("postgres@", "postgres:hunter2@", 1)  # (the test server trusts its clients)
    storage = Storage(url)
    assert "hunter2" not in repr(storage) and "postgres:***@" in repr(storage)
    with pytest.raises(GraphstoreError) as info:
        storage.get_call("0" * 32)
    assert "hunter2" not in str(info.value) and "***" in str(info.value)
    storage.close()


def _analysed(url: str) -> dict[str, bool]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname IN ('calls', 'edges')"
        ).fetchall()
    return dict(rows)


def _modified(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'calls'").fetchone()
    return int(row[0]) if row else 0


def test_a_frame_after_a_bulk_load_refreshes_the_planners_statistics(pg_url):
    """Right after recording, PostgreSQL's autovacuum has not analysed the tables yet (it runs about once a minute),
    and plans the frame's joins as if they were empty: the first frame analyses the tables that changed a lot."""

    @op
    def twice(x):
        return 2 * x

    storage = Storage(pg_url)
    with storage:
        for i in range(3_000):
            twice(i)
    storage.close()  # the writer's statistics reach the server when its session ends
    deadline = time.monotonic() + 20
    while _modified(pg_url) < 3_000 and time.monotonic() < deadline:  # (its session ends a moment after the close)
        time.sleep(0.05)
    assert _analysed(pg_url) == {"calls": False, "edges": False}
    reader = Storage(pg_url)
    assert len(reader.cf(twice).df()) == 3_000
    assert _analysed(pg_url) == {"calls": True, "edges": True}
    assert len(reader.cf(twice).df()) == 3_000  # (not analysed again within the check interval)
    reader.close()


def test_retracing_in_recording_order_reads_the_calls_ahead(pg_url):
    """A program retraced as it was recorded needs a handful of statements, not one per call; another order still
    finds every call."""

    @op
    def square(x):
        return x * x

    storage = Storage(pg_url)
    with storage:
        for i in range(3_000):
            square(i)
    storage.close()
    for order in (list(range(3_000)), list(reversed(range(3_000)))):
        statements: list[str] = []
        storage = Storage(pg_url, tracer=lambda sql, params, seen=statements: seen.append(sql))
        with storage:
            assert [storage.unwrap(square(i)) for i in order] == [i * i for i in order]
            assert storage.cache_info()["pending_calls"] == 0  # nothing computed
        storage.close()
        lookups = [s for s in statements if "FROM calls" in s]
        if order[0] == 0:
            assert len(lookups) <= 12, len(lookups)
        else:
            assert len(lookups) <= 260, len(lookups)  # (once a sixteenth are found, all are read)


def test_processes_opening_a_new_database_at_once_all_get_the_store(pg_url):
    """Six processes open the same empty database at the same moment: one creates the store, every one opens it."""
    import subprocess

    start = time.time() + 1.5
    code = (
        "import sys, time\n"
        "from graphstore import Storage\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "s = Storage(sys.argv[1]); print(s.backend.store_id); s.close()\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, pg_url, str(start)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1  # one store, the same for all
