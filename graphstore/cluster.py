"""Memoized calls computed on a Dask cluster: ``with storage.executor(client):`` (see docs/cluster.md).

Inside the block an op call returns at once. Its history id depends on the op and the input ids only, so it is
known at once: the call is queued with pending Refs as its outputs, and later calls take those Refs as inputs. The
queue is dispatched in batches (when it is long, when a value is needed, at the end of the block): the calls already
stored are found in one read, and only the others become tasks, grouped so that many tiny calls do not cost one
task each. A task's key names the op and the call's history id, so a call submitted twice (by this client or
another) runs once. Workers compute, hash and serialize the outputs (:mod:`graphstore.cluster_tasks`); this client
records them through the storage's writer as tasks complete. ``storage.unwrap(ref)`` waits for the calls that ref
needs; leaving the block waits for all.

A call that raises on a worker is not recorded; its error is raised when its value is needed, or at the end of the
block with every other failure (after every success is recorded), as :class:`~graphstore.errors.ClusterCallError`.
A worker that dies costs a retry; a call that kills every worker it runs on is reported as such.

With a storage that tracks code versions, a call is looked up when it is made; its ids depend on the code version it
runs under, so its pending Refs get them once it has run (the worker notes the tracked code the call met, and the
version is made here from it, as in a serial run). Calls that cannot be described before they run (collection
types, ``nout="var"``, ignored arguments) are computed here, as without the executor, once their inputs are ready.

(Only this module and the worker's tasks know of Dask; it is imported when ``Storage.executor`` is first used.)
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from .call_records import PendingCall, call_row_of
from .call_refs import has_ref
from .cluster_calls import (
    Entry,
    PendingRef,
    Task,
    collector_of,
    failure_message,
    output_names,
    pending_in,
    settled,
)
from .cluster_tasks import FAILED, LOCAL, NOT_RUN, OK, UPSTREAM, VALUE, CallSpec, run_group
from .errors import ClusterCallError, GraphstoreError, NewCallsNotAllowedError
from .hashing import derive_call_id, derive_call_ids, derive_output_hid, hash_text, op_identity
from .ops import Op
from .recording import _MISS
from .refs import Ref

if TYPE_CHECKING:
    from .storage import Storage

MAX_GROUP = 100
"""The most calls one task runs."""


class ClusterExecutor:
    """The context of ``storage.executor(client)``; see the module docstring.

    ``client``: a ``dask.distributed.Client``. ``batch``: how many calls are queued before they are dispatched
    (the queue is dispatched sooner when a value is needed, after ``max_delay`` seconds, and at the block's end).
    ``progress``: show a progress bar while the block's end waits (by default when the output is a terminal).

    Counters in :attr:`stats`: ``calls`` (op calls made in the block), ``stored`` (found stored), ``submitted``
    (calls sent to the cluster), ``tasks``, ``recorded`` and ``failed``.

    >>> from distributed import Client, LocalCluster
    >>> from graphstore import Storage, op
    >>> @op
    ... def inc(x):
    ...     return x + 1
    >>> storage = Storage()
    >>> with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, Client(cluster) as client:
    ...     with storage.executor(client, progress=False) as ex:
    ...         y = inc(inc(1))
    ...         ready = y.in_memory
    >>> ready, storage.unwrap(y), ex.stats["submitted"], ex.stats["recorded"]
    (False, 3, 2, 2)
    """

    def __init__(
        self,
        storage: Storage,
        client: Any,
        batch: int = 1000,
        max_delay: float = 0.5,
        progress: bool | None = None,
    ) -> None:
        self.storage = storage
        self.client = client
        self.batch = batch
        self.max_delay = max_delay
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.stats = dict.fromkeys(("calls", "stored", "submitted", "tasks", "recorded", "failed"), 0)
        self._queue: list[Entry] = []
        self._queued_since = 0.0
        self._entries: dict[str, Entry] = {}
        """Call hid -> its entry, for every call of the block not found stored."""
        self._by_out: dict[str, Entry] = {}
        """Output hid -> the entry of the call computing it."""
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._tasks_out = 0
        self._failures: list[Entry] = []
        self._suspects: list[Entry] = []
        self._not_run_count = 0
        """Calls not run because a call they take an input from failed."""
        """Calls that were on a worker when it died, for the last time: each is tried again alone."""
        self._serial_call: Any = None
        self._thread = 0
        """The thread that entered the block: the one whose calls go to the cluster."""

    # --- the block ----------------------------------------------------------------------------------------------------

    def __enter__(self) -> ClusterExecutor:
        storage = self.storage
        storage.__enter__()
        self._serial_call = storage._call_op
        self._thread = threading.get_ident()
        storage._call_op = self._call
        storage._executor = self
        if self.progress and getattr(self.client, "dashboard_link", None):
            print(f"graphstore: computing on {self.client.dashboard_link}", file=sys.stderr)
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        storage = self.storage
        try:
            if exc_type is None:
                self._dispatch()
            else:
                self._queue.clear()  # (what was submitted is still recorded)
            self._wait_all()
        finally:
            storage._call_op = self._serial_call
            storage._executor = None
            storage.__exit__(exc_type, *rest)
        if exc_type is None and self._failures:
            message = failure_message(self._failures)
            if self._not_run_count:
                message += f"\n\n({self._not_run_count} call(s) taking their outputs did not run either.)"
            raise ClusterCallError(message, [e.describe() for e in self._failures])

    # --- calls --------------------------------------------------------------------------------------------------------

    def _call(self, op: Op, args: tuple, kwargs: dict) -> Any:
        if threading.get_ident() != self._thread:  # (a thread started in the block: computed there, as without)
            return self._serial_call(op, args, kwargs)
        self._collect_done()
        self.stats["calls"] += 1
        state = self.storage._state
        names = output_names(op)
        if names is None or not op._plain_inputs:
            return self._call_here(op, args, kwargs)
        if state.versioner is not None:  # (its lookup needs the inputs' content ids)
            self.wait_for((args, kwargs))
        recorder = self.storage._recorder
        state.pending.raise_background_error()
        if op.op_id not in state.ops.known or state.ops.by_name.get((op.name, op.version)) is not op:
            recorder._register_op(op)
        bound = op.bind(args, kwargs)
        todo = PendingCall()
        in_refs: list[tuple[str, Ref]] = []
        for name, value, stype in op.iter_inputs(bound):
            if type(value) is not PendingRef and has_ref(value):
                self.wait_for(value)  # (Refs inside a container: a collection of them, with their content ids)
            in_refs.append((name, recorder._refs.wrap_input(op, name, value, stype, todo)))
        if state.versioner is not None:
            found = recorder._lookup_versioned(op, state.versioner, in_refs, todo, state.deletions)
            if found is not _MISS:
                return found
            self._check_new(op, 1)
        hid = derive_call_id("hid", op.op_id, [(n, r.hid) for n, r in in_refs])
        if state.versioner is not None:  # (its ids depend on the code version it runs under: known once it ran)
            hid += "-versioned"
        entry = self._entries.get(hid)
        if entry is None:
            found = state.pending.call(hid)
            if found is not None:
                return recorder._lazy_outputs(found)
            outs = [(n, PendingRef("", derive_output_hid(hid, n))) for n in names[0]]
            entry = self._entries[hid] = Entry(op, in_refs, todo, hid, outs)
            entry.returns_tuple = names[1]
            entry.versioned = state.versioner is not None
            for _, ref in outs:
                self._by_out[ref.hid] = entry
            if not self._queue:
                self._queued_since = time.monotonic()
            self._queue.append(entry)
            if len(self._queue) >= self.batch or time.monotonic() - self._queued_since > self.max_delay:
                self._dispatch()
        return Op.package([r for _, r in entry.outs], entry.returns_tuple)

    def _check_new(self, op: Op, count: int) -> None:
        """Refuse to compute calls not stored when new calls are not allowed."""
        if not self.storage._state.allow_new:
            raise NewCallsNotAllowedError(
                f"Call to {op.name} does not exist and new calls are not allowed ({count} such calls)."
            )

    def _call_here(self, op: Op, args: tuple, kwargs: dict) -> Any:
        """A call computed in this process, as without the executor, once the pending Refs it takes are ready."""
        self.wait_for((args, kwargs))
        return self._serial_call(op, args, kwargs)

    # --- dispatching --------------------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Look the queued calls up (one read), record content hits, and submit the rest as grouped tasks."""
        todo, self._queue = self._queue, []
        if not todo:
            return
        backend = self.storage.backend
        pending = self.storage._state.pending
        stored = backend.get_calls([e.hid for e in todo if not e.versioned])
        misses: list[Entry] = []
        for entry in todo:
            record = None if entry.versioned else stored.get(entry.hid) or pending.call(entry.hid)
            if record is None:
                misses.append(entry)
            else:
                self._found(entry, record.outputs)
        if misses:
            self._check_new(misses[0].op, len(misses))
        misses = self._content_hits(misses)
        if misses:
            self.storage._recorder._check_writable(misses[0].op)
            self._submit(misses)

    def _found(self, entry: Entry, outputs: Any) -> None:
        """A call found stored: its pending Refs become lazy Refs of the stored outputs."""
        cids = {name: cid for name, _, cid in outputs}
        for name, ref in entry.outs:
            settled(ref, cids[name])
        self._forget(entry)
        self.stats["stored"] += 1

    def _forget(self, entry: Entry) -> None:
        """A call stored: its outputs are Refs like any other now (a call made again finds it among the pending
        writes, or in the store)."""
        entry.state = "done"
        del self._entries[entry.hid]
        for key in entry.keys:
            self._by_out.pop(key, None)

    def _content_hits(self, misses: list[Entry]) -> list[Entry]:
        """Calls whose content (op and input values) is stored under another history: recorded here, sharing the
        stored outputs, as a call outside the executor is. One read when there are none."""
        by_cid: dict[str, Entry] = {}
        for entry in misses:
            if not entry.versioned and all(type(r) is not PendingRef for _, r in entry.in_refs):
                triples = [(n, r.hid, r.cid) for n, r in entry.in_refs]
                by_cid[derive_call_ids(entry.op.op_id, triples)[1]] = entry
        recorder = self.storage._recorder
        while by_cid:
            record = self.storage.backend.lookup_any_call(list(by_cid), by="cid")
            if record is None:
                break
            entry = by_cid.pop(record.cid)
            refs = recorder._record_content_hit(
                entry.op, entry.hid, record.cid, record, entry.in_refs, entry.todo, self.storage._state.deletions
            )
            refs = list(refs) if isinstance(refs, tuple) else [refs]
            self._found(entry, [(n, r.hid, r.cid) for (n, _), r in zip(entry.outs, refs)])
            misses.remove(entry)
        return misses

    def _submit(self, misses: list[Entry]) -> None:
        self._load_inputs(misses)
        threads = sum(self.client.nthreads().values()) or 1
        size = max(1, min(MAX_GROUP, -(-len(misses) // (8 * threads))))
        for start in range(0, len(misses), size):
            self._submit_task(misses[start : start + size])

    def _load_inputs(self, entries: list[Entry]) -> None:
        """Load the values the workers need that are not in memory (stored ones), in one read."""
        lazy = [r for e in entries for _, r in e.in_refs if type(r) is not PendingRef and not r.in_memory]
        if lazy:
            self.storage._loader.attach(lazy, inplace=True)

    def _submit_task(self, entries: list[Entry], key: str | None = None, tries: int = 0) -> None:
        if key is None:
            first = entries[0]
            key = (
                f"{first.op.name}-{first.hid}"
                if len(entries) == 1
                else f"graphstore-{hash_text(*[e.hid for e in entries])}"
            )
        self._load_inputs(entries)  # (an input's call may have been recorded since: its value is in the store now)
        task = Task(entries, key)
        task.tries = tries
        upstream: list[Any] = []
        specs = []
        versioner = self.storage._state.versioner
        tracing = None if versioner is None else (versioner.scope, versioner.options)
        for position, entry in enumerate(entries):
            inputs = []
            for name, ref in entry.in_refs:
                if type(ref) is not PendingRef:
                    inputs.append((name, VALUE, ref._obj))
                    continue
                source = self._by_out[ref.hid]
                index = next(i for i, (_, r) in enumerate(source.outs) if r.hid == ref.hid)
                if source.task is task:
                    inputs.append((name, LOCAL, (source.position, index)))
                    continue
                assert source.task is not None
                future = source.task.future
                arg = next((i for i, f in enumerate(upstream) if f is future), None)
                if arg is None:
                    arg = len(upstream)
                    upstream.append(future)
                inputs.append((name, UPSTREAM, (arg, source.position, index)))
            specs.append(CallSpec(entry.op, entry.hid, [n for n, _ in entry.outs], inputs, tracing))
            entry.task, entry.position, entry.state = task, position, "submitted"
        task.future = future = self.client.submit(run_group, specs, *upstream, key=key)
        future.add_done_callback(lambda _f, task=task: self._done.put(task))
        self._tasks_out += 1
        self.stats["tasks"] += 1
        self.stats["submitted"] += len(entries)

    # --- results ------------------------------------------------------------------------------------------------------

    def _collect_done(self, block: bool = False) -> None:
        """Record the results of the tasks finished so far (with ``block``: wait for at least one)."""
        while True:
            if block and not self._tasks_out and self._suspects:
                self._try_suspect()
            if not self._tasks_out:
                return
            try:
                task = self._done.get(block=block, timeout=None)
            except queue.Empty:
                return
            block = False
            self._tasks_out -= 1
            self._collect(task)

    def _try_suspect(self) -> None:
        """Run a call that was on a worker when it died again, alone on the cluster (calls whose inputs come from
        other suspects wait for those): a call that kills its worker now is the one that killed it before."""
        waiting = {id(e) for e in self._suspects}
        entry = next(
            (
                e
                for e in self._suspects
                if not any(type(r) is PendingRef and id(self._by_out[r.hid]) in waiting for _, r in e.in_refs)
            ),
            self._suspects[0],
        )
        self._suspects.remove(entry)
        if self._input_failed(entry):
            self._not_run(entry)
            return
        self._submit_task([entry], key=f"{entry.op.name}-{entry.hid}-again", tries=1)

    def _collect(self, task: Task) -> None:
        future = task.future
        try:  # (a result lost with a worker since the task finished is computed again: this waits for it)
            results = future.result()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001  (a cancelled future raises a BaseException: reported per call)
            error = exc
        else:
            for entry, result in zip(task.entries, results):
                self._settle(entry, result)
            return
        for entry in task.entries:
            if entry.state == "submitted" and self._input_failed(entry):
                self._not_run(entry)
        task.entries = [e for e in task.entries if e.state == "submitted"]
        if not task.entries:
            return
        killed = type(error).__name__ == "KilledWorker"
        if killed and len(task.entries) > 1:  # which call killed the workers: each alone in a task of its own
            for entry in task.entries:
                self._submit_task([entry], key=f"{entry.op.name}-{entry.hid}")
            return
        if killed and task.tries == 0:  # (it may have shared a worker with the call that killed it): once more
            self._suspects.extend(task.entries)
            return
        if killed:
            why = "it killed every worker it ran on (the worker process died: out of memory, a crash, a signal)"
        else:
            why = f"its task failed: {type(error).__name__}: {error}"
        for entry in task.entries:
            self._fail(entry, why)

    def _not_run(self, entry: Entry, name: str | None = None) -> None:
        entry.state = "failed"
        self._not_run_count += 1
        which = "one of its inputs" if name is None else f"its input {name!r}"
        entry.error = f"{entry.describe()}: not run: {which} comes from a call that failed"

    def _input_failed(self, entry: Entry) -> bool:
        sources = [self._by_out[r.hid] for _, r in entry.in_refs if type(r) is PendingRef]
        return any(s.state == "failed" for s in sources)

    def _settle(self, entry: Entry, result: tuple) -> None:
        if entry.state != "submitted":
            return
        if result[0] == OK:
            self._record(entry, result)
        elif result[0] == FAILED:
            _, kind, message, trace = result
            self._fail(entry, f"it raised {kind}: {message}\n{trace}")
        else:
            assert result[0] == NOT_RUN
            self._not_run(entry, result[1])

    def _fail(self, entry: Entry, why: str) -> None:
        entry.state = "failed"
        entry.error = f"{entry.describe()}: {why}"
        self._failures.append(entry)
        self.stats["failed"] += 1

    def _record(self, entry: Entry, result: tuple) -> None:
        """Record a computed call through the storage's writer: its outputs become lazy Refs of the stored values."""
        outputs, started, duration = result[1:4]
        for _, ref in entry.in_refs:
            if type(ref) is PendingRef:  # (its call finished before this one started: record it first)
                source = self._by_out[ref.hid]
                assert source.task is not None
                self._settle(source, source.task.future.result()[source.position])
        state = self.storage._state
        op, in_refs = entry.op, entry.in_refs
        op_key, version_id = op.op_id, None
        if entry.versioned:  # the code version it ran under, from the tracked code the worker saw it run
            assert state.versioner is not None
            try:
                version = state.versioner.finish(op, collector_of(state.versioner, op, result[4]))
            except GraphstoreError as exc:  # (a global changed meanwhile, a dependency refused): as if it raised
                self._fail(entry, f"its code version could not be recorded: {exc}")
                return
            op_key = op_identity(op.name, op.version, version.semantic_version)
            version_id = version.version_id
        hid, cid = derive_call_ids(op_key, [(n, r.hid, r.cid) for n, r in in_refs])
        for (name, out), (out_cid, _, _) in zip(entry.outs, outputs):
            if entry.versioned:
                out.hid = derive_output_hid(hid, name)
            settled(out, out_cid)
        recorder = self.storage._recorder
        inputs = recorder._input_records(op, in_refs, entry.todo)
        values = inputs[1]
        for (name, _), (out_cid, codec, data) in zip(entry.outs, outputs):
            if out_cid not in values and out_cid not in state.stored_cids:
                values[out_cid] = state.values.record_encoded(out_cid, codec, data, f"op {op.name}, output {name!r}")
        out_refs: list[tuple[str, Ref]] = list(entry.outs)
        row = call_row_of(
            hid, cid, op.name, op.version, in_refs, out_refs, entry.returns_tuple, started, duration, version_id
        )
        recorder._queue_call(op, row, out_refs, entry.todo, state.deletions, inputs)
        self._forget(entry)
        self.stats["recorded"] += 1

    # --- waiting ------------------------------------------------------------------------------------------------------

    def wait_for(self, x: Any) -> None:
        """Wait for the calls computing the pending Refs in ``x`` (nested in lists, tuples, dicts, sets); raise
        :class:`~graphstore.errors.ClusterCallError` if one of them failed."""
        refs: list[PendingRef] = []
        pending_in(x, refs, 0)
        if not refs:
            return
        entries = [self._by_out[r.hid] for r in refs if r.hid in self._by_out]
        if any(e.state == "queued" for e in entries):
            self._dispatch()
        while any(e.state == "submitted" for e in entries):
            self._collect_done(block=True)
        failed = [e for e in entries if e.state == "failed"]
        if failed:
            raise ClusterCallError(failure_message(failed), [e.describe() for e in failed])

    def _wait_all(self) -> None:
        if self.progress and self._tasks_out:
            from distributed import progress

            progress([e.task.future for e in self._entries.values() if e.task is not None], notebook=None)
        while self._tasks_out or self._suspects:
            self._collect_done(block=True)
