"""The query package's surface and layout are pinned: one front door, one exception root, one sqlglot importer."""

from __future__ import annotations

import re
from pathlib import Path

from graphstore.query import errors

from graphstore import GraphstoreError, query

ROOT = Path(__file__).resolve().parents[2]


def test_query_all_is_pinned():
    assert sorted(query.__all__) == sorted(
        [
            "CallCollection",
            "ComputationFrame",
            "FrameStructureError",
            "MissingProgramError",
            "Picture",
            "Provenance",
            "QueryError",
            "RefCollection",
            "UnknownNodeError",
            "ValueCollection",
            "make_frame",
            "provenance_frame",
        ]
    )
    for name in query.__all__:
        assert hasattr(query, name), name


def test_every_query_error_derives_from_the_root():
    classes = [getattr(errors, n) for n in dir(errors) if isinstance(getattr(errors, n), type)]
    classes = [c for c in classes if issubclass(c, Exception) and c.__module__ == errors.__name__]
    assert len(classes) >= 4
    assert all(issubclass(c, (errors.QueryError, GraphstoreError)) for c in classes)
    assert issubclass(errors.UnknownNodeError, KeyError) and issubclass(errors.FrameStructureError, ValueError)


def test_sqlglot_lives_in_the_sql_stage_only_and_modules_stay_small():
    importers = []
    for path in sorted((ROOT / "query").rglob("*.py")):
        text = path.read_text()
        if re.search(r"^\s*(import sqlglot|from sqlglot)", text, flags=re.M):
            importers.append(path.relative_to(ROOT / "query").as_posix())
        assert len(text.splitlines()) < 600, path.name
    assert importers and all(name.startswith("sql/") for name in importers), importers


def test_nothing_imports_a_top_level_query_module():
    """The query layer is graphstore.query: code, tests, benchmarks and docs never name a top-level ``query``."""
    paths = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    for folder in ("graphstore", "query", "tests", "benchmarks", "examples"):  # (not the peers' virtualenv)
        paths += [p for p in (ROOT / folder).rglob("*.py") if not any(part.startswith(".") for part in p.parts)]
    for path in paths:
        if path.name == "test_packaging.py":  # its scripts import a user's own query.py, beside graphstore.query
            continue
        assert not re.search(r"^\s*(>>> )?(import query\b|from query\b)", path.read_text(), flags=re.M), path


def test_the_querying_page_is_executed_by_the_docs_test():
    from test_docs import PAGES, python_blocks

    page = ROOT / "docs" / "querying.md"
    assert page in PAGES and len(python_blocks(page)) >= 4
