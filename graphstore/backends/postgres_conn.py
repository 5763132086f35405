"""The connections of a PostgreSQL store: URLs, connecting, ids at the boundary, retried transactions.

Every part of :class:`~graphstore.backends.postgres.PostgresBackend` reaches the server through one
:class:`PgConnections`: a connection for reads, the query layer's statements (its temporary tables live on it),
deletions and versioning, and a second one that batches are written on (from the writer's thread), each with its
lock. A connection that drops is opened again; a write transaction that deadlocks, fails to serialize or loses its
connection is run again from the start (every record is immutable and every insert idempotent).

Ids are ``uuid`` columns: the engine's 32-hex ids go in as text (the server reads them as uuids) and come back as
32-hex text, never as ``uuid.UUID`` objects.

>>> redact("postgresql://alice:secret@db.example:5433/runs")
'postgresql://alice:***@db.example:5433/runs'
>>> is_id("0123456789abcdef0123456789abcdef"), is_id("no such call")
(True, False)
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.adapt import Loader

from ..errors import ConfigurationError, StoreError
from .base import Tracer

T = TypeVar("T")

SCHEMES = ("postgresql", "postgres")
"""URL schemes of PostgreSQL stores."""

RETRIES = 8
"""How many times a transaction is run again after a deadlock, a serialization failure or a lost connection."""

_ID = re.compile(r"[0-9a-f]{32}\Z")


def is_id(text: object) -> bool:
    """Whether ``text`` is an id the engine computes (32 lowercase hex digits): only those can be stored."""
    return isinstance(text, str) and _ID.match(text) is not None


def ids_only(ids: Iterable[str]) -> list[str]:
    """The ids among ``ids`` that can name stored records (others name nothing), sorted, without repeats."""
    return sorted({i for i in ids if is_id(i)})


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return url.split("://", 1)[0] + "://<unreadable URL>"


def check_url(url: str) -> str:
    """Refuse a URL that names no database; returns it without its password."""
    shown = redact(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is no number)
    except ValueError as exc:
        raise ConfigurationError(f"cannot open store {shown}: the URL is malformed ({exc})") from None
    if parts.scheme not in SCHEMES:
        raise ConfigurationError(f"cannot open store {shown}: not a postgresql:// URL")
    if not parts.path.strip("/"):
        raise ConfigurationError(f"cannot open store {shown}: the URL names no database (postgresql://host/dbname)")
    return shown


class HexUuidLoader(Loader):
    """Reads ``uuid`` columns as the engine's 32-hex ids."""

    def load(self, data: Any) -> str:
        return bytes(data).decode("ascii").replace("-", "")


SESSION_SETTINGS = {"random_page_cost": ("4", "1.1"), "jit": ("on", "off")}
"""Planner settings of graphstore's sessions, ``name: (PostgreSQL's default, graphstore's value)``, used only on a
server left at the default (a value an administrator set is kept):

- ``random_page_cost``: the default supposes spinning disks; a store's indexes are read from memory or SSD, and at 4
  the planner hashes whole tables where a chunk of a history table needs a few thousand index lookups (measured: a
  chunk of 5,000 histories of 10^5 in 0.55 s at 4, 0.18 s at 1.1);
- ``jit``: compiling a statement's expressions costs about 0.2 s each time, more than the query layer's statements
  of up to a few seconds gain from it."""


def tune_planner(conn: psycopg.Connection) -> None:
    """Apply ``SESSION_SETTINGS`` to the session of ``conn``."""
    for name, (default, ours) in SESSION_SETTINGS.items():
        conn.execute(
            "SELECT CASE WHEN current_setting(%s) = %s THEN set_config(%s, %s, false) END", (name, default, name, ours)
        )


def is_retryable(exc: BaseException) -> bool:
    """A deadlock, a serialization failure, or a connection that is gone: the transaction can run again."""
    if isinstance(exc, (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)):
        return True
    return isinstance(exc, psycopg.OperationalError) and not isinstance(exc, pg_errors.QueryCanceled)


def _self_committed(conn: psycopg.Connection, body: Callable[[psycopg.Connection], T]) -> T:
    """``body(conn)`` in a transaction it commits itself; rolled back if it fails before its commit."""
    conn.execute("BEGIN")
    try:
        result = body(conn)
    except BaseException:
        if not (conn.closed or conn.broken) and conn.info.transaction_status != pq.TransactionStatus.IDLE:
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                pass
        raise
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        raise AssertionError("a self-committing transaction left its transaction open")
    return result


