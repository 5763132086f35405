"""The durability bound under ``kill -9``, for ops that hold the interpreter lock, trivial ops and sleeping ops, with
the writing done in the recording process and by its helper process.

The child notes each completed call in shared memory (no system call: reporting never hands the interpreter lock to
the writer, as printing would), and is killed at a random time. Every call it completed more than
``DURABILITY_BOUND_S`` before the kill must be in the store, which must open, pass ``check()`` and retrace them.
A longer soak of the same test is ``benchmarks/kill_soak.py``.

SQLite only: the file store's durability bound under kill -9 (PostgreSQL's writers: test_postgres_writers.py).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

import reliability_worker as rw
from graphstore import NewCallsNotAllowedError, Storage
from graphstore.writer import DURABILITY_BOUND_S
from test_crash import wait_for_helpers

KILLS_PER_CASE = 3


def kill_trial(tmp_path, kind: str, helper: str, delay: float) -> dict:
    """Run one ``durable`` child, SIGKILL it ``delay`` seconds after it is ready, and compare what it completed with
    what the store kept."""
    path, progress = str(tmp_path / f"{kind}-{helper}.db"), str(tmp_path / f"{kind}-{helper}.progress")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    env = dict(os.environ, GRAPHSTORE_WRITER_PROCESS=helper)
    proc = subprocess.Popen(
        [sys.executable, rw.__file__, "durable", path, kind, progress],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    time.sleep(delay)
    killed_at = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    wait_for_helpers(path)
    done = rw.read_progress(progress)
    durable = sum(1 for t in done if t < killed_at - DURABILITY_BOUND_S)
    step = rw.DURABLE_STEPS[kind]
    storage = Storage(path, read_only=True)
    try:
        report = storage.check()
        assert report.ok, report.problems
        stored = storage.cache_info()["calls"]
        with storage.allow_new_calls(False), storage:
            prev = None
            for i in range(stored):  # every kept call retraces
                prev = step(i, prev)
            with pytest.raises(NewCallsNotAllowedError):
                step(stored, prev)
    finally:
        storage.close()
    lost = [killed_at - t for t in done[stored:durable]]
    return {
        "completed": len(done),
        "durable": durable,
        "stored": stored,
        "lost": len(lost),
        "oldest_unstored_s": round(killed_at - done[stored], 3) if stored < len(done) else 0.0,
    }


@pytest.mark.parametrize("helper", ["0", "always"], ids=["in-process", "helper-process"])
@pytest.mark.parametrize("kind", ["cpu", "trivial", "sleep"])
def test_kill_9_keeps_every_call_older_than_the_bound(tmp_path, kind, helper):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    for trial in range(KILLS_PER_CASE):
        delay = rng.uniform(0.6, 1.6)
        result = kill_trial(tmp_path, kind, helper, delay)
        print(f"seed {seed} {kind}/{helper} trial {trial}: killed after {delay:.2f} s: {result}")
        assert result["completed"] > 0
        assert result["lost"] == 0, (seed, delay, result)
