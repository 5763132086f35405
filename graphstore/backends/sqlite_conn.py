"""The connections of a SQLite store: opening the file, running statements through the tracer, write transactions.

Every part of :class:`~graphstore.backends.sqlite.SQLiteBackend` reaches the store through one :class:`Connections`:
a connection for reads (and the writes of deletions and versioning), a second one that batches are written on (for a
file), and their locks.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import ReadOnlyStoreError, SchemaVersionError, StoreError
from .base import Tracer
from .schema import SCHEMA_VERSION, ensure_schema, refuse_foreign, stored_schema_version
from .sqlite_open import (
    check_hash_scheme,
    read_only_mode,
    refuse_copy_without_log,
    refuse_foreign_file,
    refuse_foreign_wal,
    stamp_identity,
    store_uuid,
)

MMAP_BYTES = 1 << 30
"""Pages are read through a memory map: in WAL mode every commit of another connection (the batch writer's, too)
empties a reader's page cache, and a lookup then costs a few system calls without one."""

_PAGE_BYTES = 16_384
"""Page size of new stores. A batch of calls with random ids touches most pages of their indexes; with 16 kB pages
(rather than SQLite's 4 kB) writing it costs a fifth less, and queries are as fast."""
_CHECKPOINT_PAGES = 5_000
"""The writer folds the log back into the store once it holds this many pages (80 MB of 16 kB pages), each
checkpoint copying every page it finds once."""
_CHUNK = 500  # ids per IN (...) list, well under SQLite's parameter limit


def _use_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Put the store in WAL mode (it stays so). Changing the mode can fail at once with "database is locked", without
    SQLite waiting, while another process closes the store and folds its log back: so retry, up to ``timeout``."""
    deadline, pause = time.monotonic() + timeout, 0.001
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(2 * pause, 0.05)


def _check_path(path: str, must_exist: bool) -> None:
    if path == ":memory:":
        return
    if os.path.isdir(path):
        raise StoreError(f"cannot open store {path}: it is a directory, not a SQLite file")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise StoreError(f"cannot open store {path}: folder {parent} does not exist")
    if must_exist and not os.path.isfile(path):
        raise StoreError(f"cannot open store {path} read-only: the file does not exist")


def connect_read_only(path: str, timeout: float) -> tuple[sqlite3.Connection, str | None]:
    """Open an existing store for queries only (SQLite itself refuses every write on the connection); returns the
    connection and the store's id."""
    _check_path(path, must_exist=True)
    refuse_foreign_file(path)
    refuse_foreign_wal(path)
    refuse_copy_without_log(path)
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + read_only_mode(path)
    store_id = None
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False)
        refuse_foreign(conn, path)
        found = stored_schema_version(conn, path)
        if found == SCHEMA_VERSION:
            check_hash_scheme(conn, path, write=False)
            store_id = store_uuid(conn, create=False)
        for pragma in ("cache_size = -262144", f"mmap_size = {MMAP_BYTES}", "temp_store = MEMORY"):
            conn.execute(f"PRAGMA {pragma}")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open store {path}: {exc} (is it a graphstore SQLite file?)") from exc
    if found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"store {path} has schema version {found}, newer than version {SCHEMA_VERSION} that this "
            "graphstore supports: upgrade graphstore to open it"
        )
    if found == 0:
        raise StoreError(
            f"cannot open store {path} read-only: it is empty, no graphstore store has been made in it yet (or "
            "another process is making it right now: try again in a moment)"
        )
    if found < SCHEMA_VERSION:
        raise StoreError(
            f"store {path} has schema version {found} and needs migrating to version {SCHEMA_VERSION}, "
            "which a read-only store cannot do: open it once without read_only"
        )
    return conn, store_id


def connect(path: str, timeout: float) -> tuple[sqlite3.Connection, str | None]:
    """Open (creating or migrating it if need be) a store for reads and writes; returns the connection and the
    store's id."""
    _check_path(path, must_exist=False)
    if path != ":memory:":  # before SQLite opens the file (and applies a log): see sqlite_open
        refuse_foreign_file(path)
        refuse_foreign_wal(path)
        refuse_copy_without_log(path)
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            refuse_foreign(conn, path)  # before anything (even the journal mode) changes someone else's file
            conn.execute(f"PRAGMA page_size = {_PAGE_BYTES}")  # (a new store's; an existing one keeps its own)
            stamp_identity(conn)
            _use_wal(conn, timeout)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -262144")
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        ensure_schema(conn, path)
        check_hash_scheme(conn, path)
        store_id = store_uuid(conn, create=True)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open store {path}: {exc} (is it a graphstore SQLite file?)") from exc
    return conn, store_id


def peek_schema_version(path: str) -> int | None:
    """The schema version of the store file at ``path``, read without creating, migrating or changing anything;
    None when no store is there yet (no file, or an empty one)."""
    if path == ":memory:" or not os.path.exists(path):
        return None
    _check_path(path, must_exist=True)
    refuse_foreign_file(path)
    refuse_foreign_wal(path)
    refuse_copy_without_log(path)
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + read_only_mode(path)
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        try:
            refuse_foreign(conn, path)
            found = stored_schema_version(conn, path)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open store {path}: {exc} (is it a graphstore SQLite file?)") from exc
    return found or None


