"""graphstore side by side with its peers: one table of medians and ratios, all measured in one run.

    sh benchmarks/run.sh            # sets up .venv and benchmarks/.venv-peers, then runs this (about 10 minutes;
                                    # the first run 11 more, recording pymandala's chain store for benchmarks/.cache)
    sh benchmarks/run.sh --quick    # small sizes, one repetition (about a minute)
    python benchmarks/run.py --quick --no-peers
    sh benchmarks/run.sh --postgres             # also graphstore on a throwaway PostgreSQL server (pg÷gs column)
    sh benchmarks/run.sh --before /tmp/before   # also graphstore from an earlier tree (git worktree add --detach
                                                # /tmp/before COMMIT), with a gs÷before column: a change's cost

Systems: graphstore (the project's ``.venv``), a hand-written SQLite memoizer as the floor (``sqlmemo.py``, same
virtualenv), ``joblib.Memory`` and ``pymandala`` (``benchmarks/.venv-peers``; never project dependencies). Every
measurement runs in a fresh process (``worker.py``), repetitions are interleaved across systems so the machine's drift
hits them all alike, and the table shows medians, with ratios taken between medians of this same run. The table is
printed and written to ``benchmarks/results.md``; every repetition's raw numbers go to ``benchmarks/results.json``.

This file uses only the standard library, so any Python 3.10+ can run it; with ``--postgres`` it starts a server
through ``tests/pg_server.py``, which needs psycopg (``run.sh`` installs the ``postgres`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

from table import FLAT_MAX, NOTES, build_table, render

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "worker.py")
SYSTEMS = ["graphstore", "sqlite", "joblib", "pymandala"]
PEERS = {"joblib", "pymandala"}

# Sizes per system. Peers only where they finish in minutes: pymandala records at 6-17 ms per call, growing with the
# store, joblib.Memory at about 300 µs per call with two files per call. Configurations in "once" run once, after
# all the repeated ones (each takes minutes; and after joblib has written and deleted its 10^5 store, 200,000 files,
# its later runs on this machine are 4x slower); the table marks them.
PLANS: dict[str, dict[str, Any]] = {
    "default": {
        "reps": 3,
        "record": {
            "graphstore": [1_000, 10_000, 100_000],
            "sqlite": [1_000, 10_000, 100_000],
            "joblib": [1_000, 10_000, 100_000],
            "pymandala": [1_000, 10_000],
        },
        "chain": {"graphstore": [1_000, 10_000, 100_000], "pymandala": [1_000, 10_000]},
        "bigarg_mb": [10, 100],
        "once": {("record", "joblib", 100_000), ("record", "pymandala", 10_000)},
    },
    "quick": {
        "reps": 1,
        "record": {
            "graphstore": [1_000, 10_000],
            "sqlite": [1_000, 10_000],
            "joblib": [1_000],
            "pymandala": [1_000],
        },
        "chain": {"graphstore": [1_000, 10_000], "pymandala": [1_000]},
        "bigarg_mb": [10],
        "once": set(),
    },
}

# pymandala takes about 11 minutes to record the 10^4 chain (30,000 calls, slower as its store grows), so its chain
# stores are kept in benchmarks/.cache between runs, keyed by its version and the ops' source; only the table query
# is timed in every run. --no-cache rebuilds them.
CACHED_CHAIN = {"pymandala"}
CACHE = os.path.join(HERE, ".cache")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def dir_size(path: str) -> tuple[int, int]:
    """(bytes on disk, apparent bytes) of every file under ``path``."""
    disk = apparent = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            disk += st.st_blocks * 512
            apparent += st.st_size
    return disk, apparent


def warm(path: str) -> None:
    """Read every file under ``path`` once, so that every system's query starts with its store in the page cache."""
    for dirpath, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as fh:
                while fh.read(1 << 24):
                    pass


