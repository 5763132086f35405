"""Transactions of the PostgreSQL store run again after a real deadlock, and after losing their connection."""

from __future__ import annotations

import threading

import psycopg

from graphstore.backends.postgres_conn import PgConnections


def test_a_deadlocked_transaction_runs_again(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as setup:
        setup.execute("CREATE TABLE t (k int PRIMARY KEY, v int)")
        setup.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
    seen: list[str] = []
    db = PgConnections(pg_url, tracer=lambda sql, params: seen.append(sql))
    other = psycopg.connect(pg_url)  # locks row 1, then wants row 2
    other.execute("SET deadlock_timeout = '10s'")  # (so the store's transaction is the one the server ends)
    other.execute("UPDATE t SET v = v + 1 WHERE k = 1")
    holding = threading.Event()
    runs: list[int] = []

    def body(conn: psycopg.Connection) -> str:
        runs.append(1)
        conn.execute("SET LOCAL deadlock_timeout = '100ms'")
        conn.execute("UPDATE t SET v = v + 10 WHERE k = 2")
        if len(runs) == 1:
            holding.set()
        conn.execute("UPDATE t SET v = v + 10 WHERE k = 1")  # waits for the other; the first time, deadlocks
        return "done"

    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(db.transaction(body)))
    worker.start()
    assert holding.wait(10)
    other.execute("UPDATE t SET v = v + 1 WHERE k = 2")  # blocks until the store's transaction is ended
    other.commit()
    worker.join(30)
    other.close()
    assert result == ["done"] and len(runs) == 2
    assert any(sql == "ROLLBACK" for sql in seen)
    with psycopg.connect(pg_url) as check:
        assert dict(check.execute("SELECT k, v FROM t")) == {1: 11, 2: 11}  # each transaction's work once
    db.close()


def test_a_transaction_whose_connection_is_lost_runs_again(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as setup:
        setup.execute("CREATE TABLE t (k int PRIMARY KEY)")
    db = PgConnections(pg_url)
    runs: list[int] = []

    def body(conn: psycopg.Connection) -> None:
        runs.append(1)
        if len(runs) == 1:
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        conn.execute("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING")

    db.transaction(body)
    assert len(runs) == 2
    assert db.run("SELECT count(*) FROM t") == [(1,)]
    db.close()
