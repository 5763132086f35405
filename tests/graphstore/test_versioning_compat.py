"""Versioning as a mandala user meets it: change questions answered through ``input()`` (a pipe, a notebook, a
script replacing ``builtins.input``), asked in mandala's order; ``storage.versions(f)`` that never asks; and
mandala's tracing options of ``Storage``."""

from __future__ import annotations

import builtins
import importlib
import subprocess
import sys
import textwrap

import pytest

from graphstore import ConfigurationError, DependencySkippedWarning, Storage, VersioningError

SOURCE = """\
from graphstore import op, track

RATE = 2


@track
def helper(x):
    return x * RATE


@op
def first(x):
    return helper(x) + 1


@op
def second(x):
    return x - 1
"""


class Module:
    """A module ``name`` in a folder of its own under ``tmp_path``, edited and reloaded in this process."""

    def __init__(self, tmp_path, name: str, source: str = SOURCE) -> None:
        self.folder = tmp_path / f"{name}_src"
        self.folder.mkdir()
        self.path = self.folder / f"{name}.py"
        self.path.write_text(source)
        self.name = name
        sys.path.insert(0, str(self.folder))
        self.module = importlib.import_module(name)

    def edit(self, old: str, new: str) -> None:
        text = self.path.read_text()
        assert text.count(old) == 1
        self.path.write_text(text.replace(old, new))
        sys.modules.pop(self.name, None)
        importlib.invalidate_caches()
        self.module = importlib.import_module(self.name)

    def close(self) -> None:
        sys.path.remove(str(self.folder))
        sys.modules.pop(self.name, None)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    made = []

    def make(name, source=SOURCE):
        made.append(Module(tmp_path, name, source))
        return made[-1]

    yield make
    for m in made:
        m.close()


def scripted(monkeypatch, answers):
    """Replace ``builtins.input`` by a script of answers; returns the list of answers not used yet."""
    left = list(answers)

    def answer(prompt=""):
        if not left:
            raise EOFError
        return left.pop(0)

    monkeypatch.setattr(builtins, "input", answer)
    return left


def semantics(storage, f):
    return [c["semantic_hash"] for c in storage.source_history(f)]


def test_scripted_answers_mark_components_in_mandalas_order(tmp_path, project, monkeypatch, capsys):
    m = project("vc_order")
    storage = Storage(str(tmp_path / "s.db"), deps_path=m.folder)
    with storage:  # components first recorded in this order: first, helper, RATE, second
        storage.unwrap([m.module.first(3), m.module.second(3)])
    m.edit("return x - 1", "return x - 2")  # second: asked last
    m.edit("return x * RATE", "return RATE * x")  # helper: asked first
    left = scripted(monkeypatch, ["maybe", "n", "y"])
    with storage:
        # second is called first, yet helper is asked about first, as mandala asks when the block is entered
        assert storage.unwrap([m.module.second(3), m.module.first(3)]) == [1, 7]
    assert left == []
    out = capsys.readouterr().out
    assert out.index("CHANGE DETECTED in helper") < out.index("CHANGE DETECTED in second")
    assert "Invalid response: maybe" in out and 'You answered: "n"' in out
    assert "-    return x * RATE\n" in out and "+    return RATE * x\n" in out
    assert "Dependent ops: first (version 0)" in out and "Dependent ops: second (version 0)" in out
    helper, second = semantics(storage, m.module.helper), semantics(storage, m.module.second)
    assert helper[0] == helper[1] and second[0] != second[1]  # "n": compatible; "y": breaking
    assert storage.cache_info()["calls"] == 3  # only second(3) ran again


def test_abort_and_end_of_input_record_nothing(tmp_path, project, monkeypatch):
    m = project("vc_abort")
    storage = Storage(str(tmp_path / "s.db"), deps_path=m.folder)
    with storage:
        m.module.second(1)
    m.edit("return x - 1", "return x - 3")
    for answers, message in ((["a"], "aborted"), ([], "no terminal")):
        scripted(monkeypatch, answers)
        with pytest.raises(VersioningError, match=message):
            with storage:
                m.module.second(1)
        assert len(semantics(storage, m.module.second)) == 1 and storage.cache_info()["calls"] == 1


