"""The test server itself: each test gets a database of its own, empty."""

from __future__ import annotations

import psycopg


def test_fresh_database(pg_url):
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE t (x int)")
