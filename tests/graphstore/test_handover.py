"""Batches handed over to the helper process: several on their way at once, the recording thread never waiting for
a commit, and a failed or lost batch written again here with the batches sent after it, nothing lost or doubled.

SQLite only: the helper process is the SQLite store's (the PostgreSQL store writes in a thread).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time

import pytest

from graphstore import Storage, WriteRefusedError, op
from test_writer_process import EXECUTED, add, inc, with_helper


def _stored(path: str) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT op_name, count(*) FROM calls GROUP BY op_name").fetchall())
    finally:
        conn.close()


class _Locked:
    """Another connection holding the store's write lock: the helper waits, so no batch handed over is written.
    Released on leaving its block (also when an assertion in it fails, so the storage's exit does not wait)."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN IMMEDIATE")
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.conn.execute("COMMIT")
            self.conn.close()

    def __enter__(self) -> _Locked:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _spoil_last_call(s: Storage) -> None:
    """Give the last recorded call an op name no SQLite text column can take (a lone surrogate): the helper's
    insert fails on it, as on any record the store refuses."""
    gen = s._pending._current
    row = gen.batch.calls[-1]
    bad = (row[0], row[1], "inc\ud800", *row[3:])
    gen.batch.calls[-1] = bad
    gen.calls[row[0]] = bad
    gen.calls_by_cid[row[1]] = bad


def test_several_batches_are_on_their_way_at_once_and_a_refused_call_fails_alone(db_path):
    s = with_helper(db_path)
    s._pending.max_delay = 1e9  # batches leave only when handed over below
    EXECUTED.clear()
    try:
        with pytest.raises(WriteRefusedError) as info:
            with s, _Locked(db_path):
                for i in range(50):
                    inc(i)
                assert s._pending.hand_over()
                bad = inc(-1)
                _spoil_last_call(s)
                for i in range(50, 2_050):  # more than a pipe holds: the helper reads ahead while it waits
                    inc(i)
                assert s._pending.hand_over()
                add(bad, bad)  # uses the refused call's result: dropped with it
                for i in range(2_050, 2_100):
                    inc(i)
                assert s._pending.hand_over()
                assert len(s._pending._sent) == 3  # all three handed over, none written yet
                assert s._pending.handed_over_calls() == 2_102
                assert s.unwrap(inc(7)) == 8 and EXECUTED.count(7) == 1  # lookups see what is on its way
        message = str(info.value)
        assert "op inc\ud800" in message and "op add" in message and "2 recorded call(s)" in message
        assert _stored(db_path) == {"inc": 2_100}
        assert s.check().ok
        with s:  # later batches go through the helper again, and the refused call is computed anew
            assert s.unwrap(add(inc(-1), inc(-1))) == 0
            inc(5_000)
        assert s.backend.helper_ready()
        assert _stored(db_path) == {"inc": 2_102, "add": 1}
    finally:
        s.close()


def test_batches_on_their_way_to_a_helper_that_dies_are_written_here(db_path):
    s = with_helper(db_path)
    s._pending.max_delay = 1e9
    EXECUTED.clear()
    try:
        with s, _Locked(db_path) as lock:
            for start in (0, 300, 600):
                for i in range(start, start + 300):
                    inc(i)
                assert s._pending.hand_over()
            assert len(s._pending._sent) == 3
            # (the background thread may see the helper gone first: the warning is awaited from the kill on)
            with pytest.warns(RuntimeWarning, match="helper process writing its batches has exited"):
                helper = s.backend.helper.process.proc
                os.kill(helper.pid, signal.SIGKILL)
                helper.wait()
                lock.release()
                s.commit()
        assert s.backend.helper.process is None
        assert _stored(db_path) == {"inc": 900}
        with s.allow_new_calls(False), s:
            assert [s.unwrap(inc(i)) for i in range(900)] == list(range(1, 901))
        assert sorted(EXECUTED) == list(range(900))  # none computed twice
        assert s.check().ok
    finally:
        s.close()


@op
def busy(i):
    end = time.perf_counter() + 0.0002  # plain Python holding the interpreter lock
    while time.perf_counter() < end:
        pass
    return i


def test_recording_goes_on_while_the_store_cannot_be_written(db_path):
    """With the store locked for 2 s, recording keeps going: the calls older than the back-pressure age are handed
    to the helper (safe from a crash of this process) instead of the recording thread waiting for a commit."""
    s = with_helper(db_path)
    lock = _Locked(db_path)
    timer = threading.Timer(2.0, lock.release)
    timer.start()
    try:
        with s:
            recorded, most_sent, deadline = 0, 0, time.monotonic() + 1.5
            while time.monotonic() < deadline:
                busy(recorded)
                recorded += 1
                most_sent = max(most_sent, len(s._pending._sent))
            assert lock.held  # still locked: nothing could be written meanwhile
            assert most_sent >= 2  # handed over batch after batch, without waiting
            assert s._pending.handed_over_calls() > recorded / 2
        assert _stored(db_path) == {"busy": recorded}
        assert s.check().ok
    finally:
        timer.join()
        s.close()
