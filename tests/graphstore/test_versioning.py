"""Code versioning, tested the way a user meets it: a small project on disk, edited between sessions.

Each session is a fresh Python process (``python -B``, so no stale bytecode hides an edit) that imports the project
``proj`` from ``tmp_path``, opens ``Storage(db, deps_path=<proj folder>, on_change=...)``, runs a fixed program and
prints one JSON line: the op bodies that actually ran (logged by ``calllog``, a module outside the project, since
tracked code must not mutate its own globals) and what the program chose to report.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from graphstore import ConfigurationError, Storage, VersioningError, op

PIPELINE = """\
import calllog
from graphstore import op, track

SCALE = 10


@track
def scale(x):
    return x * SCALE


@track
def shift(x):
    return x - 1


@op
def branch(x):
    calllog.record("branch", x)
    if x > 0:
        return scale(x)
    return shift(x)


@op
def square(x):
    calllog.record("square", x)
    return x * x


@op
def consume(y):
    calllog.record("consume", y)
    return y * 2
"""

NESTED = """\
import calllog
from graphstore import op, track

OFFSET = 1
BIAS = 0


@track
def base(x):
    return x * 2


@op
def inner(x):
    calllog.record("inner", x)
    return base(x) + OFFSET


@op
def outer(x):
    calllog.record("outer", x)
    return inner(x)


class Model:
    def __init__(self, k):
        self.k = k

    @track
    def predict(self, x):
        return x * self.k + BIAS


@op
def predict(k, x):
    calllog.record("predict", k, x)
    return Model(k).predict(x)
"""

FAULTY = """\
import calllog
from graphstore import op, track

SEEN = []


def untracked(x):
    return x + 1


@track
def wrapper(x):
    return untracked(x)


@op
def uses_untracked(x):
    calllog.record("uses_untracked", x)
    return untracked(x)


@op
def via_wrapper(x):
    calllog.record("via_wrapper", x)
    return wrapper(x)


@op
def mutates(x):
    calllog.record("mutates", x)
    SEEN.append(x)
    return x


@op
def fine(x):
    calllog.record("fine", x)
    return x
"""

SCRIPT = """\
import json, sys, warnings
sys.path.insert(0, {root!r})
import calllog
import graphstore
from graphstore import Storage
import proj.pipeline as P

DB, DEPS = {db!r}, {deps!r}
STMTS = []
out = {{}}


def TRACE(sql, params):
    STMTS.append(sql)


def attempt(fn):
    try:
        return ["ok", fn()]
    except graphstore.GraphstoreError as exc:
        return [type(exc).__name__, str(exc)]


def versions(f):
    return [{{"deps": sorted(v.deps), "current": v.is_current, "calls": v.calls, "sv": v.semantic_version,
              "id": v.version_id}} for v in storage.versions(f)]


storage = Storage(DB, deps_path={deps_arg}, on_change={policy!r}, tracer=TRACE)
U = storage.unwrap
{body}
storage.close()
print("RESULT " + json.dumps({{"calls": calllog.CALLS, "out": out}}))
"""

CALLLOG = """\
CALLS = []


def record(*args):
    CALLS.append(list(args))
