"""Copies of a store: an online backup to a new file, and a forked child's own connections.

:meth:`CopiesMixin.backup_to` copies a store with SQLite's online backup API, in one read transaction: the copy is
the store as it was at one instant, whatever other connections and processes write meanwhile, and it is a store of
its own (new identity and id), so it can sit beside the original or share its folder without either mistaking the
other's log or overflow files for its own.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import uuid
from typing import Any

from ..errors import StoreError


class _Unreachable:
    """Stands for an in-memory store's connection in a forked child, which cannot reach the parent's memory."""

    def __init__(self, location: str) -> None:
        self.location = location

    def __getattr__(self, name: str) -> Any:
        raise StoreError(
            "an in-memory store cannot be used in a process forked from the one that created it (the child has "
            "a copy of its memory, and nothing it records would reach the parent): give the Storage a file, "
            "Storage('experiments.db'), to record from worker processes"
        )


class CopiesMixin:
    """Backups and fork handling of :class:`~graphstore.backends.sqlite.SQLiteBackend`."""

    location: str
    read_only: bool
    _timeout: float
    _conn: Any
    _wconn: sqlite3.Connection | None
    _helper: Any
    _side: Any
    _pool: Any

    def backup_to(self, path: str) -> tuple[str, list[str]]:
        """Copy the store, as of one instant, to a new SQLite file at ``path`` (which must not exist); returns the
        copy's store id and the overflow file names its values use (the caller copies those files)."""
        from .sqlite_open import STORE_MAGIC

        if os.path.exists(path):
            raise StoreError(f"cannot back store {self.location} up to {path}: the file exists (choose a new path)")
        if self.location != ":memory:" and os.path.abspath(path) == os.path.abspath(self.location):
            raise StoreError(f"cannot back store {self.location} up onto itself")
        try:
            target = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create backup {path}: {exc}") from exc
        try:
            with self._lock:
                self._conn.backup(target)  # one step: one read transaction, one instant of the store
            new_id = uuid.uuid4().hex
            target.execute("BEGIN IMMEDIATE")
            target.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('store_id', ?)", (new_id,))
            target.execute(f"PRAGMA user_version = {secrets.randbelow(2**31 - 1) + 1}")  # an identity of its own
            target.execute(f"PRAGMA application_id = {STORE_MAGIC}")
            target.execute("COMMIT")
            target.execute("PRAGMA journal_mode = WAL")
            files = [row[0] for row in target.execute('SELECT path FROM "values" WHERE path IS NOT NULL')]
        except sqlite3.Error as exc:
            target.close()
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
            raise StoreError(f"cannot back store {self.location} up to {path}: {exc}") from exc
        target.close()
        return new_id, files

    def start_afresh_after_fork(self) -> None:
        """(In a forked child) Leave the parent's connections and helper process alone and open new ones; an
        in-memory store cannot be reached from the child, and says so at its first use."""
        from ..forking import abandon

        if self._helper is not None:
            self._helper.disown()
        abandon(self._conn, self._wconn, self._side, self._pool, self._helper)
        self._lock, self._wlock = threading.RLock(), threading.Lock()
        self._wconn = self._side = self._pool = self._helper = None
        self._seen_version = None
        self.forget_cached_calls()  # type: ignore[attr-defined]
        self._forget_known()  # type: ignore[attr-defined]
        if self.location == ":memory:":
            self._conn = _Unreachable(self.location)
        elif self.read_only:
            self._conn = self._connect_read_only(self.location, self._timeout)  # type: ignore[attr-defined]
        else:
            self._conn = self._connect(self.location, self._timeout)  # type: ignore[attr-defined]
