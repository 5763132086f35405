"""Batched, bounded-delay writing of recorded calls.

Recorded calls wait in memory until :data:`MAX_PENDING_CALLS` of them are waiting or the oldest has waited
:data:`MAX_DELAY_S` seconds (a background thread looks every :data:`CHECK_INTERVAL_S`), and are then written in one
transaction. Leaving ``with storage:`` and ``storage.commit()`` write everything at once. So after a crash (even
``kill -9``) every call completed more than :data:`DURABILITY_BOUND_S` seconds earlier is in the store. Lookups see
pending records, so nothing is computed twice.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Optional

from .backends import Backend, Batch, CallRecord, MemberRecord, OpRecord, RefRecord, ValueRecord

MAX_PENDING_CALLS = 10_000
MAX_DELAY_S = 0.25
CHECK_INTERVAL_S = 0.05
DURABILITY_BOUND_S = 0.5
"""The documented bound: the delay, one check interval, and ample time for the write transaction itself."""


class PendingWrites:
    """Records waiting to be written, visible to lookups until they are."""

    def __init__(self, backend: Backend, max_calls: int = MAX_PENDING_CALLS, max_delay: float = MAX_DELAY_S) -> None:
        self.backend = backend
        self.max_calls = max_calls
        self.max_delay = max_delay
        self.lock = threading.RLock()
        self._batch = Batch()
        self._calls: dict[str, CallRecord] = {}
        self._calls_by_cid: dict[str, CallRecord] = {}
        self._values: dict[str, ValueRecord] = {}
        self._refs: dict[str, tuple[str, str]] = {}
        self._members: dict[str, list[tuple]] = {}
        self._since: Optional[float] = None
        self._error: Optional[BaseException] = None
        self._wake = threading.Event()
        self._closed = False
        self._thread: Optional[threading.Thread] = None

    # --- adding and reading -----------------------------------------------------------------------------------------

    def add(
        self, calls: list[CallRecord], refs: list[RefRecord], values: list[ValueRecord],
        members: list[MemberRecord] = (),  # type: ignore[assignment]
    ) -> None:
        """Queue calls (one op call and its structural calls) with the refs, values and members they introduce."""
        with self.lock:
            self.raise_background_error()
            b = self._batch
            b.values.extend(values)
            b.refs.extend(refs)
            b.members.extend(members)
            for v in values:
                self._values[v.cid] = v
            for r in refs:
                self._refs[r.hid] = (r.cid, r.kind)
            for m in members:
                self._members.setdefault(m.coll_hid, []).append(m)
            for call in calls:
                b.calls.append(call)
                self._calls[call.hid] = call
                self._calls_by_cid.setdefault(call.cid, call)
            if self._since is None:
                self._since = time.monotonic()
                self._start_thread()
            if len(b.calls) >= self.max_calls:
                self.flush()

    def add_op(self, record: OpRecord) -> None:
        with self.lock:
            self._batch.ops.append(record)

    def call(self, hid: str) -> Optional[CallRecord]:
        return self._calls.get(hid)

    def call_by_cid(self, cid: str) -> Optional[CallRecord]:
        return self._calls_by_cid.get(cid)

    def value(self, cid: str) -> Optional[ValueRecord]:
        return self._values.get(cid)

    def ref(self, hid: str) -> Optional[tuple[str, str]]:
        """``(cid, kind)`` of a pending ref."""
        return self._refs.get(hid)

    def members(self, coll_hid: str) -> Optional[list[tuple]]:
        """Pending elements of a collection as ``(pos, key, elt_hid)`` in position order, or None."""
        rows = self._members.get(coll_hid)
        if rows is None:
            return None
        return [(m.pos, m.key, m.elt_hid) for m in sorted(rows, key=lambda m: m.pos)]

    def __len__(self) -> int:
        return len(self._batch.calls)

    # --- writing ----------------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything pending in one transaction; on failure it stays pending and the error propagates."""
        with self.lock:
            batch = self._batch
            if not len(batch):
                self._since = None
                return
            self.backend.save_batch(batch)
            self._batch = Batch()
            self._calls.clear()
            self._calls_by_cid.clear()
            self._values.clear()
            self._refs.clear()
            self._members.clear()
            self._since = None

    def raise_background_error(self) -> None:
        """Re-raise, once, an error that a background write met."""
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def _start_thread(self) -> None:
        if self._thread is not None:
            return
        ref = weakref.ref(self)
        self._thread = threading.Thread(target=_flush_loop, args=(ref, self._wake, self.max_delay), daemon=True)
        self._thread.name = "graphstore-flusher"
        self._thread.start()

    def _flush_if_due(self) -> bool:
        """Flush when the oldest pending record is due; returns False once there is nothing left to watch."""
        with self.lock:
            if not self._closed and self._since is not None and time.monotonic() - self._since >= self.max_delay:
                try:
                    self.flush()
                except BaseException as exc:  # kept for the recording thread to raise
                    self._error = exc
            if self._closed or self._since is None:
                self._thread = None  # idle: the next add starts a new writer thread
                return False
            return True

    def close(self) -> None:
        """Flush and stop the background writer."""
        try:
            self.flush()
        finally:
            with self.lock:
                self._closed = True
            self._wake.set()


def _flush_loop(ref: "weakref.ref[PendingWrites]", wake: threading.Event, delay: float) -> None:
    while True:
        wake.wait(CHECK_INTERVAL_S)
        pending = ref()
        if pending is None or not pending._flush_if_due():
            return
        del pending
