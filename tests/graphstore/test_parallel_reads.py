"""Independent read statements of a file store run on two connections side by side; results and errors are the
same as one after the other.

SQLite only: the second read connection of a SQLite file.
"""

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
    statements = [
        (f"SELECT count(*) + {k} FROM calls WHERE op_name = ?", (op_name,))
        for k, op_name in enumerate(["f", "g", "h", "nope"] * 5)
    ]
    assert backend.execute_many(statements) == [backend.execute(sql, p) for sql, p in statements]
    assert backend.parallel.side is not None  # a second connection did some of the work
    s.close()
    assert backend.parallel.side is None


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
    assert backend.execute_many([("SELECT 'meet', 1", ()), ("SELECT 'meet', 2", ())]) == [[("meet", 1)], [("meet", 2)]]
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
    assert s.backend.parallel.side is None


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
    assert ro.backend.parallel.side is not None
    ro.close()


# --- one statement streamed over many parameter sets (extraction's chunks) ------------------------------------------


def test_a_stream_gives_each_sets_rows_in_order(db_path):
    for s in (Storage(db_path), Storage()):
        chain(s, 40)
        sets = [(op_name, k) for k in range(3) for op_name in ("f", "g", "h", "nope")]
        sql = "SELECT count(*) + ? FROM calls WHERE op_name = ?"
        streamed = list(s.backend.execute_stream(sql, [(k, name) for name, k in sets]))
        assert streamed == [s.backend.execute(sql, (k, name)) for name, k in sets]
        assert (s.backend.parallel.side is not None) == (s.backend.location != ":memory:")
        s.close()


def test_a_stream_reads_one_snapshot(db_path):
    """A call another connection commits after the first set was read is in none of the later sets."""
    s = Storage(db_path)
    chain(s, 10)
    stream = s.backend.execute_stream("SELECT count(*) FROM calls", [()] * 6)
    first = next(stream)
    other = Storage(db_path)
    with other:
        f(1000)
    other.close()
    assert [first] + list(stream) == [[(30,)]] * 6
    assert s.backend.execute_stream("SELECT count(*) FROM calls", [()]).__next__() == [(31,)]  # a new snapshot
    s.close()


def test_a_stream_left_early_or_failing_leaves_the_store_usable(db_path):
    s = Storage(db_path)
    chain(s, 10)
    stream = s.backend.execute_stream("SELECT ?", [(k,) for k in range(50)])
    assert next(stream) == [(0,)]
    stream.close()  # the worker stops, and ends its read transaction
    assert not s.backend.parallel.side.in_transaction
    with pytest.raises(StoreError, match="no such table"):
        list(s.backend.execute_stream("SELECT * FROM missing_table WHERE ? = 1", [(1,), (2,)]))
    assert not s.backend.parallel.side.in_transaction
    assert list(s.backend.execute_stream("SELECT ?", [(1,), (2,)])) == [[(1,)], [(2,)]]
    s.close()


def test_a_table_read_in_chunks_keeps_the_order_of_creation_times(db_path, monkeypatch):
    """Roots are ordered by creation time, then id, whatever their row order: times rewritten out of order, ties."""
    import sqlite3

    import graphstore.query.rows

    s = Storage(db_path)
    chain(s, 60)
    s.close()
    for spread in (13, 1):  # shuffled times with ties; every time the same
        conn = sqlite3.connect(db_path)
        with conn:
            ids = [i for (i,) in conn.execute("SELECT id FROM calls WHERE op_name = 'h' ORDER BY id")]
            for k, i in enumerate(ids):
                conn.execute("UPDATE calls SET created_at = ? WHERE id = ?", (1000.0 + (k * 7) % spread, i))
        want = [hid for _, hid in sorted(conn.execute("SELECT created_at, hid FROM calls WHERE op_name = 'h'"))]
        conn.close()
        assert want != [
            hid for (hid,) in sqlite3.connect(db_path).execute("SELECT hid FROM calls WHERE op_name = 'h' ORDER BY id")
        ]
        for chunk_rows in (4, 10**6):
            monkeypatch.setattr(graphstore.query.rows, "CHUNK_ROWS", chunk_rows)
            s = Storage(db_path)
            df = s.cf(h).expand_all().df()
            assert [c.hid for c in df["h"]] == want
            s.close()
