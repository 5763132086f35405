"""The embedded default store: the property graph in one SQLite file (or in memory).

WAL mode, a busy timeout and short ``BEGIN IMMEDIATE`` write transactions let several processes share one file.
Every write is ``INSERT OR IGNORE`` keyed by content-derived ids, so recording the same call twice converges on one
record.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..diskfull import why_write_failed
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
from .sqlite_check import Checker
from .sqlite_conn import Connections
from .sqlite_copies import Copies
from .sqlite_deletions import Deletions
from .sqlite_handover import HelperClient
from .sqlite_history import HistoryQueries
from .sqlite_known import KnownIds
from .sqlite_parallel import ParallelReader
from .sqlite_versions import VersionsQueries
from .sqlite_write import SEP_FIELD as _SEP_FIELD
from .sqlite_write import SEP_OUTPUT as _SEP_OUTPUT
from .sqlite_write import BatchWriter

_LOOKUP_BY_HID = (
    "SELECT c.hid, c.cid, c.op_name, c.op_version, c.tuple_out, c.version_id, e.label, r.hid, r.cid, r.kind "
    "FROM calls AS c LEFT JOIN edges AS e ON e.call_id = c.id AND e.direction = 1 "
    "LEFT JOIN refs AS r ON r.id = e.ref_id WHERE c.hid = ? ORDER BY e.pos"
)
_HEAD = "SELECT hid, cid, op_name, op_version, tuple_out, version_id, outputs FROM calls"
_FAST_EITHER = f"{_HEAD} WHERE hid = ? UNION ALL SELECT * FROM ({_HEAD} WHERE cid = ? LIMIT 1) LIMIT 1"
_OP_CALLS = f"{_HEAD} WHERE op_name = ? AND op_version = ?"
_COUNT_OP = "SELECT count(*) FROM calls WHERE op_name = ? AND op_version = ?"
MEMO_MIN_HITS = 20
MEMO_HIT_SHARE = 16
MEMO_MAX_CALLS = 2_000_000
"""An op's stored calls are read into memory once this process has found ``MEMO_MIN_HITS`` of them and at least
one in ``MEMO_HIT_SHARE`` (so the read costs at most a few lookups per call found), while at most
``MEMO_MAX_CALLS`` calls are held."""
_UNSET = object()


class SQLiteBackend(Backend):
    """A store in a SQLite file, or ``":memory:"``, made of parts that each receive the :class:`Connections` (and
    the other parts) they use: the sets of known ids, the reader side by side, the helper process writing batches,
    the deletion count, the integrity checker, backups, and the history and versioning queries. Lookups and batch
    writes are its own.

    >>> b = SQLiteBackend(":memory:")
    >>> b.counts()["calls"]
    0
    """

    def __init__(
        self, path: str = ":memory:", tracer: Tracer | None = None, timeout: float = 60.0, read_only: bool = False
    ) -> None:
        self.location = str(path)
        self.read_only = read_only
        self._forget_read_ahead()
        self.db = Connections(self.location, timeout, read_only, tracer, before_write=self.forget_cached_calls)
        self.deletions = Deletions(self.db)
        self.known = KnownIds(self.db, self._helper_running)
        self.helper = HelperClient(self.db, self.known, self.deletions)
        self.parallel = ParallelReader(self.db)
        self.checker = Checker(self.db)
        self.copies = Copies(self.db)
        self.history = HistoryQueries(self.db, self.deletions)
        self.versions = VersionsQueries(self.db, self.history, self.deletions)

    def _helper_running(self) -> bool:
        return self.helper.running()

    @property
    def tracer(self) -> Tracer | None:
        """Called with every statement the store runs."""
        return self.db.tracer

    @tracer.setter
    def tracer(self, tracer: Tracer | None) -> None:
        self.db.tracer = tracer

    @property
    def store_id(self) -> str | None:
        """The store's own identity."""
        return self.db.store_id

    @property
    def deletions_seen(self) -> int | None:
        """The deletion count the last batch written was checked against (by this process or its helper)."""
        return self.deletions.seen

    def execute(self, sql: str, params: Any = ()) -> list[tuple]:
        """Run a read-only statement (for the query layer and tools); goes through the tracer."""
        return self.db.run(sql, params)

    def execute_many(self, statements: list[tuple[str, Any]]) -> list[list[tuple]]:
        return self.parallel.execute_many(statements)

    def execute_stream(
        self, sql: str, param_sets: list, side: bool = True, ahead: int = 2, idle: Callable[[], bool] | None = None
    ) -> Iterator[list[tuple]]:
        return self.parallel.execute_stream(sql, param_sets, side, ahead, idle)

    # --- calls ----------------------------------------------------------------------------------------------------

    @staticmethod
    def _record_from_rows(rows: list[tuple]) -> CallRecord | None:
        if not rows:
            return None
        hid, cid, op_name, op_version, tuple_out, version_id = rows[0][:6]
        rows = [row for row in rows if row[6] is not None]
        outputs = tuple((label, ref_hid, ref_cid) for *_, label, ref_hid, ref_cid, _ in rows)
        kinds = tuple(row[9] for row in rows)
        return CallRecord(
            hid, cid, op_name, op_version, outputs, bool(tuple_out), output_kinds=kinds, version_id=version_id
        )

    def _fast_record(self, rows: list[tuple]) -> CallRecord | None:
        """A record from a calls row with its outputs inline (older rows without them are read through edges)."""
        return self._record_from_row(rows[0]) if rows else None

    def _record_from_row(self, row: tuple) -> CallRecord:
        try:
            return self._parse_row(row)
        except (ValueError, TypeError, AttributeError, IndexError):
            raise IntegrityError(
                f"store {self.location}: the outputs recorded in the row of call {row[0]} cannot be read "
                f"({str(row[6])[:60]!r}): the store is damaged (storage.check() lists what else is)"
            ) from None

    def _parse_row(self, row: tuple) -> CallRecord:
        hid, cid, op_name, op_version, tuple_out, version_id, packed = row
        if packed is None:
            return self._record_from_rows(self.db.run(_LOOKUP_BY_HID, (hid,)))  # type: ignore[return-value]
        if _SEP_OUTPUT not in packed and packed:  # the usual single output
            name, out_hid, out_cid, kind = packed.split(_SEP_FIELD)
            return CallRecord(
                hid,
                cid,
                op_name,
                op_version,
                ((name, out_hid, out_cid),),
                bool(tuple_out),
                output_kinds=(kind,),
                version_id=version_id,
            )
        parts = [p.split(_SEP_FIELD) for p in packed.split(_SEP_OUTPUT)] if packed else []
        return CallRecord(
            hid,
            cid,
            op_name,
            op_version,
            tuple((p[0], p[1], p[2]) for p in parts),
            bool(tuple_out),
            output_kinds=tuple(p[3] for p in parts),
            version_id=version_id,
        )

    def lookup_call_or_content(self, hid: str, cid: str, op_key: tuple[str, int] | None = None) -> CallRecord | None:
        """The call with history id ``hid``, else some call with content id ``cid``, else None: one statement.

        An op whose stored calls keep being found (a program retracing) has its calls read in one statement and
        looked up in memory from then on (see :meth:`forget_cached_calls`). Given the op (``(name, version)``), once
        a call of it was not found, the ids of all its stored calls are read (when they are few), and new calls are
        known to be new without a statement (see ``sqlite_known``)."""
        row = self._memo.get(hid)
        if row is not None:
            return self._record_from_row(row)
        known: Any = _UNSET if op_key is None else self.known.known.get(op_key, _UNSET)
        if known is not _UNSET and known is not None and hid not in known and cid not in known:
            return None
        rows = self.db.run(_FAST_EITHER, (hid, cid))
        if not rows:
            if known is _UNSET and op_key is not None:
                self.known.known_ids(op_key)  # a first new call of the op: more are likely to follow
            return None
        if rows[0][0] == hid:
            self._count_hit(rows[0][2], rows[0][3])
        return self._fast_record(rows)

    def _count_hit(self, op_name: str, op_version: int) -> None:
        key = (op_name, op_version)
        hits = self._memo_hits.get(key, 0) + 1
        self._memo_hits[key] = hits
        if hits < MEMO_MIN_HITS or hits % MEMO_MIN_HITS or key in self._memo_ops:
            return
        total = self._memo_totals.get(key)
        if total is None:
            total = self._memo_totals[key] = self.db.run(_COUNT_OP, key)[0][0]
        if hits * MEMO_HIT_SHARE >= total and len(self._memo) + total <= MEMO_MAX_CALLS:
            memo = self._memo  # (forgotten meanwhile, after a deletion: the rows read go nowhere)
            self._memo_ops.add(key)
            memo.update((row[0], row) for row in self.db.run(_OP_CALLS, key) if row[6] is not None)

    def forget_cached_calls(self) -> None:
        """Drop the calls read ahead into memory (done on entering a storage context and before any deletion, so a
        deletion by this or another process is seen from the next context on)."""
        self._forget_read_ahead()
        self.known.forget()

    def _forget_read_ahead(self) -> None:
        """Drop the calls read ahead (the known ids stay)."""
        self._memo: dict[str, tuple] = {}
        self._memo_hits: dict[tuple[str, int], int] = {}
        self._memo_totals: dict[tuple[str, int], int] = {}
        self._memo_ops: set[tuple[str, int]] = set()

    def lookup_any_call(self, ids: list[str], by: str = "hid") -> CallRecord | None:
        """The first stored call whose history id (or content id, ``by="cid"``) is among ``ids``, or None."""
        if not ids:
            return None
        column = "cid" if by == "cid" else "hid"
        marks = ",".join("?" * len(ids))
        where = f"WHERE c.hid = (SELECT hid FROM calls WHERE {column} IN ({marks}) LIMIT 1)"
        sql = _LOOKUP_BY_HID.replace("WHERE c.hid = ?", where)
        return self._record_from_rows(self.db.run(sql, tuple(ids)))

    def get_calls(self, hids: Iterable[str]) -> dict[str, CallRecord]:
        hids = list(hids)
        heads = self.db.select_in(
            "SELECT hid, cid, op_name, op_version, tuple_out, created_at, duration, version_id FROM calls "
            "WHERE hid IN ({ids})",
            hids,
        )
        edges = self.db.select_in(
            "SELECT c.hid, e.direction, e.label, r.hid, r.cid, r.kind FROM calls AS c "
            "JOIN edges AS e ON e.call_id = c.id JOIN refs AS r ON r.id = e.ref_id WHERE c.hid IN ({ids}) "
            "ORDER BY c.hid, e.pos",
            hids,
        )
        return calls_from_rows(heads, edges)

    # --- writes ---------------------------------------------------------------------------------------------------

    def save_batch(self, batch: Batch) -> None:
        """Write a batch in one transaction, on a connection of its own, so reads are not blocked meanwhile."""
        if not len(batch):
            return
        if self.read_only:
            raise ReadOnlyStoreError(f"store {self.location} is open read-only: nothing can be recorded in it")
        db = self.db
        conn, lock = db.writer()
        with lock:
            if self.helper.write(batch):
                return
            try:
                db.trace("BEGIN IMMEDIATE")
                conn.execute("BEGIN IMMEDIATE")
                self.known.check_data_version(conn)
                self.deletions.check_batch(conn, batch)
                BatchWriter(self.location, db.trace).write(conn, batch, time.time())
                db.trace("COMMIT")
                conn.execute("COMMIT")
                self.known.add(batch.calls)
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.DatabaseError):
                    why = why_write_failed([self.location, self.location + "-wal"], str(exc))
                    raise StoreError(f"cannot write to store {self.location}: {exc}{why}") from exc
                raise

    def start_helper(self) -> None:
        """Start a helper process to write batches (see ``sqlite_helper``), unless there is one, the store is in
        memory or read-only, the system is not POSIX, or ``GRAPHSTORE_WRITER_PROCESS=0`` is set."""
        self.helper.start()

    def batch_handed_over(self) -> bool:
        return self.helper.holding()

    def can_hand_over(self) -> bool:
        return self.helper.can_hand_over()

    def hand_over(self, batch: Batch) -> object | None:
        return self.helper.hand_over(batch)

    def handed_over_result(self, ticket: object) -> None:
        self.helper.result(ticket)

    def resume_hand_over(self) -> None:
        self.helper.resume()

    def helper_starting(self) -> bool:
        return self.helper.starting()

    def helper_ready(self) -> bool:
        return self.helper.ready()

    def fork_locks(self) -> list[Any]:
        """The lock of the writer connection (a fork holds it, so no batch is half written in the child's copy)."""
        return [self.db.wlock]

    def start_afresh_after_fork(self) -> None:
        """(In a forked child) Leave the parent's connections and helper process alone and open new ones; an
        in-memory store cannot be reached from the child, and says so at its first use."""
        from ..forking import abandon

        db, parallel = self.db, self.parallel
        abandon(db.conn, db.wconn, parallel.side, parallel.pool, self.helper.disown())
        parallel.start_afresh_after_fork()
        self.known.seen_version = None
        self.forget_cached_calls()
        db.start_afresh_after_fork()

    # --- values, refs, ops ----------------------------------------------------------------------------------------

    def load_values(self, cids: Iterable[str]) -> dict[str, ValueRecord]:
        rows = self.db.select_in(
            'SELECT cid, codec, size, data, path, checksum FROM "values" WHERE cid IN ({ids})', cids
        )
        return {row[0]: ValueRecord(*row) for row in rows}

    def value_sizes(self, cids: Iterable[str]) -> dict[str, int]:
        return dict(self.db.select_in('SELECT cid, size FROM "values" WHERE cid IN ({ids})', cids))

    def get_refs(self, hids: Iterable[str]) -> dict[str, tuple[str, str]]:
        rows = self.db.select_in("SELECT hid, cid, kind FROM refs WHERE hid IN ({ids})", hids)
        return {hid: (cid, kind) for hid, cid, kind in rows}

    def load_members(self, coll_hids: Iterable[str]) -> dict[str, list[tuple[int, str | None, str, str, str]]]:
        out: dict[str, list] = {}
        rows = self.db.select_in(
            "SELECT c.hid, m.pos, m.key, r.hid, r.cid, r.kind FROM refs AS c JOIN members AS m ON m.coll_id = c.id "
            "JOIN refs AS r ON r.id = m.elt_id WHERE c.hid IN ({ids}) ORDER BY c.hid, m.pos",
            coll_hids,
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
        tables = {
            "ops": "ops",
            "values": '"values"',
            "refs": "refs",
            "calls": "calls",
            "edges": "edges",
            "members": "members",
        }
        return {k: self.db.run(f"SELECT count(*) FROM {t}")[0][0] for k, t in tables.items()}

    def disk_bytes(self) -> int | None:
        if self.location == ":memory:":
            return None
        files = (self.location, self.location + "-wal")
        return sum(os.path.getsize(f) for f in files if os.path.exists(f))

    def close(self) -> None:
        self.parallel.close()
        self.helper.stop()
        self.db.close()

    # --- the parts' verbs -------------------------------------------------------------------------------------------

    def creator_calls(self, ref_hids: Iterable[str]) -> dict[str, str]:
        return self.history.creator_calls(ref_hids)

    def consumer_calls(self, ref_hids: Iterable[str]) -> list[str]:
        return self.history.consumer_calls(ref_hids)

    def output_consumers(self, call_hids: Iterable[str]) -> list[tuple[str, str]]:
        return self.history.output_consumers(call_hids)

    def ref_hids_among(self, hids: Iterable[str]) -> list[str]:
        return self.history.ref_hids_among(hids)

    def delete_calls(self, hids: Iterable[str], with_dependents: bool, dry_run: bool = False) -> list[tuple[str, str]]:
        return self.history.delete_calls(hids, with_dependents, dry_run)

    def cleanup_refs(self, dry_run: bool = False) -> tuple[int, int, list[str]]:
        return self.history.cleanup_refs(dry_run)

    def vacuum(self) -> None:
        self.history.vacuum()

    def deletion_count(self) -> int:
        return self.deletions.deletion_count()

    def integrity_problems(self, overflow_dir: str | None, full: bool = True) -> list[str]:
        return self.checker.integrity_problems(overflow_dir, full)

    def export_batches(self, batch_size: int, value_bytes: int) -> Iterator[Batch]:
        return self.copies.export_batches(batch_size, value_bytes)

    def backup_to(self, path: str) -> tuple[str, list[str]]:
        return self.copies.backup_to(path)

    def get_meta(self, key: str) -> str | None:
        return self.versions.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self.versions.set_meta(key, value)

    def component_heads(self) -> dict[str, str]:
        return self.versions.component_heads()

    def set_component_head(self, key: str, content_hash: str) -> None:
        self.versions.set_component_head(key, content_hash)

    def component_keys(self) -> list[tuple[str, str]]:
        return self.versions.component_keys()

    def load_commits(self, key: str) -> list[ComponentCommit]:
        return self.versions.load_commits(key)

    def save_commit(self, commit: ComponentCommit) -> None:
        self.versions.save_commit(commit)

    def versions_using(self, key: str) -> list[tuple[str, int, str]]:
        return self.versions.versions_using(key)

    def load_versions(self, op_name: str, op_version: int) -> list[VersionRecord]:
        return self.versions.load_versions(op_name, op_version)

    def version_op(self, version_id: str) -> tuple[str, int] | None:
        return self.versions.version_op(version_id)

    def save_version(self, version: VersionRecord) -> None:
        self.versions.save_version(version)

    def version_call_counts(self, op_name: str, op_version: int) -> dict[str, int]:
        return self.versions.version_call_counts(op_name, op_version)

    def delete_version(self, version_id: str, with_dependents: bool = True) -> int:
        return self.versions.delete_version(version_id, with_dependents)
