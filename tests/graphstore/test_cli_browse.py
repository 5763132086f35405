"""The ``graphstore`` commands that look into a store, run as a user runs them (the installed entry point in a
process of its own) on stores the tests record: a SQLite file, and a PostgreSQL database for a representative part;
their tables, CSV, JSON and parquet output, exit codes, one-line errors; a store holding a value of a class the
command's process cannot import, browsed without unpickling it; and every command of docs/cli.md."""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from graphstore import Storage, op
from test_cli import COMMAND, one_line_error, run, wrap
from test_postgres_store import record_two_versions

ROOT = Path(__file__).resolve().parents[2]


@op
def cli_scale(x, factor=2):
    return x * factor


@op(output_names=["total"])
def cli_sum(a, b):
    return a + b


def record(location: str) -> dict[str, str]:
    """Three histories ``cli_sum(cli_scale(i), cli_scale(i, factor=10))`` and one ``wrap(5)`` (a value of a class
    the command cannot import); returns some of their ids."""
    storage = Storage(location)
    with storage:
        for i in range(3):
            total = cli_sum(cli_scale(i), cli_scale(i, factor=10))
        opaque = wrap(5)
    creator = storage.get_ref_creator(total)
    ids = {"total": total.hid, "sum_call": creator.hid, "opaque": opaque.hid}
    ids["opaque_call"] = storage.get_ref_creator(opaque).hid
    storage.close()
    return ids


