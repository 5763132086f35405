"""The interface between the memoization engine and a store, in domain verbs.

The engine never sees SQL or table names: it asks a :class:`Backend` to look calls up, save batches of calls, refs
and values, and load values. A backend is picked from the path or URL by :func:`graphstore.backends.open_backend`.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

Tracer = Callable[[str, tuple], None]
"""Called with every SQL statement a backend runs and its parameters (for tests and debugging)."""

OP_SUMMARY_SQL = (
    "SELECT o.name, o.version, count(c.op_name), min(c.created_at), max(c.created_at) FROM ops o "
    "LEFT JOIN calls c ON c.op_name = o.name AND c.op_version = o.version "
    "WHERE substr(o.name, 1, 2) <> '__' GROUP BY o.name, o.version ORDER BY o.name, o.version"
)
"""The statement of :meth:`Backend.op_summary`, the same on both engines."""


class CallRecord(NamedTuple):
    """A call as the store knows it: ids, op identity, and its inputs and outputs as ``(name, hid, cid)``."""

    hid: str
    cid: str
    op_name: str
    op_version: int
    outputs: tuple[tuple[str, str, str], ...]
    tuple_out: bool = False
    inputs: tuple[tuple[str, str, str], ...] = ()
    created_at: float = 0.0
    duration: float = 0.0
    output_kinds: tuple[str, ...] = ()
    """Kind of each output ref ("atom", "list", "dict", "set", "tuple"); empty means all atoms."""
    version_id: str | None = None
    """The code version the call ran under (versioned stores only)."""


class ValueRecord(NamedTuple):
    """Serialized bytes of one value (or the path of its overflow file)."""

    cid: str
    codec: str
    size: int
    data: bytes | None = None
    path: str | None = None
    checksum: str | None = None
    """XXH3-64 of the stored bytes (inline or in the overflow file)."""


class RefRecord(NamedTuple):
    hid: str
    cid: str
    kind: str = "atom"


class MemberRecord(NamedTuple):
    """One element of a stored collection: position, key (dicts only) and the element's history id."""

    coll_hid: str
    pos: int
    key: str | None
    elt_hid: str


class OpRecord(NamedTuple):
    name: str
    version: int
    signature: str
    source_hash: str
    output_names: tuple[str, ...] = ()


class CallRow(NamedTuple):
    """A call as it travels to the store: the fields of :class:`CallRecord`, with ``outputs`` and ``inputs``
    flattened to ``(name, hid, cid, name, hid, cid, ...)``.

    A :class:`Batch` holds its calls as plain tuples in this field order (``tuple(row)``; ``CallRow._make(t)`` reads
    one back by name), and so does a batch's message to a helper process: a plain tuple of strings and numbers is
    left alone by Python's cyclic garbage collector (tens of thousands of waiting named tuples would be traversed by
    every full collection), and ``marshal`` takes nothing else.

    >>> row = CallRow("h", "c", "inc", 0, ("output_0", "oh", "oc"), False, ("x", "xh", "xc"), 0.0, 0.0, ("atom",), None)
    >>> row.input_hids(), CallRow._make(tuple(row)) == row
    (('xh',), True)
    """

    hid: str
    cid: str
    op_name: str
    op_version: int
    outputs: tuple[str, ...]
    """``(name, hid, cid)`` of each output, flat."""
    tuple_out: bool
    inputs: tuple[str, ...]
    """``(name, hid, cid)`` of each input, flat."""
    created_at: float
    duration: float
    output_kinds: tuple[str, ...]
    """Kind of each output ref; empty means all atoms."""
    version_id: str | None

    def input_hids(self) -> tuple[str, ...]:
        """History ids of the call's inputs, in order."""
        return self.inputs[1::3]

    def output_hids(self) -> tuple[str, ...]:
        """History ids of the call's outputs, in order."""
        return self.outputs[1::3]


