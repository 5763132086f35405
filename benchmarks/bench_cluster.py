"""Benchmark: memoized calls computed on a Dask cluster (``with storage.executor(client):``) against a serial run.

1. ``--slow`` calls of an op that computes for ``--seconds`` each: serial, then on a LocalCluster of ``--workers``
   worker processes (one thread each), each into a new store; the speed-up (target: at least 1.6x on 2 workers).
2. The same calls again on the cluster: all stored, nothing submitted (target: under 0.2 s).
3. ``--trivial`` trivial calls: recorded serially, and through the executor (grouped into few tasks), per call
   (target: under 1 ms each through the executor).

Every figure comes from the same run, on the same machine; each store is a new SQLite file in a temporary folder.

    .venv/bin/python benchmarks/bench_cluster.py
    .venv/bin/python benchmarks/bench_cluster.py --slow 32 --workers 2 --trivial 5000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from distributed import Client, LocalCluster

from graphstore import Storage, op


@op
def busy(x, seconds):
    """Computes (keeps a core busy) for ``seconds``."""
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < seconds:
        n += 1
    return x * 2


@op
def tiny(x):
    return x + 1


def timed(block) -> float:
    t0 = time.perf_counter()
    block()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=0.3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trivial", type=int, default=2000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-cluster-")
    n = iter(range(100))

    def store() -> Storage:
        return Storage(os.path.join(folder, f"store{next(n)}.db"))

    cluster = LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    client = Client(cluster)
    client.submit(sum, [1, 2]).result()  # (the workers are up)
    rows = []

    serial = store()

    def serial_slow() -> None:
        with serial:
            for i in range(args.slow):
                busy(i, args.seconds)

    t_serial = timed(serial_slow)
    on_cluster = store()

    def cluster_slow() -> None:
        with on_cluster.executor(client, progress=False):
            for i in range(args.slow):
                busy(i, args.seconds)

    t_cluster = timed(cluster_slow)
    t_rerun = timed(cluster_slow)
    rows.append((f"{args.slow} calls of {args.seconds} s, serial", f"{t_serial:.2f} s", ""))
    rows.append(
        (
            f"same on {args.workers} worker processes",
            f"{t_cluster:.2f} s",
            f"{t_serial / t_cluster:.2f}x faster (target >= 1.6x)",
        )
    )
    rows.append(("re-run on the cluster (all stored)", f"{t_rerun:.3f} s", "target < 0.2 s"))

    trivial_serial = store()

    def serial_tiny() -> None:
        with trivial_serial:
            for i in range(args.trivial):
                tiny(i)

    trivial_cluster = store()
    stats: dict = {}

    def cluster_tiny() -> None:
        with trivial_cluster.executor(client, progress=False) as ex:
            for i in range(args.trivial):
                tiny(i)
        stats.update(ex.stats)

    t_tiny_serial = timed(serial_tiny)
    t_tiny_cluster = timed(cluster_tiny)
    per = 1e3 / args.trivial
    rows.append((f"{args.trivial} trivial calls, serial", f"{t_tiny_serial * per:.3f} ms/call", ""))
    rows.append(
        (
            f"same through the executor ({stats['tasks']} tasks)",
            f"{t_tiny_cluster * per:.3f} ms/call",
            "target < 1 ms/call",
        )
    )
    client.close()
    cluster.close()

    width = max(len(r[0]) for r in rows)
    print(f"| {'measurement':<{width}} | time | note |")
    print(f"| {'-' * width} | --- | --- |")
    for what, value, note in rows:
        print(f"| {what:<{width}} | {value} | {note} |")


if __name__ == "__main__":
    main()
