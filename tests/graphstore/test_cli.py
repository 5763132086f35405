"""The ``graphstore`` command, run as a user runs it: the installed entry point in a process of its own, its output,
exit codes and one-line errors; ``copy`` between a SQLite file and a PostgreSQL server, ``db upgrade`` of an older
store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import psycopg
import pytest

from graphstore import Storage, op
from graphstore.backends import schema_versions
from graphstore.backends.postgres_schema import SCHEMA_VERSION as PG_VERSION
from store_tools import make_store_at_version
from test_copy_store import THRESHOLD_MB, program

COMMAND = shutil.which("graphstore", path=os.path.dirname(sys.executable))


class Opaque:
    """A class the command's process cannot import: unpickling a value of it there would fail."""

    def __init__(self, n: int) -> None:
        self.n = n


@op
def wrap(n: int) -> Opaque:
    return Opaque(n)


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    assert COMMAND is not None, "the graphstore command is not installed beside this Python"
    return subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess, code: int = 1) -> str:
    assert proc.returncode == code, proc
    assert proc.stdout == "" and "Traceback" not in proc.stderr, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_copy_to_a_server_and_back(tmp_path, pg_url):
    first, back, pg_overflow = str(tmp_path / "first.db"), str(tmp_path / "back.db"), str(tmp_path / "pg-over")
    storage = Storage(first, overflow_threshold_MB=THRESHOLD_MB)
    program(storage)
    with storage:
        wrap(7)
    calls = storage.cache_info()["calls"]
    storage.close()

    out = run("copy", first, pg_url, "--target-overflow-dir", pg_overflow, "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["read"]["calls"] == report["added"]["calls"] == calls
    assert report["added"]["overflow_files"] == 1 and report["source"] == first

    out = run("copy", pg_url, back, "--source-overflow-dir", pg_overflow, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"copied {pg_url} into {back}"
    assert lines[2].split() == ["calls", str(calls), str(calls)]
    assert run("copy", pg_url, back, "--source-overflow-dir", pg_overflow).stdout.splitlines()[2].split() == [
        "calls",
        str(calls),
        "0",
    ]
    copy = Storage(back)
    assert copy.check().ok and copy.cache_info()["calls"] == calls
    with copy:
        assert copy.unwrap(wrap(7)).n == 7
    copy.close()


def test_errors_are_one_line(tmp_path):
    missing, target = str(tmp_path / "missing.db"), str(tmp_path / "target.db")
    line = one_line_error(run("copy", missing, target))
    assert line == f"Error: cannot copy from {missing}: there is no graphstore store there"
    assert not os.path.exists(missing) and not os.path.exists(target)
    assert "mysql" in one_line_error(run("copy", "mysql://db.example.org/runs", target))
    line = one_line_error(run("copy", "postgresql://alice:secret@127.0.0.1:1/runs", target))
    assert "cannot connect" in line and "secret" not in line and "alice:***" in line
    assert not os.path.exists(target)
    assert "Missing argument" in run("copy", missing).stderr
    assert run("copy", missing).returncode == 2
    assert run("nonsense").returncode == 2
    assert "no graphstore store" in one_line_error(run("db", "upgrade", missing))
    assert not os.path.exists(missing)


def test_db_upgrade_of_an_older_sqlite_store(tmp_path):
    path, copy = str(tmp_path / "old.db"), str(tmp_path / "copy.db")
    current = schema_versions(path)[1]
    make_store_at_version(path, current - 1)
    line = one_line_error(run("copy", path, copy))
    assert f"schema version {current - 1}" in line and f"graphstore db upgrade {path}" in line and copy in line
    assert schema_versions(path)[0] == current - 1  # refused, untouched

    out = run("db", "upgrade", path)
    assert out.returncode == 0 and out.stdout == f"store {path}: schema version {current - 1} -> {current}\n"
    assert run("db", "upgrade", path).stdout == f"store {path}: schema version {current}, already current\n"
    assert run("copy", path, copy).returncode == 0
    assert Storage(copy).check().ok


def test_db_upgrade_of_an_older_postgres_store(pg_url):
    Storage(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP INDEX calls_version")
        conn.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(PG_VERSION - 1),))
    out = run("db", "upgrade", pg_url)
    assert out.returncode == 0 and out.stdout == f"store {pg_url}: schema version {PG_VERSION - 1} -> {PG_VERSION}\n"
    Storage(pg_url).close()


def test_python_m_graphstore_is_the_command():
    out = subprocess.run([sys.executable, "-m", "graphstore", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "copy" in out.stdout and "db" in out.stdout


@pytest.mark.parametrize("args", [["--version"], ["db", "--help"]])
def test_help_and_version(args):
    out = run(*args)
    assert out.returncode == 0 and out.stdout.strip()
