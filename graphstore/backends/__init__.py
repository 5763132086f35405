"""Stores of the property graph, and the factory that picks one from a path or URL."""

from __future__ import annotations

import os
from types import ModuleType

from ..errors import ConfigurationError
from .base import (
    Backend,
    Batch,
    CallRecord,
    CallRow,
    ComponentCommit,
    MemberRecord,
    OpRecord,
    RefRecord,
    Tracer,
    ValueRecord,
    VersionRecord,
)

__all__ = [
    "Backend",
    "Batch",
    "CallRecord",
    "CallRow",
    "ComponentCommit",
    "MemberRecord",
    "OpRecord",
    "RefRecord",
    "Tracer",
    "ValueRecord",
    "VersionRecord",
    "open_backend",
    "schema_versions",
    "shown_location",
    "upgrade_store",
]


def _engine(text: str) -> str:
    """ "postgres" for a PostgreSQL URL, "sqlite" for a file path (or ``":memory:"``); refuses other URLs."""
    if "://" not in text:
        return "sqlite"
    scheme = text.split("://", 1)[0]
    if scheme.lower() in ("postgresql", "postgres"):
        return "postgres"
    raise ConfigurationError(
        f"no store backend for URL scheme {scheme!r} in {text!r}; use a SQLite file path or a postgresql:// URL"
    )


def _postgres() -> ModuleType:
    try:
        from . import postgres
    except ImportError as exc:
        raise ConfigurationError(
            f"a PostgreSQL store needs psycopg 3 ({exc}): pip install 'graphstore[postgres]'"
        ) from exc
    return postgres


def open_backend(location: str | os.PathLike[str], tracer: Tracer | None = None, read_only: bool = False) -> Backend:
    """Open the store at ``location``: a SQLite file path, ``":memory:"``, or a PostgreSQL URL
    (``postgresql://user@host:5432/dbname``, see :mod:`graphstore.backends.postgres`).

    >>> open_backend(":memory:").counts()["refs"]
    0
    """
    text = os.fspath(location)
    if _engine(text) == "postgres":
        return _postgres().PostgresBackend(text, tracer=tracer, read_only=read_only)
    from .sqlite import SQLiteBackend

    return SQLiteBackend(text, tracer=tracer, read_only=read_only)


def shown_location(location: str | os.PathLike[str]) -> str:
    """The location as messages name it: a URL without its password.

    >>> shown_location("postgresql://alice:secret@db/runs")
    'postgresql://alice:***@db/runs'
    """
    text = os.fspath(location)
    if _engine(text) == "postgres":
        from .postgres_conn import redact

        return redact(text)
    return text


def schema_versions(location: str | os.PathLike[str]) -> tuple[int | None, int]:
    """``(the schema version of the store at location, the version this graphstore writes for its engine)``, read
    without creating or changing anything; the first is None when no store is there yet.

    >>> schema_versions(":memory:")[0] is None
    True
    """
    text = os.fspath(location)
    if _engine(text) == "postgres":
        from .postgres_schema import SCHEMA_VERSION as PG_VERSION

        return _postgres().peek_schema_version(text), PG_VERSION
    from .schema import SCHEMA_VERSION
    from .sqlite_conn import peek_schema_version

    return peek_schema_version(text), SCHEMA_VERSION


def upgrade_store(location: str | os.PathLike[str]) -> tuple[int, int]:
    """Bring the store at ``location`` (a SQLite file or a PostgreSQL URL) to this graphstore's schema version, in
    one transaction; returns the versions before and after (equal when there was nothing to do). Clients of older
    graphstore versions cannot open the store afterwards. Nothing is created where there is no store."""
    text = os.fspath(location)
    if _engine(text) == "postgres":
        return _postgres().upgrade(text)
    from .sqlite_conn import upgrade

    return upgrade(text)
