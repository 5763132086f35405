"""One measurement in a fresh process, started by ``benchmarks/run.py``; prints one JSON line ``RESULT {...}``.

    python benchmarks/worker.py '{"system": "graphstore", "task": "record", "n": 1000, "store": "/tmp/x"}'

Systems: ``graphstore`` and ``sqlite`` (the hand-written floor in ``sqlmemo.py``) run in the project's virtualenv;
``joblib`` and ``pymandala`` in ``benchmarks/.venv-peers``. Only the system measured is imported. Tasks:

- ``record``: N fresh calls of ``inc(x)`` on distinct ints in one context, on a new store in ``store``;
- ``retrace``: the same N calls again (run it in a new process on the store ``record`` left);
- ``chain_record``: ``a = f(i); b = g(a); c = h(a, b)`` for i < N on a new store;
- ``chain_query``: the full history table of ``h`` on the store ``chain_record`` left;
- ``bigarg``: a numpy array of ``mb`` MB passed to ``first(arr)``: the first call, then cached calls (each in a new
  context, on a fresh copy of the array so no per-object cache can help), against raw ``xxh3_128`` of its bytes.

Times cover the calls and the end of the ``with`` block (which writes what was recorded), not opening the store or
importing. Memory is read from ``/proc/self/status`` (``VmHWM``, the peak; ``VmRSS`` after imports).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

COMPUTED = [0]  # op bodies count their runs: record must compute N, retrace 0


def proc_status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0  # kB
    return float("nan")


def median(xs: list) -> float:
    s = sorted(xs)
    k = len(s)
    return s[k // 2] if k % 2 else (s[k // 2 - 1] + s[k // 2]) / 2


# --- the four systems, behind one small interface --------------------------------------------------------------------
#
# ``open_store(spec)`` returns (ctx, wrap): ``ctx()`` a context manager around a batch of calls (a no-op for joblib),
# and ``wrap(fn)`` the memoized version of a plain function.


class _NoCtx:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def open_graphstore(spec: dict) -> tuple[Callable, Callable]:
    import graphstore
    from graphstore import Storage, op

    # The query layer's folder sits beside the package and installs as graphstore.query. A tree measured from its
    # source folder (PYTHONPATH) must use its own query/, not the one an installed graphstore maps that name to.
    root = os.path.dirname(os.path.dirname(os.path.abspath(graphstore.__file__)))
    if os.path.isfile(os.path.join(root, "query", "__init__.py")) and root not in graphstore.__path__:
        graphstore.__path__.append(root)

    kw = {"overflow_dir": os.path.join(spec["store"], "overflow")} if spec.get("overflow") else {}
    storage = Storage(spec.get("url") or os.path.join(spec["store"], "store.db"), **kw)  # url: a PostgreSQL store
    _STATE["storage"] = storage
    return (lambda: storage), op


def open_pymandala(spec: dict) -> tuple[Callable, Callable]:
    import warnings

    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.WARNING)
    from mandala.imports import Storage, op

    kw = {"overflow_dir": os.path.join(spec["store"], "overflow")} if spec.get("overflow") else {}
    storage = Storage(db_path=os.path.join(spec["store"], "store.db"), **kw)
    _STATE["storage"] = storage
    return (lambda: storage), op


def open_joblib(spec: dict) -> tuple[Callable, Callable]:
    from joblib import Memory

    memory = Memory(os.path.join(spec["store"], "joblib"), verbose=0)
    return (lambda: _NoCtx()), memory.cache


def open_sqlite(spec: dict) -> tuple[Callable, Callable]:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from sqlmemo import SQLiteMemo

    memo = SQLiteMemo(os.path.join(spec["store"], "memo.db"))
    return (lambda: memo), memo.cache


OPENERS = {"graphstore": open_graphstore, "pymandala": open_pymandala, "joblib": open_joblib, "sqlite": open_sqlite}
_STATE: dict = {}


# --- the ops (plain functions; each system wraps them) ---------------------------------------------------------------


def inc(x):
    COMPUTED[0] += 1
    return x + 1


def f(i):
    COMPUTED[0] += 1
    return i + 1


def g(a):
    COMPUTED[0] += 1
    return 2 * a


def h(a, b):
    COMPUTED[0] += 1
    return a + b


def first(arr):
    COMPUTED[0] += 1
    return float(arr.flat[0])


# --- tasks ------------------------------------------------------------------------------------------------------------


def task_record(spec: dict, ctx: Callable, wrap: Callable) -> dict:
    n = spec["n"]
    inc_m = wrap(inc)
    rss0 = proc_status_mb("VmRSS")
    t0 = time.perf_counter()
    with ctx():
        for i in range(n):
            inc_m(i)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "us_per_call": seconds / n * 1e6, "computed": COMPUTED[0], "rss_before_mb": rss0}


task_retrace = task_record


def task_chain_record(spec: dict, ctx: Callable, wrap: Callable) -> dict:
    n = spec["n"]
    f_m, g_m, h_m = wrap(f), wrap(g), wrap(h)
    start = spec.get("start", 0)
    t0 = time.perf_counter()
    with ctx():
        for i in range(start, start + n):
            a = f_m(i)
            b = g_m(a)
            h_m(a, b)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "us_per_call": seconds / (3 * n) * 1e6, "computed": COMPUTED[0]}


def task_chain_query(spec: dict, ctx: Callable, wrap: Callable) -> dict:
    h_m = wrap(h)
    wrap(f), wrap(g)  # the ops are known to the storage, as in a session that queries its own ops
    storage = _STATE["storage"]
    if spec["system"] == "graphstore":
        # the query layer and pandas load with the first query; pymandala loads them with itself, so both start with
        # them loaded (a graphstore from before the query layer moved into the package imports it as `query`)
        import inspect

        import graphstore.storage

        moved = "from .query import" in inspect.getsource(graphstore.storage)
        importlib.import_module("graphstore.query" if moved else "query")
    t0 = time.perf_counter()
    df = storage.cf(h_m).expand_all().df()
    seconds = time.perf_counter() - t0
    if len(df) != spec["n"]:
        raise AssertionError(f"history table has {len(df)} rows, expected {spec['n']}; columns {list(df.columns)}")
    return {"seconds": seconds, "shape": list(df.shape), "columns": [str(c) for c in df.columns]}


def task_bigarg(spec: dict, ctx: Callable, wrap: Callable) -> dict:
    import numpy as np
    import xxhash

    n_items = int(spec["mb"] * 1e6) // 8
    arr = np.random.default_rng(0).random(n_items)
    raw = []
    for _ in range(5):
        t0 = time.perf_counter()
        xxhash.xxh3_128_digest(arr)
        raw.append(time.perf_counter() - t0)
    first_m = wrap(first)
    copy = arr.copy()
    t0 = time.perf_counter()
    with ctx():
        first_m(copy)
    first_s = time.perf_counter() - t0
    cached = []
    for _ in range(3):
        copy = arr.copy()
        t0 = time.perf_counter()
        with ctx():
            first_m(copy)
        cached.append(time.perf_counter() - t0)
    return {
        "raw_ms": median(raw) * 1e3,
        "first_ms": first_s * 1e3,
        "cached_ms": median(cached) * 1e3,
        "computed": COMPUTED[0],
    }


TASKS = {
    "record": task_record,
    "retrace": task_retrace,
    "chain_record": task_chain_record,
    "chain_query": task_chain_query,
    "bigarg": task_bigarg,
}


def main() -> None:
    spec = json.loads(sys.argv[1])
    out: dict = {}
    try:
        t0 = time.perf_counter()
        ctx, wrap = OPENERS[spec["system"]](spec)
        out["open_s"] = time.perf_counter() - t0
        out.update(TASKS[spec["task"]](spec, ctx, wrap))
    except Exception as exc:  # reported as the cell's value, never fatal to the suite
        out["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        out["traceback"] = traceback.format_exc()[-3000:]
    out["peak_mb"] = proc_status_mb("VmHWM")
    sys.stdout.flush()
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
