"""A SQLite store's use of a helper process writing its batches (see ``sqlite_helper``): starting it, writing or
handing batches over through it, and writing them in this process again once it is gone."""

from __future__ import annotations

import os
import warnings
from typing import Any, cast

from .base import Batch, HandoverLost
from .sqlite_conn import Connections
from .sqlite_deletions import Deletions
from .sqlite_helper import WriterProcess, reply_outcome
from .sqlite_known import KnownIds


class HelperClient:
    """The helper process (if any) of the store that ``db`` reaches; batches it writes update ``known`` (the ids of
    calls committed) and ``deletions`` (the count they were checked against).

    >>> from graphstore.backends.sqlite_conn import Connections
    >>> db = Connections(":memory:")
    >>> client = HelperClient(db, KnownIds(db, lambda: False), Deletions(db))
    >>> client.start(), client.ready()  # (a store in memory has none)
    (None, False)
    """

    def __init__(self, db: Connections, known: KnownIds, deletions: Deletions) -> None:
        self._db = db
        self._known = known
        self._deletions = deletions
        self.process: WriterProcess | None = None
        """The helper process, while it is in use."""

    def start(self) -> None:
        """Start a helper process to write batches, unless there is one, the store is in memory or read-only, the
        system is not POSIX, or ``GRAPHSTORE_WRITER_PROCESS=0`` is set."""
        db = self._db
        if self.process is not None or db.location == ":memory:" or db.read_only or os.name != "posix":
            return
        if os.environ.get("GRAPHSTORE_WRITER_PROCESS", "1") == "0":
            return
        with db.wlock:
            if self.process is None:
                self.process = WriterProcess(db.location, db.timeout)

    def write(self, batch: Batch) -> bool:
        """Have the helper write ``batch`` (the writer's lock held); False if there is no helper up (then the caller
        writes it)."""
        helper = self.process
        if helper is None:
            return False
        if helper.usable():
            self._db.trace("BEGIN IMMEDIATE")  # (the tracer sees the transaction the helper runs)
            changed = helper.write(batch)
            if changed is not None:
                self._db.trace("COMMIT")
                if changed:
                    self._known.forget()
                self._known.add(batch.calls)
                self._deletions.seen = helper.deletions
                return True
            self._gone(helper)  # write here from now on
        elif helper.dead:
            self._gone(helper)
        return False

    def running(self) -> bool:
        """Whether a helper process was started (and is not known to be gone)."""
        return self.process is not None

    def holding(self) -> bool:
        """Whether the batch being written has reached the helper in full: it is then as safe from a crash of this
        process as a committed one (the helper writes every batch it received)."""
        helper = self.process
        return helper is not None and helper.holding

    def can_hand_over(self) -> bool:
        """Whether :meth:`hand_over` would take a batch now."""
        helper = self.process
        return helper is not None and not self._db.read_only and helper.usable()

    def hand_over(self, batch: Batch) -> object | None:
        """Send a batch to the helper, if one is up, without waiting for it to be written: a ticket for
        :meth:`result`, or None."""
        helper = self.process
        if helper is None or self._db.read_only or not helper.usable():
            return None
        ticket = helper.send(batch)
        if ticket is None:
            self._gone(helper)
            return None
        self._db.trace("BEGIN IMMEDIATE")  # (the tracer sees the transaction the helper runs)
        return (helper, ticket, batch.calls)

    def result(self, ticket: object) -> None:
        """Wait until the batch with this ticket is written (see ``Backend.handed_over_result``)."""
        helper, number, calls = cast("tuple[Any, int, list]", ticket)
        reply = helper.result(number)
        if reply is None:
            self._gone(helper)
            raise HandoverLost(f"store {self._db.location}: the helper process writing its batches has exited")
        changed = reply_outcome(reply, helper)
        self._db.trace("COMMIT")
        with self._db.wlock:
            if changed:
                self._known.forget()
            self._known.add(calls)
            self._deletions.seen = helper.deletions

    def resume(self) -> None:
        """After a failure: have the helper write batches again."""
        helper = self.process
        if helper is not None:
            helper.resume()

    def starting(self) -> bool:
        """Whether a helper process was started and is not up yet (nor gone)."""
        helper = self.process
        return helper is not None and not helper.dead and not helper.usable()

    def ready(self) -> bool:
        """Whether batches are written by a helper process (which is up)."""
        helper = self.process
        return helper is not None and helper.usable()

    def _gone(self, helper: WriterProcess) -> None:
        """The helper process has exited: batches are written here from now on (and the user is told, once)."""
        if self.process is not helper:
            return
        self.process = None
        helper.stop()
        if not helper.retired:
            warnings.warn(
                f"store {self._db.location}: the helper process writing its batches has exited (code "
                f"{helper.proc.returncode}); this process writes them from now on",
                RuntimeWarning,
                stacklevel=4,
            )

    def disown(self) -> WriterProcess | None:
        """(In a forked child) Let go of the parent's helper; returns it (for the caller to abandon)."""
        helper, self.process = self.process, None
        if helper is not None:
            helper.disown()
        return helper

    def stop(self) -> None:
        """End the helper once it has written what it received."""
        with self._db.wlock:
            if self.process is not None:
                self.process.stop()
                self.process = None