class PgConnections:
    """The two connections of a store (opened when first used), their locks, and the tracer."""

    def __init__(self, url: str, tracer: Tracer | None = None, connect_timeout: float = 10.0) -> None:
        self.url = url
        self.location = check_url(url)
        self.tracer = tracer
        self.connect_timeout = connect_timeout
        self.lock = threading.RLock()
        self.wlock = threading.RLock()
        self._conns: dict[str, psycopg.Connection | None] = {"main": None, "writer": None}
        self.on_connect: list[Callable[[psycopg.Connection], None]] = [tune_planner]
        self.closed = False

    def connect(self) -> psycopg.Connection:
        """A new connection, in autocommit mode (transactions are explicit), reading uuids as 32-hex text."""
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=int(self.connect_timeout))
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(
                f"cannot connect to store {self.location}: {reason.replace(self.url, self.location)}"
            ) from None
        conn.adapters.register_loader("uuid", HexUuidLoader)
        for hook in self.on_connect:
            hook(conn)
        return conn

    def get(self, which: str = "main") -> psycopg.Connection:
        """The connection ``which`` ("main" or "writer"), opened again if it was lost (hold its lock)."""
        if self.closed:
            raise StoreError(f"store {self.location} is closed")
        conn = self._conns[which]
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                try:
                    conn.close()
                except psycopg.Error:
                    pass
            conn = self._conns[which] = self.connect()
        return conn

    def trace(self, sql: str, params: Any = ()) -> None:
        if self.tracer is not None:
            self.tracer(sql, params if isinstance(params, tuple) else (params,))

    def error(self, exc: BaseException, doing: str = "read") -> StoreError:
        """A graphstore error for a failure of the server or driver, naming the store."""
        return StoreError(f"cannot {doing} store {self.location}: {str(exc).strip()}")

    def run(self, sql: str, params: Any = None, which: str = "main") -> list[tuple]:
        """The rows of one statement outside any transaction (run once more on a new connection if the connection
        was lost: reads are safe to repeat)."""
        lock = self.lock if which == "main" else self.wlock
        self.trace(sql, params)
        with lock:
            for attempt in range(2):
                conn = self.get(which)
                try:
                    cur = conn.execute(sql, params)
                    return cur.fetchall() if cur.description is not None else []
                except psycopg.Error as exc:
                    if attempt == 0 and (conn.closed or conn.broken):
                        continue
                    raise self.error(exc) from exc
        raise AssertionError("unreachable")

    def transaction(
        self, body: Callable[[psycopg.Connection], T], which: str = "main", doing: str = "write", commits: bool = False
    ) -> T:
        """``body(conn)`` inside one transaction, committed (by ``body`` itself with ``commits``: it sends its
        ``COMMIT`` with its last statements); run again from the start after a deadlock, a serialization failure or
        a lost connection (up to ``RETRIES`` times)."""
        lock = self.lock if which == "main" else self.wlock
        pause = 0.01
        with lock:
            for attempt in range(RETRIES + 1):
                conn = self.get(which)
                try:
                    self.trace("BEGIN")
                    if commits:
                        result = _self_committed(conn, body)
                    else:
                        with conn.transaction():
                            result = body(conn)
                        self.trace("COMMIT")
                    return result
                except psycopg.Error as exc:
                    if attempt < RETRIES and is_retryable(exc):
                        self.trace("ROLLBACK", (type(exc).__name__,))
                        time.sleep(pause)
                        pause = min(pause * 2, 0.5)
                        continue
                    raise self.error(exc, doing) from exc
        raise AssertionError("unreachable")

    def abandon(self) -> list[Any]:
        """(In a forked child) Forget the connections without closing them (they are the parent's); returns them."""
        old = [c for c in self._conns.values() if c is not None]
        self._conns = {"main": None, "writer": None}
        self.lock = threading.RLock()
        self.wlock = threading.RLock()
        return old

    def close(self) -> None:
        with self.lock, self.wlock:
            for which, conn in self._conns.items():
                if conn is not None:
                    try:
                        conn.close()
                    except psycopg.Error:
                        pass
                self._conns[which] = None
            self.closed = True
