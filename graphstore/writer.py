"""Batched, bounded-delay writing of recorded calls, in a background thread.

Recorded calls wait in memory until :data:`MAX_PENDING_CALLS` of them are waiting or the oldest has waited
:data:`MAX_DELAY_S` seconds (a background thread looks every :data:`CHECK_INTERVAL_S`), and are then written in one
transaction, while recording goes on. Leaving ``with storage:`` and ``storage.commit()`` write everything at once.
So after a crash (even ``kill -9``) every call completed more than :data:`DURABILITY_BOUND_S` seconds earlier is in
the store. Lookups see records that are waiting or being written, so nothing is computed twice.

Once :data:`HELPER_START_CALLS` calls wait, the backend is asked to start a helper process for its writes (see
``graphstore.backends.sqlite_helper``); while it is up, batches are handed over to it from :data:`HELPER_BATCH_CALLS`
calls on. A batch handed over is safe from a crash of this process (the helper writes whatever it received), so the
recording thread never waits for a commit while the helper is up: several batches may be on their way at once, and
lookups see them until the helper confirms each. A batch the helper fails to write is taken back, with the batches
handed over after it, and written here as one.

The bound holds when ops keep the interpreter lock busy (plain Python loops), not only when they sleep or wait:

- while the background thread writes, threads take turns for the interpreter lock every :data:`WRITE_SWITCH_S`
  seconds instead of Python's default 5 ms (a write hands the lock back to SQLite for every statement, and would
  otherwise wait a full switch interval each time to get it back: 100 calls took 1.7 s beside a busy op);
- the recording thread itself watches the age of the oldest call not yet safe: once it reaches
  :data:`BACK_PRESSURE_S`, the next call it records hands the waiting calls over to the helper process, or (without
  one) waits for the write in progress or writes the waiting calls itself (back-pressure by age, not only by count).

A batch that the store refuses is written again one call at a time: the calls it can store are kept, and the others
(with the calls that used their results) are dropped and reported with :class:`~graphstore.errors.WriteRefusedError`,
naming their ops, so one bad record never blocks the writes after it.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from . import progress
from .backends import Backend, Batch, CallRecord, CallRow, MemberRecord, OpRecord, RefRecord, ValueRecord
from .backends.base import HandoverLost, row_call
from .errors import MissingValuesError, WriteRefusedError
from .generations import Generation
from .refusals import Unwritten, needs_refused, refusal_message, refuses_records

PROGRESS_CALLS = 50_000
"""A block that ends with at least this many calls still to write shows a progress bar while they are written."""

MAX_PENDING_CALLS = 10_000
MAX_DELAY_S = 0.25
CHECK_INTERVAL_S = 0.05
DURABILITY_BOUND_S = 0.5
"""The documented bound: the delay, one check interval, and ample time for the write transaction itself."""
HELPER_START_CALLS = 500
"""A context that has this many calls waiting has the backend start a helper process for its writes, if it can."""
HELPER_BATCH_CALLS = 1_000
"""With a helper process writing, batches are written from this many calls on (they take no time from recording)."""
BACK_PRESSURE_S = 0.3
"""Once the oldest unwritten call is this old, recording a call first waits for (or does) the write."""
MAX_HANDED_OVER_CALLS = 100_000
"""Back-pressure hands waiting calls over to a helper process while fewer than this many are on their way."""
WRITE_SWITCH_S = 0.0005
"""The interpreter's thread switch interval while the background thread writes a batch."""

_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.0


@contextlib.contextmanager
def _prompt_switching() -> Iterator[None]:
    """Let threads take turns for the interpreter lock every :data:`WRITE_SWITCH_S` seconds while a background write
    runs (the process's own setting comes back after the last one, unless something else changed it meanwhile)."""
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            if _switch_saved > WRITE_SWITCH_S:
                sys.setswitchinterval(WRITE_SWITCH_S)
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0 and _switch_saved > WRITE_SWITCH_S and sys.getswitchinterval() == WRITE_SWITCH_S:
                sys.setswitchinterval(_switch_saved)


