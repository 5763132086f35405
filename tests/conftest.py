"""Shared fixtures: an in-memory store, a file store, and a log of which op bodies actually ran."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from graphstore import Storage

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


class CallLog(list):
    """Names of the op bodies that ran, in order; ops under test append to it."""

    def count(self, name: str | None = None) -> int:  # type: ignore[override]
        return len(self) if name is None else sum(1 for n in self if n == name)


@pytest.fixture
def log() -> CallLog:
    return CallLog()


SQLITE_ONLY = {
    # replaces the SQLite store's write path to fail inside a deletion
    ("test_deletion.py", "test_a_failure_inside_drop_calls_changes_nothing"),
}
"""Tests of the ``storage`` and ``file_storage`` fixtures that are about SQLite itself: their PostgreSQL variant is
not collected (the summary line counts them as deselected)."""


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        name = getattr(item, "originalname", item.name)
        params = item.callspec.params if hasattr(item, "callspec") else {}
        on_postgres = params.get("storage") == "postgres" or params.get("store_kind") == "postgres"
        (drop if on_postgres and (item.path.name, name) in SQLITE_ONLY else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request):
    """A new store: in memory (SQLite), and in a new PostgreSQL database."""
    if request.param == "postgres":
        s = Storage(request.getfixturevalue("pg_url"))
    else:
        s = Storage()
    yield s
    s.close()


def pytest_generate_tests(metafunc):
    # a persistent store (``file_storage``, or ``db_path`` with ``store_kind``): a SQLite file, a PostgreSQL database
    if "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def store_kind(request) -> str:
    """The engine of ``file_storage``: "sqlite" or "postgres"."""
    return request.param


@pytest.fixture
def db_path(request, tmp_path):
    """Where a persistent store is: a SQLite file, or (for tests of ``file_storage`` on PostgreSQL) the URL of a new
    database."""
    if "store_kind" in request.fixturenames and request.getfixturevalue("store_kind") == "postgres":
        return request.getfixturevalue("pg_url")
    return str(tmp_path / "store.db")


@pytest.fixture
def file_storage(db_path, store_kind):
    s = Storage(db_path)
    yield s
    s.close()


class StatementCounter:
    """A tracer that records every SQL statement a backend runs."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, sql: str, params: tuple) -> None:
        self.statements.append(sql)

    def reads(self) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().startswith("SELECT")]

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture
def counter() -> StatementCounter:
    return StatementCounter()


# --- PostgreSQL -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_databases():
    """Fresh databases on a throwaway PostgreSQL server (see ``tests/pg_server.py``), or the reason there is none."""
    import pg_server

    try:
        databases, server = pg_server.start()
    except pg_server.ServerUnavailable as exc:
        yield str(exc)
        return
    try:
        yield databases
    finally:
        databases.close()
        if server is not None:
            server.stop()


def _need_server(pg_databases):
    """The databases of the test server; without one the test fails under CI, and is skipped with the reason
    otherwise."""
    if isinstance(pg_databases, str):
        reason = f"no PostgreSQL server: {pg_databases}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return pg_databases


@pytest.fixture
def pg_url(pg_databases) -> str:
    """The URL of a new, empty PostgreSQL database."""
    databases = _need_server(pg_databases)
    url = databases.create()
    yield url
    databases.drop(url)


@pytest.fixture
def pg_new_database(pg_databases):
    """A function returning the URL of a new, empty PostgreSQL database each time it is called (for property tests:
    one per example); they are dropped when the test ends."""
    databases = _need_server(pg_databases)
    made: list[str] = []

    def new() -> str:
        made.append(databases.create())
        return made[-1]

    yield new
    for url in made:
        databases.drop(url)