def call_row(call: CallRecord) -> tuple:
    """A :class:`CallRecord` as a plain-tuple :class:`CallRow`, for :class:`Batch`.

    >>> c = CallRecord("h", "c", "inc", 0, (("output_0", "oh", "oc"),), inputs=(("x", "xh", "xc"),))
    >>> call_row(c)[4], type(call_row(c)) is tuple, row_call(call_row(c)) == c
    (('output_0', 'oh', 'oc'), True, True)
    """
    return (
        call.hid,
        call.cid,
        call.op_name,
        call.op_version,
        tuple([x for t in call.outputs for x in t]),
        call.tuple_out,
        tuple([x for t in call.inputs for x in t]),
        call.created_at,
        call.duration,
        tuple(call.output_kinds),
        call.version_id,
    )


def row_call(row: tuple) -> CallRecord:
    """The :class:`CallRecord` of a :class:`CallRow` (or of a plain tuple in its field order)."""
    r = CallRow._make(row)
    o, i = r.outputs, r.inputs
    return CallRecord(
        r.hid,
        r.cid,
        r.op_name,
        r.op_version,
        tuple(zip(o[0::3], o[1::3], o[2::3])),
        r.tuple_out,
        tuple(zip(i[0::3], i[1::3], i[2::3])),
        r.created_at,
        r.duration,
        r.output_kinds,
        r.version_id,
    )


def calls_from_rows(heads: Iterable[tuple], edges: Iterable[tuple]) -> dict[str, CallRecord]:
    """Full call records from a store's rows: ``heads`` as ``(hid, cid, op name, op version, tuple_out, created,
    duration, version id)``, ``edges`` as ``(call hid, direction, label, ref hid, ref cid, ref kind)`` in position
    order, direction 1 for an output (0 for an input).

    >>> calls_from_rows([("h", "c", "inc", 0, 0, 1.0, 0.1, None)], [("h", 0, "x", "r1", "v1", "atom"),
    ...     ("h", 1, "output_0", "r2", "v2", "atom")])["h"].outputs
    (('output_0', 'r2', 'v2'),)
    """
    ins: dict[str, list] = {}
    outs: dict[str, list] = {}
    kinds: dict[str, list] = {}
    for call_hid, direction, label, ref_hid, ref_cid, kind in edges:
        (outs if direction == 1 else ins).setdefault(call_hid, []).append((label, ref_hid, ref_cid))
        if direction == 1:
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


@dataclass
class Batch:
    """Everything one flush writes, in one transaction. Calls, values, refs and members are plain tuples in the field
    order of their record types (:class:`CallRow`, :class:`ValueRecord`, :class:`RefRecord`, :class:`MemberRecord`):
    see :class:`CallRow` for why; read them back by name with the type's ``_make``."""

    values: list[tuple] = field(default_factory=list)
    refs: list[tuple] = field(default_factory=list)
    calls: list[tuple] = field(default_factory=list)
    ops: list[OpRecord] = field(default_factory=list)
    members: list[tuple] = field(default_factory=list)
    deletions: int | None = None
    """The store's deletion count that the recording process's memory of the store was valid for: a batch written
    after a later deletion is checked for values deleted meanwhile (None: not checked)."""

    def __len__(self) -> int:
        return len(self.calls) + len(self.refs) + len(self.values) + len(self.ops) + len(self.members)


@dataclass(frozen=True)
class ComponentCommit:
    """One content of a code component (a function's source, a global's value) and its semantic hash."""

    key: str
    content_hash: str
    kind: str
    semantic_hash: str
    parent_hash: str | None
    source: str | None
    created_at: float = 0.0


@dataclass(frozen=True)
class VersionRecord:
    """One version of an op: the components a call touched, with their content hashes."""

    version_id: str
    op_name: str
    op_version: int
    semantic_version: str
    deps: tuple[tuple[str, str, str], ...]  # (kind, key, content hash)
    created_at: float = 0.0


class HandoverSkipped(Exception):
    """(Internal) A batch handed over was not written because an earlier one failed: it must be sent again."""


class HandoverLost(Exception):
    """(Internal) The batches handed over may or may not be written (whoever took them is gone): write them again."""


