"""A writer process for the several-writers tests and benchmark, and the tools that start and collect them.

    python writers_worker.py STORE ME ROUNDS SHARED [PROGRESS]

opens the store (a file or a postgresql:// URL), prints ``ready``, waits for a line on stdin, then records ``ROUNDS``
rounds of ``pair(work(x), x)`` (two calls a round) in one ``with storage:`` block: the ``SHARED`` first values of x
are the same in every writer, the others are the writer's own, and each writer meets them in its own order
(:func:`plan`). With ``PROGRESS``, the count of rounds done and the completion time (``time.monotonic()``) of each
are noted in that file through shared memory (``reliability_worker.Progress``), so a writer killed at any moment
leaves behind what it completed. At the end it prints one JSON line: ``{"writer": ME, "rounds": ..., "executed":
op bodies run, "t0": ..., "t1": ...}``.

The ops live here so that every writer, and the test process retracing their calls, defines them identically.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(HERE))  # the project root, for `import graphstore` from a bare script

from graphstore import Storage, op  # noqa: E402
from reliability_worker import Progress  # noqa: E402

EXECUTED = [0]
"""How many op bodies ran in this process."""


@op
def work(x):
    EXECUTED[0] += 1
    return x * 3 + 1


@op
def pair(y, x):
    EXECUTED[0] += 1
    return y - x


OWN_BASE = 1_000_000_000
"""Writer ``me`` owns the values of x from ``OWN_BASE * (me + 1)`` on."""


def plan(me: int, rounds: int, shared: int) -> list[int]:
    """The values of x writer ``me`` records, in its order: the shared ones first drawn, then shuffled.

    >>> sorted(plan(0, 4, 2)) == sorted(plan(0, 4, 2)) == [0, 1, 1_000_000_000, 1_000_000_001]
    True
    """
    xs = list(range(shared)) + [OWN_BASE * (me + 1) + k for k in range(rounds - shared)]
    random.Random(me).shuffle(xs)
    return xs


def distinct_calls(writers: int, rounds: int, shared: int) -> int:
    """How many distinct calls ``writers`` writers of :func:`plan` record between them (two a round)."""
    return 2 * (shared + writers * (rounds - shared))


class Writers:
    """``writers`` writer processes started on ``store``, each past opening it (:meth:`go` lets them record).

    ``progress_dir``: each writer notes its progress in ``<progress_dir>/<me>.progress`` (see :meth:`progress`).
    """

    def __init__(
        self, store: str, writers: int, rounds: int, shared: int, progress_dir: str | None = None, first: int = 0
    ) -> None:
        self.store, self.rounds, self.shared, self.progress_dir = store, rounds, shared, progress_dir
        self.procs = {me: self.start(me) for me in range(first, first + writers)}
        for me, proc in self.procs.items():
            line = proc.stdout.readline() if proc.stdout else ""
            if line.strip() != "ready":
                raise RuntimeError(f"writer {me} did not start: {line}{proc.communicate()[1][-3000:]}")
        self.started = 0.0

    def start(self, me: int) -> subprocess.Popen:
        args = [sys.executable, os.path.abspath(__file__), self.store, str(me), str(self.rounds), str(self.shared)]
        if self.progress_dir is not None:
            args.append(self.progress(me))
        return subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=HERE
        )

    def progress(self, me: int) -> str:
        """The progress file of writer ``me``."""
        return os.path.join(self.progress_dir or "", f"{me}.progress")

    def go(self) -> None:
        """Let every writer record; :attr:`started` is when."""
        self.started = time.monotonic()
        for proc in self.procs.values():
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()

    def finish(self, timeout: float = 900) -> dict[int, tuple[int, dict, str]]:
        """Wait for every writer: ``me -> (exit status, its JSON line or {}, stderr)``."""
        out = {}
        for me, proc in self.procs.items():
            stdout, stderr = proc.communicate(timeout=timeout)
            lines = stdout.strip().splitlines()
            out[me] = (proc.returncode, json.loads(lines[-1]) if proc.returncode == 0 and lines else {}, stderr)
        return out


def record(store: str, me: int, rounds: int, shared: int, progress: str | None) -> dict:
    xs = plan(me, rounds, shared)
    note = Progress(progress, len(xs)) if progress else None
    storage = Storage(store)
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.monotonic()
    with storage:
        for i, x in enumerate(xs):
            pair(work(x), x)
            if note is not None:
                note.done(i + 1)
    t1 = time.monotonic()
    storage.close()
    return {"writer": me, "rounds": rounds, "executed": EXECUTED[0], "t0": t0, "t1": t1}


if __name__ == "__main__":
    args = sys.argv[1:]
    result = record(args[0], int(args[1]), int(args[2]), int(args[3]), args[4] if len(args) > 4 else None)
    print(json.dumps(result), flush=True)
