"""Forked processes (``multiprocessing`` with ``fork``, ``os.fork``) record into the parent's store correctly, or fail
at once with a clear error: never lose calls silently, never hang.

SQLite only: the fork handling of the file store and its helper process.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time

import pytest

from graphstore import Storage, StoreError, op
from store_tools import wait_for_helper

STORAGES: dict[str, Storage] = {}


@op
def square(x):
    return x * x


def _work(i):
    return square(i)  # inside the parent's `with storage:`, inherited by the forked worker


def _stored(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM calls WHERE op_name = 'square'").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("helper", ["0", "always"], ids=["in-process", "helper-process"])
def test_pool_workers_forked_inside_a_context_record_every_call(db_path, monkeypatch, helper):
    monkeypatch.setenv("GRAPHSTORE_WRITER_PROCESS", helper)
    storage = Storage(db_path)
    try:
        with storage:
            square(-1)  # the parent has a call waiting (and, with a helper process, the helper up) at the fork
            with multiprocessing.get_context("fork").Pool(4) as pool:
                refs = pool.map(_work, range(400))
        # every worker's call was written before its Ref came back, though the pool terminated the workers
        assert _stored(db_path) == 401
        assert storage.check().ok
        other = Storage(db_path, read_only=True)
        try:
            assert [other.unwrap(other.load_ref(r.hid, in_memory=False)) for r in refs[:50]] == [
                i * i for i in range(50)
            ]
        finally:
            other.close()
        with storage.allow_new_calls(False), storage:  # the parent retraces all of them: nothing runs
            assert [storage.unwrap(square(i)) for i in range(400)] == [i * i for i in range(400)]
    finally:
        storage.close()


def test_a_forked_child_of_an_in_memory_store_fails_at_once():
    storage = Storage()
    with storage:
        square(-1)
        with multiprocessing.get_context("fork").Pool(2) as pool:
            with pytest.raises(StoreError, match="in-memory store cannot be used in a process forked"):
                pool.map(_work, range(4))
    assert storage.cache_info()["calls"] == 1


def _wait_for_child(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(f"the forked child did not finish within {timeout} s (it hangs)")


def test_a_child_forked_while_the_writer_holds_its_lock_does_not_hang(db_path, monkeypatch):
    monkeypatch.setenv("GRAPHSTORE_WRITER_PROCESS", "0")
    storage = Storage(db_path)
    blocker = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        with storage:
            square(1)
            blocker.execute("BEGIN IMMEDIATE")  # the store is locked: the background write waits, holding its lock
            threading.Timer(1.0, lambda: blocker.execute("COMMIT")).start()
            time.sleep(0.5)
            assert storage._pending._out  # the write is in progress at the fork
            pid = os.fork()
            if pid == 0:  # the child: record one call of its own, then leave at once
                code = 1
                try:
                    square(2)
                    code = 0 if _stored(db_path) >= 1 else 2
                finally:
                    os._exit(code)
            assert _wait_for_child(pid, 30) == 0
        assert _stored(db_path) == 2
        assert storage.check().ok
    finally:
        blocker.close()
        storage.close()


def test_a_long_lived_child_does_not_hold_the_parents_helper_open(db_path, monkeypatch):
    monkeypatch.setenv("GRAPHSTORE_WRITER_PROCESS", "always")
    storage = Storage(db_path)
    with storage:
        square(3)
        assert wait_for_helper(storage)
    helper = storage.backend.helper.process.proc
    pid = os.fork()
    if pid == 0:
        time.sleep(8)  # a worker that lives on, holding whatever it inherited
        os._exit(0)
    try:
        closer = threading.Thread(target=storage.close)
        closer.start()
        closer.join(5)
        assert not closer.is_alive(), "closing waited for the child: it kept the helper's input open"
        assert helper.poll() is not None  # the helper saw the end of its input and exited
        assert _stored(db_path) == 1
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def test_pool_workers_replaced_after_each_task_record_every_call(db_path):
    """With ``maxtasksperchild``, the pool forks new workers from its own thread, which entered no context: they
    record into the context the parent's other thread is in, as the parent's threads would."""
    storage = Storage(db_path)
    try:
        with storage:
            with multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1) as pool:
                refs = pool.map(_work, range(12), chunksize=1)
        assert _stored(db_path) == 12
        assert all(r.hid for r in refs)
    finally:
        storage.close()
