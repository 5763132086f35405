"""Code-versioning records on the SQLite store: component commits, op versions, and store settings."""

from __future__ import annotations

import json

from .base import ComponentCommit, VersionRecord, commit_row, version_from_row, version_row
from .sqlite_conn import Connections
from .sqlite_deletions import Deletions
from .sqlite_history import HistoryQueries


class VersionsQueries:
    """Code-versioning records of the store that ``db`` reaches; deleting a version deletes its calls through
    ``history``.

    >>> from graphstore.backends.sqlite_conn import Connections
    >>> from graphstore.backends.sqlite_deletions import Deletions
    >>> from graphstore.backends.sqlite_history import HistoryQueries
    >>> db = Connections(":memory:")
    >>> versions = VersionsQueries(db, HistoryQueries(db, Deletions(db)), Deletions(db))
    >>> versions.set_meta("versioning", "on"); versions.get_meta("versioning")
    'on'
    """

    def __init__(self, db: Connections, history: HistoryQueries, deletions: Deletions) -> None:
        self._db = db
        self._history = history
        self._deletions = deletions

    def get_meta(self, key: str) -> str | None:
        rows = self._db.run("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.write_one("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def component_heads(self) -> dict[str, str]:
        """``component key -> content hash`` of the components whose head is not their latest commit."""
        rows = self._db.run("SELECT key, value FROM meta WHERE key LIKE 'head:%'")
        return {key[len("head:") :]: value for key, value in rows}

    def set_component_head(self, key: str, content_hash: str) -> None:
        self.set_meta(f"head:{key}", content_hash)

    def component_keys(self) -> list[tuple[str, str]]:
        """``(kind, key)`` of every component, in the order of their first commits."""
        rows = self._db.run(
            "SELECT kind, key, min(created_at) AS first FROM components GROUP BY key ORDER BY first, key"
        )
        return [(kind, key) for kind, key, _ in rows]

    def versions_using(self, key: str) -> list[tuple[str, int, str]]:
        """``(op name, op version, version id)`` of the versions that depend on component ``key``."""
        rows = self._db.run(
            "SELECT op_name, op_version, version_id, deps FROM versions WHERE instr(deps, ?) > 0", (json.dumps(key),)
        )
        return [(n, v, i) for n, v, i, deps in rows if any(d[1] == key for d in json.loads(deps))]

    def load_commits(self, key: str) -> list[ComponentCommit]:
        rows = self._db.run(
            "SELECT key, content_hash, kind, semantic_hash, parent_hash, source, created_at FROM components "
            "WHERE key = ? ORDER BY created_at",
            (key,),
        )
        return [ComponentCommit(*row) for row in rows]

    def save_commit(self, c: ComponentCommit) -> None:
        self._db.write_one(
            "INSERT OR IGNORE INTO components (key, content_hash, kind, semantic_hash, parent_hash, source, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            commit_row(c),
        )

    def load_versions(self, op_name: str, op_version: int) -> list[VersionRecord]:
        rows = self._db.run(
            "SELECT version_id, op_name, op_version, semantic_version, deps, created_at FROM versions "
            "WHERE op_name = ? AND op_version = ? ORDER BY created_at",
            (op_name, op_version),
        )
        return [version_from_row(row) for row in rows]

    def save_version(self, v: VersionRecord) -> None:
        self._db.write_one(
            "INSERT OR IGNORE INTO versions (version_id, op_name, op_version, semantic_version, deps, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            version_row(v),
        )

    def version_call_counts(self, op_name: str, op_version: int) -> dict[str, int]:
        rows = self._db.run(
            "SELECT version_id, count(*) FROM calls WHERE op_name = ? AND op_version = ? AND version_id IS NOT NULL "
            "GROUP BY version_id",
            (op_name, op_version),
        )
        return dict(rows)

    def version_op(self, version_id: str) -> tuple[str, int] | None:
        rows = self._db.run("SELECT op_name, op_version FROM versions WHERE version_id = ?", (version_id,))
        return (rows[0][0], rows[0][1]) if rows else None

    def delete_version(self, version_id: str, with_dependents: bool = True) -> int:
        """Delete a version, its calls and (if asked) every call downstream of them, in one transaction; returns
        the number of calls deleted."""
        with self._db.lock:
            self._db.begin_write()
            try:
                hids = self._db.run("SELECT hid FROM calls WHERE version_id = ?", (version_id,))
                self._history.seed([r[0] for r in hids])
                count = len(self._history.delete_seeded(with_dependents))
                if count:
                    self._deletions.count_deletion()
                self._db.run_many("DELETE FROM versions WHERE version_id = ?", [(version_id,)])
                self._db.run_traced("COMMIT")
            except BaseException as exc:
                self._db.rollback(exc)
                raise
        return count
