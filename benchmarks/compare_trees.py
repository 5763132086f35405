"""Recording and retracing of two source trees of graphstore side by side, in one run (a change's cost).

    python benchmarks/compare_trees.py BEFORE_TREE [AFTER_TREE] [--n 10000,100000] [--reps 5]

Each tree is a folder holding a ``graphstore`` package (for example ``git worktree add /tmp/before <commit>``); the
after tree defaults to this checkout. Every measurement is one ``benchmarks/worker.py`` run in a fresh process on a
new store (``record``, then ``retrace`` on the store it left), with the tree first on ``PYTHONPATH``;
repetitions alternate between the trees so the machine's drift hits both alike. With ``--chain`` it also records
the three-op chain and times its history table (``cf(h).expand_all().df()``). Prints medians and after÷before.
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

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "worker.py")


def measure(tree: str, task: str, n: int, store: str) -> float:
    """One worker run; its figure: µs per call, or seconds for the history table."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tree, os.environ.get("PYTHONPATH", "")]))
    spec = {"system": "graphstore", "task": task, "n": n, "store": store}
    out = subprocess.run(
        [sys.executable, WORKER, json.dumps(spec)], capture_output=True, text=True, env=env, cwd=tree, timeout=1800
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"worker failed for {tree}: {out.stderr[-2000:]}")
    result = json.loads(line[len("RESULT ") :])
    if "error" in result:
        raise SystemExit(f"{task} failed for {tree}: {result['error']}")
    return result["us_per_call"] if "us_per_call" in result else result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", default=os.path.dirname(HERE))
    parser.add_argument("--n", default="10000,100000")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--chain", action="store_true", help="also the chain: record, then its history table")
    args = parser.parse_args()
    sizes = [int(x) for x in args.n.split(",")]
    trees = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    times: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for n in sizes:
                for label, tree in trees.items() if rep % 2 == 0 else reversed(list(trees.items())):
                    store = os.path.join(tmp, f"{label}-{n}-{rep}")
                    os.makedirs(store)
                    times.setdefault(("record", n, label), []).append(measure(tree, "record", n, store))
                    times.setdefault(("retrace", n, label), []).append(measure(tree, "retrace", n, store))
                    shutil.rmtree(store)
                    if args.chain:
                        os.makedirs(store)
                        times.setdefault(("chain_record", n, label), []).append(measure(tree, "chain_record", n, store))
                        times.setdefault(("chain_query", n, label), []).append(measure(tree, "chain_query", n, store))
                        shutil.rmtree(store)
    print(f"before: {trees['before']}\nafter:  {trees['after']}\n{args.reps} repetitions, medians\n")
    print("| measurement | N | before | after | after÷before |")
    print("|---|---|---|---|---|")
    units = {"record": "µs/call", "retrace": "µs/call", "chain_record": "µs/call", "chain_query": "s (table)"}
    for task in units:
        for n in sizes:
            if (task, n, "before") not in times:
                continue
            b = statistics.median(times[(task, n, "before")])
            a = statistics.median(times[(task, n, "after")])
            print(f"| {task} {units[task]} | {n:,} | {b:.3g} | {a:.3g} | {a / b:.2f}x |")


if __name__ == "__main__":
    main()
