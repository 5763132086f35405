"""Independent read statements of a PostgreSQL store run side by side, on the main connection and on up to
``SIDE_CONNECTIONS`` more, each driven by a worker thread (psycopg lets go of Python's interpreter lock while the
server works). A statement run for many parameter sets is read in one snapshot (a repeatable-read transaction),
ahead of the caller by a worker when it touches no temporary table.

Used by the query layer for statements that touch no temporary table (those exist on the main connection only).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import psycopg
import psycopg.sql

from ..errors import StoreError
from .postgres_conn import PgConnections

SIDE_CONNECTIONS = 2
"""Read connections opened beside the main one (when first needed), so a process holds at most four."""

_SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ"


class PgParallel:
    """Read statements of the store that ``db`` reaches, run side by side on extra read connections.

    >>> reader = PgParallel(PgConnections("postgresql://localhost/runs"))  # (connects when first used)
    >>> reader.sides
    []
    """

    def __init__(self, db: PgConnections, connections: int = SIDE_CONNECTIONS) -> None:
        self._db = db
        self.connections = connections
        """How many side connections it may open."""
        self.sides: list[psycopg.Connection] = []
        """The side connections opened so far."""
        self._idle: queue.SimpleQueue[psycopg.Connection] = queue.SimpleQueue()
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def execute_many(self, statements: list[tuple[str, Any]]) -> list[list[tuple]]:
        """The rows of each read-only statement, in order; up to ``1 + SIDE_CONNECTIONS`` at a time."""
        conns = self._take_sides(len(statements) - 1)
        if not conns:
            return [self._db.run(sql, params or None) for sql, params in statements]
        pool = self._ready()
        results: list = [None] * len(statements)
        lock = threading.Lock()
        order = iter(range(len(statements)))

        def drain(run: Callable[[str, Any], list[tuple]]) -> None:
            while True:
                with lock:
                    i = next(order, None)
                if i is None:
                    return
                sql, params = statements[i]
                results[i] = run(sql, params or None)

        def drain_side(conn: psycopg.Connection) -> None:
            drain(lambda sql, params: self._run_on(conn, sql, params))

        side = [pool.submit(self._on_side, conn, drain_side) for conn in conns]
        drain(self._db.run)
        for future in side:
            future.result()
        return results

    def execute_stream(
        self, sql: str, param_sets: list, side: bool = True, ahead: int = 2, idle: Callable[[], bool] | None = None
    ) -> Iterator[list[tuple]]:
        """The rows of one read-only statement for each parameter set, in order, all read in one snapshot. With
        ``side`` (the statement touches no temporary table) workers read them on side connections, which share
        the first one's snapshot, up to ``ahead`` sets (or one per worker) before the caller takes them; while the
        next set is not read yet, the caller runs ``idle`` until it returns False."""
        conns = self._take_sides(len(param_sets)) if side and len(param_sets) > 1 else []
        if not conns:
            yield from self._serial_stream(sql, param_sets)
            return
        stream = _Stream(param_sets, len(conns), ahead)
        pool = self._ready()
        workers = [
            pool.submit(self._on_side, conn, partial(stream.produce, k=k, run=self._run_on, sql=sql, db=self._db))
            for k, conn in enumerate(conns)
        ]
        try:
            for i in range(len(param_sets)):
                while idle is not None and not stream.ready(i):
                    if not idle():
                        idle = None
                yield stream.take(i)
        finally:
            stream.stop()
            for future in workers:
                future.result()

    def _serial_stream(self, sql: str, param_sets: list) -> Iterator[list[tuple]]:
        db = self._db
        with db.lock:  # one snapshot, on the connection the temporary tables live on
            conn = db.get()
            began = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE and len(param_sets) > 1
            if began:
                conn.execute(_SNAPSHOT)
            try:
                for params in param_sets:
                    yield self._run_on(conn, sql, params)
            finally:
                if began and not conn.closed:
                    conn.execute("COMMIT" if not conn.broken else "ROLLBACK")

    def _run_on(self, conn: psycopg.Connection, sql: str, params: Any) -> list[tuple]:
        self._db.trace(sql, params)
        try:
            cur = conn.execute(sql, params or None)
            return cur.fetchall() if cur.description is not None else []
        except psycopg.Error as exc:
            raise self._db.error(exc) from exc

    def _on_side(self, conn: psycopg.Connection, body: Callable[[psycopg.Connection], None]) -> None:
        """``body`` run on the side connection ``conn``, which goes back to the idle ones afterwards (or is dropped
        if it broke)."""
        try:
            body(conn)
        finally:
            if conn.closed or conn.broken:
                with self._lock:
                    if conn in self.sides:
                        self.sides.remove(conn)
            else:
                self._idle.put(conn)

    def _take_sides(self, wanted: int) -> list[psycopg.Connection]:
        """Up to ``wanted`` idle side connections (opened if fewer than ``SIDE_CONNECTIONS`` are), none when all
        are busy (a caller that reads a stream runs other statements meanwhile) or cannot be opened."""
        conns: list[psycopg.Connection] = []
        while len(conns) < wanted:
            try:
                conns.append(self._idle.get_nowait())
                continue
            except queue.Empty:
                pass
            with self._lock:
                if len(self.sides) >= self.connections:
                    break
                try:
                    conn = self._db.connect()
                except StoreError:  # (then the main connection does it all)
                    break
                self.sides.append(conn)
            conns.append(conn)
        return conns

    def _ready(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=max(1, self.connections), thread_name_prefix="graphstore-pg-read"
                )
            return self._pool

    def close(self) -> None:
        """Close the side connections and their workers."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        with self._lock:
            sides, self.sides = self.sides, []
        self._idle = queue.SimpleQueue()
        for conn in sides:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def abandon(self) -> list[Any]:
        """(In a forked child) Forget the parent's side connections and workers without closing them; returns
        them."""
        old: list[Any] = [*self.sides, self._pool]
        self.sides, self._pool, self._idle = [], None, queue.SimpleQueue()
        self._lock = threading.Lock()
        return old


