"""Benchmark: deleting history from a large store.

Builds a file store of ``--calls`` calls as chains of ``--chain`` ops (``s1(i) -> s2 -> ... -> s5``), recorded in one
``with storage:`` block, then times ``drop_calls`` of ``--drop`` chain heads with ``delete_dependents=True`` (so
``drop * chain`` calls go) and ``cleanup_refs()``, and ``vacuum()`` for good measure.

    .venv/bin/python benchmarks/bench_delete.py                    # 100,000 calls, drop 2,000 heads
    .venv/bin/python benchmarks/bench_delete.py --calls 10000 --drop 200

Each op adds a million, so every value in the store is distinct: the counts after cleanup are exact
(``drop`` raw inputs and ``drop * chain`` outputs lose their refs and values).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from graphstore import Storage, op  # noqa: E402

STEP = 1_000_000


@op
def s1(x):
    return x + STEP


@op
def s2(x):
    return x + STEP


@op
def s3(x):
    return x + STEP


@op
def s4(x):
    return x + STEP


@op
def s5(x):
    return x + STEP


OPS = [s1, s2, s3, s4, s5]

TABLES = ("calls", "edges", "refs", "values", "members")


def counts(storage: Storage) -> dict[str, int]:
    info = storage.cache_info()
    return {t: info[t] for t in TABLES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000, help="calls in the store (default 100,000)")
    parser.add_argument("--drop", type=int, default=2_000, help="chain heads to drop with dependents (default 2,000)")
    parser.add_argument("--chain", type=int, default=5, choices=range(1, len(OPS) + 1), help="ops per chain")
    parser.add_argument("--dir", default=None, help="folder for the store (default: a temporary one)")
    args = parser.parse_args(argv)

    chains = args.calls // args.chain
    if not 0 < args.drop <= chains:
        parser.error(f"--drop must be between 1 and the number of chains ({chains})")
    ops = OPS[: args.chain]

    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = os.path.join(folder, "store.db")
        storage = Storage(path)
        timings: list[tuple[str, float, int]] = []

        t0 = time.perf_counter()
        heads = []
        with storage:
            for i in range(chains):
                x = ops[0](i)
                heads.append(x)
                for f in ops[1:]:
                    x = f(x)
        timings.append(("record", time.perf_counter() - t0, chains * args.chain))
        before = counts(storage)

        doomed = storage.get_creators(heads[: args.drop])  # not timed: one batched read
        t0 = time.perf_counter()
        dropped = len(storage.drop_calls(doomed, delete_dependents=True))
        timings.append(("drop_calls", time.perf_counter() - t0, dropped))
        after_drop = counts(storage)

        t0 = time.perf_counter()
        removed = storage.cleanup_refs()
        timings.append(("cleanup_refs", time.perf_counter() - t0, dropped))
        after_cleanup = counts(storage)

        size = os.path.getsize(path)
        t0 = time.perf_counter()
        storage.vacuum()
        timings.append(("vacuum", time.perf_counter() - t0, dropped))
        vacuumed = os.path.getsize(path)

        problems = storage.check(full=False).problems
        storage.close()

    print(
        f"store: {chains:,} chains of {args.chain} ops = {chains * args.chain:,} calls; "
        f"dropping {args.drop:,} heads with dependents\n"
    )
    print(f"{'phase':<14}{'seconds':>10}{'calls':>10}{'calls/s':>14}")
    for phase, seconds, n in timings:
        print(f"{phase:<14}{seconds:>10.3f}{n:>10,}{n / seconds if seconds else float('inf'):>14,.0f}")
    print("\n(calls: recorded for 'record', deleted by drop_calls for the others)\n")
    print(f"{'table':<10}{'before':>12}{'after drop':>12}{'after cleanup':>15}")
    for t in TABLES:
        print(f"{t:<10}{before[t]:>12,}{after_drop[t]:>12,}{after_cleanup[t]:>15,}")
    print(f"\ndrop_calls returned {dropped:,}; cleanup_refs returned {removed}")
    print(f"file: {size / 1e6:.1f} MB before vacuum, {vacuumed / 1e6:.1f} MB after")

    expected_drop = args.drop * args.chain
    expected_refs = args.drop * (args.chain + 1)  # each chain: its raw input and one output per op
    ok = (
        dropped == expected_drop
        and removed == {"refs": expected_refs, "values": expected_refs, "overflow_files": 0}
        and after_cleanup["calls"] == before["calls"] - expected_drop
        and not problems
    )
    print("counts as expected" if ok else f"UNEXPECTED counts or problems: {problems[:3]}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
