"""The calls a :class:`~graphstore.cluster.ClusterExecutor` has queued: pending Refs, the entry of each call and the
task it runs in, and how they are described in messages.

>>> output_names(Op(lambda x: (x, x), output_names=["a", "b"]))
(['a', 'b'], True)
>>> ref = PendingRef("", "f" * 32)
>>> ref, ref.in_memory
(PendingRef(hid=fff..., pending), False)
"""

from __future__ import annotations

from typing import Any

from .call_records import PendingCall
from .components import resolve_function, resolve_global
from .ops import Op
from .refs import _NOT_LOADED, AtomRef, Ref
from .tracking import DepCollector
from .versioning import Versioner


class PendingRef(AtomRef):
    """An output of a call not computed yet: its history id is known, its content id and value are not. Once the
    call is recorded it becomes a lazy :class:`~graphstore.AtomRef` (its class changes in place)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"PendingRef(hid={self.hid[:3]}..., pending)"


class Entry:
    """One queued call: its op, input Refs, history id (content id when every input's is known), output Refs."""

    __slots__ = (
        "op",
        "in_refs",
        "todo",
        "hid",
        "outs",
        "keys",
        "returns_tuple",
        "versioned",
        "task",
        "position",
        "state",
        "error",
    )

    def __init__(self, op: Op, in_refs: list[tuple[str, Ref]], todo: PendingCall, hid: str, outs: list) -> None:
        self.op = op
        self.in_refs = in_refs
        self.todo = todo
        self.hid = hid
        self.outs: list[tuple[str, PendingRef]] = outs
        self.keys = [ref.hid for _, ref in outs]
        """The history ids the outputs were given when the call was made (placeholders for a versioned call)."""
        self.returns_tuple = False
        self.versioned = False
        """Whether the storage tracks code versions: the call's ids are known once it has run."""
        self.task: Task | None = None
        self.position = 0
        self.state = "queued"  # queued -> submitted -> done | failed
        self.error: str | None = None

    def describe(self) -> str:
        args = ", ".join(f"{n}={_brief(r)}" for n, r in self.in_refs)
        return f"op {self.op.name}({args}) (call {self.hid})"


class Task:
    __slots__ = ("entries", "future", "key", "tries")

    def __init__(self, entries: list[Entry], key: str) -> None:
        self.entries = entries
        self.key = key
        self.future: Any = None
        self.tries = 0


def output_names(op: Op) -> tuple[list[str], bool] | None:
    """The output names of an op's calls and whether it returns a tuple, known before a call runs; None when they
    depend on the result (``nout="var"``, collection types)."""
    if op._output_struct is not None or op._output_structs is not None or op.nout == "var":
        return None
    names = op.output_names
    if op.nout == "auto":
        if names is None:
            return ["output_0"], False
        return list(names), len(names) != 1
    if op.nout == 1:
        return [(names or ("output_0",))[0]], False
    if op.nout == 0:
        return [], False
    return list(names) if names is not None else [f"output_{i}" for i in range(int(op.nout))], True


def collector_of(versioner: Versioner, op: Op, order: list[tuple[str, str]]) -> DepCollector:
    """What a call met while it ran on a worker (``order``: ``(kind, key)`` of its functions and globals), as this
    process's code and globals: what the call's version is made of, as in a serial run."""
    collector = versioner.collector(op)
    for kind, key in order:
        if kind == "function":
            func = resolve_function(key)
            if func is not None:
                collector.add_function(func)
            continue
        exists, value = resolve_global(key)
        if exists:
            module, _, name = key.rpartition(".")
            collector.add_global_value(module, name, value)
    return collector


def settled(ref: Ref, cid: str) -> None:
    """A pending Ref whose call is stored: a lazy AtomRef of the stored value from now on."""
    ref.cid = cid
    ref.__class__ = AtomRef


def pending_in(x: Any, out: list[PendingRef], depth: int) -> None:
    if type(x) is PendingRef:
        out.append(x)
    elif isinstance(x, (list, tuple, set, frozenset)) and depth < 50:
        for item in x:
            pending_in(item, out, depth + 1)
    elif isinstance(x, dict) and depth < 50:
        for item in x.values():
            pending_in(item, out, depth + 1)


def _brief(ref: Ref) -> str:
    if type(ref) is PendingRef or ref._obj is _NOT_LOADED:
        return f"<ref {ref.hid[:8]}>"
    text = repr(ref._obj)
    return text if len(text) <= 40 else text[:37] + "..."


def failure_message(failed: list[Entry]) -> str:
    head = f"{len(failed)} call(s) failed on the cluster (not recorded; they run again next time):"
    shown = "\n".join(f"- {(e.error or '').strip().splitlines()[0]}" for e in failed[:20])
    more = f"\n(and {len(failed) - 20} more)" if len(failed) > 20 else ""
    last = (failed[0].error or "").strip()
    return f"{head}\n{shown}{more}\n\nThe first in full:\n{last}"
