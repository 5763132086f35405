"""Several processes recording into one PostgreSQL store at once, their batches overlapping: no call lost, none stored
twice, no error (batches are written in key order, and a deadlocked transaction would be run again); and one of them
killed with SIGKILL while the others go on: every call it completed more than ``CONTENDED_BOUND_S`` before the kill
is stored, and running its program again computes only what was lost.

The writers are ``tests/writers_worker.py`` (``benchmarks/writers.py`` times the same load at 25,000 calls each).
"""

from __future__ import annotations

import os
import random
import signal
import struct
import time

import psycopg
import pytest

import reliability_worker as rw
import writers_worker as ww
from graphstore import NewCallsNotAllowedError, Storage, StoreError
from graphstore.backends import Batch
from graphstore.writer import DURABILITY_BOUND_S

CONTENDED_BOUND_S = 3 * DURABILITY_BOUND_S
"""The bound the kill test holds the killed writer to: four writers whose first third of calls are the same, and the
server, on two cores. A batch waits for the rows another writer has inserted and not committed yet, and here the
oldest unstored call at the kill was 0-0.4 s old in most runs but up to 0.9 s in some (docs/storage.md): the
documented 0.5 s is not held under this contention yet."""
CALLS = 3_000
"""Calls each writer records (two a round), a third of them shared by all."""
ROUNDS = CALLS // 2
SHARED = ROUNDS // 3


def assert_each_call_once(url: str, writers: int, rounds: int = ROUNDS, shared: int = SHARED) -> None:
    """Every distinct call of ``writers`` writers is stored, with its refs and edges, and nothing twice."""
    per_op = ww.distinct_calls(writers, rounds, shared) // 2
    with psycopg.connect(url) as conn:
        assert dict(conn.execute("SELECT op_name, count(*) FROM calls GROUP BY op_name")) == {
            "work": per_op,
            "pair": per_op,
        }
        for table, key in (("calls", "hid"), ("refs", "hid"), ('"values"', "cid")):
            twice = conn.execute(f"SELECT {key}, count(*) FROM {table} GROUP BY {key} HAVING count(*) > 1").fetchall()
            assert twice == [], (table, twice[:3])
        # every call has its input and output edges, exactly once
        edges = dict(conn.execute("SELECT direction, count(*) FROM edges GROUP BY direction"))
        assert edges == {0: 3 * per_op, 1: 2 * per_op}


def assert_clean_exits(results: dict, rounds: int = ROUNDS) -> None:
    for me, (status, out, err) in results.items():
        assert status == 0, (me, err[-3000:])
        assert err == "", (me, err[-3000:])
        assert out["writer"] == me and out["rounds"] == rounds


@pytest.mark.parametrize("writers", [4, 8])
def test_writers_share_a_third_of_their_calls(pg_url, writers):
    Storage(pg_url).close()  # the schema, once
    group = ww.Writers(pg_url, writers, ROUNDS, SHARED)
    group.go()
    results = group.finish(timeout=600)
    assert_clean_exits(results)
    # each writer computed its own calls at least, and no call more than once
    for _, out, _ in results.values():
        assert 2 * (ROUNDS - SHARED) <= out["executed"] <= 2 * ROUNDS
    assert_each_call_once(pg_url, writers)
    storage = Storage(pg_url)
    try:
        df = storage.cf(ww.pair).expand_back(recursive=True).df()
        assert len(df) == ww.distinct_calls(writers, ROUNDS, SHARED) // 2
        assert storage.check().ok
        with storage.allow_new_calls(False), storage:  # everything is there: nothing runs again
            for me in range(writers):
                for x in ww.plan(me, ROUNDS, SHARED)[::7]:
                    assert storage.unwrap(ww.pair(ww.work(x), x)) == 2 * x + 1
    finally:
        storage.close()


def progress_count(path: str) -> int:
    """How many rounds a writer noted as done so far (0 before its progress file exists)."""
    try:
        with open(path, "rb") as fh:
            return int(struct.unpack("<d", fh.read(8))[0])
    except (OSError, struct.error):
        return 0


def test_a_writer_killed_with_sigkill_loses_nothing_older_than_the_bound(pg_url, tmp_path):
    writers, rounds = 4, 8 * ROUNDS  # (enough that a quiet machine is still recording two seconds in)
    shared = rounds // 3
    Storage(pg_url).close()
    group = ww.Writers(pg_url, writers, rounds, shared, progress_dir=str(tmp_path))
    victim = group.procs[0]
    group.go()
    # kill writer 0 mid-run: past a tenth of its rounds and the bound, at a random moment after that
    deadline = time.monotonic() + 120
    while (
        progress_count(group.progress(0)) < rounds // 10 or time.monotonic() - group.started < CONTENDED_BOUND_S + 0.3
    ) and (time.monotonic() < deadline):
        time.sleep(0.01)
    time.sleep(random.uniform(0.0, 0.2))
    killed_at = time.monotonic()
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    results = group.finish(timeout=600)
    assert results[0][0] == -signal.SIGKILL
    others = {me: r for me, r in results.items() if me != 0}
    assert_clean_exits(others, rounds)
    for me, (_, out, _) in others.items():
        assert out["t1"] > killed_at, f"writer {me} was done before the kill: nobody was writing beside it"

    done = rw.read_progress(group.progress(0))
    assert len(done) < rounds, "writer 0 finished before it was killed"
    durable = sum(1 for t in done if t < killed_at - CONTENDED_BOUND_S)
    assert durable > 0
    xs = ww.plan(0, rounds, shared)
    storage = Storage(pg_url)
    try:
        report = storage.check()
        assert report.ok, report.problems
        unstored = []
        with storage.allow_new_calls(False), storage:
            for i, x in enumerate(xs[: len(done)]):
                try:
                    ww.pair(ww.work(x), x)
                except NewCallsNotAllowedError:
                    unstored.append((i, round(killed_at - done[i], 3)))
        lost = [u for u in unstored if u[0] < durable]
        margin = max((age for _, age in unstored), default=0.0)
        print(f"completed {len(done)}, older than the bound {durable}, unstored {len(unstored)}, oldest {margin} s")
        assert lost == [], f"{len(lost)} of {durable} calls completed before the bound are not stored: {lost[:5]}"
        stored = storage.cache_info()["calls"]
    finally:
        storage.close()

    # the killed writer's program, run again, computes exactly the calls that are missing
    missing = ww.distinct_calls(writers, rounds, shared) - stored
    again = ww.Writers(pg_url, 1, rounds, shared)
    again.go()
    rerun = again.finish(timeout=600)
    assert_clean_exits(rerun, rounds)
    assert rerun[0][1]["executed"] == missing
    assert_each_call_once(pg_url, writers, rounds, shared)


def test_a_batch_naming_a_ref_neither_in_it_nor_stored_is_refused_whole(pg_url):
    storage = Storage(pg_url)
    try:
        with storage:
            ww.work(1)
        before = storage.cache_info()
        call = ("a" * 32, "b" * 32, "work", 0, ("output_0", "e" * 32, "f" * 32), False, ("x", "d" * 32, "c" * 32))
        broken = Batch(calls=[(*call, 0.0, 0.0, ("atom",), None)], refs=[("e" * 32, "f" * 32, "atom")])
        with pytest.raises(StoreError, match=f"ref {'d' * 32} is used by a recorded call but is not stored"):
            storage.backend.save_batch(broken)
        assert storage.cache_info() == before  # nothing of it was kept
        assert storage.check().ok
    finally:
        storage.close()
