"""Crashes: ``kill -9`` of a recording process, and exceptions inside ``with storage:`` and inside ops.

The durability bound (graphstore.writer.DURABILITY_BOUND_S): every call completed more than that long before a crash
is on disk, and the crashed store opens, passes check() and retraces every call it kept.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import threading
import time

import pytest

import reliability_worker as rw
from graphstore import NewCallsNotAllowedError, Storage, op
from graphstore.writer import DURABILITY_BOUND_S
from store_tools import rows_elsewhere

ROUNDS = 5


def _run_and_kill(path: str, overflow_dir: str, delay: float) -> tuple[list[tuple[int, float]], float]:
    """Start the crash worker, SIGKILL it ``delay`` seconds after it is ready; returns (completed calls, kill time)."""
    proc = subprocess.Popen(
        [sys.executable, rw.__file__, "crash", path, overflow_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = proc.stdout.readline()
    assert ready.strip() == "ready", proc.stderr.read()
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout))
    reader.start()
    time.sleep(delay)
    killed_at = time.monotonic()  # CLOCK_MONOTONIC: the same clock the child prints
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    done = []
    for line in lines:
        parts = line.split()
        if line.endswith("\n") and len(parts) == 2:  # the last line may have been cut by the kill
            done.append((int(parts[0]), float(parts[1])))
    return done, killed_at


def wait_for_helpers(path: str) -> None:
    """Wait until every helper process writing to the store at ``path`` has exited (a killed recording process's
    helper finishes the batches it had received, then exits): each is waited for through a pidfd, which becomes
    readable when its process ends."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                args = fh.read().split(b"\0")
            if not any(b"graphstore.backends.sqlite_helper" in a for a in args) or os.fsencode(path) not in args:
                continue
            fd = os.pidfd_open(int(pid))
        except OSError:  # gone already
            continue
        try:
            select.select([fd], [], [])
        finally:
            os.close(fd)


def _retrace_chain(storage: Storage, n: int) -> object:
    prev = None
    for i in range(n):
        prev = rw.chain_step(i, prev)
    return prev


def test_kill_9_keeps_every_call_older_than_the_durability_bound(tmp_path):
    path, overflow = str(tmp_path / "crash.db"), str(tmp_path / "overflow")
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"\ncrash test seed {seed}")
    stored_before = 0
    for round_no in range(ROUNDS):
        done, killed_at = _run_and_kill(path, overflow, rng.uniform(0.3, 1.5))
        assert done, "the child completed no call before the kill"
        assert [i for i, _ in done] == list(range(len(done)))
        durable = [i for i, t in done if t < killed_at - DURABILITY_BOUND_S]
        wait_for_helpers(path)

        storage = Storage(path, overflow_dir=overflow, overflow_threshold_MB=rw.CRASH_THRESHOLD_MB)
        try:
            report = storage.check()
            assert report.ok, report.problems
            stored = storage.cache_info()["calls"]
            # every call completed more than the bound before the kill is on disk (calls are written in order)
            assert stored >= len(durable), (round_no, stored, len(durable))
            assert stored >= stored_before  # later rounds retrace earlier calls and lose none of them
            assert stored <= len(done) + 1  # at most the call whose line the kill cut off
            mark = len(rw.EXECUTED)
            with storage.allow_new_calls(False), storage:
                last = _retrace_chain(storage, stored)  # every kept call retraces; nothing runs
            assert len(rw.EXECUTED) == mark
            with storage.allow_new_calls(False), storage:
                with pytest.raises(NewCallsNotAllowedError):
                    rw.chain_step(stored, last)  # and nothing past them was kept
            big = (stored - 1) // rw.OVERFLOW_EVERY * rw.OVERFLOW_EVERY
            with storage.allow_new_calls(False), storage:
                value = storage.unwrap(_retrace_chain(storage, big + 1))
            assert value == bytes([big % 251]) * 3000  # an overflow value, read back whole
        finally:
            storage.close()
        print(f"round {round_no}: {len(done)} calls completed, {len(durable)} older than the bound, {stored} on disk")
        stored_before = stored
    assert len(os.listdir(overflow)) >= 1


# --- exceptions inside `with storage:` and inside ops -----------------------------------------------------------------


def _stored_calls(location: str) -> dict[str, int]:
    return dict(rows_elsewhere(location, "SELECT op_name, count(*) FROM calls GROUP BY op_name"))


@pytest.mark.parametrize("error", [ValueError("boom"), KeyboardInterrupt()])
def test_an_exception_in_the_block_keeps_every_completed_call(db_path, store_kind, log, error):
    @op
    def inc(x):
        log.append("inc")
        return x + 1

    storage = Storage(db_path)
    try:
        with pytest.raises(type(error)):
            with storage:
                for i in range(25):
                    inc(i)
                raise error
        # written when the block was left, visible to any other connection at once
        assert _stored_calls(db_path) == {"inc": 25}
        assert storage.cache_info()["pending_calls"] == 0
        with storage.allow_new_calls(False), storage:
            assert storage.unwrap(inc(24)) == 25
        assert log.count("inc") == 25
    finally:
        storage.close()


def test_an_exception_in_an_op_stores_nothing_for_that_call(db_path, store_kind, log):
    @op
    def inc(x):
        log.append("inc")
        return x + 1

    @op
    def fails_after_work(x):
        log.append("fails_after_work")
        y = inc(x)  # a nested call, completed before the failure: kept
        if x > 0:
            raise RuntimeError(f"failing on {x}")
        return y

    storage = Storage(db_path)
    try:
        with storage:
            fails_after_work(0)
        before = storage.cache_info()
        with pytest.raises(RuntimeError, match="failing on 5"):
            with storage:
                fails_after_work(5)
        after = storage.cache_info()
        assert _stored_calls(db_path) == {"inc": 2, "fails_after_work": 1}
        assert after["calls"] == before["calls"] + 1  # only the nested inc(5)
        assert after["values"] == before["values"] + 2  # 5 and 6, the nested call's; nothing of the failed call
        with pytest.raises(RuntimeError):  # not memoized: it runs (and fails) again
            with storage:
                fails_after_work(5)
        assert log.count("fails_after_work") == 3 and log.count("inc") == 2
        assert storage.check().ok
    finally:
        storage.close()