"""


class Project:
    """A project package ``proj`` (one module, ``proj/pipeline.py``) in ``tmp_path``, and a store beside it."""

    def __init__(self, root: Path, source: str) -> None:
        self.root = root
        self.folder = root / "proj"
        self.folder.mkdir()
        (self.folder / "__init__.py").write_text("")
        (root / "calllog.py").write_text(CALLLOG)
        self.module = self.folder / "pipeline.py"
        self.module.write_text(source)
        self.db = str(root / "store.db")
        self.sessions = 0

    def edit(self, old: str, new: str) -> None:
        text = self.module.read_text()
        assert text.count(old) == 1, f"{old!r} must occur once in the project"
        self.module.write_text(text.replace(old, new))

    def script(self, body: str, policy: str, versioned: bool) -> Path:
        self.sessions += 1
        path = self.root / f"session_{self.sessions}.py"
        deps_arg = "DEPS" if versioned else "None"
        path.write_text(
            SCRIPT.format(
                root=str(self.root),
                db=self.db,
                deps=str(self.folder),
                deps_arg=deps_arg,
                policy=policy,
                body=textwrap.dedent(body),
            )
        )
        return path

    def session(self, body: str, policy: str = "breaking", versioned: bool = True) -> dict[str, Any]:
        """Run ``body`` in a new process (stdin is not a terminal); returns ``{"calls": [...], "out": {...}}``."""
        done = subprocess.run(
            [sys.executable, "-B", str(self.script(body, policy, versioned))],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return parse_result(done.returncode, done.stdout, done.stderr)

    def session_in_terminal(self, body: str, answer: str, policy: str = "ask") -> tuple[dict[str, Any], str]:
        """Run ``body`` with a pseudo-terminal as stdin/stdout/stderr (``input()`` may prompt on stderr), typing
        ``answer`` at the prompt; returns the result and everything the terminal showed."""
        import pty

        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-B", str(self.script(body, policy, True))],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
        )
        os.close(slave)
        text, answered, deadline = b"", False, time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                text += chunk
                if not answered and b"[a]bort" in text:
                    os.write(master, answer.encode() + b"\n")
                    answered = True
            elif proc.poll() is not None:
                break
        os.close(master)
        proc.wait(timeout=30)
        screen = text.decode().replace("\r\n", "\n")
        return parse_result(proc.returncode, screen, ""), screen


def parse_result(returncode: int, stdout: str, stderr: str) -> dict[str, Any]:
    assert returncode == 0, f"session failed:\n{stdout}\n{stderr}"
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, stdout
    return json.loads(lines[0][len("RESULT ") :])


def by_deps(versions: list[dict[str, Any]], *needles: str) -> list[dict[str, Any]]:
    """The versions whose dependencies include every one of ``needles``."""
    return [v for v in versions if all(n in v["deps"] for n in needles)]


K = "proj.pipeline"  # the project module's name: components are "proj.pipeline:func" and "proj.pipeline.GLOBAL"

RUN_BRANCHES = """
with storage:
    out["r"] = [U(P.branch(1)), U(P.branch(2)), U(P.branch(-1)), U(P.square(3))]
    out["more"] = [U(P.branch(x)) for x in EXTRA]
