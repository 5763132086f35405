"""Code-versioning records on the SQLite store: component commits, op versions, and store settings."""

from __future__ import annotations

import json
import time

from .base import ComponentCommit, VersionRecord


class VersionsMixin:
    """Versioning verbs of :class:`~graphstore.backends.sqlite.SQLiteBackend`."""

    def get_meta(self, key: str) -> str | None:
        rows = self._run("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._write_one("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _write_one(self, sql: str, params: tuple) -> None:
        with self._lock:
            self._begin_write()
            try:
                self._run_many(sql, [params])
                self._run_traced("COMMIT")
            except BaseException as exc:
                self._rollback(exc)
                raise

    def component_heads(self) -> dict[str, str]:
        """``component key -> content hash`` of the components whose head is not their latest commit."""
        rows = self._run("SELECT key, value FROM meta WHERE key LIKE 'head:%'")
        return {key[len("head:") :]: value for key, value in rows}

    def set_component_head(self, key: str, content_hash: str) -> None:
        self.set_meta(f"head:{key}", content_hash)

    def component_keys(self) -> list[tuple[str, str]]:
        """``(kind, key)`` of every component, in the order of their first commits."""
        rows = self._run("SELECT kind, key, min(created_at) AS first FROM components GROUP BY key ORDER BY first, key")
        return [(kind, key) for kind, key, _ in rows]

    def versions_using(self, key: str) -> list[tuple[str, int, str]]:
        """``(op name, op version, version id)`` of the versions that depend on component ``key``."""
        rows = self._run(
            "SELECT op_name, op_version, version_id, deps FROM versions WHERE instr(deps, ?) > 0", (json.dumps(key),)
        )
        return [(n, v, i) for n, v, i, deps in rows if any(d[1] == key for d in json.loads(deps))]

    def load_commits(self, key: str) -> list[ComponentCommit]:
        rows = self._run(
            "SELECT key, content_hash, kind, semantic_hash, parent_hash, source, created_at FROM components "
            "WHERE key = ? ORDER BY created_at",
            (key,),
        )
        return [ComponentCommit(*row) for row in rows]

    def save_commit(self, c: ComponentCommit) -> None:
        self._write_one(
            "INSERT OR IGNORE INTO components (key, content_hash, kind, semantic_hash, parent_hash, source, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (c.key, c.content_hash, c.kind, c.semantic_hash, c.parent_hash, c.source, c.created_at or time.time()),
        )

    def load_versions(self, op_name: str, op_version: int) -> list[VersionRecord]:
        rows = self._run(
            "SELECT version_id, op_name, op_version, semantic_version, deps, created_at FROM versions "
            "WHERE op_name = ? AND op_version = ? ORDER BY created_at",
            (op_name, op_version),
        )
        return [
            VersionRecord(v, n, ov, sv, tuple(tuple(d) for d in json.loads(deps)), t) for v, n, ov, sv, deps, t in rows
        ]

    def save_version(self, v: VersionRecord) -> None:
        self._write_one(
            "INSERT OR IGNORE INTO versions (version_id, op_name, op_version, semantic_version, deps, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                v.version_id,
                v.op_name,
                v.op_version,
                v.semantic_version,
                json.dumps([list(d) for d in v.deps]),
                v.created_at or time.time(),
            ),
        )

    def version_call_counts(self, op_name: str, op_version: int) -> dict[str, int]:
        rows = self._run(
            "SELECT version_id, count(*) FROM calls WHERE op_name = ? AND op_version = ? AND version_id IS NOT NULL "
            "GROUP BY version_id",
            (op_name, op_version),
        )
        return dict(rows)

    def version_op(self, version_id: str) -> tuple[str, int] | None:
        rows = self._run("SELECT op_name, op_version FROM versions WHERE version_id = ?", (version_id,))
        return (rows[0][0], rows[0][1]) if rows else None

    def delete_version(self, version_id: str, with_dependents: bool = True) -> int:
        """Delete a version, its calls and (if asked) every call downstream of them, in one transaction; returns
        the number of calls deleted."""
        with self._lock:
            self._begin_write()
            try:
                self._seed([r[0] for r in self._run("SELECT hid FROM calls WHERE version_id = ?", (version_id,))])
                count = len(self._delete_seeded(with_dependents))
                if count:
                    self._count_deletion()
                self._run_many("DELETE FROM versions WHERE version_id = ?", [(version_id,)])
                self._run_traced("COMMIT")
            except BaseException as exc:
                self._rollback(exc)
                raise
        return count
