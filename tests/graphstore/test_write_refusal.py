"""One bad record fails its own call and nothing else: the calls recorded before and after it are stored.

SQLite only where a test meets SQLite's own limits (row size, the file's writes).
"""

from __future__ import annotations

import sqlite3

import pytest

from graphstore import Storage, WriteRefusedError, op
from store_tools import value_files


@op
def small(i):
    return i * 3


@op
def huge(n):
    return b"\x07" * n


@op
def grow(i):
    return b"g" * (20_000 + i)  # over the lowered limit of the test below


@op
def after(x):
    return x[:3]


def _stored(path: str) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT op_name, count(*) FROM calls GROUP BY op_name").fetchall())
    finally:
        conn.close()


def test_a_value_over_sqlites_row_limit_is_kept_in_files_of_its_own(db_path):
    # the threshold lets a 1 GB value through, but no SQLite row can hold it: it goes to the overflow folder beside
    # the store, and the calls around it are stored as usual
    storage = Storage(db_path, overflow_threshold_MB=5_000)
    try:
        with storage:
            for i in range(100):
                small(i)
            huge(1_000_000_001)
            for i in range(100, 300):
                small(i)
        assert _stored(db_path) == {"small": 300, "huge": 1}
        assert len(value_files(db_path + "-overflow")) == 1
        assert storage.check(full=False).ok
    finally:
        storage.close()


def test_a_value_over_sqlites_row_limit_goes_to_the_overflow_folder(tmp_path):
    storage = Storage(str(tmp_path / "s.db"), overflow_dir=str(tmp_path / "big"), overflow_threshold_MB=5_000)
    try:
        with storage:
            ref = huge(1_000_000_001)
        assert len(value_files(tmp_path / "big")) == 1
        assert storage.check(full=False).ok
        with storage:
            again = huge(1_000_000_001)
        assert not again.in_memory and again.cid == ref.cid
    finally:
        storage.close()


def test_a_batch_the_store_refuses_keeps_every_other_call(db_path, monkeypatch):
    """The store file itself refuses some rows (here: SQLite's length limit lowered on the connection that writes):
    the refused calls, and the calls that used their results, are reported by op; every other call is stored and
    later batches are not held back."""
    monkeypatch.setenv("GRAPHSTORE_WRITER_PROCESS", "0")
    storage = Storage(db_path)
    try:
        conn, _ = storage.backend.db.writer()
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 10_000)
        with pytest.raises(WriteRefusedError) as info:
            with storage:
                for i in range(100):
                    small(i)
                g = grow(1)  # 20 kB: the store refuses it when the batch is written
                after(g)  # uses the refused value: dropped with it
                for i in range(100, 300):
                    small(i)
        message = str(info.value)
        assert "op grow" in message and "'output_0'" in message and "op after" in message
        assert "2 recorded call(s)" in message
        assert _stored(db_path) == {"small": 300}
        with storage:  # later batches are written as usual
            for i in range(300, 310):
                small(i)
        assert _stored(db_path) == {"small": 310}
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000_000)
        with storage:  # not memoized: computed and stored now that the store takes it
            storage.unwrap(after(grow(1)))
        assert _stored(db_path) == {"small": 310, "grow": 1, "after": 1}
        assert storage.check().ok
    finally:
        storage.close()
