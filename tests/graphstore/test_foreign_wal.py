"""A write-ahead log that is not the store's own is refused before SQLite applies it, and a refused file, its log and
its shared-memory index are left untouched; a store's own log, left by a writer killed with ``kill -9``, is used.

SQLite only: write-ahead log files.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from graphstore import Storage, StoreError
from graphstore.errors import ForeignWALError

_RECORDER = textwrap.dedent("""
    import os, sys, time
    from graphstore import Storage, op

    @op
    def step(i, tag):
        return i * 3 + len(tag)

    path, first, n, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    s = Storage(path)
    with s:
        for i in range(first, first + n):
            step(i, tag)
    print("committed", flush=True)
    time.sleep(60)  # killed here: the log keeps what the store file does not have yet
""")


def _record_and_kill(tmp_path, path: str, first: int, n: int, tag: str) -> None:
    script = tmp_path / "recorder.py"
    script.write_text(_RECORDER)
    env = dict(os.environ, GRAPHSTORE_WRITER_PROCESS="0")
    proc = subprocess.Popen(
        [sys.executable, str(script), path, str(first), str(n), tag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = proc.stdout.readline()
    assert line.strip() == "committed", proc.stderr.read()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    assert os.path.getsize(path + "-wal") > 32  # frames the store file does not hold yet


def _record_and_close(path: str, n: int, tag: str) -> None:
    from graphstore import op

    @op(name="step")
    def step(i, tag):
        return i * 3 + len(tag)

    s = Storage(path)
    with s:
        for i in range(n):
            step(i, tag)
    s.close()
    assert not os.path.exists(path + "-wal")


def _state(*files: str) -> dict:
    """Bytes and modification time of each file (None when absent)."""
    out = {}
    for f in files:
        out[f] = (open(f, "rb").read(), os.stat(f).st_mtime_ns) if os.path.exists(f) else None
    return out


def _calls(path: str) -> int:
    s = Storage(path, read_only=True)
    try:
        return s.cache_info()["calls"]
    finally:
        s.close()


def test_the_log_of_another_store_is_refused_and_nothing_changes(tmp_path):
    mine, other = str(tmp_path / "mine.db"), str(tmp_path / "other.db")
    _record_and_close(mine, 3000, "mine")
    _record_and_close(other, 10, "other")
    _record_and_kill(tmp_path, other, 10, 200, "other")  # reopened: a new log of another store
    shutil.copy(other + "-wal", mine + "-wal")
    files = (mine, mine + "-wal", mine + "-shm")
    before = _state(*files)
    for read_only in (False, True):
        with pytest.raises(ForeignWALError) as ei:
            Storage(mine, read_only=read_only)
        assert isinstance(ei.value, StoreError)
        assert mine in str(ei.value) and mine + "-wal" in str(ei.value)
        assert _state(*files) == before  # the store, the log, and no shared-memory index created
    os.remove(mine + "-wal")
    assert _calls(mine) == 3000


def test_a_store_opens_with_its_own_log_after_kill_9(tmp_path):
    path = str(tmp_path / "store.db")
    _record_and_close(path, 100, "mine")
    _record_and_kill(tmp_path, path, 100, 3000, "mine")
    s = Storage(path)
    try:
        assert s.cache_info()["calls"] == 3100
        assert s.check().ok
    finally:
        s.close()
    _record_and_kill(tmp_path, path, 3100, 50, "mine")
    assert _calls(path) == 3150


def test_a_new_store_killed_before_its_first_checkpoint_opens(tmp_path):
    path = str(tmp_path / "store.db")
    _record_and_kill(tmp_path, path, 0, 500, "new")
    assert _calls(path) == 500


_FOREIGN = textwrap.dedent("""
    import os, signal, sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE accounts (name TEXT, balance INTEGER)")
    conn.execute("INSERT INTO accounts VALUES ('a', 1)")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("INSERT INTO accounts VALUES ('b', 2)")  # only in the log
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_refusing_a_sqlite_file_that_is_no_store_leaves_its_log_alone(tmp_path):
    path = str(tmp_path / "accounts.db")
    subprocess.run([sys.executable, "-c", _FOREIGN, path])
    files = (path, path + "-wal", path + "-shm")
    before = _state(*files)
    assert before[path + "-wal"] is not None and len(before[path + "-wal"][0]) > 32
    for read_only in (False, True):
        with pytest.raises(StoreError, match="not a graphstore store") as ei:
            Storage(path, read_only=read_only)
        assert path in str(ei.value)
        assert _state(*files) == before
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 2  # its owner still finds its last row
    conn.close()
