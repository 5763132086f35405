"""Benchmark: the ``graphstore`` commands that look into a store, on a store of many calls.

Builds a SQLite store of ``--chains`` histories ``prep(i) -> fit(prep, lr) -> score(fit)`` (three calls each), then
runs each command as a user does (the installed entry point, a fresh process each time, ``--repeat`` times) and
prints a table of the median seconds per command. The first row is ``graphstore --help``: the cost of starting the
command at all (Python, graphstore and click), which every other row includes.

    .venv/bin/python benchmarks/bench_cli.py                  # 10,000 histories (30,000 calls)
    .venv/bin/python benchmarks/bench_cli.py --chains 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from graphstore import Storage, op  # noqa: E402


@op
def prep(i: int) -> list:
    return [i, i + 1]


@op
def fit(data: list, lr: float) -> float:
    return sum(data) * lr


@op
def score(model: float) -> float:
    return model / 2


def build(path: str, chains: int) -> None:
    storage = Storage(path)
    with storage:
        for i in range(chains):
            score(fit(prep(i), lr=0.1 if i % 2 else 0.01))
    storage.close()


def timed(command: list[str], repeat: int) -> float:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    program = shutil.which("graphstore", path=os.path.dirname(sys.executable))
    assert program, "the graphstore command is not installed beside this Python"
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "runs.db")
        start = time.perf_counter()
        build(path, args.chains)
        print(f"recorded {3 * args.chains:,} calls in {time.perf_counter() - start:.1f} s")
        last = json.loads(
            subprocess.run(
                [program, "calls", path, "score", "--limit", "1", "--json"], check=True, capture_output=True, text=True
            ).stdout
        )[0]
        commands = {
            "--help": ["--help"],
            "info": ["info", path],
            "ops": ["ops", path],
            "calls score --limit 10": ["calls", path, "score", "--limit", "10"],
            "calls fit --where lr=0.1 --limit 10": ["calls", path, "fit", "--where", "lr=0.1", "--limit", "10"],
            "show CALL": ["show", path, last["call"]],
            "lineage REF": ["lineage", path, last["output_0"]],
            "frame score --expand back --format csv": ["frame", path, "score", "--expand", "back", "--format", "csv"],
            "sql score --expand back": ["sql", path, "score", "--expand", "back"],
            "check --quick": ["check", path, "--quick"],
            "gc --dry-run": ["gc", path, "--dry-run"],
        }
        print(f"\n| command ({3 * args.chains:,} calls) | median seconds |")
        print("| --- | ---: |")
        for name, argv in commands.items():
            print(f"| graphstore {name} | {timed([program, *argv], args.repeat):.2f} |")


if __name__ == "__main__":
    main()