class _Stream:
    """Parameter sets read by several workers in one snapshot (the first worker's, exported to the others) and
    handed to the caller in order."""

    def __init__(self, param_sets: list, workers: int, ahead: int) -> None:
        self.param_sets = param_sets
        self.workers = workers
        self.window = max(ahead, workers)
        self.cond = threading.Condition()
        self.results: dict[int, list[tuple]] = {}
        self.next = self.taken = self.joined = 0
        self.snapshot: str | None = None
        self.error: BaseException | None = None
        self.stopped = False

    def produce(self, conn: psycopg.Connection, k: int, run: Callable, sql: str, db: PgConnections) -> None:
        """Worker ``k``: open the shared snapshot, then read sets until none is left (or the caller left)."""
        cond = self.cond
        try:
            conn.execute(_SNAPSHOT)
            try:
                self._join(conn, k)
                while True:
                    with cond:
                        cond.wait_for(lambda: self._done() or self.next < self.taken + self.window)
                        if self._done():
                            break
                        i, self.next = self.next, self.next + 1
                    rows = run(conn, sql, self.param_sets[i])
                    with cond:
                        self.results[i] = rows
                        cond.notify_all()
                if k == 0:  # the snapshot stays exported until every worker has taken it
                    with cond:
                        cond.wait_for(lambda: self.joined == self.workers or self.error is not None)
            finally:
                if not conn.closed:
                    conn.execute("COMMIT")
        except BaseException as exc:  # handed to the caller, who raises it
            with cond:
                if self.error is None:
                    self.error = db.error(exc) if isinstance(exc, psycopg.Error) else exc
                cond.notify_all()

    def _join(self, conn: psycopg.Connection, k: int) -> None:
        cond = self.cond
        if k == 0:
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            with cond:
                self.snapshot = row[0] if row else None
                self.joined += 1
                cond.notify_all()
            return
        with cond:
            cond.wait_for(lambda: self.snapshot is not None or self.error is not None)
            snapshot = self.snapshot
        if snapshot is not None:
            conn.execute(psycopg.sql.SQL("SET TRANSACTION SNAPSHOT {}").format(psycopg.sql.Literal(snapshot)))
        with cond:
            self.joined += 1
            cond.notify_all()

    def _done(self) -> bool:
        return self.stopped or self.error is not None or self.next >= len(self.param_sets)

    def ready(self, i: int) -> bool:
        with self.cond:
            return i in self.results or self.error is not None

    def take(self, i: int) -> list[tuple]:
        """The rows of set ``i`` (waiting for them), or the error a worker met."""
        with self.cond:
            self.cond.wait_for(lambda: i in self.results or self.error is not None)
            if self.error is not None:
                raise self.error
            self.taken = i + 1
            self.cond.notify_all()
            return self.results.pop(i)

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
