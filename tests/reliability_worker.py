"""Child processes for the concurrency and crash tests (run as ``python reliability_worker.py MODE ...``).

The ops live here so that the parent test process and every child define them identically (same name, version and
source), and retracing in one process finds the calls recorded by another.

Modes:

- ``stress PATH WORKER N``: print ``ready``, wait for a line on stdin, open the store and record ``N`` rounds of
  ``shared_step(i)`` (the same call in every worker) and ``own_step(WORKER, <shared output>)``; print one JSON line.
- ``retrace PATH WORKERS N``: retrace every worker's calls with new calls forbidden; print one JSON line.
- ``race PATH``: print ``ready``, wait for stdin, compute ``slow_square(12)``; print one JSON line.
- ``crash PATH OVERFLOW_DIR``: record ``chain_step`` calls forever, printing ``INDEX MONOTONIC_TIME`` after each.
- ``durable PATH KIND PROGRESS``: record ``<KIND>_step`` calls forever (``cpu``: 3 ms of plain Python, ``trivial``,
  ``sleep``: 3 ms asleep), noting after each the count and its completion time (``time.monotonic()``) in the file
  ``PROGRESS`` through shared memory: no system call, so the interpreter lock is never given up for reporting.
- ``reuse PATH N``: print ``ready``, wait for stdin, record ``N`` rounds of calls whose values keep recurring
  (``tag``, ``halve``), in contexts of 100 rounds; print one JSON line.
- ``delete PATH STOP_FILE``: until STOP_FILE exists, drop a few random calls (with their dependents) and clean up;
  print one JSON line.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(HERE))  # the project root, for `import graphstore` from a bare script

from graphstore import Storage, op  # noqa: E402

EXECUTED: list[str] = []
"""Names of the op bodies that ran in this process."""


@op
def shared_step(i):
    EXECUTED.append("shared_step")
    return i * 7 + 1


@op
def own_step(worker, x):
    EXECUTED.append("own_step")
    return [worker, x, "own"]


@op
def slow_square(x):
    started = time.monotonic()
    time.sleep(0.4)
    EXECUTED.append("slow_square")
    return {"square": x * x, "started": started, "pid": os.getpid()}


@op
def blob(i):
    return bytes([i % 256]) * 300_000


def blob_cid(i: int) -> str:
    from graphstore import hash_value

    return hash_value(blob.func(i))


OVERFLOW_EVERY = 40
"""Every this many steps, chain_step returns a value big enough for the overflow directory."""


@op
def chain_step(i, prev):
    EXECUTED.append("chain_step")
    time.sleep(0.0005)
    if i % OVERFLOW_EVERY == 0:
        return bytes([i % 251]) * 3000
    return i * 2


CRASH_THRESHOLD_MB = 0.001


@op
def cpu_step(i, prev):
    end = time.perf_counter() + 0.003
    n = 0
    while time.perf_counter() < end:  # plain Python holding the interpreter lock, as numeric code does
        n += 1
    return i * 2


@op
def trivial_step(i, prev):
    return i * 2


@op
def sleep_step(i, prev):
    time.sleep(0.003)
    return i * 2


DURABLE_STEPS = {"cpu": cpu_step, "trivial": trivial_step, "sleep": sleep_step}
PROGRESS_SLOTS = 1_000_000
"""The progress file: a count, then the completion time of each call (doubles)."""


class Progress:
    """Completion times noted in the file ``path`` through shared memory (a count, then one double per call), for
    at most ``slots`` calls: no system call, so noting never gives up the interpreter lock, and what was noted
    survives ``kill -9``."""

    def __init__(self, path: str, slots: int = PROGRESS_SLOTS) -> None:
        with open(path, "wb") as fh:
            fh.truncate(8 * (slots + 1))
        self._file = open(path, "r+b")
        self._shared = mmap.mmap(self._file.fileno(), 0)

    def done(self, count: int) -> None:
        """Call number ``count`` (from 1) completed now."""
        struct.pack_into("<d", self._shared, 8 * count, time.monotonic())
        struct.pack_into("<d", self._shared, 0, float(count))


def read_progress(path: str) -> list[float]:
    """Completion times of the calls a ``durable`` child completed, in order."""
    with open(path, "rb") as fh:
        data = fh.read()
    (count,) = struct.unpack_from("<d", data, 0)
    return list(struct.unpack_from(f"<{int(count)}d", data, 8))


def tag(xs, i):
    return [xs[0] * 2, "tag"]


@op
def halve(pair):
    return [pair[0] // 2, pair[1]]


@op
def count(x):
    return x + 1


def record_reuse(storage: Storage, n: int) -> int:
    """Calls whose inputs and outputs hold few distinct values, so most are left out of batches as stored."""
    done = 0
    for start in range(0, n, 100):
        with storage:
            for i in range(start, min(n, start + 100)):
                t = tag([i % 97, "x"], i)  # a list argument: the general path; its output recurs every 97
                halve(t)  # an AtomRef argument: the fast path
                count(i % 89)  # recorded once, then retraced or found by content
                done += 3
        time.sleep(0.02)  # between contexts: a process deleting beside this one gets its turns
    return done


def _reuse(path: str, n: int) -> None:
    print("ready", flush=True)
    sys.stdin.readline()
    storage = Storage(path)
    calls = record_reuse(storage, n)
    storage.close()
    print(json.dumps({"calls": calls}), flush=True)


def _delete(path: str, stop_file: str) -> None:
    import random

    rng = random.Random(0)
    storage = Storage(path)
    print("ready", flush=True)
    sys.stdin.readline()
    rounds = dropped = 0
    while not os.path.exists(stop_file):
        hids = [h for (h,) in storage.backend.execute("SELECT hid FROM calls")]
        if hids:
            dropped += len(storage.drop_calls(rng.sample(hids, min(len(hids), 15))))
            storage.cleanup_refs()
            rounds += 1
        time.sleep(0.01)
    storage.close()
    print(json.dumps({"rounds": rounds, "dropped": dropped}), flush=True)


def record_stress(storage: Storage, worker: int, n: int) -> None:
    for i in range(n):
        s = shared_step(i)
        own_step(worker, s)


def _stress(path: str, worker: int, n: int) -> None:
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.monotonic()
    storage = Storage(path)
    with storage:
        record_stress(storage, worker, n)
    t1 = time.monotonic()
    storage.close()
    print(json.dumps({"worker": worker, "t0": t0, "t1": t1, "calls": 2 * n, "executed": len(EXECUTED)}), flush=True)


def _retrace(path: str, workers: int, n: int) -> None:
    storage = Storage(path)
    t0 = time.monotonic()
    with storage.allow_new_calls(False):
        with storage:
            for worker in range(workers):
                record_stress(storage, worker, n)
    t1 = time.monotonic()
    storage.close()
    print(json.dumps({"executed": len(EXECUTED), "seconds": t1 - t0}), flush=True)


def _race(path: str) -> None:
    storage = Storage(path)
    print("ready", flush=True)
    sys.stdin.readline()
    with storage:
        result = storage.unwrap(slow_square(12))
    storage.close()
    print(json.dumps({"result": result, "executed": EXECUTED, "pid": os.getpid()}), flush=True)


def _crash(path: str, overflow_dir: str) -> None:
    storage = Storage(path, overflow_dir=overflow_dir, overflow_threshold_MB=CRASH_THRESHOLD_MB)
    print("ready", flush=True)
    prev = None
    i = 0
    with storage:
        while True:
            prev = chain_step(i, prev)
            print(i, time.monotonic(), flush=True)
            i += 1


def _durable(path: str, kind: str, progress: str) -> None:
    step = DURABLE_STEPS[kind]
    note = Progress(progress)
    storage = Storage(path)
    print("ready", flush=True)
    prev = None
    i = 0
    with storage:
        while i < PROGRESS_SLOTS:
            prev = step(i, prev)
            i += 1
            note.done(i)


def main(argv: list[str]) -> None:
    mode, path = argv[0], argv[1]
    if mode == "stress":
        _stress(path, int(argv[2]), int(argv[3]))
    elif mode == "retrace":
        _retrace(path, int(argv[2]), int(argv[3]))
    elif mode == "race":
        _race(path)
    elif mode == "crash":
        _crash(path, argv[2])
    elif mode == "durable":
        _durable(path, argv[2], argv[3])
    elif mode == "reuse":
        _reuse(path, int(argv[2]))
    elif mode == "delete":
        _delete(path, argv[2])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
