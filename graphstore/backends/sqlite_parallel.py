"""Independent read statements run side by side: one on the backend's own connection, the others on a second
read connection in a worker thread (SQLite lets go of Python's interpreter lock while it works). A statement run
for many parameter sets streams its results from that thread while the caller uses the ones already read.

Used by the query layer for statements that touch no temporary table (those exist on the main connection only).
A store in memory has one connection: its statements run one after the other.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import StoreError
from .sqlite_conn import MMAP_BYTES, Connections


class ParallelReader:
    """Statements of the store that ``db`` reaches, run side by side on a second read connection (for a file)."""

    def __init__(self, db: Connections) -> None:
        self._db = db
        self.pool: ThreadPoolExecutor | None = None
        self.side: sqlite3.Connection | None = None
        """The second read connection, once opened."""
        self._side_failed = False

    def execute_many(self, statements: list[tuple[str, Any]]) -> list[list[tuple]]:
        """The rows of each read-only statement, in order; run two at a time when the store is a file.

        >>> from graphstore.backends.sqlite_conn import Connections
        >>> ParallelReader(Connections(":memory:")).execute_many([("SELECT 1", ()), ("SELECT 2", ())])
        [[(1,)], [(2,)]]
        """
        ready = self._ready() if len(statements) >= 2 else None
        if ready is None:
            return [self._db.run(sql, params) for sql, params in statements]
        conn, pool = ready
        results: list = [None] * len(statements)
        lock = threading.Lock()
        queue = iter(range(len(statements)))

        def drain(run: Any) -> None:
            while True:
                with lock:
                    i = next(queue, None)
                if i is None:
                    return
                results[i] = run(*statements[i])

        side = pool.submit(drain, lambda sql, params: self._run_side(conn, sql, params))
        drain(self._db.run)
        side.result()
        return results

    def execute_stream(
        self, sql: str, param_sets: list, side: bool = True, ahead: int = 2, idle: Callable[[], bool] | None = None
    ) -> Iterator[list[tuple]]:
        """The rows of one read-only statement for each parameter set, in order, all read in one snapshot of the
        store. On a store file (and with ``side``: the statement touches no temporary table) they are read in a
        worker thread, up to ``ahead`` sets before the caller takes them; while the next set is not read yet, the
        caller runs ``idle`` (some other work of its own), until it returns False.

        >>> from graphstore.backends.sqlite_conn import Connections
        >>> list(ParallelReader(Connections(":memory:")).execute_stream("SELECT ?", [(1,), (2,)]))
        [[(1,)], [(2,)]]
        """
        ready = self._ready() if side else None
        if ready is None:
            yield from self._serial_stream(sql, param_sets)
            return
        conn, pool = ready
        results: queue.Queue = queue.Queue(maxsize=ahead)
        stop = threading.Event()

        def produce() -> None:
            try:
                conn.execute("BEGIN")  # one snapshot for every set
                try:
                    for params in param_sets:
                        if stop.is_set():
                            return
                        results.put(("rows", self._run_side(conn, sql, params)))
                finally:
                    conn.execute("COMMIT")
            except BaseException as exc:  # handed to the caller, who raises it
                results.put(("error", exc))
                return
            results.put(("done", None))

        worker = pool.submit(produce)
        try:
            while True:
                if idle is not None and results.empty():
                    if not idle():
                        idle = None
                    continue
                kind, value = results.get()
                if kind == "rows":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            stop.set()  # a caller that left early: take what the worker still hands over, until it ends
            while not worker.done():
                try:
                    results.get(timeout=0.05)
                except queue.Empty:
                    pass
            worker.result()

    def _serial_stream(self, sql: str, param_sets: list) -> Iterator[list[tuple]]:
        db = self._db
        with db.lock:  # one snapshot: no write of this connection between the sets
            began = not db.conn.in_transaction
            if began:
                db.conn.execute("BEGIN")
            try:
                for params in param_sets:
                    yield db.run(sql, params)
            finally:
                if began:
                    db.conn.execute("COMMIT")

    def _ready(self) -> tuple[sqlite3.Connection, ThreadPoolExecutor] | None:
        """The second connection and its worker, opened if need be; None if the store cannot have them."""
        if self.side is not None and self.pool is not None:
            return self.side, self.pool
        if self._side_failed or self._db.location == ":memory:":
            return None
        path = self._db.location
        try:
            uri = "file:" + urllib.parse.quote(path) + "?mode=ro"
            conn = sqlite3.connect(
                uri,
                uri=True,
                timeout=self._db.timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            for pragma in (
                "cache_size = -262144",
                f"mmap_size = {MMAP_BYTES}",
                "temp_store = MEMORY",
            ):
                conn.execute(f"PRAGMA {pragma}")
            conn.execute(f"PRAGMA busy_timeout = {int(self._db.timeout * 1000)}")
        except sqlite3.Error:
            self._side_failed = True  # (then one connection does it all)
            return None
        self.side = conn
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphstore-read")
        return self.side, self.pool

    def _run_side(self, conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[tuple]:
        self._db.trace(sql, params)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {self._db.location}: {exc}") from exc

    def close(self) -> None:
        """Close the second connection and its worker."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
        if self.side is not None:
            self.side.close()
            self.side = None

    def start_afresh_after_fork(self) -> None:
        """(In a forked child) Let go of the parent's worker and connection (they open again when needed)."""
        self.side = self.pool = None