def test_a_piped_stdin_answers_the_question(tmp_path):
    folder = tmp_path / "piped"
    folder.mkdir()
    (folder / "vc_piped.py").write_text(SOURCE)
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(folder)!r})
        from graphstore import Storage
        import vc_piped as m
        storage = Storage({str(tmp_path / "s.db")!r}, deps_path={str(folder)!r})
        with storage:
            print("RESULT", storage.unwrap(m.second(5)))
        print("HISTORY", len({{c["semantic_hash"] for c in storage.source_history(m.second)}}))
    """)
    )

    def run(stdin):
        return subprocess.run(
            [sys.executable, "-B", str(script)], input=stdin, capture_output=True, text=True, timeout=60
        )

    assert "RESULT 4" in run("").stdout
    (folder / "vc_piped.py").write_text(SOURCE.replace("return x - 1", "return x - 10"))
    done = run("y\n")  # stdin is a pipe, not a terminal
    assert done.returncode == 0, done.stderr
    assert "CHANGE DETECTED in second" in done.stdout and "RESULT -5" in done.stdout and "HISTORY 2" in done.stdout
    (folder / "vc_piped.py").write_text(SOURCE.replace("return x - 1", "return x - 100"))
    ended = run("")  # end of input: the clear error, nothing recorded
    assert ended.returncode != 0 and "VersioningError" in ended.stderr and "no terminal" in ended.stderr


def test_versions_prints_code_and_status_and_never_asks(tmp_path, project, monkeypatch, capsys):
    m = project("vc_versions")
    storage = Storage(str(tmp_path / "s.db"), deps_path=m.folder, on_change="error")
    with storage:
        m.module.first(1)
    [info] = storage.versions(m.module.first)
    assert info.is_current and info.status == "current" and info.calls == 1
    shown = capsys.readouterr().out
    assert "### Dependencies for version of op first (version 0)" in shown and "### status: current" in shown
    assert "def helper(x):" in shown and "def first(x):" in shown and 'IN MODULE "vc_versions"' in shown
    m.edit("return helper(x) + 1", "return helper(x) + 2")
    scripted(monkeypatch, [])
    [info] = storage.versions(m.module.first)  # the change is not classified: no error, no question
    assert info.status == "undecided" and not info.is_current
    assert "### status: undecided" in capsys.readouterr().out
    storage.sync_component(m.module.first, is_semantic_change=False)
    assert storage.versions(m.module.first, show=False)[0].status == "current"
    m.edit("RATE = 2", "RATE = 3")
    storage.sync_component(f"{m.name}.RATE", is_semantic_change=True)
    assert storage.versions(m.module.first, show=False)[0].status == "not current"


def test_tracing_options_are_accepted_with_mandalas_meaning(tmp_path, project):
    class SysTracer:
        pass

    class DecTracer:
        pass

    with pytest.raises(ConfigurationError, match="tracer_impl=SysTracer"):
        Storage(deps_path=str(tmp_path), tracer_impl=SysTracer)
    with pytest.raises(ConfigurationError, match="strict_tracing"):
        Storage(deps_path=str(tmp_path), strict_tracing="yes")
    with pytest.raises(ConfigurationError, match="deps_package"):
        Storage(deps_path="__main__", deps_package="pkg")
    Storage(deps_path=str(tmp_path), tracer_impl=DecTracer).close()

    m = project(
        "vc_globals",
        SOURCE + "\nimport threading\nLOCK = [threading.Lock()]\n\n\n@op\ndef locked(x):\n    return len(LOCK) + x\n",
    )
    plain = Storage(deps_path=m.folder, track_globals=False)
    with plain:
        m.module.first(1)
    assert plain.versions(m.module.first, show=False)[0].deps.keys() == {"vc_globals:first", "vc_globals:helper"}

    with pytest.warns(DependencySkippedWarning, match="vc_globals.LOCK cannot be hashed"):
        with Storage(deps_path=m.folder) as skipping:
            m.module.locked(1)
    assert skipping.versions(m.module.locked, show=False)[0].deps.keys() == {"vc_globals:locked"}
    with pytest.raises(VersioningError, match="skip_unhashable_globals=False"):
        with Storage(deps_path=m.folder, skip_unhashable_globals=False):
            m.module.locked(2)


def test_strict_tracing_refuses_closure_variables(tmp_path, project):
    m = project(
        "vc_strict",
        "from graphstore import op\n\n\ndef make():\n    k = 3\n\n    @op\n    def scaled(x):\n"
        "        return x * k\n    return scaled\n",
    )
    scaled = m.module.make()
    with Storage(deps_path=m.folder) as lenient:
        assert lenient.unwrap(scaled(2)) == 6
    with pytest.raises(VersioningError, match=r"closure variables \['k'\].*strict_tracing"):
        with Storage(deps_path=m.folder, strict_tracing=True):
            scaled(2)


def test_missing_dependencies_and_deps_package(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    root = tmp_path / "root"
    package = root / "vcpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "steps.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(root))
    steps = importlib.import_module("vcpkg.steps")
    db = str(tmp_path / "s.db")
    with Storage(db, deps_path=package) as storage:
        steps.first(1)
    storage.close()
    try:
        del sys.modules["vcpkg.steps"]  # a new session that has not imported the module
        with pytest.warns(DependencySkippedWarning, match="vcpkg.steps:first.*no longer exists"):
            assert Storage(db, deps_path=package).versions(steps.first, show=False)[0].status == "not current"
        assert "vcpkg.steps" not in sys.modules
        with pytest.raises(VersioningError, match="skip_missing_deps=False"):
            Storage(db, deps_path=package, skip_missing_deps=False).versions(steps.first, show=False)
        quiet = Storage(db, deps_path=package, deps_package="vcpkg")  # imports the package's modules to compare
        assert quiet.versions(steps.first, show=False)[0].status == "current"
        assert "vcpkg.steps" in sys.modules
    finally:
        sys.modules.pop("vcpkg.steps", None)
        sys.modules.pop("vcpkg", None)
