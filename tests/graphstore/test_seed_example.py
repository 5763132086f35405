"""The seed page's pipeline, run twice as separate processes against one store file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed_pipeline.py"

FIRST_RUN = """\
# 1. the first run
Loading data
Training model
Getting accuracy
AtomRef(1.0, hid=###...)
# 2. retracing: nothing runs, nothing is loaded
AtomRef(hid=###..., in_memory=False) AtomRef(hid=###..., in_memory=False)
AtomRef(hid=###..., in_memory=False)
AtomRef(hid=###..., in_memory=False)
1.0
# 3. new calls in place
AtomRef(hid=###..., in_memory=False)
Training model
Getting accuracy
AtomRef(1.0, hid=###...)
Loading data
Training model
Getting accuracy
AtomRef(0.88, hid=###...)
Training model
Getting accuracy
AtomRef(0.88, hid=###...)
# 4. control flow on loaded values
2 5 1.0
2 10 1.0
# 5. memoized code as a storage interface
0.88 RandomForestClassifier(max_depth=2, n_estimators=5)
"""


def run_example(db: Path) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLE), "--db", str(db)], capture_output=True, text=True, check=True)
    return re.sub(r"hid=[0-9a-f]{3}\.\.\.", "hid=###...", done.stdout)


def test_first_run_prints_what_the_page_shows_and_second_run_computes_nothing(tmp_path):
    db = tmp_path / "seed.db"
    first = run_example(db)
    assert first == FIRST_RUN
    second = run_example(db)
    for line in ("Loading data", "Training model", "Getting accuracy"):
        assert line not in second
    refs = [line for line in second.splitlines() if line.startswith("AtomRef")]
    assert len(refs) == 8 and all("in_memory=False" in line for line in refs)
    assert second.splitlines()[-1] == "0.88 RandomForestClassifier(max_depth=2, n_estimators=5)"


def test_both_runs_agree_on_history_ids(tmp_path):
    db = tmp_path / "seed.db"
    ids = []
    for _ in range(2):
        done = subprocess.run([sys.executable, str(EXAMPLE), "--db", str(db)], capture_output=True, text=True)
        ids.append(re.findall(r"hid=([0-9a-f]{3})", done.stdout)[-4:])
    assert ids[0] == ids[1]
