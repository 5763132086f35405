"""A store on a PostgreSQL server, shared by any number of processes and machines.

``Storage("postgresql://user@host:5432/dbname")`` records into the database (creating the schema in an empty one).
Every write is ``ON CONFLICT DO NOTHING`` keyed by content-derived ids, so the same call recorded by several processes
converges on one record; a batch is one transaction, run again after a deadlock or a lost connection. Large values go
to files in the ``overflow_dir`` given to :class:`~graphstore.Storage` (there is none by default: values over the
threshold are refused). A process holds at most two connections to the server.

The schema is upgraded only by an explicit call::

    from graphstore.backends.postgres import upgrade
    upgrade("postgresql://user@host/dbname")   # -> (old version, new version)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import psycopg

from ..errors import IntegrityError, ReadOnlyStoreError, StoreError
from .base import (
    OP_SUMMARY_SQL,
    Backend,
    Batch,
    CallRecord,
    ComponentCommit,
    Tracer,
    ValueRecord,
    VersionRecord,
    calls_from_rows,
)
from .export import export_batches
from .hash_scheme import check_scheme
from .postgres_check import PgChecker
from .postgres_conn import PgConnections, ids_only, is_id
from .postgres_history import PgHistory
from .postgres_known import KnownCalls
from .postgres_parallel import PgParallel
from .postgres_schema import ensure_schema, stored_version, upgrade_schema
from .postgres_versions import PgVersions
from .postgres_write import BatchWriter
from .sqlite_write import SEP_FIELD, SEP_OUTPUT

_HEAD = "SELECT hid, cid, op_name, op_version, tuple_out, version_id, outputs FROM calls"
_HEAD_ID = _HEAD.replace(" FROM calls", ", id FROM calls")
_EITHER = f"({_HEAD_ID} WHERE hid = %s::uuid) UNION ALL ({_HEAD_ID} WHERE cid = %s::uuid LIMIT 1) LIMIT 1"
_ANY = "CAST(%s AS UUID[])"


def upgrade(url: str) -> tuple[int, int]:
    """Bring the schema of the store at ``url`` to this graphstore's version (in one transaction); returns the
    versions before and after. Clients of older graphstore versions cannot open the store afterwards."""
    db = PgConnections(url)
    try:
        conn = db.get()
        try:
            return upgrade_schema(conn, db.location)
        except psycopg.Error as exc:
            raise db.error(exc, "upgrade") from exc
    finally:
        db.close()


def peek_schema_version(url: str) -> int | None:
    """The schema version of the store at ``url``, read without creating or changing anything; None when the
    database holds no store yet. Refuses a database holding other tables."""
    db = PgConnections(url)
    try:
        try:
            return stored_version(db.get(), db.location)
        except psycopg.Error as exc:
            raise db.error(exc, "read") from exc
    finally:
        db.close()


STATISTICS_CHECK_S = 5.0
"""How often (at most) the query layer's first statement checks whether the tables' planner statistics are stale."""
_ANALYSED = ("calls", "refs", "edges", "values", "members")


class PostgresBackend(Backend):
    """A store in a PostgreSQL database, made of parts that share one :class:`PgConnections`: the batch writer,
    history and deletions, versioning records, the integrity checker. Lookups and reads are its own."""

    sql_dialect = "postgres"
    batch_calls = 1_000  # (a few round trips per batch; about 0.1 s of writing on a server next to the client)
    max_batch_calls = 2_000

    def __init__(self, url: str, tracer: Tracer | None = None, read_only: bool = False) -> None:
        self.db = PgConnections(url, tracer)
        self._statistics_checked = float("-inf")
        self.location = self.db.location
        self.read_only = read_only
        self.writer = BatchWriter(self.location, self.db.trace)
        self.history = PgHistory(self.db)
        self.versions = PgVersions(self.db, self.history)
        self.checker = PgChecker(self.db)
        self.known = KnownCalls(self.db.run)
        self.parallel = PgParallel(self.db)
        try:
            ensure_schema(self.db.get(), self.location, create=not read_only)
            check_scheme(self.versions.get_meta, self._put_meta, self.location, write=not read_only)
            self._store_id = self.get_meta("store_id")
        except psycopg.Error as exc:
            self.db.close()
            raise self.db.error(exc, "open") from exc
        except BaseException:
            self.db.close()
            raise

    @property
    def tracer(self) -> Tracer | None:
        return self.db.tracer

    @tracer.setter
    def tracer(self, tracer: Tracer | None) -> None:
        self.db.tracer = tracer

    @property
    def store_id(self) -> str | None:
        return self._store_id

    @property
    def deletions_seen(self) -> int | None:
        return self.writer.seen

    # --- lookups ----------------------------------------------------------------------------------------------------

    def _record(self, row: tuple) -> CallRecord:
        hid, cid, op_name, op_version, tuple_out, version_id, packed = row
        try:
            parts = [p.split(SEP_FIELD) for p in packed.split(SEP_OUTPUT)] if packed else []
            outputs = tuple((p[0], p[1], p[2]) for p in parts)
            kinds = tuple(p[3] for p in parts)
        except (AttributeError, IndexError):
            raise IntegrityError(
                f"store {self.location}: the outputs recorded in the row of call {hid} cannot be read "
                f"({str(packed)[:60]!r}): the store is damaged (storage.check() lists what else is)"
            ) from None
        return CallRecord(
            hid, cid, op_name, op_version, outputs, bool(tuple_out), output_kinds=kinds, version_id=version_id
        )

    def lookup_call_or_content(self, hid: str, cid: str, op_key: tuple[str, int] | None = None) -> CallRecord | None:
        """The call with history id ``hid``, else some call with content id ``cid``, else None: one statement, or
        none when the op's calls or ids were read ahead (see ``postgres_known``)."""
        known = self.known
        row = known.row(hid)
        if row is not None:
            return self._record(row)
        if known.surely_new(hid, cid, op_key):
            return None
        if not (is_id(hid) and is_id(cid)):
            return self.lookup_any_call([hid]) or self.lookup_any_call([cid], by="cid")
        rows = self.db.run(_EITHER, (hid, cid))
        if not rows:
            known.missed(op_key)
            return None
        if rows[0][0] == hid:
            known.found((rows[0][2], rows[0][3]), rows[0][7])
        return self._record(rows[0][:7])

    def forget_cached_calls(self) -> None:
        """Drop the calls and ids read ahead (done on entering a storage context and before any deletion)."""
        self.known.forget()

    def lookup_any_call(self, ids: list[str], by: str = "hid") -> CallRecord | None:
        column = "cid" if by == "cid" else "hid"
        ids = ids_only(ids)
        if not ids:
            return None
        rows = self.db.run(f"{_HEAD} WHERE {column} = ANY({_ANY}) ORDER BY id LIMIT 1", (ids,))
        return self._record(rows[0]) if rows else None

    def get_calls(self, hids: Iterable[str]) -> dict[str, CallRecord]:
        ids = ids_only(hids)
        if not ids:
            return {}
        heads = self.db.run(
            "SELECT hid, cid, op_name, op_version, tuple_out, created_at, duration, version_id FROM calls "
            f"WHERE hid = ANY({_ANY})",
            (ids,),
        )
        edges = self.db.run(
            "SELECT c.hid, e.direction, e.label, r.hid, r.cid, r.kind FROM calls AS c "
            "JOIN edges AS e ON e.call_id = c.id JOIN refs AS r ON r.id = e.ref_id "
            f"WHERE c.hid = ANY({_ANY}) ORDER BY c.hid, e.pos",
            (ids,),
        )
        return calls_from_rows(heads, edges)

    def load_values(self, cids: Iterable[str]) -> dict[str, ValueRecord]:
        ids = ids_only(cids)
        if not ids:
            return {}
        rows = self.db.run(
            f'SELECT cid, codec, size, data, path, checksum FROM "values" WHERE cid = ANY({_ANY})', (ids,)
        )
        return {row[0]: ValueRecord(*row) for row in rows}

    def value_sizes(self, cids: Iterable[str]) -> dict[str, int]:
        ids = ids_only(cids)
        rows = self.db.run(f'SELECT cid, size FROM "values" WHERE cid = ANY({_ANY})', (ids,)) if ids else []
        return {cid: int(size) for cid, size in rows}

    def get_refs(self, hids: Iterable[str]) -> dict[str, tuple[str, str]]:
        ids = ids_only(hids)
        rows = self.db.run(f"SELECT hid, cid, kind FROM refs WHERE hid = ANY({_ANY})", (ids,)) if ids else []
        return {hid: (cid, kind) for hid, cid, kind in rows}

    def load_members(self, coll_hids: Iterable[str]) -> dict[str, list[tuple[int, str | None, str, str, str]]]:
        ids = ids_only(coll_hids)
        out: dict[str, list] = {}
        if not ids:
            return out
        rows = self.db.run(
            "SELECT c.hid, m.pos, m.key, r.hid, r.cid, r.kind FROM refs AS c JOIN members AS m ON m.coll_id = c.id "
            f"JOIN refs AS r ON r.id = m.elt_id WHERE c.hid = ANY({_ANY}) ORDER BY c.hid, m.pos",
            (ids,),
        )
        for coll_hid, pos, key, elt_hid, cid, kind in rows:
            out.setdefault(coll_hid, []).append((pos, key, elt_hid, cid, kind))
        return out

    def op_source_hashes(self) -> dict[tuple[str, int], tuple[str, str]]:
        rows = self.db.run("SELECT name, version, source_hash, signature FROM ops")
        return {(n, v): (h, sig) for n, v, h, sig in rows}

    def op_summary(self) -> list[tuple[str, int, int, float | None, float | None]]:
        return [(n, v, int(k), first, last) for n, v, k, first, last in self.db.run(OP_SUMMARY_SQL)]

    def has_calls(self) -> bool:
        return bool(self.db.run("SELECT 1 FROM calls LIMIT 1"))

    def counts(self) -> dict[str, int]:
        tables = {"ops": "ops", "values": '"values"', "refs": "refs", "calls": "calls", "edges": "edges"}
        tables["members"] = "members"
        sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables.values())
        return dict(zip(tables, (int(n) for n in self.db.run(sql)[0])))

    def disk_bytes(self) -> int | None:
        return int(self.db.run("SELECT pg_database_size(current_database())")[0][0])

    # --- the query layer ----------------------------------------------------------------------------------------------

    def execute(self, sql: str, params: Any = ()) -> list[tuple]:
        """The rows of one statement of the query layer, on the connection its temporary tables live on."""
        self._check_statistics()
        return self.db.run(sql, params or None)

    def execute_many(self, statements: list[tuple[str, Any]]) -> list[list[tuple]]:
        self._check_statistics()
        return self.parallel.execute_many(statements)

    def execute_stream(
        self, sql: str, param_sets: list, side: bool = True, ahead: int = 2, idle: Callable[[], bool] | None = None
    ) -> Iterator[list[tuple]]:
        self._check_statistics()
        return self.parallel.execute_stream(sql, param_sets, side, ahead, idle)

    def _check_statistics(self) -> None:
        now = time.monotonic()
        if now - self._statistics_checked >= STATISTICS_CHECK_S:
            self._statistics_checked = now
            self._refresh_statistics()

    def _refresh_statistics(self) -> None:
        """Refresh the planner's statistics of the tables that changed by more than a tenth since they were last
        analysed. After a bulk load (recording) PostgreSQL's own autovacuum analyses them only at its next round, up to
        a minute later; until then it plans the query layer's joins as if the tables were nearly empty (measured: the
        chain table of 10^4 histories in 5 s, 1.2 s once analysed)."""
        if self.read_only:
            return
        stale = self.db.run(
            "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s) "
            "AND n_mod_since_analyze > 1000 + n_live_tup / 10",
            (list(_ANALYSED),),
        )
        if stale:
            self.db.run("ANALYZE " + ", ".join(f'"{name}"' for (name,) in stale))

    # --- writes -------------------------------------------------------------------------------------------------------

    def save_batch(self, batch: Batch) -> None:
        """Write a batch in one transaction on the writer connection (run again after a deadlock, a serialization
        failure or a lost connection: every insert is idempotent)."""
        if not len(batch):
            return
        if self.read_only:
            raise ReadOnlyStoreError(f"store {self.location} is open read-only: nothing can be recorded in it")
        self.db.transaction(lambda conn: self.writer.write(conn, batch), which="writer", commits=True)
        self.known.written(batch.calls)

    def fork_locks(self) -> list[Any]:
        """The lock of the writer connection (a fork holds it, so no batch is half written in the child's copy)."""
        return [self.db.wlock]

    def start_afresh_after_fork(self) -> None:
        """(In a forked child) Leave the parent's connections alone (closing them would end the parent's sessions)
        and open the child's own when first needed."""
        from ..forking import abandon

        abandon(*self.db.abandon(), *self.parallel.abandon())
        self.known.forget()

    # --- the parts' verbs ---------------------------------------------------------------------------------------------

    def creator_calls(self, ref_hids: Iterable[str]) -> dict[str, str]:
        return self.history.creator_calls(ref_hids)

    def consumer_calls(self, ref_hids: Iterable[str]) -> list[str]:
        return self.history.consumer_calls(ref_hids)

    def output_consumers(self, call_hids: Iterable[str]) -> list[tuple[str, str]]:
        return self.history.output_consumers(call_hids)

    def ref_hids_among(self, hids: Iterable[str]) -> list[str]:
        return self.history.ref_hids_among(hids)

    def delete_calls(self, hids: Iterable[str], with_dependents: bool, dry_run: bool = False) -> list[tuple[str, str]]:
        if not dry_run:  # (a dry run only reads what would go: a read-only store answers it too)
            self._refuse_write("delete calls from")
        return self.history.delete_calls(hids, with_dependents, dry_run)

    def cleanup_refs(self, dry_run: bool = False) -> tuple[int, int, list[str]]:
        self._refuse_write("clean up")
        return self.history.cleanup_refs(dry_run)

    def deletion_count(self) -> int:
        return self.history.deletion_count()

    def vacuum(self) -> None:
        self._refuse_write("vacuum")
        self.history.vacuum()

    def integrity_problems(self, overflow_dir: str | None, full: bool = True) -> list[str]:
        return self.checker.integrity_problems(overflow_dir, full)

    def backup_to(self, path: str) -> tuple[str, list[str]]:
        raise StoreError(
            f"store {self.location} is a PostgreSQL store: graphstore cannot back it up with backup(); copy it into "
            f"a SQLite file with graphstore.copy_store(url, {path!r}) (or `graphstore copy URL {path}`), or use the "
            "server's own tools (pg_dump) and copy its overflow folder"
        )

    def export_batches(self, batch_size: int, value_bytes: int) -> Iterator[Batch]:
        """Every record, in one read-only repeatable-read transaction on the main connection (held, with its lock,
        until the last batch is taken or the iterator is closed), read through server-side cursors."""
        db = self.db
        cursors: list[psycopg.Cursor] = []

        def open_cursor(sql: str) -> psycopg.Cursor:
            db.trace(sql)
            cur = conn.cursor(name=f"gs_export_{len(cursors)}")
            cursors.append(cur)
            cur.execute(sql)
            return cur

        with db.lock:
            conn = db.get()
            try:
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    try:
                        yield from export_batches(open_cursor, batch_size, value_bytes)
                    finally:
                        for cur in cursors:
                            cur.close()
            except psycopg.Error as exc:
                raise db.error(exc) from exc

    def close(self) -> None:
        self.parallel.close()
        self.db.close()

    def _refuse_write(self, doing: str) -> None:
        if self.read_only:
            raise ReadOnlyStoreError(f"cannot {doing} store {self.location}: it is open read-only")

    def get_meta(self, key: str) -> str | None:
        return self.versions.get_meta(key)

    def _put_meta(self, key: str, value: str) -> None:
        self.versions.set_meta(key, value)

    def set_meta(self, key: str, value: str) -> None:
        self._refuse_write("change settings of")
        self.versions.set_meta(key, value)

    def component_heads(self) -> dict[str, str]:
        return self.versions.component_heads()

    def set_component_head(self, key: str, content_hash: str) -> None:
        self._refuse_write("change")
        self.versions.set_component_head(key, content_hash)

    def component_keys(self) -> list[tuple[str, str]]:
        return self.versions.component_keys()

    def load_commits(self, key: str) -> list[ComponentCommit]:
        return self.versions.load_commits(key)

    def save_commit(self, commit: ComponentCommit) -> None:
        self._refuse_write("record code in")
        self.versions.save_commit(commit)

    def versions_using(self, key: str) -> list[tuple[str, int, str]]:
        return self.versions.versions_using(key)

    def load_versions(self, op_name: str, op_version: int) -> list[VersionRecord]:
        return self.versions.load_versions(op_name, op_version)

    def version_op(self, version_id: str) -> tuple[str, int] | None:
        return self.versions.version_op(version_id)

    def save_version(self, version: VersionRecord) -> None:
        self._refuse_write("record versions in")
        self.versions.save_version(version)

    def version_call_counts(self, op_name: str, op_version: int) -> dict[str, int]:
        return self.versions.version_call_counts(op_name, op_version)

    def delete_version(self, version_id: str, with_dependents: bool = True) -> int:
        self._refuse_write("delete a version from")
        return self.versions.delete_version(version_id, with_dependents)