out["branch"] = versions(P.branch)
out["square"] = versions(P.square)
"""


def run_branches(project: Project, policy: str = "breaking", extra: tuple = (), after: str = "") -> dict[str, Any]:
    return project.session(f"EXTRA = {list(extra)!r}\n" + RUN_BRANCHES + textwrap.dedent(after), policy)


# --- what reruns after an edit, and what is reused after a revert ----------------------------------------------------


def test_edits_recompute_exactly_the_calls_that_ran_the_changed_code_and_reverts_reuse_everything(tmp_path):
    project = Project(tmp_path, PIPELINE)
    first = run_branches(project)
    assert first["calls"] == [["branch", 1], ["branch", 2], ["branch", -1], ["square", 3]]
    assert first["out"]["r"] == [10, 20, -2, 9]
    # one op, two versions: the calls that went through scale() and the one that went through shift()
    versions = first["out"]["branch"]
    assert sorted(v["deps"] for v in versions) == [
        [f"{K}.SCALE", f"{K}:branch", f"{K}:scale"],
        [f"{K}:branch", f"{K}:shift"],
    ]
    assert {v["calls"] for v in versions} == {1, 2} and all(v["current"] for v in versions)
    assert by_deps(versions, f"{K}:scale")[0]["calls"] == 2
    assert [v["deps"] for v in first["out"]["square"]] == [[f"{K}:square"]]

    again = run_branches(project)
    assert again["calls"] == [] and again["out"]["r"] == first["out"]["r"]

    project.edit("return x - 1", "return x - 100")  # breaking edit of a helper only branch(x <= 0) runs
    edited = run_branches(project)
    assert edited["calls"] == [["branch", -1]]
    assert edited["out"]["r"] == [10, 20, -101, 9]
    shift_versions = by_deps(edited["out"]["branch"], f"{K}:shift")
    assert len(shift_versions) == 2 and len(edited["out"]["branch"]) == 3
    assert [v["current"] for v in shift_versions] == [False, True]
    assert shift_versions[0]["sv"] != shift_versions[1]["sv"]

    project.edit("SCALE = 10", "SCALE = 7")  # a global read only inside scale(): only calls that ran scale()
    regloballed = run_branches(
        project,
        after="""
    scaled = [v for v in storage.versions(P.branch) if f"{P.__name__}:scale" in v.deps]
    out["diff"] = storage.diff(*scaled)
    """,
    )
    assert regloballed["calls"] == [["branch", 1], ["branch", 2]]
    assert regloballed["out"]["r"] == [7, 14, -101, 9]
    [line] = regloballed["out"]["diff"].splitlines()  # same code, one global's value differs
    assert line.startswith(f"global {K}.SCALE: ") and " -> " in line

    project.module.write_text(PIPELINE)  # revert everything: every first result is valid again
    reverted = run_branches(project)
    assert reverted["calls"] == []
    assert reverted["out"]["r"] == [10, 20, -2, 9]
    current = [v["id"] for v in reverted["out"]["branch"] if v["current"]]
    assert sorted(current) == sorted(v["id"] for v in versions)

    # a compatible edit right after the revert is compared with the reverted-to code, not with the latest commit:
    # the first results stay valid (and the x - 100 ones do not come back)
    project.edit("return x - 1", "return (x - 1)  # same result")
    compatible = run_branches(project, "compatible", extra=(-5,))
    assert compatible["calls"] == [["branch", -5]]
    assert compatible["out"]["r"] == [10, 20, -2, 9] and compatible["out"]["more"] == [-6]
    newest = [v for v in by_deps(compatible["out"]["branch"], f"{K}:shift") if v["calls"] == 1 and v["current"]]
    first_shift = by_deps(versions, f"{K}:shift")[0]
    assert len(newest) == 2  # the first version (branch(-1)) and the new content's version (branch(-5))
    assert {v["sv"] for v in newest} == {first_shift["sv"]}
    assert len({v["id"] for v in newest}) == 2


def test_unclassified_change_without_a_terminal_is_an_error_until_sync_component_decides(tmp_path):
    project = Project(tmp_path, PIPELINE)
    run = """
    out["r"] = attempt(lambda: [U(P.branch(1)), U(P.branch(-1))])
    storage.commit()
    out["history"] = [c["semantic_hash"] for c in storage.source_history(P.scale)]
    out["stored_calls"] = storage.cache_info()["calls"]
    """
    first = project.session("with storage:\n" + textwrap.indent(textwrap.dedent(run), "    "))
    assert first["out"]["r"] == ["ok", [10, -2]] and first["out"]["stored_calls"] == 2

    project.edit("return x * SCALE", "return SCALE * x")
    body = "with storage:\n" + textwrap.indent(textwrap.dedent(run), "    ")
    for policy, why in (("error", "on_change='error'"), ("ask", "no terminal")):
        refused = project.session(body, policy)
        kind, message = refused["out"]["r"]
        assert kind == "VersioningError"
        assert f"{K}:scale" in message and why in message
        assert "on_change='breaking' | 'compatible'" in message and "sync_component" in message
        assert refused["calls"] == []
        assert len(refused["out"]["history"]) == 1 and refused["out"]["stored_calls"] == 2  # nothing recorded

    synced = project.session(
        'out["sync"] = storage.sync_component(P.scale, is_semantic_change=False)\n' + body, "error"
    )
    assert synced["calls"] == [] and synced["out"]["r"] == ["ok", [10, -2]]
    assert synced["out"]["history"][0] == synced["out"]["history"][1] == synced["out"]["sync"]

    project.edit("return SCALE * x", "return SCALE * x + 1")
    breaking = project.session("storage.sync_component(P.scale, is_semantic_change=True)\n" + body, "error")
    assert breaking["calls"] == [["branch", 1]]
    assert breaking["out"]["r"] == ["ok", [11, -2]]
    history = breaking["out"]["history"]
    assert len(history) == 3 and history[2] != history[1]

    project.edit("SCALE = 10", "SCALE = 10.0")  # a global: synced by its name "module.NAME"
    sync_global = """
    out["unknown"] = attempt(lambda: storage.sync_component(f"{P.__name__}.NO_SUCH_GLOBAL", False))
    storage.sync_component(f"{P.__name__}.SCALE", is_semantic_change=False)
    out["scale_history"] = len(storage.source_history(f"{P.__name__}.SCALE"))
    """
    synced_global = project.session(textwrap.dedent(sync_global) + body, "error")
    assert synced_global["calls"] == [] and synced_global["out"]["r"] == ["ok", [11, -2]]
    assert synced_global["out"]["scale_history"] == 2
    kind, message = synced_global["out"]["unknown"]
    assert kind == "VersioningError" and f"{K}.NO_SUCH_GLOBAL" in message


def test_ask_in_a_terminal_shows_the_diff_and_takes_the_answer(tmp_path):
    project = Project(tmp_path, PIPELINE)
    body = 'with storage:\n    out["r"] = [U(P.branch(1)), U(P.branch(-1))]\n'
    assert project.session(body)["out"]["r"] == [10, -2]
    project.edit("return x - 1", "return x - 1 + 0")
    result, screen = project.session_in_terminal(body, answer="n")
    assert f"The function {K}:shift changed" in screen
    assert "-    return x - 1\n" in screen and "+    return x - 1 + 0\n" in screen
    assert result["calls"] == [] and result["out"]["r"] == [10, -2]


# --- what counts as a dependency --------------------------------------------------------------------------------------

RUN_NESTED = """
with storage:
    out["r"] = [U(P.outer(2)), U(P.predict(3, 4))] + [U(P.outer(x)) for x in OUTER]
    out["inner5"] = U(P.inner(5))