def chain_cache(args: argparse.Namespace, system: str, n: int) -> str | None:
    """The folder keeping this system's recorded chain store between runs, or None if it is not cached."""
    if system not in CACHED_CHAIN or args.no_cache:
        return None
    import ast
    import hashlib

    with open(WORKER) as fh:
        source = fh.read()
    ops = [
        ast.get_source_segment(source, node) or ""
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name in ("f", "g", "h", "task_chain_record")
    ]
    version = subprocess.run(
        [args.peers_python, "-c", "import importlib.metadata as m; print(m.version('pymandala'))"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    key = hashlib.sha256("\n".join([version] + ops).encode()).hexdigest()[:12]
    return os.path.join(CACHE, f"{system}-chain-{n}-{key}")


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.python = {
            "graphstore": args.python,
            "before": args.python,
            "sqlite": args.python,
            "joblib": args.peers_python,
            "pymandala": args.peers_python,
        }
        self.tmp = tempfile.mkdtemp(prefix="graphstore-bench-", dir=args.tmp_dir)
        self.urls: dict[str, str] = {}
        self.databases: Any = None
        self.server: Any = None
        if args.postgres:
            self.python["postgres"] = args.python
            sys.path.insert(0, os.path.join(ROOT, "tests"))
            from pg_server import start  # (psycopg: the project's postgres extra)

            self.databases, self.server = start()

    def worker(self, spec: dict) -> dict:
        """Run one measurement in a fresh process; failures come back as ``{"error": ...}``."""
        python = self.python[spec["system"]]
        env, cwd, sent = None, HERE, spec
        if spec["system"] == "postgres":  # graphstore on a PostgreSQL database of its own per store folder
            if spec["store"] not in self.urls:
                self.urls[spec["store"]] = self.databases.create()
            sent = dict(spec, system="graphstore", url=self.urls[spec["store"]])
        if spec["system"] == "before":  # graphstore, imported from the tree given by --before
            tree = self.args.before
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([tree, os.environ.get("PYTHONPATH", "")]))
            cwd, sent = tree, dict(spec, system="graphstore")
        os.sync()  # let the previous measurement's dirty pages reach the disk first, not during this one
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [python, WORKER, json.dumps(sent)],
                capture_output=True,
                text=True,
                timeout=self.args.timeout,
                cwd=cwd,
                env=env,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timeout after {self.args.timeout} s"}
        wall = time.perf_counter() - t0
        line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("RESULT ")), None)
        if line is None:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
            return {"error": f"worker failed: {tail[0][:300]}", "stderr": proc.stderr[-3000:]}
        out = json.loads(line[len("RESULT ") :])
        out["wall_s"] = wall
        what = f"{spec['system']} {spec['task']} " + (f"n={spec['n']}" if "n" in spec else f"{spec.get('mb')} MB")
        log(
            f"{what}: "
            + (
                f"ERROR {out['error']}"
                if "error" in out
                else ", ".join(
                    f"{k}={v:.4g}"
                    for k, v in out.items()
                    if k in ("us_per_call", "seconds", "first_ms", "cached_ms", "raw_ms", "peak_mb")
                )
            )
        )
        return out

    def database_size(self, store: str) -> int:
        """Bytes of the PostgreSQL database behind a store folder (tables, indexes, TOAST)."""
        name = self.urls[store].rsplit("/", 1)[1]
        return int(self.databases.conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()[0])

    def fresh_store(self) -> str:
        return tempfile.mkdtemp(dir=self.tmp)

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.databases is not None:
            self.databases.close()
        if self.server is not None:
            self.server.stop()