def ok(*args: str, cwd=None) -> str:
    out = run(*args, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(params=["sqlite", "postgres"])
def recorded(request, tmp_path) -> tuple[str, dict[str, str]]:
    location = request.getfixturevalue("pg_url") if request.param == "postgres" else str(tmp_path / "runs.db")
    return location, record(location)


def test_info_and_ops(recorded):
    location, _ = recorded
    found = json.loads(ok("info", location, "--json"))
    assert found["engine"] == ("postgres" if "://" in location else "sqlite")
    assert found["counts"]["calls"] == 10 and found["disk_bytes"] > 0 and found["schema_version"] >= 1
    assert found["versioning"] is False
    assert {(o["op"], o["calls"]) for o in found["ops"]} == {("cli_scale", 6), ("cli_sum", 3), ("wrap", 1)}
    text = ok("info", location)
    assert text.splitlines()[0].split() == ["store", location]
    assert re.search(r"^cli_scale +0 +6 ", text, re.M) and "10 calls" in text
    table = pd.read_csv(io.StringIO(ok("ops", location, "--format", "csv")))
    assert list(table.columns) == ["op", "version", "calls", "first", "last"]
    assert dict(zip(table["op"], table["calls"])) == {"cli_scale": 6, "cli_sum": 3, "wrap": 1}
    rows = json.loads(
        ok("calls", location, "cli_scale", "--where", "x=2", "--where", "factor=10", "--load-values", "--json")
    )
    assert [(r["x"], r["factor"], r["output_0"]) for r in rows] == [(2, 10, 20)]


def test_calls_filters_and_formats(tmp_path):
    location = str(tmp_path / "runs.db")
    ids = record(location)
    rows = json.loads(ok("calls", location, "cli_scale", "--where", "x=2", "--limit", "1", "--json"))
    assert len(rows) == 1 and re.fullmatch(r"[0-9a-f]{32}", rows[0]["x"])
    rows = json.loads(
        ok("calls", location, "cli_scale", "--where", "x=2", "--where", "factor=10", "--load-values", "--json")
    )
    assert [(r["x"], r["factor"], r["output_0"]) for r in rows] == [(2, 10, 20)]
    assert json.loads(ok("calls", location, "cli_scale", "--where", "x=2.0", "--json")) == []  # a float, not 2

    text = ok("calls", location, "cli_sum", "--load-values").splitlines()
    assert text[0].split() == ["call", "created", "seconds", "version", "a", "b", "total"] and len(text) == 4
    assert sorted(int(line.split()[-1]) for line in text[1:]) == [0, 12, 24]
    assert ids["sum_call"] in "\n".join(text)

    table = pd.read_csv(io.StringIO(ok("calls", location, "cli_sum", "--format", "csv")))
    assert len(table) == 3 and ids["total"] in set(table["total"])
    ok("calls", location, "cli_sum", "--load-values", "-o", str(tmp_path / "sums.parquet"))
    assert sorted(pd.read_parquet(tmp_path / "sums.parquet")["total"]) == [0, 12, 24]
    out = run("calls", location, "cli_sum", "--format", "parquet")
    assert out.returncode == 2 and "-o FILE" in out.stderr


def test_show_a_call_and_a_ref(recorded):
    location, ids = recorded
    call = json.loads(ok("show", location, ids["sum_call"], "--json"))
    assert call["kind"] == "call" and call["op"] == "cli_sum" and call["op_version"] == 0
    assert [i["name"] for i in call["inputs"]] == ["a", "b"] and call["outputs"][0]["ref"] == ids["total"]
    assert all(i["bytes"] > 0 and "value" not in i for i in call["inputs"] + call["outputs"])
    storage = Storage(location, read_only=True)
    stored = storage.backend.load_values([i["content"] for i in call["inputs"]])
    assert [stored[i["content"]].size for i in call["inputs"]] == [i["bytes"] for i in call["inputs"]]
    storage.close()
    ref = json.loads(ok("show", location, ids["total"].upper(), "--json", "--load-values"))
    assert ref["created_by"] == {"call": ids["sum_call"], "op": "cli_sum", "output": "total"}
    assert ref["value"] == "24" and ref["used_by"] == []
    text = ok("show", location, ids["sum_call"])
    assert text.startswith(f"call {ids['sum_call']}: cli_sum (version 0)") and "total" in text
    assert f"made by cli_sum call {ids['sum_call']} (total)" in ok("show", location, ids["total"])


def test_lineage_as_a_tree_and_a_picture(recorded, tmp_path):
    location, ids = recorded
    lines = ok("lineage", location, ids["total"]).splitlines()
    assert lines[0] == f"ref {ids['total']}" and lines[1] == f"└── cli_sum call {ids['sum_call']}"
    assert [line.split("call")[0].strip(" │├└─") for line in lines if " call " in line] == [
        "cli_sum",
        "cli_scale",
        "cli_scale",
    ]
    assert sum("(given: made by no call)" in line for line in lines) == 4  # x and factor of each cli_scale call
    tree = json.loads(ok("lineage", location, ids["sum_call"], "--load-values", "--json"))
    assert tree["outputs"]["total"]["value"] == "24"
    assert tree["outputs"]["total"]["made_by"]["inputs"]["b"]["value"] == "20"
    assert "..." in ok("lineage", location, ids["total"], "--depth", "1").splitlines()[-1]
    ok("lineage", location, ids["total"], "-o", str(tmp_path / "lineage.svg"))
    assert "<svg" in (tmp_path / "lineage.svg").read_text()


def test_frame_sql_and_draw(tmp_path):
    location = str(tmp_path / "runs.db")
    record(location)
    table = pd.read_csv(
        io.StringIO(ok("frame", location, "cli_sum", "--expand", "back", "--load-values", "--format", "csv"))
    )
    assert len(table) == 3 and sorted(table["total"]) == [0, 12, 24]
    assert {"cli_scale", "cli_sum", "total"} <= set(table.columns)
    rows = json.loads(ok("frame", location, "cli_scale", "--expand", "forward", "--json"))
    assert len(rows) == 3 and all(len(r["cli_scale"]) == 2 and len(r["factor"]) == 2 for r in rows)  # two calls a row
    sql = ok("sql", location, "cli_sum", "--expand", "back")
    assert "SELECT" in sql and '"edges"' in sql
    assert json.loads(ok("sql", location, "cli_sum", "--expand", "back", "--json"))["sql"] == sql.rstrip("\n")
    assert ok("draw", location, "cli_sum", "--expand", "all", "-o", str(tmp_path / "f.svg")).startswith("drew")
    assert "cli_scale" in (tmp_path / "f.svg").read_text()


def test_missing_stores_bad_ids_and_unknown_ops_are_one_line_errors(tmp_path, pg_url):
    missing = str(tmp_path / "missing.db")
    for args in (["info"], ["calls", "cli_sum"], ["gc"], ["backup", "b.db"]):
        line = one_line_error(run(args[0], missing, *args[1:], cwd=tmp_path))
        assert line == f"Error: there is no graphstore store at {missing}"
    assert os.listdir(tmp_path) == []  # nothing made
    assert "no graphstore store" in one_line_error(run("info", pg_url))  # an empty database stays empty

    location = str(tmp_path / "runs.db")
    record(location)
    assert "not a graphstore id" in one_line_error(run("show", location, "12ab"))
    line = one_line_error(run("lineage", location, "0" * 32))
    assert line == f"Error: store {location} holds no call or ref with id {'0' * 32}"
    line = one_line_error(run("calls", location, "nope"))
    assert line == f"Error: store {location} holds no op named 'nope' (ops: cli_scale, cli_sum, wrap)"
    assert "has no argument 'z' (its arguments: factor, x)" in one_line_error(
        run("calls", location, "cli_scale", "--where", "z=1")
    )
    assert "without versioning" in one_line_error(run("versions", location, "cli_sum"))


def test_a_value_of_a_class_the_command_cannot_import_is_browsed_without_unpickling(tmp_path):
    location = str(tmp_path / "runs.db")
    ids = record(location)
    env = {**os.environ, "PYTHONPATH": ""}
    probe = subprocess.run([sys.executable, "-c", "import test_cli"], capture_output=True, env=env, cwd=tmp_path)
    assert probe.returncode != 0  # the command's processes cannot import the class of the value

    assert len(json.loads(ok("calls", location, "wrap", "--json"))) == 1
    assert json.loads(ok("show", location, ids["opaque"], "--json"))["bytes"] > 0
    assert ids["opaque_call"] in ok("lineage", location, ids["opaque"])
    assert len(json.loads(ok("frame", location, "wrap", "--expand", "all", "--json"))) == 1
    assert json.loads(ok("check", location, "--json"))["ok"]
    line = one_line_error(run("show", location, ids["opaque"], "--load-values"))
    assert "test_cli" in line  # asked to load it: the class is missing, said on one line


def test_check_gc_and_backup(tmp_path):
    location, copy = str(tmp_path / "runs.db"), str(tmp_path / "copy.db")
    ids = record(location)
    storage = Storage(location)
    storage.drop_calls([ids["sum_call"]])
    storage.close()
    assert json.loads(ok("gc", location, "--dry-run", "--json"))["deleted"] == {
        "refs": 1,
        "values": 1,
        "overflow_files": 0,
    }
    refs = json.loads(ok("info", location, "--json"))["counts"]["refs"]
    assert ok("gc", location).startswith(f"store {location}: deleted 1 refs, 1 values and 0 overflow files")
    assert json.loads(ok("info", location, "--json"))["counts"]["refs"] == refs - 1
    assert "would delete 0 refs" in ok("gc", location, "--dry-run")

    assert ok("backup", location, copy) == f"backed store {location} up to {copy} (9 calls)\n"
    assert "the file exists" in one_line_error(run("backup", location, copy))
    assert ok("check", copy) == f"store {copy}: no problems found\n"

    with sqlite3.connect(copy) as conn:  # break the copy: a value its ref needs goes
        conn.execute('DELETE FROM "values" WHERE rowid = (SELECT min(rowid) FROM "values")')
    out = run("check", copy, "--quick")
    assert out.returncode == 3 and out.stdout.splitlines()[0].endswith("problem(s)") and out.stderr == ""
    assert not json.loads(run("check", copy, "--json").stdout)["ok"]


def test_upkeep_on_a_server(tmp_path, pg_url):
    ids = record(pg_url)
    storage = Storage(pg_url)
    storage.drop_calls([ids["sum_call"]])
    storage.close()
    assert "would delete 1 refs, 1 values" in ok("gc", pg_url, "--dry-run")
    assert "deleted 1 refs, 1 values" in ok("gc", pg_url)
    assert ok("check", pg_url) == f"store {pg_url}: no problems found\n"
    backup = str(tmp_path / "server.db")
    assert ok("backup", pg_url, backup).endswith("(9 calls)\n")
    assert json.loads(ok("info", backup, "--json"))["counts"]["calls"] == 9


def test_versions_of_a_versioned_store(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    folder = tmp_path / "cli_src"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    location = str(tmp_path / "v.db")
    try:
        record_two_versions(location, folder, "cli_versioned")[0].close()
    finally:
        sys.modules.pop("cli_versioned", None)
    assert json.loads(ok("info", location, "--json"))["versioning"] is True
    rows = json.loads(ok("versions", location, "scaled", "--json"))
    assert len(rows) == 2 and [r["calls"] for r in rows] == [1, 1] and rows[0]["version"] != rows[1]["version"]
    assert all("cli_versioned:scaled" in r["depends_on"].split() for r in rows)
    code = ok("versions", location, "scaled", "--code")
    assert code.count("### version") == 2 and "def scaled" in code
    sources = json.loads(ok("versions", location, "scaled", "--code", "--json"))
    assert sorted(sources) == sorted(r["version"] for r in rows)
    assert all("def scaled" in deps["cli_versioned:scaled"] for deps in sources.values())
    call = json.loads(ok("calls", location, "scaled", "--json"))[0]["call"]
    assert json.loads(ok("show", location, call, "--json"))["code_version"] in {r["version"] for r in rows}


def _blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"```(\w+)\n(.*?)```", text, re.S)


def test_the_commands_of_the_cli_page_run(tmp_path):
    """docs/cli.md: its program records the store, every ``graphstore`` line of its sh blocks runs, and an output
    shown right after a one-command block is what that command prints."""
    blocks = _blocks((ROOT / "docs" / "cli.md").read_text())
    (program,) = [body for lang, body in blocks if lang == "python"]
    subprocess.run([sys.executable, "-c", program], cwd=tmp_path, check=True, timeout=120)
    env = {**os.environ, "PATH": os.path.dirname(COMMAND) + os.pathsep + os.environ["PATH"]}
    ran = 0
    for (lang, body), after in zip(blocks, [*blocks[1:], ("", "")]):
        if lang != "sh":
            continue
        lines = [line for line in body.splitlines() if line.startswith("graphstore ")]
        for line in lines:
            out = subprocess.run(line, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, (line, out.stderr)
            ran += 1
        if len(lines) == 1 and after[0] == "text":
            assert out.stdout == after[1], line
    assert ran >= 15 and (tmp_path / "history.csv").exists() and (tmp_path / "runs-backup.db").exists()
