"""The interface between the memoization engine and a store, in domain verbs.

The engine never sees SQL or table names: it asks a :class:`Backend` to look calls up, save batches of calls, refs
and values, and load values. A backend is picked from the path or URL by :func:`graphstore.backends.open_backend`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

Tracer = Callable[[str, tuple], None]
"""Called with every SQL statement a backend runs and its parameters (for tests and debugging)."""


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


class HandoverSkipped(Exception):
    """(Internal) A batch handed over was not written because an earlier one failed: it must be sent again."""


class HandoverLost(Exception):
    """(Internal) The batches handed over may or may not be written (whoever took them is gone): write them again."""


class Backend(ABC):
    """Persistent storage of the property graph of calls and refs."""

    location: str

    @abstractmethod
    def lookup_call(self, hid: str) -> CallRecord | None:
        """The call with this history id, with its outputs (inputs left empty), or None."""

    @abstractmethod
    def lookup_call_by_cid(self, cid: str) -> CallRecord | None:
        """Some call with this content id, with its outputs, or None."""

    def forget_cached_calls(self) -> None:  # noqa: B027 (a hook: backends without a cache need not define it)
        """Drop whatever stored calls the backend keeps in memory to speed up lookups (none by default)."""

    @abstractmethod
    def get_calls(self, hids: Iterable[str]) -> dict[str, CallRecord]:
        """Full records (inputs and outputs) of the calls with these history ids."""

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

    @abstractmethod
    def load_values(self, cids: Iterable[str]) -> dict[str, ValueRecord]:
        """Stored values by content id (missing ids are absent from the result)."""

    @abstractmethod
    def get_refs(self, hids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """``hid -> (cid, kind)`` of the refs with these history ids."""

    @abstractmethod
    def load_members(self, coll_hids: Iterable[str]) -> dict[str, list[tuple[int, str | None, str, str, str]]]:
        """Elements of collections: ``coll_hid -> [(pos, key, elt_hid, elt_cid, elt_kind)]`` in position order."""

    @abstractmethod
    def get_op(self, name: str, version: int) -> OpRecord | None:
        """The stored description of an op, or None."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Row counts per kind of record: ops, values, refs, calls, edges."""

    @abstractmethod
    def creator_calls(self, ref_hids: Iterable[str]) -> dict[str, str]:
        """``ref hid -> hid of the call that output it``, for the refs that have one."""

    @abstractmethod
    def consumer_calls(self, ref_hids: Iterable[str]) -> list[str]:
        """Hids of the calls that take any of these refs as input."""

    @abstractmethod
    def delete_calls(self, hids: Iterable[str], with_dependents: bool, dry_run: bool = False) -> list[tuple[str, str]]:
        """Delete calls (with every call downstream of their outputs, if asked) atomically; returns ``(hid, op
        name)`` of each deleted call. With ``dry_run``, deletes nothing and returns what would be deleted."""

    @abstractmethod
    def output_consumers(self, call_hids: Iterable[str]) -> list[tuple[str, str]]:
        """``(call hid, consumer hid)`` for every call taking an output of one of these calls as input."""

    @abstractmethod
    def ref_hids_among(self, hids: Iterable[str]) -> list[str]:
        """The given ids that name refs rather than calls."""

    @abstractmethod
    def cleanup_refs(self) -> tuple[int, int, list[str]]:
        """Delete unreferenced refs and values atomically: ``(refs, values, overflow file names to remove)``."""

    @abstractmethod
    def vacuum(self) -> None:
        """Reclaim the space of deleted records."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; further use is an error."""