out["outer"] = versions(P.outer)
out["predict"] = versions(P.predict)
"""


def test_ops_called_inside_ops_and_tracked_methods_are_dependencies(tmp_path):
    project = Project(tmp_path, NESTED)
    first = project.session("OUTER = []\n" + RUN_NESTED)
    assert first["calls"] == [["outer", 2], ["inner", 2], ["predict", 3, 4], ["inner", 5]]
    assert first["out"]["r"] == [5, 12] and first["out"]["inner5"] == 11
    [outer_version] = first["out"]["outer"]
    # the inner op's code, and what the inner call touched, are the outer call's dependencies
    assert outer_version["deps"] == [f"{K}.OFFSET", f"{K}:base", f"{K}:inner", f"{K}:outer"]
    [predict_version] = first["out"]["predict"]
    assert predict_version["deps"] == [f"{K}.BIAS", f"{K}:Model.predict", f"{K}:predict"]

    project.edit("return x * self.k + BIAS", "return x * self.k + BIAS + 1")  # a tracked method
    second = project.session("OUTER = [5]\n" + RUN_NESTED)
    # predict reruns; outer(5) runs but finds inner(5) stored, and still depends on what inner(5) touched
    assert second["calls"] == [["predict", 3, 4], ["outer", 5]]
    assert second["out"]["r"] == [5, 13, 11]
    assert [v["calls"] for v in second["out"]["outer"]] == [2]

    project.edit("return x * 2", "return x * 3")  # a helper that only the inner op calls
    third = project.session("OUTER = [5]\n" + RUN_NESTED)
    assert third["calls"] == [["outer", 2], ["inner", 2], ["outer", 5], ["inner", 5]]
    assert third["out"]["r"] == [7, 13, 16] and third["out"]["inner5"] == 16

    project.edit("return base(x) + OFFSET", "return base(x) - OFFSET")  # the inner op's own code
    fourth = project.session("OUTER = [5]\n" + RUN_NESTED)
    assert fourth["calls"] == [["outer", 2], ["inner", 2], ["outer", 5], ["inner", 5]]
    assert fourth["out"]["r"] == [5, 13, 14]


def test_untracked_helpers_and_mutated_globals_are_refused_naming_the_function(tmp_path):
    project = Project(tmp_path, FAULTY)
    result = project.session("""
    with storage:
        out["untracked"] = attempt(lambda: U(P.uses_untracked(1)))
        out["via_wrapper"] = attempt(lambda: U(P.via_wrapper(1)))
        out["mutates"] = attempt(lambda: U(P.mutates(1)))
        out["fine"] = attempt(lambda: U(P.fine(1)))
    out["versions"] = [len(storage.versions(f)) for f in (P.uses_untracked, P.via_wrapper, P.mutates, P.fine)]
    out["stored_calls"] = storage.cache_info()["calls"]
    """)
    kind, message = result["out"]["untracked"]
    assert kind == "VersioningError"
    assert f"function {K}:untracked" in message and "@track" in message and "uses_untracked" in message
    kind, message = result["out"]["via_wrapper"]
    assert kind == "VersioningError" and f"{K}:untracked" in message and f"{K}:wrapper" in message
    kind, message = result["out"]["mutates"]
    assert kind == "VersioningError" and f"{K}.SEEN" in message and "op mutates" in message
    assert result["out"]["fine"] == ["ok", 1]
    # the untracked helper is found before the op runs; the mutation only after: neither call is stored
    assert result["calls"] == [["via_wrapper", 1], ["mutates", 1], ["fine", 1]]
    assert result["out"]["versions"] == [0, 0, 0, 1] and result["out"]["stored_calls"] == 1


# --- inspecting and dropping versions ---------------------------------------------------------------------------------

RUN_CONSUME = """
with storage:
    out["r"] = [U(P.branch(1)), U(P.branch(-1)), U(P.consume(P.branch(-1)))]