class PendingWrites:
    """Records waiting to be written, visible to lookups until they are."""

    def __init__(self, backend: Backend, max_calls: int = MAX_PENDING_CALLS, max_delay: float = MAX_DELAY_S) -> None:
        self.backend = backend
        self.max_calls = max_calls
        self.max_delay = max_delay
        self.lock = threading.RLock()
        self._flush_lock = threading.Lock()
        """Held by whoever writes or waits for writes (one at a time)."""
        self._send_lock = threading.Lock()
        """Held while batches leave in order: handing one over, or writing one in this process."""
        self._current = Generation()
        self._out: tuple[Generation, ...] = ()
        """Generations taken out of the current one and not yet known written (oldest first): what lookups see."""
        self._sent: list[tuple[Generation, object, float]] = []
        """Generations handed over to the backend (another process writes them), with their tickets and the time
        their oldest call was recorded, oldest first."""
        self._since: float | None = None
        self._flushing_since: float | None = None
        self._error: BaseException | None = None
        self.write_through = False
        """Write each call before the op call returns (in a forked child, which may end at any moment)."""
        self.on_refused: Callable[[set[str]], None] | None = None
        """Called with the content ids of values that were dropped with refused calls (they are not stored)."""
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.resupply: Callable[[Batch, dict, MissingValuesError], None] | None = None
        """Called when the store refused a batch for values deleted meanwhile: completes the batch (or leaves calls
        out) for it to be written again (see ``graphstore.resupply``)."""
        self.on_deletions: Callable[[int], None] | None = None
        """Called with the store's deletion count when a written batch was made under an older one."""

    # --- adding and reading -----------------------------------------------------------------------------------------

    def add(
        self,
        calls: Sequence[CallRow],
        refs: Sequence[RefRecord],
        values: Sequence[ValueRecord],
        members: Sequence[MemberRecord] = (),
        deletions: int | None = None,
        held: dict | None = None,
    ) -> None:
        """Queue one op call (its row first, then its structural calls' rows) with the refs, values and collection
        members it introduces, all as records of their named types (they wait as plain tuples);
        ``deletions``: the store's deletion count the recording's memory was valid for, ``held``: objects of values
        left out as stored (cid -> object). (An error a background write met is raised by the next call's
        :meth:`raise_background_error`, or by :meth:`flush`.)"""
        with self.lock:
            current = self._current
            current.add(calls, refs, values, members)
            if held or deletions != current.batch.deletions:
                current.stamp(deletions, held)
            waiting = self._queued()
        self._after_queueing(waiting)

    def _queued(self) -> int:
        """(Lock held.) Start the clock and the writer thread if this is the first waiting call; the number waiting."""
        if self._since is None:
            self._since = time.monotonic()
            self._start_thread()
            if _helper_setting() == "always":
                self._start_helper()
        return len(self._current.batch.calls)

    def _after_queueing(self, waiting: int) -> None:
        if self.write_through:
            self.flush()
            return
        if waiting == HELPER_START_CALLS:
            self._start_helper()
        if waiting >= self.max_calls:
            self._wake.set()
            if waiting >= 3 * self.max_calls:  # the writer cannot keep up: write in this thread
                self.flush()
                return
        since = None if self._flushing_since is None else self._unsafe_flushing_since()
        if since is None:
            since = self._since
        if since is not None and time.monotonic() - since >= BACK_PRESSURE_S:
            self._back_pressure()

    def _unsafe_flushing_since(self) -> float | None:
        """When the oldest call of the batch being written was recorded, unless that batch is safe already (handed
        over in full to a helper process, which writes it even if this process dies)."""
        flushing = self._flushing_since
        if flushing is not None and self.backend.batch_handed_over():
            return None
        return flushing

    def _back_pressure(self) -> None:
        """Once the oldest unwritten call is :data:`BACK_PRESSURE_S` old: hand the waiting calls over to be written
        elsewhere, if the backend can (they are safe once handed over), unless :data:`MAX_HANDED_OVER_CALLS` are on
        their way already. Otherwise wait for the write in progress (the wait gives the writing thread the
        interpreter lock), then write what still waits that long, here."""
        if self.handed_over_calls() < MAX_HANDED_OVER_CALLS and self.hand_over():
            return
        flushing, since = self._unsafe_flushing_since(), self._since
        now = time.monotonic()
        if flushing is not None and now - flushing >= BACK_PRESSURE_S:
            with self._flush_lock:
                pass
            since = self._since
        if since is not None and now - since >= BACK_PRESSURE_S or self._sent:
            self.flush()

    def add_op(self, record: OpRecord) -> None:
        with self.lock:
            self._current.batch.ops.append(record)

    def _find(self, attr: str, key: str) -> Any:
        """The record under ``key`` in the index ``attr`` of the waiting generation, else of one being written."""
        found = getattr(self._current, attr).get(key)
        if found is None:
            for gen in self._out:
                found = getattr(gen, attr).get(key)
                if found is not None:
                    break
        return found

    def holds_call(self, hid: str, cid: str) -> bool:
        """Whether a call with this history id, or with this content id, is waiting or being written."""
        gen = self._current
        if hid in gen.calls or cid in gen.calls_by_cid:
            return True
        out = self._out
        return bool(out) and any(hid in gen.calls or cid in gen.calls_by_cid for gen in out)

    def call(self, hid: str) -> CallRecord | None:
        found = self._find("calls", hid)
        return None if found is None else row_call(found)

    def call_by_cid(self, cid: str) -> CallRecord | None:
        found = self._find("calls_by_cid", cid)
        return None if found is None else row_call(found)

    def value(self, cid: str) -> ValueRecord | None:
        found = self._find("values", cid)
        return None if found is None else ValueRecord._make(found)

    def ref(self, hid: str) -> tuple[str, str] | None:
        """``(cid, kind)`` of a pending ref."""
        found: tuple[str, str] | None = self._find("refs", hid)
        return found

    def members(self, coll_hid: str) -> list[tuple] | None:
        """Pending elements of a collection as ``(pos, key, elt_hid)`` in position order, or None."""
        rows = self._find("members", coll_hid)
        if rows is None:
            return None
        records = sorted(map(MemberRecord._make, rows), key=lambda m: m.pos)
        return [(m.pos, m.key, m.elt_hid) for m in records]

    def __len__(self) -> int:
        return len(self._current.batch.calls) + sum(len(gen.batch.calls) for gen in self._out)

    # --- writing ----------------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything pending; returns once it is in the store. If the store cannot be written, everything
        stays pending and the error propagates; calls the store refuses are dropped and reported (see the module
        docstring). An error a background write met since the last call was recorded is raised here, after the
        write."""
        with self._flush_lock:
            with self.lock:
                backlog = self.handed_over_calls() + len(self._current.batch.calls)
            with progress.bar(backlog, "writing calls", unit="calls", at_least=PROGRESS_CALLS) as shown:
                self._flush(shown.update)
        self.raise_background_error()

    def _flush(self, done: Callable[[int], None]) -> None:
        """(Flush lock held.) :meth:`flush`'s work, telling ``done`` how many calls each write took care of."""
        self._collect(done)
        if self.hand_over():
            self._collect(done)
        else:
            with self._send_lock:
                with self.lock:
                    gen = self._current
                    since = self._since if self._since is not None else time.monotonic()
                    self._current, self._since = Generation(), None
                    if len(gen.batch):
                        self._out += (gen,)
                if len(gen.batch):
                    self._write(gen, since)
                    done(len(gen.batch.calls))

    def hand_over(self) -> bool:
        """Hand the waiting calls to the backend to be written elsewhere (a helper process), without waiting for the
        write: once this returns True they are safe from a crash of this process. False if the backend cannot."""
        if not self.backend.can_hand_over():
            return False
        with self._send_lock:
            with self.lock:
                gen = self._current
                if not len(gen.batch):
                    return True
                since = self._since if self._since is not None else time.monotonic()
                self._current, self._since = Generation(), None
                self._out += (gen,)
            try:
                ticket = self.backend.hand_over(gen.batch)
            except BaseException:
                self._put_back([gen], since)
                raise
            if ticket is None:
                self._put_back([gen], since)
                return False
            with self.lock:
                self._sent.append((gen, ticket, since))
        self._wake.set()  # the background thread waits for the result
        return True

    def handed_over_calls(self) -> int:
        """How many calls were handed over and are not known written yet."""
        return sum(len(entry[0].batch.calls) for entry in self._sent)

    def _collect(self, done: Callable[[int], None] | None = None) -> None:
        """(Flush lock held.) Wait until every generation handed over is written, oldest first (telling ``done`` how
        many calls each held). After a failure, the failed generation and those after it are written again in this
        process's usual way (see :meth:`_recover`)."""
        while True:
            with self.lock:
                if not self._sent:
                    return
                gen, ticket, _since = self._sent[0]
            try:
                self.backend.handed_over_result(ticket)
            except BaseException as exc:
                self._recover(exc)
                continue
            with self.lock:
                self._sent.pop(0)
                self._out = tuple(g for g in self._out if g is not gen)
            if done is not None:
                done(len(gen.batch.calls))
            seen = self.backend.deletions_seen
            if seen is not None and self.on_deletions is not None and seen != gen.batch.deletions:
                self.on_deletions(seen)

    def _recover(self, error: BaseException) -> None:
        """A generation handed over failed (or may be lost): take it and every one handed over after it back, then
        write them as one here (calls the store refuses are then dropped and reported as usual). Interrupted (Ctrl-C),
        they all go back in front of the waiting calls, and the interruption propagates."""
        with self._send_lock:
            with self.lock:
                sent, self._sent = self._sent, []
            gens = [entry[0] for entry in sent]
            since = sent[0][2]
            if not isinstance(error, Exception):
                self._put_back(gens, since)
                raise error
            if not isinstance(error, HandoverLost):
                for _gen, ticket, _ in sent[1:]:  # their replies (skipped), so the backend can go on afterwards
                    with contextlib.suppress(Exception):
                        self.backend.handed_over_result(ticket)
                self.backend.resume_hand_over()
            merged = gens[0]
            for later in gens[1:]:
                merged = merged.absorb(later)
            with self.lock:
                self._out = tuple(g for g in self._out if not any(g is x for x in gens)) + (merged,)
            self._write(merged, since)

    def _put_back(self, gens: list[Generation], since: float) -> None:
        """Generations taken out go back in front of the waiting calls (oldest first)."""
        with self.lock:
            merged = gens[0]
            for later in [*gens[1:], self._current]:
                merged = merged.absorb(later)
            self._current = merged
            self._out = tuple(g for g in self._out if not any(g is x for x in gens))
            self._since = since if self._since is None else min(since, self._since)

    def _write(self, gen: Generation, since: float) -> None:
        """(Send lock held; ``gen`` in ``_out``.) Write a generation in this process's usual way: the store refusing
        some of its calls drops those (and reports them); the store not writable just now puts the calls not written
        back in front of the waiting ones, and the error propagates."""
        self._flushing_since = since
        refused: WriteRefusedError | None = None
        try:
            try:
                for part in gen.parts(self.backend.max_batch_calls):  # (oldest first, each committed)
                    self._save(part, gen.held)
            except Exception as exc:  # noqa: BLE001  (decided call by call below)
                refused = self._write_groups(gen, exc)
        except Unwritten as unwritten:  # the groups not written yet stay pending, in front of newer calls
            rest = Generation()
            for group in unwritten.groups:
                rest.add_batch(group)
            rest.batch.ops.extend(unwritten.ops)
            with self.lock:
                self._out = tuple(g for g in self._out if g is not gen)
            self._flushing_since = None
            self._put_back([rest], since)
            raise unwritten.error from None
        except BaseException:
            self._flushing_since = None
            self._put_back([gen], since)
            raise
        with self.lock:
            self._out = tuple(g for g in self._out if g is not gen)
            self._flushing_since = None
        if refused is not None:
            raise refused

    def _write_groups(self, gen: Generation, error: Exception) -> WriteRefusedError | None:
        """After ``error`` failed the whole batch: write its calls one group at a time. Groups the store refuses are
        dropped, with the groups after them that used their results; the refusal is returned to report. If the store
        cannot be written just now, the groups not written yet stay pending and that error propagates."""
        groups = gen.group_batches()
        if len(groups) <= 1 and not refuses_records(error):
            raise error
        refused: list[tuple[Batch, Exception]] = []
        lost_hids: set[str] = set()
        lost_cids: set[str] = set()
        for i, group in enumerate(groups):
            if needs_refused(group, lost_hids, lost_cids):
                refused.append((group, WriteRefusedError("it used results of a refused call")))
            else:
                try:
                    self._save(group, gen.held)
                    continue
                except Exception as exc:  # noqa: BLE001
                    if not refuses_records(exc):
                        self._report_refused(lost_cids)
                        raise Unwritten(groups[i:], gen.batch.ops, refused, exc) from exc
                    refused.append((group, exc))
            lost_hids.update(RefRecord._make(r).hid for r in group.refs)
            lost_cids.update(ValueRecord._make(v).cid for v in group.values)
        self._report_refused(lost_cids)
        return WriteRefusedError(refusal_message(self.backend, refused)) if refused else None

    def _report_refused(self, cids: set[str]) -> None:
        if cids and self.on_refused is not None:
            self.on_refused(cids)

    def _save(self, batch: Batch, held: dict) -> None:
        """Write a batch; one refused for values deleted meanwhile is completed and written again."""
        for attempt in range(10):
            try:
                self.backend.save_batch(batch)
                break
            except MissingValuesError as exc:
                if self.resupply is None or attempt == 9:
                    raise
                if self.on_deletions is not None:
                    self.on_deletions(exc.deletions)
                self.resupply(batch, held, exc)
                batch.deletions = exc.deletions
        seen = self.backend.deletions_seen
        if seen is not None and self.on_deletions is not None and seen != batch.deletions:
            self.on_deletions(seen)

    def raise_background_error(self) -> None:
        """Re-raise, once, an error that a background write met."""
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def _start_thread(self) -> None:
        if self._thread is not None:
            return
        ref = weakref.ref(self)
        self._thread = threading.Thread(target=_flush_loop, args=(ref, self._wake), daemon=True)
        self._thread.name = "graphstore-writer"
        self._thread.start()

    def _start_helper(self) -> None:
        self.backend.start_helper()

    def _due(self) -> bool:
        since = self._since
        if since is None:
            return False
        waiting = len(self._current.batch.calls)
        if time.monotonic() - since >= self.max_delay or waiting >= self.max_calls:
            return True
        if waiting >= HELPER_BATCH_CALLS:
            if self.backend.helper_ready():
                return True
            if self.backend.helper_starting():  # handed over once it is up (or at the delay)
                return False
            # written here, a store file's batch is kept small enough to be written well within the bound
            return waiting >= self.backend.batch_calls and self.backend.location != ":memory:"
        return False

    def _background_step(self) -> bool:
        """Write (or hand over) when due, and wait for what was handed over; returns False once the thread has
        nothing left to watch."""
        if not self._closed:
            try:
                if self._due():
                    with _prompt_switching():
                        self.flush()
                elif self._sent:
                    with _prompt_switching(), self._flush_lock:
                        self._collect()
            except BaseException as exc:  # kept for the recording thread to raise
                self._error = exc
        with self.lock:
            if self._closed or (self._since is None and not self._sent):
                self._thread = None  # idle: the next add starts a new writer thread
                return False
        return True

    def close(self) -> None:
        """Flush and stop the background writer."""
        try:
            self.flush()
        finally:
            self._closed = True
            self._wake.set()


def _flush_loop(ref: weakref.ref[PendingWrites], wake: threading.Event) -> None:
    while True:
        wake.wait(CHECK_INTERVAL_S)
        wake.clear()
        pending = ref()
        if pending is None or not pending._background_step():
            return
        del pending


def _helper_setting() -> str:
    """``GRAPHSTORE_WRITER_PROCESS``: ``0`` (never start a helper process), ``always`` (start it with a context's first
    waiting call), anything else (start it once :data:`HELPER_START_CALLS` calls wait)."""
    import os

    return os.environ.get("GRAPHSTORE_WRITER_PROCESS", "1").strip().lower()
