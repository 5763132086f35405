"""``Storage``: where calls are recorded and looked up, and the context in which ops are memoized.

>>> from graphstore import op, Storage
>>> @op
... def inc(x):
...     return x + 1
>>> storage = Storage()
>>> with storage:
...     y = inc(1)
>>> storage.unwrap(y)
2
>>> with storage:
...     inc(1)  # retraced: nothing runs, nothing is loaded
AtomRef(hid=..., in_memory=False)
"""

from __future__ import annotations

import atexit
import os
import threading
import warnings
import weakref
from typing import Any

from .backends import Tracer, open_backend
from .claims import acquire, release
from .context import _STACK, ModeContext
from .errors import CallNotStoredWarning, ConfigurationError, GraphstoreError, MissingValuesError
from .forking import abandon
from .history import History
from .loading import Loader
from .ops import Op
from .overflow import check_owner, copy_overflow_files
from .recording import Recorder
from .refs import Call
from .resupply import complete_batch
from .values import ValueCodec
from .versioning import TracingOptions, Versioner
from .versions_api import VersionsAPI, check_store_mode
from .writer import PendingWrites


class _AllowNewCalls:
    """Returned by ``Storage.allow_new_calls``: the setting is already in force; as a context it is restored on exit."""

    def __init__(self, storage: Storage, previous: bool) -> None:
        self.storage = storage
        self.previous = previous

    def __enter__(self) -> Storage:
        return self.storage

    def __exit__(self, *exc: Any) -> None:
        self.storage._allow_new = self.previous


def default_overflow_dir(db_path: str) -> str:
    """Where a store file keeps its large values unless told otherwise: ``<db_path>-overflow`` beside it (named like
    SQLite's own ``-wal`` and ``-shm`` files)."""
    return os.fspath(db_path) + "-overflow"


_OPEN: weakref.WeakSet[Storage] = weakref.WeakSet()
"""Storages not closed yet: closed when the interpreter exits, so their pending calls are written and SQLite folds
its write-ahead log back into the store file (the next process then reads one file, not the file and a log)."""


@atexit.register
def _close_open_storages() -> None:
    for storage in list(_OPEN):
        if storage._pid != os.getpid():  # inherited through fork: the parent's to close
            continue
        try:
            storage.close()
        except Exception:  # noqa: BLE001  (exiting: a store that cannot be closed keeps its log, nothing is lost)
            pass


class _StorageContext(ModeContext):
    """``with storage(mode):``: in ``"run"`` mode, entered and left like ``with storage:`` itself (code versions
    re-checked on entry, every pending call written on exit)."""

    def __enter__(self) -> Any:
        if self.mode == "run":
            self.storage._prepare_context()
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.mode == "run":
                self.storage.commit()
        finally:
            super().__exit__(*exc)