out["branch"] = versions(P.branch)
"""


def test_versions_code_diff_source_history_and_drop_version(tmp_path):
    project = Project(tmp_path, PIPELINE)
    first = project.session(RUN_CONSUME)
    assert first["calls"] == [["branch", 1], ["branch", -1], ["consume", -2]]
    assert first["out"]["r"] == [10, -2, -4]

    project.edit("return x - 1", "return x - 100")
    second = project.session(
        RUN_CONSUME
        + """
old = next(v for v in storage.versions(P.branch) if not v.is_current)
new = next(v for v in storage.versions(P.branch) if v.is_current and f"{P.__name__}:shift" in v.deps)
out["old"], out["new"] = old.version_id, new.version_id
out["code_old"], out["code_new"] = storage.code(old.version_id), storage.code(new.version_id)
out["diff"] = storage.diff(old.version_id, new.version_id)
out["history"] = storage.source_history(P.shift)
out["stored_before"] = storage.cache_info()["calls"]
STMTS.clear()
out["dropped"] = storage.drop_version(old)
out["statements"] = list(STMTS)
out["after"] = versions(P.branch)
out["stored_after"] = storage.cache_info()["calls"]
out["missing"] = attempt(lambda: storage.code(old.version_id))
"""
    )
    out = second["out"]
    assert second["calls"] == [["branch", -1], ["consume", -101]]
    assert out["r"] == [10, -101, -202]
    assert set(out["code_old"]) == {f"{K}:branch", f"{K}:shift"}
    assert "return x - 1\n" in out["code_old"][f"{K}:shift"]
    assert "return x - 100\n" in out["code_new"][f"{K}:shift"]
    assert out["code_old"][f"{K}:branch"] == out["code_new"][f"{K}:branch"]
    assert "-    return x - 1\n" in out["diff"] and "+    return x - 100\n" in out["diff"]
    assert f"{K}:shift" in out["diff"] and f"{K}:branch" not in out["diff"]
    history = out["history"]
    assert [("x - 1\n" in h["source"], "x - 100\n" in h["source"]) for h in history] == [(True, False), (False, True)]
    assert history[0]["parent_hash"] is None and history[1]["parent_hash"] == history[0]["content_hash"]
    assert history[0]["semantic_hash"] != history[1]["semantic_hash"]
    # the old version's one call, and the consume() call downstream of it: nothing else
    assert out["dropped"] == 2 and out["stored_before"] - out["stored_after"] == 2
    assert out["old"] not in [v["id"] for v in out["after"]] and len(out["after"]) == 2
    assert out["missing"][0] == "VersioningError" and out["old"] in out["missing"][1]
    # ... in one transaction: the calls, their dependents and the version row
    statements = out["statements"]
    begins = [i for i, s in enumerate(statements) if s.startswith("BEGIN")]
    commits = [i for i, s in enumerate(statements) if s == "COMMIT"]
    assert len(begins) == 1 and len(commits) == 1
    inside = statements[begins[0] + 1 : commits[0]]
    assert any(s.startswith("DELETE FROM calls") for s in inside)
    assert any(s.startswith("DELETE FROM versions") for s in inside)

    project.module.write_text(PIPELINE)  # back to the dropped version's code: its calls are computed again
    third = project.session(RUN_CONSUME)
    assert third["calls"] == [["branch", -1], ["consume", -2]]
    assert third["out"]["r"] == [10, -2, -4]
    assert out["old"] in [v["id"] for v in third["out"]["branch"] if v["current"]]


# --- stores without versioning ----------------------------------------------------------------------------------------

WARN = """
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    with storage:
        out["r"] = [U(P.square(2)), U(P.square(3))]
    with storage:
        out["r"].append(U(P.square(2)))
