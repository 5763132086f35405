"""Benchmark: extracting the table of a three-op chain, ``a = f(i); b = g(a); c = h(a, b)``, for growing N.

For each N (powers of ten from 10^3 up to ``--max-n``, default 10^5) it records the chain for i in range(N) into a
fresh store file in a temporary folder (``--memory``: a store in memory), reopens it, then times
``storage.cf(h).expand_all().df()`` (expansion, SQL, value loading and the DataFrame), the expansion alone and the
extraction alone, in a fresh process per N, and prints a table with the peak resident memory.

    .venv/bin/python benchmarks/bench_frame.py --max-n 100000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def run_one(n: int, repeat: int, memory: bool = False) -> dict:
    from graphstore import Storage, op

    @op
    def f(i):
        return i + 1

    @op
    def g(a):
        return 2 * a

    @op
    def h(a, b):
        return a + b

    folder = tempfile.mkdtemp(prefix="bench-frame-")
    storage = Storage() if memory else Storage(os.path.join(folder, "store.db"))
    t0 = time.perf_counter()
    with storage:
        for i in range(n):
            a = f(i)
            h(a, g(a))
    record = time.perf_counter() - t0
    if not memory:  # queried as in a later session: the store reopened, the query layer imported
        storage.close()
        storage = Storage(os.path.join(folder, "store.db"))
    import graphstore.query  # noqa: F401

    totals, expands, extracts = [], [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        cf = storage.cf(h).expand_all()
        t1 = time.perf_counter()
        df = cf.df()
        t2 = time.perf_counter()
        assert df.shape == (n, 7), df.shape
        del df
        totals.append(t2 - t0)
        expands.append(t1 - t0)
        extracts.append(t2 - t1)
    storage.close()
    shutil.rmtree(folder)
    with open("/proc/self/status") as fh:  # the peak resident memory (Linux)
        peak = next((int(line.split()[1]) / 1024 for line in fh if line.startswith("VmHWM:")), float("nan"))
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    return {
        "n": n,
        "record_s": record,
        "total_s": med(totals),
        "expand_s": med(expands),
        "df_s": med(extracts),
        "peak_mb": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=100_000, help="largest N (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions per N; the median is shown")
    parser.add_argument("--memory", action="store_true", help="stores in memory instead of files")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.repeat, args.memory)))
        return
    sizes, n = [], 1000
    while n <= args.max_n:
        sizes.append(n)
        n *= 10
    print(
        f"{'N':>9} {'record s':>9} {'cf.expand_all().df() s':>23} {'expand s':>9} {'df s':>7} {'rows/s':>9} "
        f"{'peak MB':>8}"
    )
    for n in sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--repeat", str(args.repeat)] + (
            ["--memory"] if args.memory else []
        )
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{r['n']:>9} {r['record_s']:>9.2f} {r['total_s']:>23.3f} {r['expand_s']:>9.3f} {r['df_s']:>7.3f} "
            f"{r['n'] / r['total_s']:>9.0f} {r['peak_mb']:>8.0f}"
        )


if __name__ == "__main__":
    main()
