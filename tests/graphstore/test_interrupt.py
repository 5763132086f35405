"""Ctrl-C while the storage waits for its helper process to write a batch: the interrupted batch stays pending, and
every later write is confirmed for itself (no reply is taken for the wrong batch).

SQLite only: the helper process is the SQLite store's.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading

import pytest

from graphstore import Storage, op
from store_tools import wait_for_helper


@op
def triple(x):
    return 3 * x


def _stored(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM calls WHERE op_name = 'triple'").fetchone()[0]
    finally:
        conn.close()


def test_ctrl_c_while_waiting_for_the_helper_loses_nothing(db_path, monkeypatch):
    monkeypatch.setenv("GRAPHSTORE_WRITER_PROCESS", "always")
    storage = Storage(db_path)
    blocker = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        with storage:
            triple(0)
            assert wait_for_helper(storage)
        assert _stored(db_path) == 1
        storage._pending.max_delay = 3600  # only the block's end writes
        blocker.execute("BEGIN IMMEDIATE")  # the helper's next write must wait for this lock
        with pytest.raises(KeyboardInterrupt):
            with storage:
                for i in range(1, 101):
                    triple(i)
                # leaving the block sends the batch and waits for the helper, which waits for the lock: Ctrl-C then
                threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        blocker.execute("COMMIT")
        # the next blocks end only once their own calls are in the store
        for block in range(3):
            with storage:
                for i in range(101 + 50 * block, 151 + 50 * block):
                    triple(i)
            assert _stored(db_path) == 151 + 50 * block
        assert storage.cache_info()["pending_calls"] == 0
        assert storage.check().ok
    finally:
        blocker.close()
        storage.close()
