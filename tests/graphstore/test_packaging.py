"""How graphstore installs: the query layer is graphstore.query, and no module named ``query`` is installed, so a
user's own query.py beside a script or notebook shadows nothing of graphstore's. The scripts run in a new process from
a folder outside the project, with the project root off ``sys.path``: graphstore comes from the installed package."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from pathlib import Path

root = Path({root!r})
assert all(Path(p or ".").resolve() != root for p in sys.path), sys.path

from graphstore import Storage, op

@op
def inc(x):
    return x + 1

@op
def double(x):
    return 2 * x

storage = Storage()
with storage:
    results = [double(inc(i)) for i in range(3)]
df = storage.cf(double).expand_back(recursive=True).df()
assert sorted(df["x_0"]) == [0, 1, 2] and sorted(df["var_0"]) == [2, 4, 6], df
assert len(storage.provenance(results[0]).df) >= 1
import graphstore.query
assert Path(graphstore.query.__file__).resolve().parent.name == "query"
{extra}
print("ok")
"""


def run_in(folder: Path, extra: str = "") -> subprocess.CompletedProcess:
    (folder / "script.py").write_text(SCRIPT.format(root=str(ROOT), extra=textwrap.dedent(extra)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONSAFEPATH")}
    return subprocess.run(
        [sys.executable, "script.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_users_query_module_that_fails_to_import_is_never_imported(tmp_path):
    (tmp_path / "query.py").write_text('raise ImportError("the user\'s own module")\n')
    done = run_in(tmp_path, "assert 'query' not in sys.modules")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_users_query_module_lives_beside_the_query_layer(tmp_path):
    (tmp_path / "query.py").write_text("def ask(question):\n    return f'asked {question}'\n")
    done = run_in(
        tmp_path,
        """
        import query
        assert query.ask("x") == "asked x" and Path(query.__file__).parent.resolve() == Path.cwd().resolve()
        assert storage.cf(inc).df().shape[0] == 3
        """,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_no_module_named_query_is_installed(tmp_path):
    code = (
        "import importlib.util, graphstore.query; "
        "print(importlib.util.find_spec('query'), graphstore.query.ComputationFrame.__module__)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["None", "graphstore.query.frame"]


def test_one_copy_of_the_query_layer_in_the_test_session():
    """The doctests of query/ run on graphstore.query's modules (see conftest.py), not on a second copy."""
    import graphstore.query
    from graphstore.query import frame

    copies = {m.__name__ for name, m in list(sys.modules.items()) if name.split(".")[0] == "query"}
    assert all(name.startswith("graphstore.query") for name in copies), copies
    assert graphstore.query.ComputationFrame is frame.ComputationFrame


def test_the_wheel_holds_graphstore_query_and_py_typed(tmp_path):
    """A wheel built from the sources: the query layer inside graphstore/, typed, nothing else at the top level."""
    import setuptools  # (the test extra requires >= 70.1, which builds wheels by itself, without the network)

    assert tuple(int(x) for x in setuptools.__version__.split(".")[:2]) >= (70, 1), setuptools.__version__
    for name in ("pyproject.toml", "README.md"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    for folder in ("graphstore", "query"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                target = tmp_path / path.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-w",
            "dist",
            ".",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = (tmp_path / "dist").glob("graphstore-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"graphstore"}
    assert "graphstore/py.typed" in names
    expected = {f"graphstore/query/{p.name}" for p in (ROOT / "query").glob("*.py")}
    assert expected <= set(names) and "graphstore/query/frame.py" in expected
    assert "graphstore/backends/sqlite.py" in names
    assert "graphstore/cli/copy.py" in names and "graphstore/__main__.py" in names
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "graphstore = graphstore.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
