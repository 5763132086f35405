"""graphstore side by side with its peers: one table of medians and ratios, all measured in one run.

    sh benchmarks/run.sh            # sets up .venv and benchmarks/.venv-peers, then runs this (about 10 minutes;
                                    # the first run 11 more, recording pymandala's chain store for benchmarks/.cache)
    sh benchmarks/run.sh --quick    # small sizes, one repetition (about a minute)
    python benchmarks/run.py --quick --no-peers

Systems: graphstore (the project's ``.venv``), a hand-written SQLite memoizer as the floor (``sqlmemo.py``, same
virtualenv), ``joblib.Memory`` and ``pymandala`` (``benchmarks/.venv-peers``; never project dependencies). Every
measurement runs in a fresh process (``worker.py``), repetitions are interleaved across systems so the machine's drift
hits them all alike, and the table shows medians, with ratios taken between medians of this same run. The table is
printed and written to ``benchmarks/results.md``; every repetition's raw numbers go to ``benchmarks/results.json``.

This file uses only the standard library, so any Python 3.10+ can run it.
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "worker.py")
SYSTEMS = ["graphstore", "sqlite", "joblib", "pymandala"]
PEERS = {"joblib", "pymandala"}
LABEL = {"graphstore": "graphstore", "sqlite": "SQLite floor", "joblib": "joblib.Memory", "pymandala": "pymandala"}

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
FLAT_MAX = 1.5  # "flat": record cost per call at 10^5 at most 1.5x the cost at 10^3


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs: list[float]) -> float | None:
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    k = len(xs)
    return xs[k // 2] if k % 2 else (xs[k // 2 - 1] + xs[k // 2]) / 2


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
            "sqlite": args.python,
            "joblib": args.peers_python,
            "pymandala": args.peers_python,
        }
        self.tmp = tempfile.mkdtemp(prefix="graphstore-bench-", dir=args.tmp_dir)

    def worker(self, spec: dict) -> dict:
        """Run one measurement in a fresh process; failures come back as ``{"error": ...}``."""
        python = self.python[spec["system"]]
        os.sync()  # let the previous measurement's dirty pages reach the disk first, not during this one
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [python, WORKER, json.dumps(spec)], capture_output=True, text=True, timeout=self.args.timeout, cwd=HERE
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

    def fresh_store(self) -> str:
        return tempfile.mkdtemp(dir=self.tmp)

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_suite(args: argparse.Namespace) -> dict:
    plan = PLANS["quick" if args.quick else "default"]
    reps = args.reps or plan["reps"]
    systems = [s for s in SYSTEMS if s in args.systems and (s not in PEERS or args.peers_python)]
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


# --- the table -------------------------------------------------------------------------------------------------------


def med(raw: dict, key: str, field: str) -> float | None:
    runs = raw.get(key) or []
    return median([r.get(field) for r in runs if "error" not in r and r.get(field) is not None])


def err(raw: dict, key: str) -> str | None:
    runs = raw.get(key) or []
    errors = [r["error"] for r in runs if "error" in r]
    return errors[0] if errors and len(errors) == len(runs) else None


def fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return ""
    if abs(x) >= 100:
        s = f"{x:,.0f}"
    elif abs(x) >= 10:
        s = f"{x:.1f}"
    elif abs(x) >= 1:
        s = f"{x:.2f}"
    else:
        s = f"{x:.3f}"
    return s + unit


def sci(n: int) -> str:
    k = len(str(n)) - 1
    return f"10^{k}" if n == 10**k else f"{n:,}"


def build_table(result: dict) -> tuple[list[str], list[list[str]], list[str], list[dict]]:
    raw, systems = result["raw"], result["systems"]
    peers_in = [s for s in ("joblib", "pymandala") if s in systems]
    header = ["measurement", "N"] + [LABEL[s] for s in systems]
    if "sqlite" in systems and "graphstore" in systems:
        header.append("gs÷floor")
    header += [f"{s}÷gs" for s in peers_in] + ["target (graphstore)", "met"]
    notes: list[str] = []
    checks: list[dict] = []
    rows: list[list[str]] = []

    def note(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    def sizes(section: str) -> list[int]:
        return sorted({int(k.split("/")[2]) for k in raw if k.startswith(section + "/")})

    def row(
        name: str,
        section: str,
        n: int,
        field: str,
        unit: str = "",
        n_label: str | None = None,
        ratios: bool = True,
        target: str = "",
        check: Any = None,
        cell: Any = None,
    ) -> None:
        vals = {s: med(raw, f"{section}/{s}/{n}", field) for s in systems}
        cells = []
        for s in systems:
            key = f"{section}/{s}/{n}"
            if key not in raw:
                cells.append("-")
            elif vals[s] is None:
                e = err(raw, key) or "no result"
                cells.append("n/a " + note(f"{LABEL[s]}, {name} at {n_label or sci(n)}: {e}"))
            else:
                text = cell(s, n) if cell else fmt(vals[s], unit)
                runs = [r for r in raw[key] if "error" not in r]
                if section == "chain_record":
                    if runs[0].get("from_cache"):
                        text += " " + note(
                            f"{LABEL[s]}'s chain store recorded once in an earlier run "
                            f"({runs[0].get('recorded_at', '?')}) and kept in benchmarks/.cache; "
                            "its table is queried anew in this run"
                        )
                elif len(runs) == 1 and result["reps"] > 1:
                    text += " " + note("measured once (a repetition takes minutes), not a median")
                cells.append(text)
        g = vals.get("graphstore")
        if "gs÷floor" in header:
            fl = vals.get("sqlite")
            cells.append(f"{g / fl:.1f}x" if ratios and g and fl else "")
        for p in peers_in:
            v = vals.get(p)
            cells.append(
                f"{v / g:.0f}x" if ratios and g and v and v / g >= 10 else f"{v / g:.1f}x" if ratios and g and v else ""
            )
        met = ""
        if check is not None and target:
            ok = check(vals)
            met = "" if ok is None else ("yes" if ok else "NO")
            checks.append({"row": f"{name} {n_label or sci(n)}", "target": target, "met": ok})
        rows.append([name, n_label or sci(n)] + cells + [target, met])

    def ratio(vals: dict, a: str, b: str) -> float | None:
        return vals[a] / vals[b] if vals.get(a) and vals.get(b) else None

    def mb_cell(section: str, field: str) -> Any:
        return lambda s, n: fmt(med(raw, f"{section}/{s}/{n}", field) / 1e6) + " MB"

    def peak_cell(section: str) -> Any:
        def cell(s: str, n: int) -> str:
            peak = med(raw, f"{section}/{s}/{n}", "peak_mb")
            base = med(raw, f"{section}/{s}/{n}", "rss_before_mb")
            return f"{peak:.0f} (+{peak - base:.0f})" if base is not None else f"{peak:.0f}"

        return cell

    rec_sizes = sizes("record")
    for n in rec_sizes:
        target, check = "", None
        if n == 100_000:
            target, check = "≤ 25 µs", lambda v: v["graphstore"] <= 25 if v.get("graphstore") else None
        if n == 10_000:
            target = "joblib ≥ 10x, pymandala ≥ 200x"

            def check(v: dict) -> bool | None:
                rj, rp = ratio(v, "joblib", "graphstore"), ratio(v, "pymandala", "graphstore")
                if rj is None and rp is None:
                    return None
                return (rj is None or rj >= 10) and (rp is None or rp >= 200)

        row("record µs/call", "record", n, "us_per_call", target=target, check=check)
    if 1_000 in rec_sizes and 100_000 in rec_sizes:
        a, b = med(raw, "record/graphstore/1000", "us_per_call"), med(raw, "record/graphstore/100000", "us_per_call")
        flat = b / a if a and b else None
        vals_text = {s: "" for s in systems}
        for s in systems:
            x, y = med(raw, f"record/{s}/1000", "us_per_call"), med(raw, f"record/{s}/100000", "us_per_call")
            vals_text[s] = f"{y / x:.2f}x" if x and y else "-"
        rows.append(
            ["record flatness (10^5 ÷ 10^3)", ""]
            + [vals_text[s] for s in systems]
            + [""] * (len(header) - 2 - len(systems) - 2)
            + [f"≤ {FLAT_MAX}x", "" if flat is None else ("yes" if flat <= FLAT_MAX else "NO")]
        )
        checks.append(
            {"row": "record flatness", "target": f"≤ {FLAT_MAX}x", "met": None if flat is None else flat <= FLAT_MAX}
        )
    for n in sizes("retrace"):
        row(
            "retrace µs/call",
            "retrace",
            n,
            "us_per_call",
            target="≤ 10 µs",
            check=lambda v: v["graphstore"] <= 10 if v.get("graphstore") else None,
        )
    for n in rec_sizes:
        row("store on disk (record)", "record", n, "disk_bytes", cell=mb_cell("record", "disk_bytes"))
    for n in rec_sizes:
        row("peak MB (+ over imports)", "record", n, "peak_mb", ratios=False, cell=peak_cell("record"))
    for n in sizes("chain_record"):
        row("chain record µs/call", "chain_record", n, "us_per_call")
    for n in sizes("chain_query"):
        target, check = "", None
        if n == 100_000:
            target, check = "≤ 3 s", lambda v: v["graphstore"] <= 3 if v.get("graphstore") else None
        if n == 10_000:
            target = "pymandala ≥ 10x"

            def check(v: dict) -> bool | None:
                r = ratio(v, "pymandala", "graphstore")
                return None if r is None else r >= 10

        row("chain table s (cf...df())", "chain_query", n, "seconds", target=target, check=check)
    for mb in sizes("bigarg"):
        label = f"{mb} MB"
        row("big arg: raw xxh3_128 ms", "bigarg", mb, "raw_ms", n_label=label, ratios=False)
        row("big arg: first call ms", "bigarg", mb, "first_ms", n_label=label)
        row("big arg: cached call ms", "bigarg", mb, "cached_ms", n_label=label)

        def cached_over_raw(s: str, n: int) -> str:
            c, r = med(raw, f"bigarg/{s}/{n}", "cached_ms"), med(raw, f"bigarg/{s}/{n}", "raw_ms")
            return f"{c / r:.2f}x" if c and r else ""

        def check_raw(v: dict, mb: int = mb) -> bool | None:
            c, r = med(raw, f"bigarg/graphstore/{mb}", "cached_ms"), med(raw, f"bigarg/graphstore/{mb}", "raw_ms")
            return None if not (c and r) else c / r <= 1.5

        row(
            "big arg: cached ÷ raw",
            "bigarg",
            mb,
            "cached_ms",
            n_label=label,
            ratios=False,
            cell=cached_over_raw,
            target="≤ 1.5x" if mb == 100 else "",
            check=check_raw if mb == 100 else None,
        )
    return header, rows, notes, checks


def render(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


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


NOTES = """\
How to read it: times are medians over repetitions, each in a fresh process; `X÷gs` is that system's median over
graphstore's (above 1: graphstore is faster); `gs÷floor` is graphstore over the hand-written SQLite memoizer
(`benchmarks/sqlmemo.py`: xxh3 of the pickled arguments, one table, lookups by primary key, one INSERT transaction;
no history, no inputs stored). record: N calls of `inc(x)` on distinct ints in one `with` block on a new file store,
the block's end (writing everything) included; retrace: the same calls in a new process on that store. Store size is
bytes on disk after recording (all files: SQLite and WAL, or joblib's two files per call). Peak MB is `VmHWM` of the
recording process, then in parentheses its growth over the RSS after imports. chain: `a=f(i); b=g(a); c=h(a,b)`
recorded once (chain record: µs per op call), then `storage.cf(h).expand_all().df()` timed in new processes on that
store, its files read once beforehand so every system starts from the page cache, and its query libraries (pandas,
and graphstore's query layer, which loads on first use) imported before the clock starts. big arg: `first(arr)` on a
float64 array, the first call (hashing and storing the array) and a cached call in a new `with` block on a fresh copy
of the array, against `xxhash.xxh3_128` of the same bytes; stores have an overflow directory (pymandala refuses values
over 50 MB without one). "flat": the 10^5 cost per call at most {flat}x the 10^3 one. Before each measurement the
runner calls sync, so one system's writes are not flushed during the next one's measurement."""


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
    with open(args.out + ".md", "w") as fh:
        fh.write(f"# Last benchmark results\n\n{title}\n\n{table}\n\n{foot}\n\n{NOTES.format(flat=FLAT_MAX)}\n")
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
