"""Independent read statements of a file store run on two connections side by side; results and errors are the
same as one after the other."""

from __future__ import annotations

import threading

import pytest

from graphstore import Storage, StoreError, op


@op
def f(i):
    return i + 1


@op
def g(a):
    return 2 * a


@op
def h(a, b):
    return a + b


def chain(s: Storage, n: int) -> None:
    with s:
        for i in range(n):
            a = f(i)
            h(a, g(a))


def test_execute_many_gives_each_statements_rows_in_order(db_path):
    s = Storage(db_path)
    chain(s, 50)
    backend = s.backend
    statements = [(f"SELECT count(*) + {k} FROM calls WHERE op_name = ?", (op_name,))
                  for k, op_name in enumerate(["f", "g", "h", "nope"] * 5)]
    assert backend.execute_many(statements) == [backend.execute(sql, p) for sql, p in statements]
    assert backend._side is not None  # a second connection did some of the work
    s.close()
    assert backend._side is None


def test_both_connections_work_at_once(db_path, monkeypatch):
    """Each statement waits until the other thread has started one too: only side by side can they all finish."""
    s = Storage(db_path)
    chain(s, 10)
    backend = s.backend
    meeting = threading.Barrier(2, timeout=30)
    threads = set()

    def tracer(sql, params):
        if sql.startswith("SELECT 'meet'"):
            threads.add(threading.current_thread().name)
            meeting.wait()

    backend.tracer = tracer
    assert backend.execute_many([("SELECT 'meet', 1", ()), ("SELECT 'meet', 2", ())]) == [[("meet", 1)],
                                                                                         [("meet", 2)]]
    assert len(threads) == 2
    s.close()


def test_a_failing_statement_is_a_store_error_naming_the_store(db_path):
    s = Storage(db_path)
    chain(s, 3)
    with pytest.raises(StoreError, match="no such table"):
        s.backend.execute_many([("SELECT 1", ()), ("SELECT * FROM missing_table", ()), ("SELECT 2", ())])
    assert s.backend.execute_many([("SELECT 1", ()), ("SELECT 2", ())]) == [[(1,)], [(2,)]]  # still usable
    s.close()


def test_a_store_in_memory_reads_on_its_one_connection():
    s = Storage()
    chain(s, 3)
    assert s.backend.execute_many([("SELECT 1", ()), ("SELECT 2", ())]) == [[(1,)], [(2,)]]
    assert s.backend._side is None


def test_a_file_store_and_memory_give_the_same_tables(db_path):
    tables = []
    for s in (Storage(db_path), Storage()):
        chain(s, 300)
        df = s.cf(h).expand_all().df()
        tables.append(df.sort_values("i").reset_index(drop=True))
        assert s.cf(h).expand_all().sql() == s.cf(h).expand_all().sql()
        s.close()
    on_file, in_memory = tables
    assert list(on_file.columns) == list(in_memory.columns) == ["i", "f", "a", "g", "b", "h", "var_0"]
    for col in ["i", "a", "b", "var_0"]:
        assert list(on_file[col]) == list(in_memory[col])
    assert [c.hid for c in on_file["h"]] == [c.hid for c in in_memory["h"]]


def test_a_read_only_store_reads_side_by_side_too(db_path):
    s = Storage(db_path)
    chain(s, 100)
    s.close()
    ro = Storage(db_path, read_only=True)
    df = ro.cf(h).expand_all().df()
    assert len(df) == 100 and sorted(df["var_0"]) == [3 * (i + 1) for i in range(100)]
    assert ro.backend._side is not None
    ro.close()
