"""Independent read statements of a PostgreSQL store run side by side on up to two more connections; a stream of
one statement over many parameter sets is read by several of them in one shared snapshot, in order."""

from __future__ import annotations

import threading

import psycopg
import pytest

from graphstore import Storage, StoreError
from graphstore.backends.postgres_parallel import SIDE_CONNECTIONS
from test_parallel_reads import chain, f, h


def idle_in_transaction(conn: psycopg.Connection) -> bool:
    return conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


def test_execute_many_gives_each_statements_rows_in_order(pg_url):
    s = Storage(pg_url)
    chain(s, 20)
    backend = s.backend
    statements = [
        (f"SELECT count(*) + {k} FROM calls WHERE op_name = %s", (op_name,))
        for k, op_name in enumerate(["f", "g", "h", "nope"] * 5)
    ]
    assert backend.execute_many(statements) == [backend.execute(sql, p) for sql, p in statements]
    assert 1 <= len(backend.parallel.sides) <= SIDE_CONNECTIONS
    s.close()
    assert backend.parallel.sides == []


def test_three_connections_work_at_once(pg_url):
    """Each statement waits until two other threads have started one too: only side by side can they finish."""
    s = Storage(pg_url)
    backend = s.backend
    meeting = threading.Barrier(1 + SIDE_CONNECTIONS, timeout=30)
    threads = set()

    def tracer(sql, params):
        if sql.startswith("SELECT 'meet'"):
            threads.add(threading.current_thread().name)
            meeting.wait()

    backend.tracer = tracer
    statements = [(f"SELECT 'meet', {k}", ()) for k in range(1 + SIDE_CONNECTIONS)]
    assert backend.execute_many(statements) == [[("meet", k)] for k in range(1 + SIDE_CONNECTIONS)]
    assert len(threads) == 1 + SIDE_CONNECTIONS
    s.close()


def test_a_failing_statement_is_a_store_error_and_the_store_stays_usable(pg_url):
    s = Storage(pg_url)
    chain(s, 3)
    with pytest.raises(StoreError, match="missing_table"):
        s.backend.execute_many([("SELECT 1", ()), ("SELECT * FROM missing_table", ()), ("SELECT 2", ())])
    assert s.backend.execute_many([("SELECT 1", ()), ("SELECT 2", ()), ("SELECT 3", ())]) == [[(1,)], [(2,)], [(3,)]]
    s.close()


def test_a_stream_gives_each_sets_rows_in_order_from_several_connections(pg_url):
    s = Storage(pg_url)
    chain(s, 40)
    threads = set()
    s.backend.tracer = lambda sql, params: (
        sql.startswith("SELECT count(*) +") and threads.add(threading.current_thread().name)
    )
    sets = [(k, name) for k in range(6) for name in ("f", "g", "h", "nope")]
    sql = "SELECT count(*) + %s FROM calls WHERE op_name = %s"
    streamed = list(s.backend.execute_stream(sql, sets, ahead=1))
    s.backend.tracer = None
    assert streamed == [s.backend.execute(sql, p) for p in sets]
    assert len(threads) == SIDE_CONNECTIONS  # the side connections' workers read them all
    s.close()


def test_a_stream_reads_one_snapshot_on_every_connection(pg_url):
    """Calls another process commits after the first set was read are in none of the later sets, whichever side
    connection reads them."""
    s = Storage(pg_url)
    chain(s, 10)
    stream = s.backend.execute_stream("SELECT count(*) FROM calls", [()] * 12, ahead=1)
    first = next(stream)
    other = Storage(pg_url)
    with other:
        for i in range(1000, 1005):
            f(i)
    other.close()
    assert [first] + list(stream) == [[(30,)]] * 12
    assert list(s.backend.execute_stream("SELECT count(*) FROM calls", [()] * 2)) == [[(35,)]] * 2  # a new one
    s.close()


def test_a_stream_left_early_or_failing_leaves_every_connection_usable(pg_url):
    s = Storage(pg_url)
    chain(s, 10)
    stream = s.backend.execute_stream("SELECT %s::int", [(k,) for k in range(50)])
    assert next(stream) == [(0,)]
    stream.close()  # the workers stop and end their transactions
    assert s.backend.parallel.sides and not any(idle_in_transaction(c) for c in s.backend.parallel.sides)
    with pytest.raises(StoreError, match="missing_table"):
        list(s.backend.execute_stream("SELECT * FROM missing_table WHERE %s = 1", [(1,), (2,), (3,)]))
    assert not any(idle_in_transaction(c) for c in s.backend.parallel.sides)
    assert list(s.backend.execute_stream("SELECT %s::int", [(1,), (2,)])) == [[(1,)], [(2,)]]
    s.close()


def test_statements_run_while_a_stream_is_read_do_not_wait_for_it(pg_url):
    """The side connections are busy with a stream; statements the caller runs meanwhile (its ``idle`` work) run
    on the main connection instead of waiting for them."""
    s = Storage(pg_url)
    chain(s, 10)
    backend = s.backend
    seen = []

    def idle():
        seen.append(backend.execute_many([("SELECT 1", ()), ("SELECT 2", ()), ("SELECT 3", ())]))
        return len(seen) < 3

    rows = list(backend.execute_stream("SELECT %s::int, pg_sleep(0.05)", [(k,) for k in range(6)], idle=idle))
    assert [r[0][0] for r in rows] == list(range(6))
    assert seen and all(x == [[(1,)], [(2,)], [(3,)]] for x in seen)
    s.close()


def test_a_frame_uses_at_most_four_connections(pg_url, monkeypatch):
    """A history table read in many chunks on side connections: the same table as read on one connection, and
    the process never holds more than the main, the writer's and the side connections."""
    import graphstore.query.rows

    s = Storage(pg_url)
    chain(s, 200)
    monkeypatch.setattr(graphstore.query.rows, "CHUNK_ROWS", 7)
    one = Storage(pg_url)
    one.backend.parallel.connections = 0  # everything on the main connection
    alone = one.cf(h).expand_all().df()
    assert one.backend.parallel.sides == []
    one.close()
    df = s.cf(h).expand_all().df()
    assert [c.hid for c in df["h"]] == [c.hid for c in alone["h"]] and len(df) == 200
    assert list(df["var_0"]) == list(alone["var_0"])
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        (n,) = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,)
        ).fetchone()
    assert len(s.backend.parallel.sides) == SIDE_CONNECTIONS
    assert n == 2 + SIDE_CONNECTIONS  # the main connection, the writer's, the side ones
    s.close()


def test_sessions_plan_with_cheap_index_reads_unless_the_server_says_otherwise(pg_url):
    s = Storage(pg_url)
    assert s.backend.execute("SELECT current_setting('random_page_cost'), current_setting('jit')") == [("1.1", "off")]
    s.close()
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET random_page_cost = 2')
    s = Storage(pg_url)
    assert s.backend.execute("SELECT current_setting('random_page_cost'), current_setting('jit')") == [("2", "off")]
    s.close()
