"""Copies of a store: an online backup to a new file, and every record read out for a copy into another store.

:meth:`Copies.backup_to` copies a store with SQLite's online backup API, in one read transaction: the copy is
the store as it was at one instant, whatever other connections and processes write meanwhile, and it is a store of
its own (new identity and id), so it can sit beside the original or share its folder without either mistaking the
other's log or overflow files for its own.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import uuid
from collections.abc import Iterator

from ..errors import StoreError
from .base import Batch
from .export import export_batches
from .sqlite_conn import Connections


class Copies:
    """Backups of the store that ``db`` reaches.

    >>> import os, tempfile
    >>> from graphstore.backends.sqlite_conn import Connections
    >>> path = os.path.join(tempfile.mkdtemp(), "copy.db")
    >>> store_id, files = Copies(Connections(":memory:")).backup_to(path)
    >>> len(store_id), files
    (32, [])
    """

    def __init__(self, db: Connections) -> None:
        self._db = db

    def backup_to(self, path: str) -> tuple[str, list[str]]:
        """Copy the store, as of one instant, to a new SQLite file at ``path`` (which must not exist); returns the
        copy's store id and the overflow file names its values use (the caller copies those files)."""
        from .sqlite_open import STORE_MAGIC

        if os.path.exists(path):
            where = self._db.location
            raise StoreError(f"cannot back store {where} up to {path}: the file exists (choose a new path)")
        if self._db.location != ":memory:" and os.path.abspath(path) == os.path.abspath(self._db.location):
            raise StoreError(f"cannot back store {self._db.location} up onto itself")
        try:
            target = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create backup {path}: {exc}") from exc
        try:
            with self._db.lock:
                self._db.conn.backup(target)  # one step: one read transaction, one instant of the store
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
            raise StoreError(f"cannot back store {self._db.location} up to {path}: {exc}") from exc
        target.close()
        return new_id, files

    def export_batches(self, batch_size: int, value_bytes: int) -> Iterator[Batch]:
        """Every record, in one read transaction on the main connection (held, with its lock, until the last batch
        is taken or the iterator is closed)."""
        db = self._db

        def open_cursor(sql: str) -> sqlite3.Cursor:
            db.trace(sql)
            return db.conn.execute(sql)

        with db.lock:
            try:
                db.run_traced("BEGIN")
                yield from export_batches(open_cursor, batch_size, value_bytes)
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot read store {db.location}: {exc}") from exc
            finally:
                if db.conn.in_transaction:
                    db.conn.execute("COMMIT")
