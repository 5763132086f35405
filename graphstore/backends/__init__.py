"""Stores of the property graph, and the factory that picks one from a path or URL."""

from __future__ import annotations

import os

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
]


def open_backend(location: str | os.PathLike[str], tracer: Tracer | None = None, read_only: bool = False) -> Backend:
    """Open the store at ``location``: a SQLite file path, ``":memory:"``, or a PostgreSQL URL
    (``postgresql://user@host:5432/dbname``, see :mod:`graphstore.backends.postgres`).

    >>> open_backend(":memory:").counts()["refs"]
    0
    """
    text = os.fspath(location)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        if scheme.lower() in ("postgresql", "postgres"):
            try:
                from .postgres import PostgresBackend
            except ImportError as exc:
                raise ConfigurationError(
                    f"a PostgreSQL store needs psycopg 3 ({exc}): pip install 'graphstore[postgres]'"
                ) from exc

            return PostgresBackend(text, tracer=tracer, read_only=read_only)
        raise ConfigurationError(
            f"no store backend for URL scheme {scheme!r} in {text!r}; use a SQLite file path or a postgresql:// URL"
        )
    from .sqlite import SQLiteBackend

    return SQLiteBackend(text, tracer=tracer, read_only=read_only)