class Backend(ABC):
    """Persistent storage of the property graph of calls and refs, and of the code versions of ops.

    Members without ``@abstractmethod`` are optional capabilities with a documented default (a store without a
    helper process, without read-ahead, running statements one after the other).
    """

    location: str
    """Where the store is (a file path, ``":memory:"``, a URL), as given; error messages name it."""
    read_only: bool = False
    """Whether the store was opened for queries only (every write is refused)."""
    tracer: Tracer | None = None
    """Called with every statement the store runs (for tests and debugging)."""

    sql_dialect: str = "sqlite"
    """The SQL dialect of the store's engine, by name ("sqlite", "postgres"): the query layer builds its statements
    for it (``execute`` runs them)."""
    batch_calls: int = 4_000
    """Written by the recording process itself, batches are written from this many waiting calls on: few enough that
    one is written well within the durability bound (0.5 s) on this engine."""
    max_batch_calls: int | None = None
    """At most this many calls are written in one transaction (None: any number): a backlog larger than that is
    written in parts, oldest first, each committed before the next, so that its oldest calls are stored soon and
    other writers wait on its rows for a short time only."""

    @property
    def store_id(self) -> str | None:
        """The store's own identity (a copy has another), or None when it has none (the default)."""
        return None

    @property
    def deletions_seen(self) -> int | None:
        """The store's deletion count that the last batch written was checked against (None, the default: none
        was checked)."""
        return None

    # --- lookups --------------------------------------------------------------------------------------------------

    @abstractmethod
    def lookup_call_or_content(self, hid: str, cid: str, op_key: tuple[str, int] | None = None) -> CallRecord | None:
        """The call with history id ``hid``, else some call with content id ``cid`` (with its outputs), else None;
        ``op_key`` (the op's name and version) lets the store answer from what it keeps in memory."""

    @abstractmethod
    def lookup_any_call(self, ids: list[str], by: str = "hid") -> CallRecord | None:
        """The first stored call whose history id (content id, with ``by="cid"``) is among ``ids``, or None."""

    def forget_cached_calls(self) -> None:  # noqa: B027 (a hook: backends without a cache need not define it)
        """Drop whatever stored calls the backend keeps in memory to speed up lookups (none by default)."""

    @abstractmethod
    def get_calls(self, hids: Iterable[str]) -> dict[str, CallRecord]:
        """Full records (inputs and outputs) of the calls with these history ids."""

    @abstractmethod
    def load_values(self, cids: Iterable[str]) -> dict[str, ValueRecord]:
        """Stored values by content id (missing ids are absent from the result)."""

    def value_sizes(self, cids: Iterable[str]) -> dict[str, int]:
        """*Optional.* The size in bytes of stored values by content id, their data left unread (missing ids are
        absent). The default reads the values."""
        return {cid: value.size for cid, value in self.load_values(cids).items()}

    @abstractmethod
    def get_refs(self, hids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """``hid -> (cid, kind)`` of the refs with these history ids."""

    @abstractmethod
    def load_members(self, coll_hids: Iterable[str]) -> dict[str, list[tuple[int, str | None, str, str, str]]]:
        """Elements of collections: ``coll_hid -> [(pos, key, elt_hid, elt_cid, elt_kind)]`` in position order."""

    @abstractmethod
    def op_source_hashes(self) -> dict[tuple[str, int], tuple[str, str]]:
        """``(name, version) -> (source hash, signature)`` of every op the store knows."""

    @abstractmethod
    def op_summary(self) -> list[tuple[str, int, int, float | None, float | None]]:
        """``(name, version, calls, first, last)`` of every op the store knows (structural ops aside), by name and
        version: how many calls it holds and when the first and the last were made (None without calls)."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Row counts per kind of record: ops, values, refs, calls, edges, members."""

    @abstractmethod
    def has_calls(self) -> bool:
        """Whether the store holds any call."""

    def disk_bytes(self) -> int | None:
        """*Optional.* The space the store takes on disk, in bytes (a SQLite file with its write-ahead log; a
        PostgreSQL database), overflow files aside; None when the store cannot tell."""
        return None

    # --- queries of the query layer -------------------------------------------------------------------------------

    @abstractmethod
    def execute(self, sql: str, params: Any = ()) -> list[tuple]:
        """The rows of one read-only statement of the query layer (the tracer sees it)."""

    def execute_many(self, statements: list[tuple[str, Any]]) -> list[list[tuple]]:
        """The rows of each independent read-only statement ``(sql, params)``, in order (by default one after the
        other; a store may run them side by side)."""
        return [self.execute(sql, params) for sql, params in statements]

    def execute_stream(
        self, sql: str, param_sets: list, side: bool = True, ahead: int = 2, idle: Callable[[], bool] | None = None
    ) -> Iterator[list[tuple]]:
        """The rows of one read-only statement for each parameter set, in order (by default read one set at a time
        as the caller asks; a store may read ``ahead`` sets in a worker when ``side``, the statement touching no
        temporary table, and the caller then runs ``idle`` while it waits, until that returns False)."""
        return (self.execute(sql, params) for params in param_sets)

    # --- writes ---------------------------------------------------------------------------------------------------

    @abstractmethod
    def save_batch(self, batch: Batch) -> None:
        """Write a batch atomically; records already present are left as they are."""

    def hand_over(self, batch: Batch) -> object | None:
        """Start writing a batch elsewhere (another process) and return at once with a ticket for
        :meth:`handed_over_result`, once the batch is safe from a crash of this process; or None if the backend
        cannot (then write it with :meth:`save_batch`). Batches are written in the order handed over. By default a
        backend cannot."""
        return None

    def can_hand_over(self) -> bool:
        """Whether :meth:`hand_over` would take a batch just now (False by default)."""
        return False

    def handed_over_result(self, ticket: object) -> None:
        """Wait until the batch with this ticket is written. Its failure raises as :meth:`save_batch` would, after
        which the batches handed over after it fail with :class:`HandoverSkipped` until :meth:`resume_hand_over`;
        :class:`HandoverLost` if they may not have been written."""
        raise HandoverLost("nothing was handed over")

    def resume_hand_over(self) -> None:  # noqa: B027 (a hook, for backends that hand batches over)
        """After a failure (and the results of every batch handed over after it): write handed-over batches again."""

    def start_helper(self) -> None:  # noqa: B027 (a hook, for backends with a helper process)
        """Start a helper process to write batches, if the store can have one (by default it cannot)."""

    def helper_starting(self) -> bool:
        """Whether a helper process was started and is not up yet, nor gone (False by default)."""
        return False

    def helper_ready(self) -> bool:
        """Whether batches are written by a helper process that is up (False by default)."""
        return False

    def batch_handed_over(self) -> bool:
        """Whether the batch being written has reached a helper process in full, so it is as safe from a crash of
        this process as a committed one (False by default)."""
        return False

    def fork_locks(self) -> list[Any]:
        """The locks a fork of this process takes first, so that no write is half done in the child's copy."""
        return []

    @abstractmethod
    def start_afresh_after_fork(self) -> None:
        """(In a forked child) Leave the parent's connections and helpers alone and open the child's own."""

    # --- history and deletions ------------------------------------------------------------------------------------

    @abstractmethod
    def creator_calls(self, ref_hids: Iterable[str]) -> dict[str, str]:
        """``ref hid -> hid of the call that output it``, for the refs that have one."""

    @abstractmethod
    def consumer_calls(self, ref_hids: Iterable[str]) -> list[str]:
        """Hids of the calls that take any of these refs as input."""

    @abstractmethod
    def output_consumers(self, call_hids: Iterable[str]) -> list[tuple[str, str]]:
        """``(call hid, consumer hid)`` for every call taking an output of one of these calls as input."""

    @abstractmethod
    def ref_hids_among(self, hids: Iterable[str]) -> list[str]:
        """The given ids that name refs rather than calls."""

    @abstractmethod
    def delete_calls(self, hids: Iterable[str], with_dependents: bool, dry_run: bool = False) -> list[tuple[str, str]]:
        """Delete calls (with every call downstream of their outputs, if asked) atomically; returns ``(hid, op
        name)`` of each deleted call. With ``dry_run``, deletes nothing and returns what would be deleted."""

    @abstractmethod
    def cleanup_refs(self, dry_run: bool = False) -> tuple[int, int, list[str]]:
        """Delete unreferenced refs and values atomically: ``(refs, values, overflow file names to remove)``. With
        ``dry_run``, deletes nothing and returns what would be deleted."""

    @abstractmethod
    def deletion_count(self) -> int:
        """How many deletions the store has seen (a count that only grows, shared by every process)."""

    # --- upkeep ---------------------------------------------------------------------------------------------------

    @abstractmethod
    def integrity_problems(self, overflow_dir: str | None, full: bool = True) -> list[str]:
        """Everything found wrong with the store (its files, dangling references, overflow files, checksums with
        ``full``), one line each; empty when it is sound."""

    @abstractmethod
    def backup_to(self, path: str) -> tuple[str, list[str]]:
        """Copy the store, as of one instant, to a new file at ``path``; returns the copy's store id and the
        overflow file names its values use (the caller copies those files)."""

    @abstractmethod
    def export_batches(self, batch_size: int, value_bytes: int) -> Iterator[Batch]:
        """Every record of the store, read in one snapshot, as batches that ``save_batch`` of another store takes
        in the order given: ops, values (at most about ``value_bytes`` of inline data a batch), refs, calls,
        collection members; at most ``batch_size`` records a batch, one kind each."""

    @abstractmethod
    def vacuum(self) -> None:
        """Reclaim the space of deleted records."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; further use is an error."""

    # --- code versioning ------------------------------------------------------------------------------------------

    @abstractmethod
    def get_meta(self, key: str) -> str | None:
        """The store setting ``key``, or None."""

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None:
        """Set the store setting ``key``."""

    @abstractmethod
    def component_heads(self) -> dict[str, str]:
        """``component key -> content hash`` of the components whose head is not their latest commit."""

    @abstractmethod
    def set_component_head(self, key: str, content_hash: str) -> None:
        """Make the commit with ``content_hash`` the head of component ``key``."""

    @abstractmethod
    def component_keys(self) -> list[tuple[str, str]]:
        """``(kind, key)`` of every component, in the order of their first commits."""

    @abstractmethod
    def load_commits(self, key: str) -> list[ComponentCommit]:
        """Every recorded content of component ``key``, oldest first."""

    @abstractmethod
    def save_commit(self, commit: ComponentCommit) -> None:
        """Record a content of a component (kept as it was if recorded before)."""

    @abstractmethod
    def versions_using(self, key: str) -> list[tuple[str, int, str]]:
        """``(op name, op version, version id)`` of the versions that depend on component ``key``."""

    @abstractmethod
    def load_versions(self, op_name: str, op_version: int) -> list[VersionRecord]:
        """The recorded versions of an op, oldest first."""

    @abstractmethod
    def version_op(self, version_id: str) -> tuple[str, int] | None:
        """``(op name, op version)`` of the version with this id, or None."""

    @abstractmethod
    def save_version(self, version: VersionRecord) -> None:
        """Record a version of an op (kept as it was if recorded before)."""

    @abstractmethod
    def version_call_counts(self, op_name: str, op_version: int) -> dict[str, int]:
        """``version id -> number of stored calls`` of an op's versions."""

    @abstractmethod
    def delete_version(self, version_id: str, with_dependents: bool = True) -> int:
        """Delete a version, its calls and (if asked) every call downstream of them, atomically; returns the number
        of calls deleted."""


def commit_row(c: ComponentCommit) -> tuple:
    """The ``components`` row of a commit, in column order (a commit made now when it carries no time)."""
    return (c.key, c.content_hash, c.kind, c.semantic_hash, c.parent_hash, c.source, c.created_at or time.time())


def version_row(v: VersionRecord) -> tuple:
    """The ``versions`` row of a version record, in column order (its dependencies as JSON)."""
    deps = json.dumps([list(d) for d in v.deps])
    return (v.version_id, v.op_name, v.op_version, v.semantic_version, deps, v.created_at or time.time())


def version_from_row(row: tuple) -> VersionRecord:
    """A version record from its ``versions`` row (as :func:`version_row` makes it)."""
    version_id, op_name, op_version, semantic, deps, created = row
    return VersionRecord(version_id, op_name, op_version, semantic, tuple(tuple(d) for d in json.loads(deps)), created)
