"""Several processes recording into one PostgreSQL store at once, their batches overlapping: no call lost, none stored
twice, no error (batches are written in key order, and a deadlocked transaction would be run again)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import psycopg

from graphstore import Storage

OPS = """\
from graphstore import op


@op
def work(x):
    return x * 3 + 1


@op
def pair(x, y):
    return x - y
"""

WORKER = """\
import random
import sys

from graphstore import Storage  # (before the ops' folder goes on the path)

sys.path.insert(0, sys.argv[3])
from pgw_ops import pair, work

url, me = sys.argv[1], int(sys.argv[2])
xs = list(range(SHARED)) + [10_000 * (me + 1) + k for k in range(OWN)]
random.Random(me).shuffle(xs)  # each process meets the shared calls in another order
storage = Storage(url)
with storage:
    for x in xs:
        pair(work(x), x)
storage.close()
print("done", me)
"""

WRITERS, CALLS = 4, 2_000
SHARED = CALLS // 3


def test_four_writers_share_a_third_of_their_calls(pg_url, tmp_path):
    (tmp_path / "pgw_ops.py").write_text(OPS)
    Storage(pg_url).close()  # the schema, once
    script = WORKER.replace("SHARED", str(SHARED)).replace("OWN", str(CALLS - SHARED))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script), pg_url, str(i), str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(WRITERS)
    ]
    for i, proc in enumerate(procs):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        assert out.strip() == f"done {i}"
        assert "Traceback" not in err
    distinct_xs = SHARED + WRITERS * (CALLS - SHARED)
    with psycopg.connect(pg_url) as conn:
        per_op = dict(conn.execute("SELECT op_name, count(*) FROM calls GROUP BY op_name"))
        assert per_op == {"work": distinct_xs, "pair": distinct_xs}
        assert conn.execute("SELECT count(DISTINCT hid) = count(*) FROM calls").fetchone() == (True,)
        # every call has its input and output edges, exactly once
        assert conn.execute("SELECT count(*) FROM edges WHERE direction = 1").fetchone() == (2 * distinct_xs,)
        assert conn.execute("SELECT count(*) FROM edges WHERE direction = 0").fetchone() == (3 * distinct_xs,)
    sys.path.insert(0, str(tmp_path))
    try:
        import pgw_ops

        storage = Storage(pg_url)
        df = storage.cf(pgw_ops.pair).expand_back(recursive=True).df()
        assert len(df) == distinct_xs
        assert storage.check().ok
        with storage:  # everything is there: nothing runs again
            assert storage.unwrap(pgw_ops.pair(pgw_ops.work(5), 5)) == 11
        assert storage.cache_info()["calls"] == 2 * distinct_xs
        storage.close()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("pgw_ops", None)