out["warnings"] = [[w.category.__name__, str(w.message)] for w in caught]
"""


def test_unversioned_store_warns_once_when_an_ops_code_changed(tmp_path):
    project = Project(tmp_path, PIPELINE)
    first = project.session(WARN, versioned=False)
    assert first["out"]["warnings"] == [] and first["calls"] == [["square", 2], ["square", 3]]
    assert project.session(WARN, versioned=False)["out"]["warnings"] == []

    project.edit("return x * x", "return x ** 2")
    changed = project.session(WARN, versioned=False)
    assert changed["calls"] == [] and changed["out"]["r"] == [4, 9, 4]  # old results are still reused
    [(category, message)] = changed["out"]["warnings"]
    assert category == "UserWarning"
    assert "op square" in message and "version=" in message
    assert "deps_path" in message and "NewArgDefault" in message


# --- in-process checks ------------------------------------------------------------------------------------------------


@op
def _inc(x):
    return x + 1


def test_a_store_keeps_the_versioning_mode_it_was_made_with(tmp_path):
    versioned, plain = tmp_path / "versioned.db", tmp_path / "plain.db"
    Storage(versioned, deps_path=tmp_path, on_change="breaking").close()
    with pytest.raises(ConfigurationError, match="made with versioning on .*pass deps_path"):
        Storage(versioned)
    s = Storage(plain)
    with s:
        _inc(1)
    s.close()
    with pytest.raises(ConfigurationError, match="made without versioning.*leave out deps_path"):
        Storage(plain, deps_path=tmp_path)
    for reopened in (Storage(versioned, deps_path=tmp_path), Storage(plain)):
        reopened.close()
    with pytest.raises(ConfigurationError, match="on_change"):
        Storage(deps_path=tmp_path, on_change="sometimes")
    with pytest.raises(VersioningError, match=r"storage.versions\(\) needs a versioned storage"):
        Storage().versions(_inc)


CACHED_MODULE = """\
import os
from graphstore import op, track

{helpers}


@op
def run_all(x):
    total = x
{calls}
    return total
"""


def test_entering_a_versioned_storage_rereads_sources_only_when_files_change(tmp_path, monkeypatch, request):
    folder = tmp_path / "cachedproj"
    folder.mkdir()
    n = 30
    helpers = "\n\n".join(f"@track\ndef helper_{i}(x):\n    return x + {i}\n" for i in range(n))
    calls = "\n".join(f"    total = helper_{i}(total)" for i in range(n))
    path = folder / "gs_cached_module.py"
    path.write_text(CACHED_MODULE.format(helpers=helpers, calls=calls))
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module("gs_cached_module")
    request.addfinalizer(lambda: sys.modules.pop("gs_cached_module", None))
    reads: list[str] = []
    real_getsource = inspect.getsource

    def counting_getsource(obj: Any) -> str:
        reads.append(getattr(obj, "__qualname__", "?"))
        return real_getsource(obj)

    monkeypatch.setattr(inspect, "getsource", counting_getsource)
    storage = Storage(deps_path=folder, on_change="breaking")

    def enter_and_call(x: int) -> int | None:
        reads.clear()
        with storage:
            return storage.unwrap(module.run_all(x))

    assert enter_and_call(0) == sum(range(n))
    assert len(set(reads)) == n + 1  # each tracked function and the op, once
    for x in (0, 1, 0):  # unchanged files: entering again, lookups and new calls read no source
        assert enter_and_call(x) == x + sum(range(n))
        assert reads == []
    calls_before = storage.cache_info()["calls"]
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # touched, content unchanged
    assert enter_and_call(1) == 1 + sum(range(n))
    assert len(reads) >= n  # re-read once ...
    assert storage.cache_info()["calls"] == calls_before  # ... and found unchanged: nothing recomputed
    assert enter_and_call(1) == 1 + sum(range(n)) and reads == []
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 9_000_000_000))
    reads.clear()
    with storage(mode="run"):  # entered like ``with storage:``: the touched file is re-read
        assert storage.unwrap(module.run_all(1)) == 1 + sum(range(n))
    assert len(reads) >= n and storage.cache_info()["pending_calls"] == 0
