"""Recording behaviour of ``Storage`` (docs api.md, "Recording"): lookups, laziness, failures, persistence."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

import graphstore.storage
from graphstore import (
    GraphstoreError,
    NewCallsNotAllowedError,
    Ref,
    SchemaVersionError,
    Storage,
    StoreError,
    hash_value,
    op,
)
from graphstore.backends.schema import SCHEMA_VERSION
from store_tools import rows_elsewhere, value_files


def n_calls(storage: Storage) -> int:
    storage.commit()
    return storage.cache_info()["calls"]


def make_ops(log):
    @op
    def inc(x):
        log.append("inc")
        return x + 1

    @op
    def add(x, y):
        log.append("add")
        return x + y

    @op
    def mul(x, y):
        log.append("mul")
        return x * y

    return inc, add, mul


# --- allow_new_calls --------------------------------------------------------------------------------------------------


def test_allow_new_calls_false_turns_misses_into_errors(storage, log):
    inc, _, _ = make_ops(log)
    with storage:
        inc(1)
    with storage:
        with storage.allow_new_calls(False):
            hit = inc(1)
            assert isinstance(hit, Ref) and storage.unwrap(hit) == 2
            with pytest.raises(RuntimeError) as ei:
                inc(2)
            assert type(ei.value) is NewCallsNotAllowedError
            assert str(ei.value) == "Call to inc does not exist and new calls are not allowed."
        inc(2)  # restored on exit
    assert log == ["inc", "inc"]
    assert n_calls(storage) == 2

    storage.allow_new_calls(False)  # plain form: in force until switched back
    try:
        with pytest.raises(NewCallsNotAllowedError):
            with storage:
                inc(3)
    finally:
        storage.allow_new_calls(True)
    with storage:
        inc(3)
    assert log.count("inc") == 3


# --- a call that raises -----------------------------------------------------------------------------------------------


class Boom(Exception):
    pass


def test_exception_propagates_unchanged_and_nothing_is_stored(storage, log):
    inc, _, _ = make_ops(log)
    err = Boom("from the op")

    @op
    def fail(x):
        log.append("fail")
        raise err

    with pytest.raises(Boom) as ei:
        with storage:
            inc(1)
            fail(1)
    assert ei.value is err
    assert n_calls(storage) == 1
    with storage:
        with pytest.raises(Boom):
            fail(1)  # not memoized: runs again
        inc(1)  # kept
    assert log == ["inc", "fail", "fail"]
    assert n_calls(storage) == 1


def test_exception_keeps_earlier_calls_on_a_file_store(db_path, store_kind, log):
    inc, _, _ = make_ops(log)

    @op
    def fail(x):
        raise KeyError(x)

    s = Storage(db_path)
    try:
        with pytest.raises(KeyError):
            with s:
                inc(1)
                inc(2)
                fail(3)
    finally:
        s.close()
    s2 = Storage(db_path)
    try:
        assert s2.cache_info()["calls"] == 2
        with s2:
            r = inc(2)
        assert log.count("inc") == 2
        assert s2.unwrap(r) == 3
    finally:
        s2.close()


# --- lookup by content ------------------------------------------------------------------------------------------------


def test_same_content_other_history_reuses_values(storage, log):
    inc, add, _ = make_ops(log)
    with storage:
        a = inc(add(1, 1))
    assert log == ["add", "inc"]
    assert n_calls(storage) == 2
    with storage:
        b = inc(2)
    assert log == ["add", "inc"]  # nothing executed
    assert n_calls(storage) == 3  # but a new call is recorded
    assert b.cid == a.cid and b.hid != a.hid
    assert storage.unwrap(b) == 3
    with storage:
        assert inc(2).hid == b.hid  # now a hit by history
    assert n_calls(storage) == 3


def test_same_content_other_history_within_one_block(storage, log):
    inc, add, _ = make_ops(log)
    with storage:
        a = inc(add(2, 3))
        b = inc(5)
    assert log == ["add", "inc"]
    assert b.cid == a.cid and b.hid != a.hid
    assert n_calls(storage) == 3
    assert storage.unwrap(b) == 6


SUBPROCESS_SCRIPT = """
import sys
from graphstore import Storage, op

@op
def inc(x):
    return x + 1

@op
def add(x, y):
    return x + y

storage = Storage(sys.argv[1])
with storage:
    r = inc(add(1, 1))
