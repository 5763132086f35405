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
import weakref
from collections.abc import Iterable
from typing import Any

from .backends import Tracer, open_backend
from .call_records import CallQueue
from .call_refs import RefMaker
from .claims import acquire, release
from .context import _STACK, ModeContext
from .deletion import DeletionReport
from .errors import ConfigurationError, GraphstoreError
from .forking import abandon
from .history import CheckReport, History
from .loading import Loader
from .overflow import check_owner, copy_overflow_files
from .recording import Recorder
from .refs import Call, Ref
from .store_state import OpRegistry, StoreState
from .structs import CollectionRef
from .values import ValueCodec
from .versioning import TracingOptions, Versioner, VersionInfo
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


class Storage:
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

    (A facade: the work is done by its parts, built over one :class:`~graphstore.store_state.StoreState` they
    share: the recorder, the loader, the history tools and the versioning methods.)
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
        self.backend = backend = open_backend(self.db_path, tracer=tracer, read_only=read_only)
        self.db_path = backend.location  # (as messages name it: a URL without its password)
        if overflow_dir is None and self.db_path != ":memory:" and "://" not in self.db_path:
            overflow_dir = default_overflow_dir(self.db_path)
        values = ValueCodec(
            None if overflow_dir is None else os.fspath(overflow_dir),
            int(overflow_threshold_MB * 1e6),
            trusted=trusted,
            store_id=backend.store_id,
            store=self.db_path,
        )
        if overflow_dir is not None:
            check_owner(os.fspath(overflow_dir), values.store_id, self.db_path)
        deletions = backend.deletion_count()
        ops = OpRegistry(backend.op_source_hashes())
        check_store_mode(backend, deps_path is not None)
        versioner = None if deps_path is None else Versioner(backend, os.fspath(deps_path), on_change, tracing)
        claims_key, claims = acquire(self.db_path)  # which function each op name belongs to
        self._context = ModeContext(self, "run")
        self._executor: Any = None
        """The :class:`~graphstore.cluster.ClusterExecutor` whose block is open, if one is."""
        self._use(StoreState(backend, self.db_path, values, versioner, claims, claims_key, ops, deletions))
        _OPEN.add(self)

    def _use(self, state: StoreState) -> None:
        """Build the parts over ``state``, replacing those over the state before."""
        self._state = state
        self._loader = loader = Loader(state, self._resolve_members)
        refs = RefMaker(state, loader, self._resolve_members)
        self._recorder = recorder = Recorder(state, loader, refs, CallQueue(state), repr(self))
        self._history = History(state, loader)
        self._versions = VersionsAPI(state)
        self._call_op = recorder.call_op  # (bound once: ops.py calls it on every call)
        self._call_noop = recorder.call_noop

    def __repr__(self) -> str:
        return f"Storage({self.db_path!r})"

    # --- the state, for the modules that use it -----------------------------------------------------------------------

    @property
    def _pending(self) -> PendingWrites:
        return self._state.pending

    @property
    def _values(self) -> ValueCodec:
        return self._state.values

    @property
    def _pid(self) -> int:
        return self._state.pid

    @property
    def _allow_new(self) -> bool:
        return self._state.allow_new

    @_allow_new.setter
    def _allow_new(self, allow: bool) -> None:
        self._state.allow_new = allow

    def _resolve_members(self, coll: CollectionRef) -> list[tuple[Any, Ref]]:
        """The elements of a stored collection (the resolver of the collection Refs this storage makes)."""
        return self._loader.resolve_members(coll)

    def _fork_locks(self) -> list[Any]:
        """The locks a fork takes first, so no write is half done in the child's copy (see ``forking``)."""
        return self._state.fork_locks()

    def _start_afresh_after_fork(self) -> None:
        """(In a forked child) New connection, locks and queue; the parent writes its own waiting calls."""
        state = self._state
        abandon(state.pending)
        self.backend.start_afresh_after_fork()
        self._use(state.afresh())

    # --- contexts -----------------------------------------------------------------------------------------------------

    def __enter__(self) -> Storage:
        self._prepare_context()
        return self._context.__enter__()

    def _prepare_context(self) -> None:
        versioner = self._state.versioner
        if versioner is not None:
            versioner.refresh()
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

    def executor(self, client: Any, batch: int = 1000, max_delay: float = 0.5, progress: bool | None = None) -> Any:
        """A context in which op calls are computed on a Dask cluster (``client``: a ``dask.distributed.Client``) and
        recorded here, with the ids and history of a serial run; see docs/cluster.md and
        :class:`~graphstore.cluster.ClusterExecutor`.

        >>> s = Storage()
        >>> s.executor  # doctest: +ELLIPSIS
        <bound method Storage.executor of Storage(':memory:')>
        """
        from .cluster import ClusterExecutor  # Dask is needed only here: imported when first asked for

        return ClusterExecutor(self, client, batch=batch, max_delay=max_delay, progress=progress)

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
        self._state.commit()

    def close(self) -> None:
        """Write pending calls and close the store."""
        _OPEN.discard(self)
        state = self._state
        key, state.claims_key = state.claims_key, None
        release(key)
        try:
            state.pending.close()
            self.backend.close()
        finally:
            state.values.discard_temporary()

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
            copy_overflow_files(self._state.values.overflow_dir, files, target, new_id, path)
        return path

    def get_call(self, hid: str) -> Call:
        """The stored call with history id ``hid``, its input and output Refs lazy."""
        self.commit()
        record = self.backend.get_calls([hid]).get(hid)
        if record is None:
            raise GraphstoreError(f"no call with hid {hid} in store {self.db_path}")
        return self._loader.call_from_record(record)

    def cf(self, source: Any) -> Any:
        """A ComputationFrame of ``source``: an op (or the name of a stored op: its calls of every version), Refs,
        ``{name: Refs}``, Calls or ids (see docs/querying.md)."""
        from .query import make_frame  # the query layer is optional here: imported only when asked for

        return make_frame(self, source)

    def ops(self) -> Any:
        """A pandas DataFrame of the ops the store holds, one row per op and version: ``op``, ``version``,
        ``calls``, and the times of the ``first`` and ``last`` call (UTC). Needs none of the ops' code, so it shows
        a store recorded by someone else; ``storage.cf(name)`` then gives an op's frame by its name.

        >>> from graphstore import Storage, op
        >>> @op
        ... def double(x):
        ...     return 2 * x
        >>> storage = Storage()
        >>> with storage:
        ...     _ = [double(i) for i in range(3)]
        >>> storage.ops()[["op", "version", "calls"]].to_dict("records")
        [{'op': 'double', 'version': 0, 'calls': 3}]
        """
        import pandas as pd

        self.commit()
        rows = self.backend.op_summary()
        table = pd.DataFrame(rows, columns=["op", "version", "calls", "first", "last"])
        for column in ("first", "last"):
            table[column] = pd.to_datetime(table[column].astype("float64"), unit="s", utc=True)
        return table

    def provenance(self, ref: Any) -> Any:
        """The full upstream history of ``ref``: ``.df`` (a table) and ``.to_networkx()`` (a graph)."""
        from .query import Provenance

        return Provenance(self, ref)

    def cache_info(self) -> dict[str, int]:
        """Counts of what the store holds (ops, values, refs, calls, edges) and of calls not yet written."""
        info = self.backend.counts()
        info["pending_calls"] = len(self._state.pending)
        return info

    # --- reading back (the loader) ------------------------------------------------------------------------------------

    def make_ref(self, kind: str, cid: str, hid: str) -> Ref:
        """A lazy Ref of the given kind ("atom", "list", "dict", "set", "tuple")."""
        return self._loader.make_ref(kind, cid, hid)

    def attach(self, obj: Any, inplace: bool = False) -> Any:
        """The Refs in ``obj`` (a Ref, or nested lists, tuples, dicts and sets of them) with their values loaded.

        With ``inplace=False`` (the default) a copy of ``obj`` is returned, its Refs copies loaded, and the given Refs
        stay as they were; with ``inplace=True`` the given Refs are loaded and None is returned.

        >>> from graphstore import Storage, op
        >>> @op
        ... def inc(x):
        ...     return x + 1
        >>> s = Storage()
        >>> with s:
        ...     _ = inc(1)
        >>> with s:
        ...     y = inc(1)  # retraced: lazy
        >>> [s.attach(y).obj, y.in_memory]
        [2, False]
        >>> s.attach([y], inplace=True), y.obj
        (None, 2)
        """
        if self._executor is not None:
            self._executor.wait_for(obj)
        return self._loader.attach(obj, inplace)

    def unwrap(self, x: Any) -> Any:
        """The plain value of a Ref, or of nested lists/tuples/dicts/sets of Refs, loading what is needed.

        >>> from graphstore import Storage, wrap_atom
        >>> Storage().unwrap([wrap_atom(1), (wrap_atom("a"),)])
        [1, ('a',)]
        """
        if self._executor is not None:
            self._executor.wait_for(x)
        return self._loader.unwrap(x)

    def load_ref(self, hid: str, in_memory: bool = True) -> Ref:
        """The stored Ref with history id ``hid``, with its value loaded when ``in_memory`` is true."""
        return self._loader.load_ref(hid, in_memory)

    # --- history tools ------------------------------------------------------------------------------------------------

    def get_ref_creator(self, ref: Any) -> Call | None:
        """The call that computed ``ref`` (a Ref or hid), or None for a raw input.

        >>> from graphstore import Storage, op
        >>> @op
        ... def inc(x):
        ...     return x + 1
        >>> s = Storage()
        >>> with s:
        ...     y = inc(1)
        >>> s.get_ref_creator(y).op.name
        'inc'
        """
        return self._history.get_ref_creator(ref)

    def get_creators(self, hids: Iterable[Any]) -> list[Call]:
        """The calls that computed the given refs (Refs or hids); raw inputs have none."""
        return self._history.get_creators(hids)

    def get_consumers(self, hids: Iterable[Any]) -> list[Call]:
        """The calls that took any of the given refs (Refs or hids) as input."""
        return self._history.get_consumers(hids)

    def drop_calls(self, calls_or_hids: Any, delete_dependents: bool = True, dry_run: bool = False) -> DeletionReport:
        """Delete calls, and with ``delete_dependents`` every call downstream of their outputs (which cannot stay
        without their inputs); returns a :class:`~graphstore.deletion.DeletionReport` of what was deleted.

        ``calls_or_hids`` is a Call, a call's history id, or an iterable of those; anything else (a Ref, a value)
        raises ``NotACallError``, and so does the id of a ref. Unknown ids are ignored. With ``dry_run`` nothing
        is deleted and the report says what would be. Refs and values stay until :meth:`cleanup_refs`. The
        deletion is one transaction.
        """
        return self._history.drop_calls(calls_or_hids, delete_dependents, dry_run)

    def cleanup_refs(self, dry_run: bool = False) -> dict[str, int]:
        """Delete refs that no call references and values that no ref holds (with their overflow files); returns
        how many of each went. With ``dry_run`` nothing is deleted and the counts say what would be.

        >>> from graphstore import Storage, op
        >>> s = Storage()
        >>> with s:
        ...     pair = op(lambda a: (a, -a), name="pair")(3)
        >>> _ = s.drop_calls(s.get_ref_creator(pair))  # (its refs and values stay until they are cleaned up)
        >>> s.cleanup_refs(dry_run=True)
        {'refs': 3, 'values': 2, 'overflow_files': 0}
        >>> s.cleanup_refs(), s.cleanup_refs()["refs"]
        ({'refs': 3, 'values': 2, 'overflow_files': 0}, 0)
        """
        return self._history.cleanup_refs(dry_run)

    def check(self, full: bool = True, raise_on_error: bool = False) -> CheckReport:
        """Verify the store: its own file check, every edge to an existing call and ref, every ref to a value,
        every collection to its elements, every overflow file present with its size and checksum (``full``
        also re-checksums every stored value). Nothing is unpickled.

        >>> from graphstore import Storage
        >>> Storage().check().ok
        True
        """
        return self._history.check(full, raise_on_error)

    def vacuum(self) -> None:
        """Give the space of deleted records back to the file system."""
        self._history.vacuum()

    # --- code versions ------------------------------------------------------------------------------------------------

    def versions(self, f: Any, show: bool = True) -> list[VersionInfo]:
        """The recorded versions of op ``f``: their dependencies, status now and how many calls each has; printed
        (each version's code and status, as mandala shows them) unless ``show=False``. Asks about no change."""
        return self._versions.versions(f, show)

    def sync_component(self, f: Any, is_semantic_change: bool | None = None) -> str:
        """Record the current code of ``f`` (an op or tracked function; or a global, named ``"module.NAME"``),
        marked as breaking or not; returns its semantic hash. With ``is_semantic_change=None`` the storage's
        ``on_change`` policy decides."""
        return self._versions.sync_component(f, is_semantic_change)

    def source_history(self, f: Any) -> list[dict[str, Any]]:
        """Every recorded content of ``f``'s code (or of a global named ``"module.NAME"``: source None), oldest
        first, with its semantic hash and source."""
        return self._versions.source_history(f)

    def code(self, version_id: Any) -> dict[str, str | None]:
        """The source of every function a version (an id or a VersionInfo) depends on (globals map to None), by
        component name."""
        return self._versions.code(version_id)

    def diff(self, a: Any, b: Any) -> str:
        """A unified diff of the code of two versions (ids or VersionInfos); a global whose value differs is one
        line ``global <module.name>: <content hash> -> <content hash>`` (``-`` where a version did not read it)."""
        return self._versions.diff(a, b)

    def drop_version(self, version: Any, delete_dependents: bool = True) -> int:
        """Delete a version's calls (and their dependents) and forget the version, in one transaction; returns the
        number of calls deleted."""
        return self._versions.drop_version(version, delete_dependents)
