"""Benchmark: the table of a long chain, whose history query is staged through temporary tables.

It records ``x = step_k(x)`` for k in range(``--length``) from each of ``--roots`` starting values into a fresh
store (a SQLite file; with ``--postgres URL`` also an empty PostgreSQL database), then times
``storage.cf(last).expand_back(recursive=True).df(include_calls=False)`` (the median of ``--reps`` runs) and prints
one row per store: the number of staged tables, the seconds of one table, and the seconds per history. Run it with
another source tree first on ``PYTHONPATH`` to compare two versions of the query layer.

    .venv/bin/python benchmarks/bench_staged.py --length 100 --roots 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def measure(location: str, length: int, roots: int, reps: int) -> dict:
    from graphstore import Storage, op

    def make(k: int):
        def step(x):
            return x + k

        step.__name__ = f"step{k}"
        return op(step)

    steps = [make(k) for k in range(length)]
    storage = Storage(location)
    with storage:
        for start in range(roots):
            x = start
            for s in steps:
                x = s(x)
    cf = storage.cf(steps[-1]).expand_back(recursive=True)
    staged = cf.sql().count("CREATE TEMPORARY TABLE")
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        df = cf.df(include_calls=False)
        times.append(time.perf_counter() - t0)
        assert df.shape == (roots, length + 1)
    storage.close()
    median = statistics.median(times)
    return {"staged": staged, "seconds": median, "ms_per_history": 1000 * median / roots}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--roots", type=int, default=300)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--postgres", default=None, help="the URL of an empty PostgreSQL database")
    args = parser.parse_args()
    stores = [("sqlite", os.path.join(tempfile.mkdtemp(), "staged.db"))]
    if args.postgres:
        stores.append(("postgres", args.postgres))
    print(f"chain of {args.length} steps, {args.roots} histories, median of {args.reps}")
    print(f"{'store':<10} {'staged':>7} {'seconds':>9} {'ms/history':>11}")
    for name, location in stores:
        r = measure(location, args.length, args.roots, args.reps)
        print(f"{name:<10} {r['staged']:>7} {r['seconds']:>9.3f} {r['ms_per_history']:>11.3f}")


if __name__ == "__main__":
    main()