class Storage(Recorder, Loader, History, VersionsAPI):
    """A store of memoized calls: a SQLite file (``db_path``) or, by default, memory.

    Use it as a context (``with storage:``) to record and retrace op calls. Large values (over
    ``overflow_threshold_MB``) go to files in ``overflow_dir`` (by default the folder ``<db_path>-overflow`` beside
    the store file, made when the first such value comes), which belongs to this store alone (another store giving
    the same folder is refused with ``OverflowDirInUseError``). An in-memory store keeps large values in memory.

    Loading a value runs pickle, which can execute code. To look into a store written by someone else, open it with
    ``trusted=False`` (usually with ``read_only=True``): only builtin scalars and containers and numpy arrays are
    decoded, and any other value raises ``UntrustedValueError`` instead of being unpickled.

    The keyword-only options ``tracer_impl``, ``strict_tracing``, ``skip_unhashable_globals``,
    ``skip_globals_silently``, ``skip_missing_deps``, ``skip_missing_silently``, ``deps_package`` and ``track_globals``
    are mandala's, with mandala's defaults and meaning (see ``TracingOptions`` and docs/migrating.md).

    >>> from graphstore import op
    >>> @op
    ... def halves(x):
    ...     return [x, x / 2]
    >>> s = Storage(trusted=False)
    >>> with s:
    ...     y = halves(3)
    >>> s.unwrap(s.load_ref(y.hid, in_memory=False))
    [3, 1.5]
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] = ":memory:",
        overflow_dir: str | os.PathLike[str] | None = None,
        overflow_threshold_MB: float = 50.0,
        deps_path: str | os.PathLike[str] | None = None,
        tracer: Tracer | None = None,
        on_change: str = "ask",
        read_only: bool = False,
        trusted: bool = True,
        *,
        tracer_impl: type | None = None,
        strict_tracing: bool = False,
        skip_unhashable_globals: bool = True,
        skip_globals_silently: bool = False,
        skip_missing_deps: bool = True,
        skip_missing_silently: bool = False,
        deps_package: str | None = None,
        track_globals: bool = True,
    ) -> None:
        tracing = TracingOptions.checked(
            tracer_impl=tracer_impl,
            strict_tracing=strict_tracing,
            skip_unhashable_globals=skip_unhashable_globals,
            skip_globals_silently=skip_globals_silently,
            skip_missing_deps=skip_missing_deps,
            skip_missing_silently=skip_missing_silently,
            deps_package=deps_package,
            track_globals=track_globals,
            deps_path=deps_path,
        )
        if overflow_threshold_MB <= 0:
            raise ConfigurationError(f"overflow_threshold_MB must be positive, got {overflow_threshold_MB}")
        self.db_path = os.fspath(db_path)
        self.backend = open_backend(self.db_path, tracer=tracer, read_only=read_only)
        self.db_path = self.backend.location  # (as messages name it: a URL without its password)
        if overflow_dir is None and self.db_path != ":memory:" and "://" not in self.db_path:
            overflow_dir = default_overflow_dir(self.db_path)
        self._values = ValueCodec(
            overflow_dir,
            int(overflow_threshold_MB * 1e6),
            trusted=trusted,
            store_id=self.backend.store_id,
            store=self.db_path,
        )
        if overflow_dir is not None:
            check_owner(os.fspath(overflow_dir), self._values.store_id, self.db_path)
        self._stored_cids: set[str] = set()
        self._pending = self._new_pending()
        self._deletions: int | None = self.backend.deletion_count()
        """The store's deletion count that what this storage remembers about the store (stored values, calls
        read ahead) is valid for; batches carry it, and the store checks them when a deletion came after it."""
        self._context = ModeContext(self, "run")
        self._allow_new = True
        self._known_ops: set[str] = set()
        self._ops_by_name: dict[tuple[str, int], Op] = {}
        self._source_hashes = self.backend.op_source_hashes()
        self._warned: set[str] = set()
        check_store_mode(self.backend, deps_path is not None)
        self._versioner = (
            None if deps_path is None else Versioner(self.backend, os.fspath(deps_path), on_change, tracing)
        )
        self._pid = os.getpid()
        self._claims_key, self._claims = acquire(self.db_path)  # which function each op name belongs to
        _OPEN.add(self)

    def __repr__(self) -> str:
        return f"Storage({self.db_path!r})"

    def _fork_locks(self) -> list[Any]:
        """The locks a fork takes first, so no write is half done in the child's copy (see ``forking``)."""
        return [self._pending._flush_lock, self._pending._send_lock, self._pending.lock, *self.backend.fork_locks()]

    def _start_afresh_after_fork(self) -> None:
        """(In a forked child) New connection, locks and queue; the parent writes its own waiting calls."""
        abandon(self._pending)
        self._pid = os.getpid()
        self.backend.start_afresh_after_fork()
        self._stored_cids = set()
        self._pending = self._new_pending()
        self._pending.write_through = True
        self._claims._lock = threading.Lock()  # (another thread of the parent may have held it)

    def _new_pending(self) -> PendingWrites:
        pending = PendingWrites(self.backend)
        pending.resupply = self._resupply
        pending.on_deletions = self._deletions_seen
        pending.on_refused = self._stored_cids.difference_update  # a refused call's values are not stored
        return pending

    def _deletions_seen(self, count: int | None) -> None:
        """Another process (or this one) deleted from the store: forget what is remembered about it."""
        if count is None or self._deletions is None or count <= self._deletions:
            return
        self._stored_cids.clear()  # (cleared first, the count moved on after: a call records the count before
        self.backend.forget_cached_calls()  # it consults these)
        self._deletions = count

    def _resupply(self, batch: Any, held: dict, exc: MissingValuesError) -> None:
        left_out = complete_batch(batch, held, exc.cids, self._values)
        if left_out:
            warnings.warn(
                f"store {self.db_path}: calls of op {', '.join(left_out)} were not stored: values they use were "
                "deleted from the store by another process while they were recorded, and this process does not hold "
                "them any more (they are computed again when called)",
                CallNotStoredWarning,
                stacklevel=2,
            )

    # --- contexts -----------------------------------------------------------------------------------------------------

    def __enter__(self) -> Storage:
        self._prepare_context()
        return self._context.__enter__()

    def _prepare_context(self) -> None:
        if self._versioner is not None:
            self._versioner.refresh()
        self.backend.forget_cached_calls()

    def __exit__(self, *exc: Any) -> None:
        try:
            self.commit()
        finally:
            self._context.__exit__(*exc)

    def __call__(self, mode: str = "run") -> ModeContext:
        """A context in the given mode: ``"run"`` records calls (as ``with storage:`` does), ``"noop"`` runs ops as
        plain functions.

        >>> s = Storage()
        >>> with s(mode="noop"):
        ...     pass
        """
        return _StorageContext(self, mode)

    @property
    def mode(self) -> str:
        """``"run"`` or ``"noop"``: the mode of the innermost context of this storage (``with storage:``,
        ``with storage(mode=...)``, or ``with noop():`` inside one); ``"run"`` outside them.

        >>> s = Storage()
        >>> with s(mode="noop"):
        ...     outer = s.mode
        ...     with s():
        ...         inner = s.mode
        >>> outer, inner, s.mode
        ('noop', 'run', 'run')
        """
        for frame in reversed(_STACK.get()):
            if frame.storage is self:
                return frame.mode
        return "run"

    def _call_noop(self, op: Op, args: tuple, kwargs: dict) -> Any:
        """A call in noop mode: the function gets plain values (lazy Refs loaded from this store, markers
        unwrapped); nothing is looked up or recorded."""
        bound = op.bind(args, kwargs)
        self.attach(list(bound.arguments.values()), inplace=True)  # lazy Refs, in one read
        return Op.call_bound(op.func, bound, self._argument_value)

    def allow_new_calls(self, allow: bool) -> _AllowNewCalls:
        """Forbid (or allow again) computing calls that are not in the store; usable as a context too.

        >>> s = Storage()
        >>> with s.allow_new_calls(False):
        ...     s._allow_new
        False
        >>> s._allow_new
        True
        """
        previous = self._allow_new
        self._allow_new = bool(allow)
        return _AllowNewCalls(self, previous)

    def commit(self) -> None:
        """Write every pending call now."""
        self._pending.flush()

    def close(self) -> None:
        """Write pending calls and close the store."""
        _OPEN.discard(self)
        key, self._claims_key = self._claims_key, None
        release(key)
        try:
            self._pending.close()
            self.backend.close()
        finally:
            self._values.discard_temporary()

    def backup(self, path: str | os.PathLike[str], overflow_dir: str | os.PathLike[str] | None = None) -> str:
        """Copy the store to a new file at ``path``: complete and consistent, as the store was at one instant, even
        while this or other programs record into it (SQLite's online backup). Its large values are copied to
        ``overflow_dir`` (by default ``<path>-overflow``). The copy is a store of its own; returns its path.

        >>> import os, tempfile
        >>> from graphstore import op
        >>> @op
        ... def inc(x):
        ...     return x + 1
        >>> s = Storage()
        >>> with s:
        ...     _ = inc(1)
        >>> copy = s.backup(os.path.join(tempfile.mkdtemp(), "copy.db"))
        >>> Storage(copy, read_only=True).cache_info()["calls"]
        1
        """
        self.commit()
        path = os.fspath(path)
        new_id, files = self.backend.backup_to(path)
        if files:
            target = os.fspath(overflow_dir) if overflow_dir is not None else default_overflow_dir(path)
            copy_overflow_files(self._values.overflow_dir, files, target, new_id, path)
        return path

    def get_call(self, hid: str) -> Call:
        """The stored call with history id ``hid``, its input and output Refs lazy."""
        self.commit()
        record = self.backend.get_calls([hid]).get(hid)
        if record is None:
            raise GraphstoreError(f"no call with hid {hid} in store {self.db_path}")
        return self._call_from_record(record)

    def _call_from_record(self, record: Any) -> Call:
        op = self._ops_by_name.get((record.op_name, record.op_version), record.op_name)
        kinds = record.output_kinds or ("atom",) * len(record.outputs)
        in_kinds = self.backend.get_refs([h for _, h, _ in record.inputs])
        return Call(
            op,
            record.hid,
            record.cid,
            {n: self.make_ref(in_kinds.get(h, (c, "atom"))[1], c, h) for n, h, c in record.inputs},
            {n: self.make_ref(k, c, h) for (n, h, c), k in zip(record.outputs, kinds)},
        )

    def cf(self, source: Any) -> Any:
        """A ComputationFrame of ``source``: an op, Refs, ``{name: Refs}``, Calls or ids (see docs/querying.md)."""
        from .query import make_frame  # the query layer is optional here: imported only when asked for

        return make_frame(self, source)

    def provenance(self, ref: Any) -> Any:
        """The full upstream history of ``ref``: ``.df`` (a table) and ``.to_networkx()`` (a graph)."""
        from .query import Provenance

        return Provenance(self, ref)

    def cache_info(self) -> dict[str, int]:
        """Counts of what the store holds (ops, values, refs, calls, edges) and of calls not yet written."""
        info = self.backend.counts()
        info["pending_calls"] = len(self._pending)
        return info
