"""Soak test of the durability bound: many ``kill -9`` trials per kind of op and writer, and a table of the results.

    python benchmarks/kill_soak.py [TRIALS_PER_CASE] [KIND ...]    (default 20 trials of each kind: cpu, trivial,
                                                                   sleep; about 2.5 s per trial)

Each trial runs the ``durable`` child of ``tests/reliability_worker.py`` (ops that hold the interpreter lock for
3 ms, trivial ops, ops that sleep 3 ms), kills it at a random time between 0.6 and 3 s, and counts the completed calls
older than the bound (0.5 s) that the store lost. ``oldest unstored`` is the age, at the kill, of the oldest completed
call not on disk: the margin under the bound.
"""

from __future__ import annotations

import os
import pathlib
import random
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "graphstore"), str(ROOT / "tests"), str(ROOT)]

from test_durability import kill_trial  # noqa: E402


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    rng = random.Random(int(os.environ.get("SOAK_SEED", "7")))
    print("| op kind | writer | trials | calls completed | older than 0.5 s | lost | worst oldest unstored (s) |")
    print("|---|---|---|---|---|---|---|")
    total_lost = 0
    kinds = sys.argv[2:] or ["cpu", "trivial", "sleep"]
    for kind in kinds:
        for helper, label in (("0", "in process"), ("always", "helper process")):
            completed = durable = lost = 0
            worst = 0.0
            with tempfile.TemporaryDirectory() as tmp:
                for _ in range(trials):
                    r = kill_trial(pathlib.Path(tmp), kind, helper, rng.uniform(0.6, 3.0))
                    completed += r["completed"]
                    durable += r["durable"]
                    lost += r["lost"]
                    worst = max(worst, r["oldest_unstored_s"])
            total_lost += lost
            print(f"| {kind} | {label} | {trials} | {completed} | {durable} | {lost} | {worst:.3f} |", flush=True)
    print(f"\ncalls lost in all trials: {total_lost}")


if __name__ == "__main__":
    main()
