"""Many writers on one SQLite store: processes and threads recording at once, overlapping calls included.

Every writer must succeed (no lock error reaches it), a call computed by several writers ends as one record, and a
later process retraces everything without running an op.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading

import reliability_worker as rw
from graphstore import Storage
from store_tools import MIGRATION_NAMES, make_store_at_version, value_files

WORKER = rw.__file__
N_WORKERS = 4
ROUNDS = 1000  # each round is two calls: shared_step(i), the same in every worker, and own_step(worker, ...)


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, WORKER, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _start_together(procs: list[subprocess.Popen]) -> None:
    """Wait until every child is ready, then release them all at once."""
    for p in procs:
        line = p.stdout.readline()
        assert line.strip() == "ready", (line, p.stderr.read())
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()


def _finish(procs: list[subprocess.Popen], timeout: float = 120) -> list[dict]:
    results = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, f"worker failed (exit {p.returncode}):\n{err}"
        assert "Error" not in err and "locked" not in err, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _calls_by_op(path: str) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT op_name, count(*) FROM calls GROUP BY op_name").fetchall())
    finally:
        conn.close()


def test_four_processes_with_shared_calls_on_one_file(tmp_path, capsys):
    path = str(tmp_path / "shared.db")  # a new file: the workers also race to create the schema
    procs = [_spawn("stress", path, str(w), str(ROUNDS)) for w in range(N_WORKERS)]
    _start_together(procs)
    results = _finish(procs)

    per_worker = 2 * ROUNDS
    assert [r["calls"] for r in results] == [per_worker] * N_WORKERS
    start, end = min(r["t0"] for r in results), max(r["t1"] for r in results)
    total = N_WORKERS * per_worker
    with capsys.disabled():  # the throughput shows in the test output, also without -s (no timed assertion)
        print(
            f"\nstress: {N_WORKERS} processes x {per_worker} calls = {total} calls ({ROUNDS} shared) in "
            f"{end - start:.2f} s: {total / (end - start):,.0f} calls/s; op bodies run per worker: "
            f"{[r['executed'] for r in results]}"
        )

    # the same call recorded by four processes is one record; every distinct call is there exactly once
    assert _calls_by_op(path) == {"shared_step": ROUNDS, "own_step": N_WORKERS * ROUNDS}
    storage = Storage(path)
    try:
        assert storage.check().ok, storage.check().problems
        info = storage.cache_info()
        assert info["calls"] == ROUNDS + N_WORKERS * ROUNDS
        assert info["edges"] == 2 * ROUNDS + 3 * N_WORKERS * ROUNDS  # shared_step: 1 in, 1 out; own_step: 2 in, 1 out
    finally:
        storage.close()

    retrace = subprocess.run(
        [sys.executable, WORKER, "retrace", path, str(N_WORKERS), str(ROUNDS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert retrace.returncode == 0, retrace.stderr
    retraced = json.loads(retrace.stdout.strip().splitlines()[-1])
    assert retraced["executed"] == 0
    with capsys.disabled():
        print(f"retrace of {total} calls in a fifth process: {retraced['seconds']:.2f} s")


def test_two_processes_computing_the_same_call_at_once(tmp_path):
    path = str(tmp_path / "race.db")
    Storage(path).close()
    procs = [_spawn("race", path) for _ in range(2)]
    _start_together(procs)
    results = _finish(procs)

    assert all(r["executed"] == ["slow_square"] for r in results)  # both really computed it ...
    starts = sorted(r["result"]["started"] for r in results)
    assert starts[1] - starts[0] < 0.4  # ... at the same moment (each run sleeps 0.4 s): the calls overlapped
    assert {r["result"]["square"] for r in results} == {144}
    assert _calls_by_op(path) == {"slow_square": 1}  # ... and one record survives

    storage = Storage(path)
    try:
        with storage.allow_new_calls(False), storage:
            stored = storage.unwrap(rw.slow_square(12))
        assert stored in [r["result"] for r in results]  # the winner's value, whole
        assert storage.check().ok
    finally:
        storage.close()


def test_threads_sharing_one_storage(tmp_path, log):
    path = str(tmp_path / "threads.db")
    storage = Storage(path)
    errors: list[BaseException] = []
    barrier = threading.Barrier(N_WORKERS)
    rounds = 300

    def work(worker: int) -> None:
        try:
            barrier.wait()
            with storage:  # contexts are per thread: each thread enters the storage itself
                for i in range(rounds):
                    s = rw.shared_step(i)
                    out = rw.own_step(worker, s)
                    if i % 50 == 0:
                        assert storage.unwrap(out) == [worker, i * 7 + 1, "own"]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    before = len(rw.EXECUTED)
    threads = [threading.Thread(target=work, args=(w,)) for w in range(N_WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ran = rw.EXECUTED[before:]
    # lookups see calls other threads have queued, so a shared call runs at most once per thread (usually once)
    assert rounds <= ran.count("shared_step") <= N_WORKERS * rounds
    assert ran.count("own_step") == N_WORKERS * rounds
    try:
        assert _calls_by_op(path) == {"shared_step": rounds, "own_step": N_WORKERS * rounds}
        assert storage.check().ok

        mark = len(rw.EXECUTED)
        with storage.allow_new_calls(False), storage:
            for worker in range(N_WORKERS):
                rw.record_stress(storage, worker, rounds)
        assert len(rw.EXECUTED) == mark
    finally:
        storage.close()


def test_processes_opening_an_old_store_at_once(tmp_path):
    """Processes opening a store that needs migrating at the same moment: one migrates, the others wait for it."""
    path = str(tmp_path / "old.db")
    expected = make_store_at_version(path, 2)
    procs = [_spawn("stress", path, str(w), "50") for w in range(3)]
    _start_together(procs)
    _finish(procs)
    conn = sqlite3.connect(path)
    try:
        applied = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    finally:
        conn.close()
    assert applied == MIGRATION_NAMES  # each migration applied once
    storage = Storage(path)
    try:
        assert storage.check().ok
        assert storage.cache_info()["calls"] == expected["calls"] + 50 + 3 * 50
    finally:
        storage.close()


def test_threads_storing_the_same_large_values(tmp_path):
    """Threads that compute the same call at once write its overflow file at once: each must end whole."""
    storage = Storage(tmp_path / "big.db", overflow_dir=tmp_path / "ovf", overflow_threshold_MB=0.01)
    barrier = threading.Barrier(N_WORKERS)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            with storage:
                for i in range(15):
                    rw.blob(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(N_WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert storage.check().ok, storage.check().problems
        assert value_files(tmp_path / "ovf") == sorted(f"{rw.blob_cid(i)}.bin" for i in range(15))
        with storage.allow_new_calls(False), storage:
            assert all(storage.unwrap(rw.blob(i)) == rw.blob.func(i) for i in range(15))
    finally:
        storage.close()
