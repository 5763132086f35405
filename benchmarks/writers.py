"""Benchmark: several processes recording into one store at once, on PostgreSQL and on a SQLite file.

    .venv/bin/python benchmarks/writers.py                  # 4 and 8 writers x 25,000 calls each, both engines
    .venv/bin/python benchmarks/writers.py --calls 3000 --writers 2 4

Each writer (``tests/writers_worker.py``) records ``pair(work(x), x)`` (two calls a round) in one ``with storage:``
block; a third of its rounds are the same in every writer, met in another order by each. For each number of writers,
a fresh PostgreSQL database (on a throwaway server started through ``tests/pg_server.py``, or the one named by
``GRAPHSTORE_TEST_POSTGRES``) and a fresh SQLite file get the same load. The writers open the store, then start
together; the wall time runs from that start to the end of the last ``with`` block (everything written). Afterwards
the store must hold every distinct call exactly once (rows per op and per history id counted), and every writer must
have exited 0 with an empty stderr. Results: a table on stdout, and a section of ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tests"), ROOT]

from graphstore import Storage  # noqa: E402
from writers_worker import Writers, distinct_calls  # noqa: E402

SECTION = "## Several writers"
RESULTS = os.path.join(ROOT, "benchmarks", "results.md")


def verify(store: str, writers: int, rounds: int, shared: int) -> int:
    """The number of calls stored, after checking that every distinct call is there exactly once."""
    expected = distinct_calls(writers, rounds, shared) // 2
    storage = Storage(store, read_only=True)
    try:
        per_op = dict(storage.backend.execute("SELECT op_name, count(*) FROM calls GROUP BY op_name"))
        distinct = storage.backend.execute("SELECT count(DISTINCT hid), count(*) FROM calls")[0]
        if per_op != {"work": expected, "pair": expected} or distinct[0] != distinct[1]:
            raise SystemExit(f"{store}: calls per op {per_op}, expected {expected} each; (distinct, rows) {distinct}")
    finally:
        storage.close()
    return int(distinct[1])


def run_one(store: str, writers: int, rounds: int, shared: int) -> dict[str, Any]:
    Storage(store).close()  # the schema, before the clock
    group = Writers(store, writers, rounds, shared)
    group.go()
    results = group.finish()
    for me, (status, _, stderr) in results.items():
        if status != 0 or stderr.strip():
            raise SystemExit(f"writer {me} on {store} exited {status}: {stderr[-3000:]}")
    wall = max(r[1]["t1"] for r in results.values()) - group.started
    stored = verify(store, writers, rounds, shared)
    total = 2 * rounds * writers
    return {"writers": writers, "total": total, "unique": stored, "wall": wall, "rate": total / wall}


def server_settings(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        names = ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        rows = conn.execute("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", (list(names),))
        shown = []
        for name, setting, unit in rows:
            if unit == "8kB":  # shared_buffers: a count of 8 kB pages
                setting, unit = str(int(setting) * 8 // 1024), "MB"
            shown.append(f"{name} {setting}{' ' + unit if unit else ''}")
        return ", ".join(shown)


def table(rows: list[dict[str, Any]]) -> str:
    sqlite = {r["writers"]: r["rate"] for r in rows if r["engine"] == "sqlite"}
    lines = [
        "| engine | writers | total calls | unique calls | wall s | aggregate calls/s | pg/sqlite |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ratio = (
            f"{r['rate'] / sqlite[r['writers']]:.2f}x" if r["engine"] == "postgres" and r["writers"] in sqlite else ""
        )
        lines.append(
            f"| {r['engine']} | {r['writers']} | {r['total']:,} | {r['unique']:,} | {r['wall']:.2f} | "
            f"{r['rate']:,.0f} | {ratio} |"
        )
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Put ``text`` in place of the section of ``results.md`` it heads (or after the rest)."""
    old = open(RESULTS).read() if os.path.exists(RESULTS) else ""
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text, old, count=1) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    with open(RESULTS, "w") as fh:
        fh.write(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=25_000, help="calls per writer (two a round)")
    parser.add_argument("--writers", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--engines", nargs="+", default=["postgres", "sqlite"], choices=["postgres", "sqlite"])
    parser.add_argument("--no-results", action="store_true", help="print only; leave results.md alone")
    args = parser.parse_args()
    rounds = args.calls // 2
    shared = rounds // 3
    databases = server = None
    if "postgres" in args.engines:
        from pg_server import start

        databases, server = start()
    rows: list[dict[str, Any]] = []
    settings = ""
    load_before = os.getloadavg()
    began = time.time()
    try:
        with tempfile.TemporaryDirectory(prefix="graphstore-writers-") as tmp:
            for writers in args.writers:
                for engine in args.engines:
                    if engine == "postgres":
                        assert databases is not None
                        store = databases.create()
                        settings = settings or server_settings(store)
                    else:
                        store = os.path.join(tmp, f"writers-{writers}.db")
                    row = run_one(store, writers, rounds, shared)
                    row["engine"] = engine
                    rows.append(row)
                    print(
                        f"{engine} {writers} writers: {row['wall']:.2f} s, {row['rate']:,.0f} calls/s", file=sys.stderr
                    )
                    if engine == "postgres" and databases is not None:
                        databases.drop(store)
    finally:
        if databases is not None:
            databases.close()
        if server is not None:
            server.stop()
    out = table(rows)
    print(out)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(began))
    where = (
        "a throwaway local server (tests/pg_server.py)"
        if server is not None
        else "the server of GRAPHSTORE_TEST_POSTGRES"
    )
    text = (
        f"{SECTION}\n\n`.venv/bin/python benchmarks/writers.py --calls {args.calls} --writers "
        f"{' '.join(map(str, args.writers))}` ({stamp} UTC; {platform.machine()}, {os.cpu_count()} cores shared by "
        f"the writers and the server; load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; "
        f"PostgreSQL on {where}: {settings or 'not measured'}; SQLite: a file in the temporary folder)\n\n{out}\n\n"
        f"Each writer records {args.calls:,} calls (`pair(work(x), x)`), a third of them the same in every writer; "
        "unique calls: distinct calls in the store afterwards, each checked stored exactly once. Wall time: from the "
        "start signal to the end of the last `with` block; aggregate calls/s: total calls over wall time.\n"
    )
    if not args.no_results:
        write_section(text)


if __name__ == "__main__":
    main()
