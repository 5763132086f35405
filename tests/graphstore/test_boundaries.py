"""The seams of the package, checked on its source (parsed, never imported for the check):

- the engine (``graphstore/`` outside ``graphstore/backends/``) imports no SQLite module and holds no SQL text: it
  talks to a store through :class:`graphstore.backends.Backend` alone;
- the engine does not import the query layer at module level (``Storage.cf`` imports it when asked);
- the package's module-level imports have no cycle;
- every member of a store that the engine or the query layer uses is declared on ``Backend``, and every verb
  declared there is used.

Each checker is also run on a small bad example, so that a checker that finds nothing cannot pass unnoticed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from graphstore.backends import Backend
from graphstore.backends.sqlite import SQLiteBackend

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "graphstore"
QUERY = ROOT / "query"

FORBIDDEN = re.compile(r"^(sqlite3|sqlite_utils|graphstore\.backends\.(sqlite\w*|schema))(\.|$)")
"""Modules the engine must not import: SQLite itself, and the SQLite store's own modules."""

SQL = re.compile(
    r"\bSELECT\b.+?\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\S+\s+SET\b"
    r"|\bCREATE\s+(TEMP\s+|TEMPORARY\s+|UNIQUE\s+)?(TABLE|INDEX|VIEW)\b|\bPRAGMA\b|\bBEGIN\s+IMMEDIATE\b",
    re.IGNORECASE | re.DOTALL,
)

BACKEND_NAMES = {"backend", "_backend"}
"""An expression names a store when it is one of these names, or an attribute of this name (``self.backend``,
``storage.backend``)."""

UNUSED_OK = {"tracer"}
"""Declared on Backend for tests and tools, not used by the engine itself."""


# --- the checkers -----------------------------------------------------------------------------------------------------


def module_name(path: Path) -> str:
    """``graphstore.backends.base`` for ``graphstore/backends/base.py`` (a package is named by its folder)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: not those inside functions, nor under ``if TYPE_CHECKING``."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                found += _top_level_imports(node.body)
            found += _top_level_imports(node.orelse)
        elif isinstance(node, (ast.Try, ast.With, ast.ClassDef)):
            for block in ("body", "orelse", "finalbody"):
                found += _top_level_imports(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                found += _top_level_imports(handler.body)
    return found


def imported_modules(tree: ast.Module, module: str, is_package: bool, top_level: bool) -> list[tuple[str, int]]:
    """``(absolute module name, line)`` of every import of a module (all of them, or only those run at import
    time), relative ones resolved; ``from package import name`` also counts as importing ``package.name``."""
    nodes = (
        _top_level_imports(tree.body)
        if top_level
        else [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    )
    out: list[tuple[str, int]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
            continue
        base = node.module or ""
        if node.level:
            parts = module.split(".") if is_package else module.split(".")[:-1]
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join(parts + ([node.module] if node.module else []))
        out.append((base, node.lineno))
        out += [(f"{base}.{alias.name}", node.lineno) for alias in node.names if alias.name != "*"]
    return out


def forbidden_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """The SQLite modules a module of the engine imports (anywhere in it)."""
    tree = ast.parse(source)
    found = {line: name for name, line in imported_modules(tree, module, is_package, False) if FORBIDDEN.match(name)}
    return [f"{module}:{line} imports {name}" for line, name in sorted(found.items())]


def _docstring_nodes(tree: ast.Module) -> set[int]:
    """Ids of the string statements of a module: docstrings of modules, classes and functions, and of attributes."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }


def sql_literals(source: str, module: str, with_docstrings: bool = False) -> list[str]:
    """String literals (f-string parts too) of a module that look like SQL statements."""
    tree = ast.parse(source)
    docs = set() if with_docstrings else _docstring_nodes(tree)
    return [
        f"{module}:{node.lineno}: {node.value[:60]!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and SQL.search(node.value)
    ]


