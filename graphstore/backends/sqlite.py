"""The embedded default store: the property graph in one SQLite file (or in memory).

WAL mode, a busy timeout and short ``BEGIN IMMEDIATE`` write transactions let several processes share one file.
Every write is ``INSERT OR IGNORE`` keyed by content-derived ids, so recording the same call twice converges on one
record.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import urllib.parse
import warnings
from collections.abc import Iterable
from typing import Any, cast

from ..diskfull import why_write_failed
from ..errors import IntegrityError, ReadOnlyStoreError, SchemaVersionError, StoreError
from .base import Backend, Batch, CallRecord, HandoverLost, Tracer, ValueRecord
from .schema import OUT, SCHEMA_VERSION, ensure_schema, refuse_foreign, stored_schema_version
from .sqlite_check import CheckMixin
from .sqlite_copies import CopiesMixin
from .sqlite_deletions import DeletionsMixin
from .sqlite_history import HistoryMixin
from .sqlite_known import KnownIdsMixin
from .sqlite_open import (
    check_hash_scheme,
    read_only_mode,
    refuse_copy_without_log,
    refuse_foreign_file,
    refuse_foreign_wal,
    stamp_identity,
    store_uuid,
)
from .sqlite_parallel import ParallelReadMixin
from .sqlite_versions import VersionsMixin
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
_CHUNK = 500  # ids per IN (...) list, well under SQLite's parameter limit


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


_MMAP_BYTES = 1 << 30
"""Pages are read through a memory map: in WAL mode every commit of another connection (the batch writer's, too)
empties a reader's page cache, and a lookup then costs a few system calls without one."""

_PAGE_BYTES = 16_384
"""Page size of new stores. A batch of calls with random ids touches most pages of their indexes; with 16 kB pages
(rather than SQLite's 4 kB) writing it costs a fifth less, and queries are as fast."""
_CHECKPOINT_PAGES = 5_000
"""The writer folds the log back into the store once it holds this many pages (80 MB of 16 kB pages), each
checkpoint copying every page it finds once."""
_UNSET = object()


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


class SQLiteBackend(
    HistoryMixin, VersionsMixin, CheckMixin, KnownIdsMixin, ParallelReadMixin, DeletionsMixin, CopiesMixin, Backend
):
    """A store in a SQLite file, or ``":memory:"``.

    >>> b = SQLiteBackend(":memory:")
    >>> b.counts()["calls"]
    0
    """

    _mmap_bytes = _MMAP_BYTES

    def __init__(
        self, path: str = ":memory:", tracer: Tracer | None = None, timeout: float = 60.0, read_only: bool = False
    ) -> None:
        self.location = str(path)
        self.tracer = tracer
        self._lock = threading.RLock()
        self.read_only = read_only
        self._timeout = timeout
        self._wconn: sqlite3.Connection | None = None
        self._wlock = threading.Lock()
        self._helper: Any = None
        self.store_id: str | None = None
        self.forget_cached_calls()
        if read_only:
            self._conn = self._connect_read_only(self.location, timeout)
        else:
            self._conn = self._connect(self.location, timeout)

    @staticmethod
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

    def _connect_read_only(self, path: str, timeout: float) -> sqlite3.Connection:
        """Open an existing store for queries only; SQLite itself refuses every write on this connection."""
        self._check_path(path, must_exist=True)
        refuse_foreign_file(path)
        refuse_foreign_wal(path)
        refuse_copy_without_log(path)
        uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + read_only_mode(path)
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False)
            refuse_foreign(conn, path)
            found = stored_schema_version(conn, path)
            if found == SCHEMA_VERSION:
                check_hash_scheme(conn, path, write=False)
                self.store_id = store_uuid(conn, create=False)
            for pragma in ("cache_size = -262144", f"mmap_size = {_MMAP_BYTES}", "temp_store = MEMORY"):
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
        return conn

    def _connect(self, path: str, timeout: float) -> sqlite3.Connection:
        self._check_path(path, must_exist=False)
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
            conn.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            ensure_schema(conn, path)
            check_hash_scheme(conn, path)
            self.store_id = store_uuid(conn, create=True)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store {path}: {exc} (is it a graphstore SQLite file?)") from exc
        return conn

    # --- plumbing -------------------------------------------------------------------------------------------------

    def _run(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.tracer is not None:
            self.tracer(sql, params)
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"store {self.location}: {exc}") from exc

    def _run_many(self, sql: str, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.tracer is not None:
            self.tracer(sql, (len(rows),))
        self._conn.executemany(sql, rows)

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run a read-only statement (for the query layer and tools); goes through the tracer."""
        return self._run(sql, params)

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
            return self._record_from_rows(self._run(_LOOKUP_BY_HID, (hid,)))  # type: ignore[return-value]
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
        known = _UNSET if op_key is None else self._known.get(op_key, _UNSET)
        if known is not _UNSET and known is not None and hid not in known and cid not in known:
            return None
        rows = self._run(_FAST_EITHER, (hid, cid))
        if not rows:
            if known is _UNSET and op_key is not None:
                self.known_ids(op_key)  # a first new call of the op: more are likely to follow
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
            total = self._memo_totals[key] = self._run(_COUNT_OP, key)[0][0]
        if hits * MEMO_HIT_SHARE >= total and len(self._memo) + total <= MEMO_MAX_CALLS:
            memo = self._memo  # (forgotten meanwhile, after a deletion: the rows read go nowhere)
            self._memo_ops.add(key)
            memo.update((row[0], row) for row in self._run(_OP_CALLS, key) if row[6] is not None)

    def forget_cached_calls(self) -> None:
        """Drop the calls read ahead into memory (done on entering a storage context and before any deletion, so a
        deletion by this or another process is seen from the next context on)."""
        self._memo = {}
        self._memo_hits, self._memo_totals, self._memo_ops = {}, {}, set()
        self._forget_known()

    def lookup_any_call(self, ids: list[str], by: str = "hid") -> CallRecord | None:
        """The first stored call whose history id (or content id, ``by="cid"``) is among ``ids``, or None."""
        if not ids:
            return None
        column = "cid" if by == "cid" else "hid"
        marks = ",".join("?" * len(ids))
        where = f"WHERE c.hid = (SELECT hid FROM calls WHERE {column} IN ({marks}) LIMIT 1)"
        sql = _LOOKUP_BY_HID.replace("WHERE c.hid = ?", where)
        return self._record_from_rows(self._run(sql, tuple(ids)))

    def get_calls(self, hids: Iterable[str]) -> dict[str, CallRecord]:
        hids = list(hids)
        heads = self._select_in(
            "SELECT hid, cid, op_name, op_version, tuple_out, created_at, duration, version_id FROM calls "
            "WHERE hid IN ({ids})",
            hids,
        )
        edges = self._select_in(
            "SELECT c.hid, e.direction, e.label, r.hid, r.cid, r.kind FROM calls AS c "
            "JOIN edges AS e ON e.call_id = c.id JOIN refs AS r ON r.id = e.ref_id WHERE c.hid IN ({ids}) "
            "ORDER BY c.hid, e.pos",
            hids,
        )
        ins: dict[str, list] = {}
        outs: dict[str, list] = {}
        kinds: dict[str, list] = {}
        for call_hid, direction, label, ref_hid, ref_cid, kind in edges:
            (outs if direction == OUT else ins).setdefault(call_hid, []).append((label, ref_hid, ref_cid))
            if direction == OUT:
                kinds.setdefault(call_hid, []).append(kind)
        return {
            hid: CallRecord(
                hid,
                cid,
                name,
                version,
                tuple(outs.get(hid, ())),
                bool(tuple_out),
                tuple(ins.get(hid, ())),
                created,
                duration,
                tuple(kinds.get(hid, ())),
                version_id,
            )
            for hid, cid, name, version, tuple_out, created, duration, version_id in heads
        }

    # --- writes ---------------------------------------------------------------------------------------------------

    def save_batch(self, batch: Batch) -> None:
        """Write a batch in one transaction, on a connection of its own, so reads are not blocked meanwhile."""
        if not len(batch):
            return
        if self.read_only:
            raise ReadOnlyStoreError(f"store {self.location} is open read-only: nothing can be recorded in it")
        conn, lock = self._writer()
        with lock:
            helper = self._helper
            if helper is not None and helper.usable():  # (the tracer sees the transaction the helper runs)
                self._trace("BEGIN IMMEDIATE", ())
                changed = helper.write(batch)
                if changed is not None:
                    self._trace("COMMIT", ())
                    if changed:
                        self._forget_known()
                    self._add_known(batch.calls)
                    self.deletions_seen = helper.deletions
                    return
                self._helper_gone(helper)  # write here from now on
            elif helper is not None and helper.dead:
                self._helper_gone(helper)
            try:
                self._trace("BEGIN IMMEDIATE", ())
                conn.execute("BEGIN IMMEDIATE")
                self._check_data_version(conn)
                self._check_deletions(conn, batch)
                BatchWriter(self.location, self._trace).write(conn, batch, time.time())
                self._trace("COMMIT", ())
                conn.execute("COMMIT")
                self._add_known(batch.calls)
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
        if self._helper is not None or self.location == ":memory:" or self.read_only or os.name != "posix":
            return
        if os.environ.get("GRAPHSTORE_WRITER_PROCESS", "1") == "0":
            return
        from .sqlite_helper import WriterProcess

        with self._wlock:
            if self._helper is None:
                self._helper = WriterProcess(self.location, self._timeout)

    def batch_handed_over(self) -> bool:
        """Whether the batch being written has reached the helper process in full: it is then as safe from a crash of
        this process as a committed one (the helper writes every batch it received)."""
        helper = self._helper
        return helper is not None and helper.holding

    def can_hand_over(self) -> bool:
        helper = self._helper
        return helper is not None and not self.read_only and helper.usable()

    def hand_over(self, batch: Batch) -> object | None:
        """Send a batch to the helper process, if one is up, without waiting for it to be written (see
        ``sqlite_helper``): a ticket for :meth:`handed_over_result`, or None."""
        helper = self._helper
        if helper is None or self.read_only or not helper.usable():
            return None
        ticket = helper.send(batch)
        if ticket is None:
            self._helper_gone(helper)
            return None
        self._trace("BEGIN IMMEDIATE", ())  # (the tracer sees the transaction the helper runs)
        return (helper, ticket, batch.calls)

    def handed_over_result(self, ticket: object) -> None:
        from .sqlite_helper import reply_outcome

        helper, number, calls = cast("tuple[Any, int, list]", ticket)
        reply = helper.result(number)
        if reply is None:
            self._helper_gone(helper)
            raise HandoverLost(f"store {self.location}: the helper process writing its batches has exited")
        changed = reply_outcome(reply, helper)
        self._trace("COMMIT", ())
        with self._wlock:
            if changed:
                self._forget_known()
            self._add_known(calls)
            self.deletions_seen = helper.deletions

    def resume_hand_over(self) -> None:
        helper = self._helper
        if helper is not None:
            helper.resume()

    def _helper_gone(self, helper: Any) -> None:
        """The helper process has exited: batches are written here from now on (and the user is told, once)."""
        if self._helper is not helper:
            return
        self._helper = None
        helper.stop()
        if not helper.retired:
            _warn_helper_gone(self.location, helper)

    def helper_starting(self) -> bool:
        """Whether a helper process was started and is not up yet (nor gone)."""
        helper = self._helper
        return helper is not None and not helper.dead and not helper.usable()

    def helper_ready(self) -> bool:
        """Whether batches are written by a helper process (which is up)."""
        helper = self._helper
        return helper is not None and helper.usable()

    def fork_locks(self) -> list[Any]:
        """The lock of the writer connection (a fork holds it, so no batch is half written in the child's copy)."""
        return [self._wlock]

    def _writer(self) -> tuple[sqlite3.Connection, Any]:
        """The connection (and its lock) that batches are written on: a second one for file stores."""
        if self.location == ":memory:":
            return self._conn, self._lock
        with self._lock:
            if self._wconn is None:
                conn = sqlite3.connect(
                    self.location, timeout=self._timeout, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA cache_size = -262144")
                conn.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
                conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
                conn.execute(f"PRAGMA wal_autocheckpoint = {_CHECKPOINT_PAGES}")
                self._wconn = conn
        return self._wconn, self._wlock

    def _trace(self, sql: str, params: tuple) -> None:
        if self.tracer is not None:
            self.tracer(sql, params)

    def _run_traced(self, sql: str) -> None:
        if self.tracer is not None:
            self.tracer(sql, ())
        self._conn.execute(sql)

    def _begin_write(self) -> None:
        self.forget_cached_calls()
        if self.read_only:
            raise ReadOnlyStoreError(f"store {self.location} is open read-only: it cannot be changed")
        try:
            self._run_traced("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot write to store {self.location}: {exc}") from exc

    # --- values, refs, ops ----------------------------------------------------------------------------------------

    def _select_in(self, sql: str, ids: Iterable[str]) -> list[tuple]:
        """Run ``sql`` (with one ``{ids}`` placeholder for an ``IN`` list) over the ids, in chunks."""
        rows: list[tuple] = []
        for chunk in _chunks(list(dict.fromkeys(ids))):
            rows.extend(self._run(sql.format(ids=",".join("?" * len(chunk))), tuple(chunk)))
        return rows

    def load_values(self, cids: Iterable[str]) -> dict[str, ValueRecord]:
        rows = self._select_in('SELECT cid, codec, size, data, path, checksum FROM "values" WHERE cid IN ({ids})', cids)
        return {row[0]: ValueRecord(*row) for row in rows}

    def get_refs(self, hids: Iterable[str]) -> dict[str, tuple[str, str]]:
        rows = self._select_in("SELECT hid, cid, kind FROM refs WHERE hid IN ({ids})", hids)
        return {hid: (cid, kind) for hid, cid, kind in rows}

    def load_members(self, coll_hids: Iterable[str]) -> dict[str, list[tuple[int, str | None, str, str, str]]]:
        out: dict[str, list] = {}
        rows = self._select_in(
            "SELECT c.hid, m.pos, m.key, r.hid, r.cid, r.kind FROM refs AS c JOIN members AS m ON m.coll_id = c.id "
            "JOIN refs AS r ON r.id = m.elt_id WHERE c.hid IN ({ids}) ORDER BY c.hid, m.pos",
            coll_hids,
        )
        for coll_hid, pos, key, elt_hid, cid, kind in rows:
            out.setdefault(coll_hid, []).append((pos, key, elt_hid, cid, kind))
        return out

    def op_source_hashes(self) -> dict[tuple[str, int], tuple[str, str]]:
        """``(name, version) -> (source hash, signature)`` of every op the store knows."""
        return {(n, v): (h, sig) for n, v, h, sig in self._run("SELECT name, version, source_hash, signature FROM ops")}

    def has_calls(self) -> bool:
        return bool(self._run("SELECT 1 FROM calls LIMIT 1"))

    def counts(self) -> dict[str, int]:
        tables = {
            "ops": "ops",
            "values": '"values"',
            "refs": "refs",
            "calls": "calls",
            "edges": "edges",
            "members": "members",
        }
        return {k: self._run(f"SELECT count(*) FROM {t}")[0][0] for k, t in tables.items()}

    def close(self) -> None:
        self._close_side()
        with self._wlock:
            if self._helper is not None:
                self._helper.stop()
                self._helper = None
        with self._lock:
            self._conn.close()
        with self._wlock:
            if self._wconn is not None:
                self._wconn.close()
                self._wconn = None


def _warn_helper_gone(location: str, helper: Any) -> None:
    warnings.warn(
        f"store {location}: the helper process writing its batches has exited (code {helper.proc.returncode}); "
        "this process writes them from now on",
        RuntimeWarning,
        stacklevel=4,
    )