def upgrade(path: str, timeout: float = 60.0) -> tuple[int, int]:
    """Migrate the store file at ``path`` to this graphstore's schema version; returns the versions before and
    after. Refuses a path holding no store (nothing is created there) and a store newer than this code."""
    before = peek_schema_version(path)
    if before is None:
        raise StoreError(f"cannot upgrade store {path}: there is no graphstore store there")
    if before > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"cannot upgrade store {path}: its schema version {before} is newer than version {SCHEMA_VERSION} "
            "that this graphstore supports"
        )
    conn, _ = connect(path, timeout)  # (migrates it, in one transaction)
    conn.close()
    return before, SCHEMA_VERSION


class Unreachable:
    """Stands for an in-memory store's connection in a forked child, which cannot reach the parent's memory."""

    def __init__(self, location: str) -> None:
        self.location = location

    def __getattr__(self, name: str) -> Any:
        raise StoreError(
            "an in-memory store cannot be used in a process forked from the one that created it (the child has "
            "a copy of its memory, and nothing it records would reach the parent): give the Storage a file, "
            "Storage('experiments.db'), to record from worker processes"
        )


class Connections:
    """The connections of the store at ``location`` and their locks, and statements run on them.

    ``before_write`` is called as a write transaction of :meth:`begin_write` starts (the store forgets what it read
    ahead).

    >>> db = Connections(":memory:")
    >>> db.run("SELECT count(*) FROM calls")
    [(0,)]
    """

    def __init__(
        self,
        location: str,
        timeout: float = 60.0,
        read_only: bool = False,
        tracer: Tracer | None = None,
        before_write: Callable[[], None] | None = None,
    ) -> None:
        self.location = location
        self.timeout = timeout
        self.read_only = read_only
        self.tracer = tracer
        self.before_write = before_write
        self.lock = threading.RLock()
        """Held while a statement runs on :attr:`conn`, and through its write transactions."""
        self.wlock = threading.Lock()
        """Held while a batch is written (on :attr:`wconn`, or by a helper process)."""
        self.wconn: sqlite3.Connection | None = None
        self.conn: Any = None
        self.store_id: str | None = None
        self.open()

    def open(self) -> None:
        """Open the main connection (again, in a forked child)."""
        opener = connect_read_only if self.read_only else connect
        self.conn, self.store_id = opener(self.location, self.timeout)

    def start_afresh_after_fork(self) -> None:
        """(In a forked child) New locks and connections; an in-memory store cannot be reached, and says so when
        used."""
        self.lock, self.wlock = threading.RLock(), threading.Lock()
        self.wconn = None
        if self.location == ":memory:":
            self.conn = Unreachable(self.location)
        else:
            self.open()

    def run(self, sql: str, params: Any = ()) -> list[tuple]:
        """The rows of one statement on the main connection."""
        if self.tracer is not None:
            self.tracer(sql, params)
        with self.lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"store {self.location}: {exc}") from exc

    def run_many(self, sql: str, rows: list[tuple]) -> None:
        """One statement for each row, on the main connection (inside the caller's transaction)."""
        if not rows:
            return
        if self.tracer is not None:
            self.tracer(sql, (len(rows),))
        self.conn.executemany(sql, rows)

    def select_in(self, sql: str, ids: Iterable[str]) -> list[tuple]:
        """Run ``sql`` (with one ``{ids}`` placeholder for an ``IN`` list) over the ids, in chunks."""
        rows: list[tuple] = []
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i : i + _CHUNK]
            rows.extend(self.run(sql.format(ids=",".join("?" * len(chunk))), tuple(chunk)))
        return rows

    def trace(self, sql: str, params: tuple = ()) -> None:
        """Show the tracer a statement run elsewhere (by the writer connection or a helper process)."""
        if self.tracer is not None:
            self.tracer(sql, params)

    def run_traced(self, sql: str) -> None:
        """A statement without parameters or rows (``BEGIN``, ``COMMIT``) on the main connection."""
        if self.tracer is not None:
            self.tracer(sql, ())
        self.conn.execute(sql)

    def run_write(self, sql: str) -> int:
        """A write statement on the main connection, inside the caller's transaction; returns its row count."""
        if self.tracer is not None:
            self.tracer(sql, ())
        return self.conn.execute(sql).rowcount

    def begin_write(self) -> None:
        """Start a write transaction on the main connection (the caller holds :attr:`lock`)."""
        if self.before_write is not None:
            self.before_write()
        if self.read_only:
            raise ReadOnlyStoreError(f"store {self.location} is open read-only: it cannot be changed")
        try:
            self.run_traced("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot write to store {self.location}: {exc}") from exc

    def rollback(self, exc: BaseException | None) -> None:
        """After a failure inside a write transaction: roll it back; a SQLite error raises as a StoreError."""
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.DatabaseError):
            raise StoreError(f"store {self.location}: {exc}") from exc

    def write_one(self, sql: str, params: tuple) -> None:
        """One write statement in a transaction of its own."""
        with self.lock:
            self.begin_write()
            try:
                self.run_many(sql, [params])
                self.run_traced("COMMIT")
            except BaseException as exc:
                self.rollback(exc)
                raise

    def writer(self) -> tuple[sqlite3.Connection, Any]:
        """The connection (and its lock) that batches are written on: a second one for file stores."""
        if self.location == ":memory:":
            return self.conn, self.lock
        with self.lock:
            if self.wconn is None:
                conn = sqlite3.connect(
                    self.location, timeout=self.timeout, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA cache_size = -262144")
                conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
                conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
                conn.execute(f"PRAGMA wal_autocheckpoint = {_CHECKPOINT_PAGES}")
                self.wconn = conn
        return self.wconn, self.wlock

    def close(self) -> None:
        """Close both connections."""
        with self.lock:
            self.conn.close()
        with self.wlock:
            if self.wconn is not None:
                self.wconn.close()
                self.wconn = None
