"""Benchmark: what code versioning costs.

1. Entering a versioned storage for a generated project of ``--functions`` ``@track``-ed helpers (in modules of 20),
   all run by one op ``pipeline(x)``: ``with storage:`` enter+exit, and the first op call after it, in these states:

   - new store, new process: the call runs and records a version of ``functions + 1`` components;
   - existing store, new process (cold source cache): the call is a hit, every dependency is read and hashed once;
   - same process, entered again, nothing changed: should take milliseconds (one ``stat`` per function);
   - same process, one module's file touched (mtime changed, content not): that module's functions are re-read;
   - unversioned storage, for comparison.

2. Per-call overhead of versioned vs unversioned recording: ``--calls`` trivial calls ``inc(i)`` recorded (misses,
   including the commit at the end of the block) and then retraced (hits), each configuration in a fresh process.

Each measurement is the median of ``--repeat`` fresh processes (the machine's speed drifts; ratios are taken within
one run).

    .venv/bin/python benchmarks/bench_versioning.py
    .venv/bin/python benchmarks/bench_versioning.py --functions 200 --calls 2000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PER_MODULE = 20


def generate_project(folder: str, functions: int) -> None:
    """A package ``genproj``: modules of tracked helpers, and ``ops.py`` with ``pipeline`` (runs them all) and
    ``inc`` (trivial)."""
    package = os.path.join(folder, "genproj")
    os.makedirs(package)
    open(os.path.join(package, "__init__.py"), "w").close()
    modules = (functions + PER_MODULE - 1) // PER_MODULE
    lines = []
    for m in range(modules):
        count = min(PER_MODULE, functions - m * PER_MODULE)
        body = ["from graphstore import track", "", f"FACTOR_{m} = {m + 1}", ""]
        for i in range(count):
            body += [
                "",
                "@track",
                f"def f_{m}_{i}(x):",
                f'    """Helper {i} of module {m}."""',
                f"    y = x + {i}",
                f"    return y % 1_000_003 if y > 0 else FACTOR_{m}",
                "",
            ]
            lines.append(f"    x = mod_{m}.f_{m}_{i}(x)")
        with open(os.path.join(package, f"mod_{m}.py"), "w") as f:
            f.write("\n".join(body))
    imports = "\n".join(f"from genproj import mod_{m}" for m in range(modules))
    with open(os.path.join(package, "ops.py"), "w") as f:
        f.write(
            f"from graphstore import op\n{imports}\n\n\n@op\ndef pipeline(x):\n"
            + "\n".join(lines)
            + "\n    return x\n\n\n@op\ndef inc(x):\n    return x + 1\n"
        )


# --- children (each in a fresh process) ---------------------------------------------------------------------------


def _open(folder: str, db: str, versioned: bool):  # type: ignore[no-untyped-def]
    sys.path.insert(0, folder)
    sys.path.insert(0, ROOT)
    from graphstore import Storage

    kwargs = {"deps_path": os.path.join(folder, "genproj"), "on_change": "breaking"} if versioned else {}
    return Storage(db, **kwargs)


def _enter_and_call(storage, pipeline, x: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    with storage:
        pass
    t1 = time.perf_counter()
    with storage:
        t2 = time.perf_counter()
        pipeline(x)
        t3 = time.perf_counter()
    return t1 - t0, t3 - t2


def child_enter(folder: str, db: str, versioned: bool) -> dict[str, float]:
    """Enter+exit and first call: this process's first time, then again unchanged, then after a touch."""
    t0 = time.perf_counter()
    storage = _open(folder, db, versioned)
    from genproj.ops import pipeline

    opened = time.perf_counter() - t0
    out = {"open": opened}
    out["enter_first"], out["call_first"] = _enter_and_call(storage, pipeline, 1)
    out["enter_again"], out["call_again"] = _enter_and_call(storage, pipeline, 1)
    path = os.path.join(folder, "genproj", "mod_0.py")
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    out["enter_touched"], out["call_touched"] = _enter_and_call(storage, pipeline, 1)
    storage.close()
    return out


def child_calls(folder: str, db: str, versioned: bool, n: int) -> dict[str, float]:
    """Seconds per call: ``n`` new trivial calls recorded, then the same ``n`` retraced."""
    storage = _open(folder, db, versioned)
    from genproj.ops import inc

    with storage:
        inc(-1)  # first-call setup (op registration, version bookkeeping) is not per-call overhead
    t0 = time.perf_counter()
    with storage:
        for i in range(n):
            inc(i)
    t1 = time.perf_counter()
    with storage:
        for i in range(n):
            inc(i)
    t2 = time.perf_counter()
    storage.close()
    return {"record": (t1 - t0) / n, "retrace": (t2 - t1) / n}


# --- parent ------------------------------------------------------------------------------------------------------


def run_child(*args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-B", os.path.abspath(__file__), "--child", *args], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def fmt(seconds: float) -> str:
    if seconds >= 0.1:
        return f"{seconds:8.3f} s "
    if seconds >= 1e-4:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds * 1e6:8.1f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--functions", type=int, default=200)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, folder, db, versioned, *rest = args.child
        if kind == "enter":
            result = child_enter(folder, db, versioned == "1")
        else:
            result = child_calls(folder, db, versioned == "1", int(rest[0]))
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory() as tmp:
        generate_project(tmp, args.functions)
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in ("new_v", "old_v", "new_u", "old_u", "cv", "cu")}
        for rep in range(args.repeat):
            for flag in ("v", "u"):
                db = os.path.join(tmp, f"{flag}{rep}.db")
                versioned = "1" if flag == "v" else "0"
                runs["new_" + flag].append(run_child("enter", tmp, db, versioned))
                runs["old_" + flag].append(run_child("enter", tmp, db, versioned))
                calls_db = os.path.join(tmp, f"c{flag}{rep}.db")
                runs["c" + flag].append(run_child("calls", tmp, calls_db, versioned, str(args.calls)))
        m = {k: median_of(v) for k, v in runs.items()}

    print(
        f"Versioning costs: {args.functions} tracked functions in modules of {PER_MODULE}, "
        f"{args.calls} trivial calls; medians of {args.repeat} fresh processes.\n"
    )
    print("Entering a storage, then the first call of pipeline() (runs all the functions):")
    print(f"{'':50} {'enter+exit':>23}   {'first call':>33}")
    print(f"{'state':50} {'unversioned':>11} {'versioned':>11}   {'unversioned':>11} {'versioned':>11} {'ratio':>9}")
    rows = [
        ("new store, new process (the call runs)", "new", "first"),
        ("existing store, new process (a hit, cold cache)", "old", "first"),
        ("same process, entered again, unchanged (a hit)", "old", "again"),
        (f"same process, one module touched ({PER_MODULE} re-read)", "old", "touched"),
    ]
    for label, store, which in rows:
        u, v = m[store + "_u"], m[store + "_v"]
        enter, call = "enter_" + which, "call_" + which
        print(
            f"{label:50} {fmt(u[enter]):>11} {fmt(v[enter]):>11}   {fmt(u[call]):>11} {fmt(v[call]):>11} "
            f"{v[call] / u[call]:8.2f}x"
        )
    print(f"\n{'per call':30} {'unversioned':>12} {'versioned':>12} {'ratio':>7}")
    for key, label in (("record", "record a new call"), ("retrace", "retrace (memo hit)")):
        print(f"{label:30} {fmt(m['cu'][key]):>12} {fmt(m['cv'][key]):>12} {m['cv'][key] / m['cu'][key]:6.2f}x")


if __name__ == "__main__":
    main()