def run_suite(args: argparse.Namespace) -> dict:
    plan = PLANS["quick" if args.quick else "default"]
    reps = args.reps or plan["reps"]
    systems = [s for s in SYSTEMS if s in args.systems and (s not in PEERS or args.peers_python)]
    if args.postgres and "graphstore" in systems:
        systems.insert(systems.index("graphstore") + 1, "postgres")
        for section in ("record", "chain"):  # measured at graphstore's sizes from 10^4 on
            sizes = [n for n in plan[section]["graphstore"] if n >= 10_000]
            plan = dict(plan, **{section: dict(plan[section], postgres=sizes)})
    if args.before and "graphstore" in systems:
        systems.insert(systems.index("graphstore") + 1, "before")
        for section in ("record", "chain"):  # measured at graphstore's sizes
            plan = dict(plan, **{section: dict(plan[section], before=plan[section]["graphstore"])})
    runner = Runner(args)
    raw: dict[str, dict[str, list[dict]]] = {}  # "section/system/n" -> list of repetition results

    def add(section: str, system: str, n: int, result: dict) -> None:
        raw.setdefault(f"{section}/{system}/{n}", []).append(result)

    try:
        sections = args.only.split(",")
        if "record" in sections:

            def record(system: str, n: int) -> None:
                store = runner.fresh_store()
                rec = runner.worker({"system": system, "task": "record", "n": n, "store": store})
                rec["disk_bytes"], rec["apparent_bytes"] = dir_size(store)
                if system == "postgres" and "error" not in rec:
                    rec["disk_bytes"] = runner.database_size(store)
                ret = (
                    runner.worker({"system": system, "task": "retrace", "n": n, "store": store})
                    if "error" not in rec
                    else {"error": "record failed"}
                )
                add("record", system, n, rec)
                add("retrace", system, n, ret)
                shutil.rmtree(store, ignore_errors=True)

            once = []
            for rep in range(reps):
                for n in sorted({n for s in systems for n in plan["record"].get(s, [])}):
                    for system in systems:
                        if n not in plan["record"].get(system, []):
                            continue
                        if ("record", system, n) in plan["once"] and reps > 1:
                            if rep == 0:
                                once.append((system, n))
                            continue
                        record(system, n)
            for system, n in once:  # last: after joblib's 10^5 store (200,000 files), joblib runs 4x slower here
                record(system, n)
        if "chain" in sections:
            stores = {}
            for system in systems:
                for n in plan["chain"].get(system, []):
                    store = runner.fresh_store()
                    stores[(system, n)] = store
                    cache = chain_cache(args, system, n)
                    if cache and os.path.exists(os.path.join(cache, "record.json")):
                        shutil.copytree(os.path.join(cache, "store"), store, dirs_exist_ok=True)
                        with open(os.path.join(cache, "record.json")) as fh:
                            rec = json.load(fh)
                        rec["from_cache"] = cache
                        log(f"{system} chain_record n={n}: store taken from {os.path.relpath(cache, ROOT)}")
                    else:
                        rec = runner.worker({"system": system, "task": "chain_record", "n": n, "store": store})
                        rec["disk_bytes"], rec["apparent_bytes"] = dir_size(store)
                        if cache and "error" not in rec and rec.get("computed") == 3 * n:
                            shutil.rmtree(cache, ignore_errors=True)
                            shutil.copytree(store, os.path.join(cache, "store"))
                            rec["recorded_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
                            with open(os.path.join(cache, "record.json"), "w") as fh:
                                json.dump(rec, fh)
                    add("chain_record", system, n, rec)
            for rep in range(reps):
                for (system, n), store in stores.items():
                    if "error" in raw[f"chain_record/{system}/{n}"][0]:
                        if rep == 0:
                            add("chain_query", system, n, {"error": "recording the chain failed"})
                        continue
                    warm(store)
                    add(
                        "chain_query",
                        system,
                        n,
                        runner.worker({"system": system, "task": "chain_query", "n": n, "store": store}),
                    )
            for store in stores.values():
                shutil.rmtree(store, ignore_errors=True)
        if "bigarg" in sections:
            for _rep in range(reps):
                for mb in plan["bigarg_mb"]:
                    for system in systems:
                        store = runner.fresh_store()
                        spec = {"system": system, "task": "bigarg", "mb": mb, "overflow": True, "store": store}
                        add("bigarg", system, mb, runner.worker(spec))
                        shutil.rmtree(store, ignore_errors=True)
    finally:
        runner.close()
    return {"plan": "quick" if args.quick else "default", "reps": reps, "systems": systems, "raw": raw}


def environment(args: argparse.Namespace) -> dict:
    def out(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60).stdout.strip()
        except Exception:
            return ""

    env = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_start": round(os.getloadavg()[0], 2),  # other work on the machine skews every number
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "python": out([args.python, "-c", "import sys; print(sys.version.split()[0])"]),
        "graphstore_commit": out(["git", "rev-parse", "--short", "HEAD"])
        + (" (with uncommitted changes)" if out(["git", "status", "--porcelain", "graphstore", "query"]) else ""),
    }
    if args.peers_python:
        env["peers"] = out(
            [
                args.peers_python,
                "-c",
                "import importlib.metadata as m; print(', '.join(f'{p} '"
                " + m.version(p) for p in ('pymandala', 'joblib', 'pandas', 'numpy')))",
            ]
        )
    return env


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, or 1 with --quick)")
    venv_py = os.path.join(ROOT, ".venv", "bin", "python")
    peers_py = os.path.join(HERE, ".venv-peers", "bin", "python")
    parser.add_argument(
        "--python",
        default=venv_py if os.path.exists(venv_py) else sys.executable,
        help="Python with graphstore installed (default: .venv)",
    )
    parser.add_argument(
        "--peers-python",
        default=peers_py if os.path.exists(peers_py) else None,
        help="Python with joblib and pymandala (default: benchmarks/.venv-peers)",
    )
    parser.add_argument("--no-peers", action="store_true", help="graphstore and the SQLite floor only")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ",".join(SYSTEMS))
    parser.add_argument("--only", default="record,chain,bigarg", help="comma-separated sections to run")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed to one worker process")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="record pymandala's chain stores anew instead of reusing benchmarks/.cache",
    )
    parser.add_argument("--tmp-dir", help="where stores are built (default: the system's temporary directory)")
    parser.add_argument("--out", default=os.path.join(HERE, "results"), help="writes OUT.md and OUT.json")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also graphstore on PostgreSQL (a throwaway local server, or GRAPHSTORE_TEST_POSTGRES), from 10^4 on",
    )
    parser.add_argument(
        "--before",
        help="also measure graphstore from this source tree (a folder holding a graphstore package, e.g. a "
        "`git worktree add --detach` of an earlier commit), side by side: a change's cost in one run",
    )
    args = parser.parse_args()
    if args.no_peers:
        args.peers_python = None
    elif args.peers_python is None:
        log(
            "no benchmarks/.venv-peers: measuring graphstore and the SQLite floor only (sh benchmarks/run.sh sets "
            "the peers up)"
        )
    args.systems = args.systems.split(",")
    args.python = os.path.abspath(args.python)  # workers run with cwd benchmarks/
    if args.before:
        args.before = os.path.abspath(args.before)
        if not os.path.isfile(os.path.join(args.before, "graphstore", "__init__.py")):
            parser.error(f"--before {args.before}: no graphstore package in that folder")
    if args.peers_python:
        args.peers_python = os.path.abspath(args.peers_python)

    env = environment(args)
    t0 = time.perf_counter()
    result = run_suite(args)
    env["suite_seconds"] = round(time.perf_counter() - t0, 1)
    env["load_average_1min_at_start_end"] = [env.pop("load_start"), round(os.getloadavg()[0], 2)]
    header, rows, notes, checks = build_table(result)
    table = render(header, rows)
    foot = "\n".join(f"[{i + 1}] {n}" for i, n in enumerate(notes))
    title = (
        f"graphstore benchmarks ({result['plan']} plan, {result['reps']} repetition(s); {env['date']}; "
        f"{env['machine']}; load {env['load_average_1min_at_start_end']}; Python {env['python']}; "
        f"graphstore {env['graphstore_commit']}"
        + (f"; {env['peers']}" if env.get("peers") else "")
        + f"; {env['suite_seconds']} s)"
    )
    print()
    print(title)
    print()
    print(table)
    if foot:
        print()
        print(foot)
    others = ""  # sections other benchmarks keep in the file (## headings, e.g. benchmarks/writers.py's)
    if os.path.exists(args.out + ".md"):
        with open(args.out + ".md") as fh:
            old = fh.read()
        others = old[old.index("\n## ") :] if "\n## " in old else ""
    with open(args.out + ".md", "w") as fh:
        fh.write(f"# Last benchmark results\n\n{title}\n\n{table}\n\n{foot}\n\n{NOTES.format(flat=FLAT_MAX)}\n{others}")
    with open(args.out + ".json", "w") as fh:
        json.dump(
            {"environment": env, "checks": checks, "header": header, "rows": rows, "notes": notes, **result},
            fh,
            indent=1,
            default=str,
        )
    print(f"\nwrote {args.out}.md and {args.out}.json", file=sys.stderr)


if __name__ == "__main__":
    main()
