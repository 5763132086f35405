"""Code-versioning records on a PostgreSQL store: component commits, op versions, and store settings."""

from __future__ import annotations

import json

import psycopg

from .base import ComponentCommit, VersionRecord, commit_row, version_from_row, version_row
from .postgres_conn import PgConnections
from .postgres_history import CLOSURE, SEEDS, PgHistory


class PgVersions:
    """Code-versioning records of the store that ``db`` reaches; deleting a version deletes its calls through
    ``history``."""

    def __init__(self, db: PgConnections, history: PgHistory) -> None:
        self._db = db
        self._history = history

    def _write(self, sql: str, params: tuple) -> None:
        self._db.transaction(lambda conn: conn.execute(sql, params))

    def get_meta(self, key: str) -> str | None:
        rows = self._db.run("SELECT value FROM meta WHERE key = %s", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._write(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (key, value),
        )

    def component_heads(self) -> dict[str, str]:
        """``component key -> content hash`` of the components whose head is not their latest commit."""
        rows = self._db.run("SELECT key, value FROM meta WHERE key LIKE 'head:%%'")
        return {key[len("head:") :]: value for key, value in rows}

    def set_component_head(self, key: str, content_hash: str) -> None:
        self.set_meta(f"head:{key}", content_hash)

    def component_keys(self) -> list[tuple[str, str]]:
        """``(kind, key)`` of every component, in the order of their first commits."""
        rows = self._db.run(
            "SELECT (array_agg(kind ORDER BY created_at))[1], key, min(created_at) AS first FROM components "
            "GROUP BY key ORDER BY first, key"
        )
        return [(kind, key) for kind, key, _ in rows]

    def versions_using(self, key: str) -> list[tuple[str, int, str]]:
        """``(op name, op version, version id)`` of the versions that depend on component ``key``."""
        rows = self._db.run(
            "SELECT op_name, op_version, version_id, deps FROM versions WHERE strpos(deps, %s) > 0 "
            "ORDER BY created_at, version_id",
            (json.dumps(key),),
        )
        return [(n, v, i) for n, v, i, deps in rows if any(d[1] == key for d in json.loads(deps))]

    def load_commits(self, key: str) -> list[ComponentCommit]:
        rows = self._db.run(
            "SELECT key, content_hash, kind, semantic_hash, parent_hash, source, created_at FROM components "
            "WHERE key = %s ORDER BY created_at, content_hash",
            (key,),
        )
        return [ComponentCommit(*row) for row in rows]

    def save_commit(self, c: ComponentCommit) -> None:
        self._write(
            "INSERT INTO components (key, content_hash, kind, semantic_hash, parent_hash, source, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            commit_row(c),
        )

    def load_versions(self, op_name: str, op_version: int) -> list[VersionRecord]:
        rows = self._db.run(
            "SELECT version_id, op_name, op_version, semantic_version, deps, created_at FROM versions "
            "WHERE op_name = %s AND op_version = %s ORDER BY created_at, version_id",
            (op_name, op_version),
        )
        return [version_from_row(row) for row in rows]

    def save_version(self, v: VersionRecord) -> None:
        self._write(
            "INSERT INTO versions (version_id, op_name, op_version, semantic_version, deps, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            version_row(v),
        )

    def version_call_counts(self, op_name: str, op_version: int) -> dict[str, int]:
        rows = self._db.run(
            "SELECT version_id, count(*) FROM calls WHERE op_name = %s AND op_version = %s "
            "AND version_id IS NOT NULL GROUP BY version_id",
            (op_name, op_version),
        )
        return {v: int(n) for v, n in rows}

    def version_op(self, version_id: str) -> tuple[str, int] | None:
        rows = self._db.run("SELECT op_name, op_version FROM versions WHERE version_id = %s", (version_id,))
        return (rows[0][0], rows[0][1]) if rows else None

    def delete_version(self, version_id: str, with_dependents: bool = True) -> int:
        """Delete a version, its calls and (if asked) every call downstream of them, in one transaction; returns
        the number of calls deleted."""

        def body(conn: psycopg.Connection) -> int:
            self._history.lock_out_writers(conn)
            hids = [r[0] for r in conn.execute("SELECT hid FROM calls WHERE version_id = %s", (version_id,))]
            doomed: list = []
            if hids:
                sql = CLOSURE if with_dependents else SEEDS
                doomed = conn.execute(sql, {"ids": hids}).fetchall()
                self._history.delete_rows(conn, [d[0] for d in doomed])
            conn.execute("DELETE FROM versions WHERE version_id = %s", (version_id,))
            return len(doomed)

        return self._db.transaction(body, doing="delete a version from")
