"""Benchmark: copying a store between engines with ``graphstore copy`` (``graphstore.copy_store``).

Builds a SQLite store of ``--calls`` calls (chains ``s1(i) -> s2 -> s3``, one list-valued op per chain so collection
members come along), then runs the command, each copy in a fresh process, and prints a table: the route, the calls
copied, seconds, calls per second, and the peak memory (maximum resident set) of the copying process; then the peak
of the Python heap during one copy. Copying again
into the filled target measures a merge that adds nothing.

    .venv/bin/python benchmarks/bench_copy.py                      # 30,000 calls, SQLite -> SQLite
    .venv/bin/python benchmarks/bench_copy.py --calls 100000 --postgres   # and to and from a throwaway server

With ``--postgres`` a throwaway PostgreSQL server is started through ``tests/pg_server.py`` (PostgreSQL's programs
and psycopg needed). The resident set includes SQLite's page cache (up to 256 MB a connection) and the store's
memory-mapped pages; the Python heap's peak shows that a copy streams: it does not grow with ``--calls``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from graphstore import MList, Storage, op  # noqa: E402


@op
def s1(x: int) -> int:
    return x + 1_000_000


@op
def s2(x: int) -> MList[int]:
    return [x, x + 1]


@op
def s3(xs: MList[int]) -> int:
    return sum(xs)


def build(path: str, calls: int) -> int:
    storage = Storage(path)
    with storage:
        for i in range(calls // 3):
            s3(s2(s1(i)))
    n = storage.cache_info()["calls"]
    storage.close()
    return n


def copy(source: str, target: str) -> tuple[float, float, dict]:
    """Seconds, peak resident memory (MB) of the copying process, and its report."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphstore", "copy", source, target, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    stdout, stderr = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(stderr)
    return seconds, usage.ru_maxrss / 1024, json.loads(stdout)


def heap_peak(source: str, folder: str) -> None:
    """The Python heap's peak during a copy in this process (after a warm-up copy, so imports are not counted):
    what streaming bounds, whatever the store's size (the resident set above also holds SQLite's page cache and
    memory-mapped pages)."""
    from graphstore import copy_store

    copy_store(source, os.path.join(folder, "warm.db"))
    tracemalloc.start()
    report = copy_store(source, os.path.join(folder, "heap.db"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"Python heap peak of a copy of {report.read['calls']} calls in this process: {peak / 2**20:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=30_000)
    parser.add_argument("--postgres", action="store_true", help="also copy to and from a throwaway server")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="graphstore-copy-")
    source = os.path.join(folder, "source.db")
    t = time.perf_counter()
    n = build(source, args.calls)
    print(f"built {source}: {n} calls (with collection calls) in {time.perf_counter() - t:.1f} s")
    routes = [("SQLite -> new SQLite", source, os.path.join(folder, "copy.db"))]
    routes.append(("SQLite -> same SQLite again (merge)", source, os.path.join(folder, "copy.db")))
    databases = server = None
    if args.postgres:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        from pg_server import start

        databases, server = start()
        url = databases.create()
        routes += [
            ("SQLite -> PostgreSQL", source, url),
            ("PostgreSQL -> new SQLite", url, os.path.join(folder, "back.db")),
            ("SQLite -> PostgreSQL again (merge)", source, url),
        ]
    try:
        print(f"{'route':<38}{'calls':>10}{'new':>10}{'s':>9}{'calls/s':>10}{'peak MB':>10}")
        for name, src, dst in routes:
            seconds, peak, report = copy(src, dst)
            calls = report["read"]["calls"]
            print(
                f"{name:<38}{calls:>10}{report['added']['calls']:>10}{seconds:>9.2f}{calls / seconds:>10.0f}"
                f"{peak:>10.0f}"
            )
        heap_peak(source, folder)
    finally:
        if databases is not None:
            databases.close()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