storage.close()
print("ok", r.cid)
"""


def test_same_content_across_processes(tmp_path, db_path, store_kind, log):
    script = tmp_path / "record.py"
    script.write_text(textwrap.dedent(SUBPROCESS_SCRIPT))
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, str(script), db_path], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok ")

    inc, _, _ = make_ops(log)
    s = Storage(db_path)
    try:
        assert s.cache_info()["calls"] == 2
        with s, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # these ops' source differs from the script's
            r = inc(2)
        assert log == []
        assert r.cid == proc.stdout.split()[1] == hash_value(3)
        assert n_calls(s) == 3
        assert s.unwrap(r) == 3
    finally:
        s.close()


def _define_calc(offset):
    if offset == 1:

        @op(name="calc")
        def calc(x):
            return x + 1

    else:

        @op(name="calc")
        def calc(x):
            return x + 100

    return calc


def test_changed_op_code_warns_once_naming_the_op(db_path, store_kind):
    s = Storage(db_path)
    with s:
        _define_calc(1)(1)
    s.close()

    s2 = Storage(db_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with s2:
                _define_calc(1)(1)  # the same code: no warning
        changed = _define_calc(100)
        with pytest.warns(UserWarning, match="calc") as record:
            with s2:
                r = changed(1)
                changed(2)
        assert len([w for w in record if "calc" in str(w.message)]) == 1
        assert s2.unwrap(r) == 2  # versioning is off: identity is name and version, the old result is reused
    finally:
        s2.close()


def test_op_redefined_in_the_same_session_warns(storage):
    with storage:
        _define_calc(1)(1)
    changed = _define_calc(100)
    with pytest.warns(UserWarning, match="op calc"):
        with storage:
            changed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with storage:
            _define_calc(1)(1)  # back to the recorded code: no warning


# --- laziness ---------------------------------------------------------------------------------------------------------


def test_hits_are_lazy(storage, log):
    inc, _, _ = make_ops(log)
    with storage:
        first = inc(1)
        same_block = inc(1)
    assert first.in_memory and first.obj == 2
    assert not same_block.in_memory and same_block.obj is None
    with storage:
        later = inc(1)
    assert not later.in_memory
    assert storage.unwrap(later) == 2


def test_retracing_a_program_loads_no_value(db_path, store_kind, log, counter, monkeypatch):
    inc, add, mul = make_ops(log)

    def program():
        a = inc(1)
        b = add(a, 10)
        return mul(a, b)

    s = Storage(db_path)
    with s:
        program()
    s.close()

    attached: list = []
    real_attach = graphstore.storage.Storage.attach

    def spy(self, refs, inplace=False):
        attached.append(refs)
        return real_attach(self, refs, inplace)

    monkeypatch.setattr(graphstore.storage.Storage, "attach", spy)
    s2 = Storage(db_path, tracer=counter)
    try:
        counter.reset()
        with s2:
            out = program()
        assert log == ["inc", "add", "mul"]
        assert attached == []
        assert not [sql for sql in counter.statements if '"values"' in sql]  # the table's name must be quoted
        assert not out.in_memory
        assert s2.unwrap(out) == 2 * 12
        assert [sql for sql in counter.statements if '"values"' in sql]  # the detector sees a load
    finally:
        s2.close()


def test_lazy_input_is_loaded_only_when_the_consumer_runs(storage, log):
    inc, add, _ = make_ops(log)
    received: list = []

    @op
    def show(x):
        received.append(x)
        return repr(x)

    with storage:
        add(inc(1), 1)
    with storage:
        a = inc(1)
        add(a, 1)  # a hit: a stays lazy
        assert not a.in_memory
        r = show(a)  # must run: a is loaded and the function gets the value
    assert received == [2]
    assert storage.unwrap(r) == "2"
    assert log == ["inc", "add"]


def test_unwrap_attach_and_load_ref(storage, log):
    inc, add, _ = make_ops(log)
    with storage:
        a, b, c = inc(1), inc(2), add(1, 2)
    with storage:
        a, b, c = inc(1), inc(2), add(1, 2)
    assert not any(r.in_memory for r in (a, b, c))
    assert storage.unwrap({"x": [a, (b, 7)], "y": c, "z": "raw"}) == {"x": [2, (3, 7)], "y": 3, "z": "raw"}

    with storage:
        d, e = inc(1), inc(2)
    assert not d.in_memory and not e.in_memory
    assert storage.attach([d, {"k": e}], inplace=True) is None
    assert d.in_memory and d.obj == 2 and e.in_memory and e.obj == 3

    loaded = storage.load_ref(c.hid)
    assert loaded.in_memory and loaded.obj == 3 and loaded.cid == c.cid and loaded.hid == c.hid
    lazy = storage.load_ref(c.hid, in_memory=False)
    assert not lazy.in_memory and lazy.cid == c.cid
    assert storage.unwrap(lazy) == 3
    with pytest.raises(GraphstoreError):
        storage.load_ref("0" * 32)


# --- the hot path -----------------------------------------------------------------------------------------------------


def test_retracing_reads_at_most_one_statement_per_call(db_path, store_kind, counter, log):
    inc, _, _ = make_ops(log)
    s = Storage(db_path, tracer=counter)
    with s:
        for i in range(50):
            inc(i)
    s.commit()
    s.close()
    assert log.count("inc") == 50

    s2 = Storage(db_path, tracer=counter)
    try:
        counter.reset()
        with s2:
            refs = [inc(i) for i in range(50)]
        assert log.count("inc") == 50
        assert all(not r.in_memory for r in refs)
        assert 0 < len(counter.reads()) <= 50
    finally:
        s2.close()


# --- overflow ---------------------------------------------------------------------------------------------------------


def test_large_values_go_to_the_overflow_dir(tmp_path, db_path, store_kind, log):
    ovf = tmp_path / "ovf"

    @op
    def big(n):
        log.append("big")
        return list(range(n))

    s = Storage(db_path, overflow_dir=ovf, overflow_threshold_MB=0.001)
    with s:
        r = big(5000)
    s.close()
    files = value_files(ovf)
    assert len(files) == 1 and r.cid in files[0]
    [(data, path)] = rows_elsewhere(db_path, 'SELECT data, path FROM "values" WHERE cid = ?', (r.cid,))
    assert data is None and path

    s2 = Storage(db_path, overflow_dir=ovf, overflow_threshold_MB=0.001)
    try:
        with s2:
            again = big(5000)
        assert log == ["big"]
        assert s2.unwrap(again) == list(range(5000))
    finally:
        s2.close()


def test_an_in_memory_store_keeps_large_values_in_memory(log):
    inc, _, _ = make_ops(log)

    @op
    def big(n):
        log.append("big")
        return list(range(n))

    s = Storage(overflow_threshold_MB=0.001)
    try:
        with s:
            inc(1)
            ref = big(5000)
        assert n_calls(s) == 2 and s._values.overflow_dir is None  # kept in the in-memory store itself
        with s:
            again = big(5000)
        assert s.unwrap(again) == list(range(5000)) and again.hid == ref.hid
        assert log == ["inc", "big"]
        assert s.check().ok
    finally:
        s.close()


# --- opening stores ---------------------------------------------------------------------------------------------------


def test_newer_schema_version_is_refused(db_path):
    Storage(db_path).close()
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(SchemaVersionError) as ei:
        Storage(db_path)
    assert isinstance(ei.value, StoreError)
    assert "999" in str(ei.value)
    assert f"version {SCHEMA_VERSION}" in str(ei.value)


def test_directory_path_is_a_store_error(tmp_path):
    with pytest.raises(StoreError) as ei:
        Storage(tmp_path)
    assert str(tmp_path) in str(ei.value)


def test_random_bytes_file_is_a_store_error(tmp_path):
    path = tmp_path / "junk.db"
    junk = random.Random(0).randbytes(8192)
    path.write_bytes(junk)
    with pytest.raises(StoreError) as ei:
        Storage(path)
    assert str(path) in str(ei.value)
    assert path.read_bytes() == junk  # the file is left alone


# --- durability -------------------------------------------------------------------------------------------------------


def _count_calls_elsewhere(db_path: str) -> int:
    return rows_elsewhere(db_path, "SELECT count(*) FROM calls")[0][0]


def test_completed_calls_become_visible_to_other_connections(file_storage, db_path, log):
    inc, _, _ = make_ops(log)
    with file_storage:
        inc(1)
        seen = 0
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            seen = _count_calls_elsewhere(db_path)
            if seen:
                break
            time.sleep(0.05)
        assert seen == 1  # written by the background writer while the block is still open
        inc(2)
    assert _count_calls_elsewhere(db_path) == 2  # immediately after the block


def test_a_run_mode_context_writes_its_calls_on_exit(db_path, store_kind, log):
    @op
    def inc(x):
        log.append("inc")
        return x + 1

    s = Storage(db_path)
    with s(mode="run"):
        y = inc(1)
        assert s.cache_info()["pending_calls"] == 1
    assert s.cache_info()["pending_calls"] == 0 and s.cache_info()["calls"] == 1
    other = Storage(db_path)  # another reader sees the call at once
    with other:
        assert other.unwrap(inc(1)) == 2 and y.hid == inc(1).hid
    assert log == ["inc"]
    other.close()
    s.close()


def test_an_unclosed_store_is_closed_when_the_interpreter_exits(db_path, store_kind):
    """Its pending calls are written and its write-ahead log folded back into the store file."""
    script = textwrap.dedent(f"""
        from graphstore import Storage, op

        @op
        def inc(x):
            return x + 1

        s = Storage({db_path!r})
        s.__enter__()  # entered and never left, as at the end of a notebook or a script that exits early
        for i in range(10):
            inc(i)
        print(s.cache_info()["pending_calls"])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "10"  # nothing written yet when the interpreter began to exit
    assert not os.path.exists(db_path + "-wal")  # the log was folded back into the store on close
    reopened = Storage(db_path, read_only=True)
    assert reopened.cache_info()["calls"] == 10
    reopened.close()