def query_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """The imports of the query layer that a module runs when it is imported."""
    tree = ast.parse(source)
    query = re.compile(r"^(graphstore\.)?query(\.|$)")
    found = {line: name for name, line in imported_modules(tree, module, is_package, True) if query.match(name)}
    return [f"{module}:{line} imports {name}" for line, name in sorted(found.items())]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph (its nodes in order, the first repeated at the end), or None.

    >>> find_cycle({"a": {"b"}, "b": {"a"}})
    ['a', 'b', 'a']
    >>> find_cycle({"a": {"b"}, "b": set()}) is None
    True
    """
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """``module -> modules of the set it imports at import time``, for ``{module: (source, is_package)}``. A module's
    own packages are left out: Python imports them before the module, whatever it imports."""
    graph: dict[str, set[str]] = {}
    for module, (source, is_package) in sources.items():
        tree = ast.parse(source)
        graph[module] = {
            name
            for name, _ in imported_modules(tree, module, is_package, top_level=True)
            if name in sources and name != module and not module.startswith(name + ".")
        }
    return graph


def _names_backend(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id in BACKEND_NAMES) or (
        isinstance(node, ast.Attribute) and node.attr in BACKEND_NAMES
    )


def backend_uses(source: str) -> set[str]:
    """The members used on expressions that name a store (``backend.x``, ``self.backend.x``, ``getattr(backend,
    "x", ...)``, ``hasattr(backend, "x")``)."""
    used: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _names_backend(node.value):
            used.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr")
            and len(node.args) >= 2
            and _names_backend(node.args[0])
        ):
            arg = node.args[1]
            used.add(arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else "<computed>")
    return used


def probes(source: str, module: str) -> list[str]:
    """``getattr``/``hasattr`` on a store: its capabilities are declared on Backend, never probed."""
    return [
        f"{module}:{node.lineno} probes the store with {node.func.id}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr")
        and node.args
        and _names_backend(node.args[0])
    ]


def declared_members(cls: type) -> set[str]:
    """Methods, properties and annotated attributes of a class and its bases."""
    names = {name for klass in cls.__mro__ for name in vars(klass)}
    return names | {name for klass in cls.__mro__ for name in getattr(klass, "__annotations__", {})}


# --- the package's files ----------------------------------------------------------------------------------------------


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _engine_files() -> list[Path]:
    return [p for p in _files(PACKAGE) if "backends" not in p.relative_to(PACKAGE).parts]


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_the_engine_imports_no_sqlite_module():
    found = [x for p in _engine_files() for x in forbidden_imports(_read(p), module_name(p), p.name == "__init__.py")]
    assert not found, found


def test_the_engine_holds_no_sql():
    found = [x for p in _engine_files() for x in sql_literals(_read(p), module_name(p), with_docstrings=True)]
    assert not found, found


def test_the_engine_imports_the_query_layer_only_when_asked():
    found = [x for p in _files(PACKAGE) for x in query_imports(_read(p), module_name(p), p.name == "__init__.py")]
    assert not found, found


def test_module_imports_have_no_cycle():
    sources = {module_name(p): (_read(p), p.name == "__init__.py") for p in _files(PACKAGE)}
    graph = import_graph(sources)
    assert graph["graphstore.backends.sqlite"], "the import graph is empty: the checker reads nothing"
    assert find_cycle(graph) is None, find_cycle(graph)


def _uses() -> set[str]:
    return {name for p in _engine_files() + _files(QUERY) for name in backend_uses(_read(p))}


def test_every_store_member_used_is_declared_on_backend():
    used = _uses()
    assert {"save_batch", "execute", "location"} <= used, "the checker finds no use of the store"
    undeclared = used - declared_members(Backend)
    assert not undeclared, f"members of the store used outside backends but not declared on Backend: {undeclared}"
    store = SQLiteBackend(":memory:")
    try:
        assert not [name for name in used if not hasattr(store, name)]
    finally:
        store.close()


def test_every_verb_declared_on_backend_is_used():
    declared = {n for n in declared_members(Backend) - declared_members(object) if not n.startswith("_")}
    declared -= {"register"}  # (ABC's own)
    unused = declared - _uses() - UNUSED_OK
    assert not unused, f"verbs declared on Backend that nothing outside backends uses: {unused}"


def test_the_store_is_never_probed():
    found = [x for p in _engine_files() + _files(QUERY) for x in probes(_read(p), module_name(p))]
    assert not found, found


# --- the checkers on bad examples -------------------------------------------------------------------------------------

BAD = '''
"""A module that breaks every rule."""
import sqlite3
from .backends.sqlite_history import remove_overflow_files
from .backends import schema
from . import query
from .query import make_frame


def rows(conn):
    from .backends.sqlite import SQLiteBackend
    return conn.execute(f"SELECT hid FROM calls WHERE op = {1}"), "insert or ignore into refs VALUES (?)"


def more(storage):
    storage.backend.vacuum_now()
    return getattr(storage.backend, "helper_ready", None)
'''


def test_the_import_checker_finds_sqlite_imports():
    found = forbidden_imports(BAD, "graphstore.bad")
    assert [x.split(" imports ")[0] for x in found] == [f"graphstore.bad:{n}" for n in (3, 4, 5, 11)]  # in f() too
    assert "graphstore.bad:5 imports graphstore.backends.schema" in found
    assert not forbidden_imports("from .backends import Backend\nimport sqlite3x\n", "graphstore.good")
    assert forbidden_imports("from .. import sqlite_open\n", "graphstore.backends.x.y")


def test_the_sql_checker_finds_statements():
    found = sql_literals(BAD, "graphstore.bad")
    assert len(found) == 2, found  # the f-string's text and the lower-case insert
    assert sql_literals('"""PRAGMA user_version"""\n', "m", with_docstrings=True)
    assert not sql_literals('"""PRAGMA user_version"""\n', "m")
    assert not sql_literals("x = 'select the calls to keep from the frame'\n".replace("from", "in"), "m")
    for statement in ("DELETE FROM refs", "update calls set x = 1", "CREATE TEMP TABLE t (x)", "PRAGMA quick_check"):
        assert sql_literals(f"x = {statement!r}\n", "m"), statement


def test_the_query_checker_finds_module_level_imports_only():
    found = query_imports(BAD, "graphstore.bad")
    assert [x.split(" imports ")[0] for x in found] == ["graphstore.bad:6", "graphstore.bad:7"]
    assert query_imports("import graphstore.query.frame\n", "graphstore.x")
    assert not query_imports("def cf():\n    from .query import make_frame\n", "graphstore.storage")
    lazy = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .query import Frame\n"
    assert not query_imports(lazy, "graphstore.storage")


def test_the_cycle_checker_finds_cycles():
    sources = {
        "graphstore.backends": ("from .base import Backend\n", True),
        "graphstore.backends.base": ("from . import sqlite\n", False),
        "graphstore.backends.sqlite": ("from .helper import main\n", False),
        "graphstore.backends.helper": ("def main():\n    from .sqlite import SQLiteBackend\n", False),
    }
    assert find_cycle(import_graph(sources)) is None  # the helper imports the store lazily
    sources["graphstore.backends.helper"] = ("from .sqlite import SQLiteBackend\n", False)
    cycle = find_cycle(import_graph(sources))
    assert cycle is not None and sorted(cycle[1:]) == ["graphstore.backends.helper", "graphstore.backends.sqlite"]


def test_the_use_checker_finds_undeclared_members():
    used = backend_uses(BAD)
    assert used == {"vacuum_now", "helper_ready"}
    assert used - declared_members(Backend) == {"vacuum_now"}
    assert backend_uses("def f(self):\n    return self.backend._wlock, backend.store_id\n") == {"_wlock", "store_id"}
    assert probes(BAD, "graphstore.bad")


@pytest.mark.parametrize("name", ["location", "read_only", "store_id", "deletions_seen", "fork_locks"])
def test_declared_members_include_attributes_and_methods(name):
    assert name in declared_members(Backend)
