"""The query layer's window on a Storage: statements through ``backend.execute`` (so the tracer sees them) and
batched loading of refs, values and calls (one statement per batch, whatever its size).

>>> from graphstore import Storage, op
>>> s = Storage()
>>> @op
... def inc(x):
...     return x + 1
>>> with s:
...     _ = inc(1)
>>> Reader(s).op_labels("inc")
[(0, 'x'), (1, 'output_0')]
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from graphstore.refs import AtomRef, Call, ValuePointer
from graphstore.values import POINTER_CODEC, decode_values

from .sql import load as emit_load
from .sql import members
from .sql.build import Params, render
from .sql.dialect import Dialect, dialect_for

LABEL_SAMPLE = 64
SCAN_SHARE = 0.25
"""``values_of`` reads every small value when its cells number this share of the store's values, or more."""
SCAN_MIN = 10_000
SCAN_BYTES = 4096


class Reader:
    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.dialect: Dialect = dialect_for(storage.backend.sql_dialect)
        self._labels: dict = {}
        self._groups: dict = {}
        self._loops: dict = {}
        self._names: dict = {}

    def run(self, sql: str, params: Any = ()) -> list:
        return self.storage.backend.execute(sql, params)

    def params(self) -> Params:
        """Parameters for a new statement in the store's dialect."""
        return self.dialect.params()

    def query(self, tree: Any, p: Params) -> list:
        sql, params = render(tree, p)
        return self.run(sql, params)

    def run_many(self, statements: list) -> list:
        """The rows of several independent statements ``(sql, params)`` that touch no temporary table; the backend
        may run them side by side."""
        return self.storage.backend.execute_many(statements)

    def run_stream(
        self, sql: str, param_sets: list, side: bool = True, idle: Callable[[], bool] | None = None
    ) -> Iterator[list]:
        """The rows of one statement for each parameter set, in order and in one snapshot; with ``side`` (the
        statement touches no temporary table) the store may read them in a worker thread, ahead of the caller, who
        then calls ``idle`` (until it returns False) whenever the next set is not read yet."""
        return self.storage.backend.execute_stream(sql, param_sets, side, idle=idle)

    def query_many(self, trees: list) -> list:
        """As :meth:`run_many`, for statements given as ``(tree, params)``."""
        return self.run_many([render(tree, p) for tree, p in trees])

    def sync(self) -> None:
        """Write the storage's pending calls so that the queries see them."""
        self.storage.commit()

    # --- ops ----------------------------------------------------------------------------------------------------------

    def op_labels(self, op: str) -> list:
        """``(direction, label)`` of the edges of ``op``'s calls, inputs first, in argument order.

        Ops whose signature has ``*args`` or ``**kwargs``, and structural ops (``__make_list__``, ...), whose labels
        vary from call to call, are read over all their calls; others over their first ``LABEL_SAMPLE`` calls
        (their labels are fixed by the signature; only ``nout="var"`` outputs could differ).
        """
        if op not in self._labels:
            p = self.params()
            rows = self._signatures(op)
            varying = not rows or any("*" in sig or sig == "(structural)" for (sig,) in rows)
            rows = self.query(members.emit_op_labels(op, p, None if varying else LABEL_SAMPLE), p)
            ordered = sorted(rows, key=lambda t: (t[0], t[2], _label_key(t[1])))
            labels = [(d, self.group_label(op, lab) if d == 0 else lab) for d, lab, _ in ordered]
            self._labels[op] = list(dict.fromkeys(labels))
        return self._labels[op]

    def group_label(self, op: str, label: str) -> str:
        """The frame label of a stored input label: ``*elts`` for the elements a structural op collects
        (``elts_0``, ``elts_1``, ...), ``*args`` for an op's ``*args``; else the label itself."""
        if op not in self._groups:
            rows = self._signatures(op)
            groups = set()
            for (sig,) in rows:
                if sig == "(structural)":
                    groups.add("elts")
                groups.update(re.findall(r"(?<![*\w])\*(\w+)", sig))
            self._groups[op] = sorted(groups)
        for g in self._groups[op]:
            if label.startswith(g + "_"):
                return "*" + g
        return label

    def op_names(self) -> list:
        """The names of the ops the store holds (structural ops aside), sorted."""
        return sorted({name for name, _ in self.storage.backend.op_source_hashes() if not name.startswith("__")})

    def op_counts(self, ops: Iterable[str]) -> dict:
        ops = sorted(set(ops))
        if not ops:
            return {}
        p = self.params()
        return dict(self.query(members.emit_op_counts(ops, p), p))

    def self_applied(self, op: str, out_label: str, in_label: str) -> bool:
        """Whether some call of ``op`` takes, at ``in_label``, a ref made at ``out_label`` by a call of ``op`` that
        took there a ref made the same way: the op applied to its own output twice in a row (a loop)."""
        key = (op, out_label, in_label)
        if key not in self._loops:
            p = self.params()
            self._loops[key] = bool(self.query(emit_load.emit_self_applied(op, out_label, in_label, p), p))
        return self._loops[key]

    def _signatures(self, op: str) -> list:
        p = self.params()
        return self.query(emit_load.emit_op_signatures(op, p), p)

    def output_names(self, op: str) -> tuple:
        if op not in self._names:
            p = self.params()
            rows = self.query(emit_load.emit_output_names(op, p), p)
            self._names[op] = tuple(json.loads(rows[0][0])) if rows else ()
        return self._names[op]

    def classify(self, hids: list) -> tuple[dict, set]:
        """Split ids into calls (hid -> op name) and refs."""
        p = self.params()
        calls, refs = {}, set()
        for kind, hid, op in self.query(emit_load.emit_lookup_hids(hids, p), p):
            if kind == "call":
                calls[hid] = op
            else:
                refs.add(hid)
        return calls, refs

    # --- loading ------------------------------------------------------------------------------------------------------

    def load_refs(self, hids: Iterable[str], with_values: bool) -> dict:
        """Refs by hid, in one statement; with ``with_values`` their values are read and decoded too."""
        hids = sorted(set(hids))
        if not hids:
            return {}
        p = self.params()
        out: dict = {}
        collections = []
        records: dict = {}
        atoms = []
        for row in self.query(emit_load.emit_load_refs(hids, with_values, p), p):
            hid, cid, kind = row[0], row[1], row[2]
            ref = self.storage.make_ref(kind, cid, hid)
            if with_values and kind != "atom":
                collections.append(ref)
            elif with_values and row[3] is not None:
                records[cid] = (cid, *row[3:])
                atoms.append(ref)
            out[hid] = ref
        if records:
            decoded = self._decode_rows(list(records.values()))
            for ref in atoms:
                ref._set_obj(decoded[ref.cid])
        if collections:  # assembled from their elements by the storage
            self.storage.attach(collections, inplace=True)
        return out

    def load_values(self, cids: Iterable[str]) -> dict:
        """Decoded values by cid, read in one statement."""
        cids = cids if type(cids) is set else set(cids)
        if not cids:
            return {}
        p = self.params()
        return self._decode_rows(self.query(emit_load.emit_load_values(cids, p), p))  # (which sorts them)

    def values_of(self, columns: list, value_pass: ValuePass | None = None) -> dict:
        """Decoded values by cid for the cids in ``columns`` (sequences of cids, ``None`` for no value).

        When the columns name a large share of the store's values, one pass over its small plain values (see
        :class:`ValuePass`, maybe begun already) is cheaper than searching each id."""
        value_pass = value_pass or ValuePass(self)
        if value_pass.chosen or value_pass.worth(sum(map(len, columns))):
            return value_pass.finish(columns)
        return self.load_values(set().union(*columns) - {None})

    def _decode_rows(self, rows: list, failed: list | None = None) -> dict:
        """Values by cid of stored rows (in ``VALUE_COLUMNS`` order), through the storage's checksummed decoding; a
        value pointer (the object was never stored) decodes to the pointer, its id only."""
        pointers = {row[0]: row for row in rows if row[1] == POINTER_CODEC}
        if pointers:
            rows = [row for row in rows if row[0] not in pointers]
        out = decode_values(self.storage, rows, failed)
        for cid, row in pointers.items():
            out[cid] = ValuePointer((row[3] or b"").decode("utf-8"), None)
        return out

    def make_refs(self, info: dict, hids: Iterable[str], with_values: bool) -> dict:
        """Refs from ``(cid, kind)`` already known, with values read in one statement when asked."""
        make = self.storage.make_ref
        out = {h: make(info[h][1] or "atom", info[h][0], h) for h in hids}
        if with_values:
            atoms = [r for r in out.values() if type(r) is AtomRef]
            values = self.load_values(r.cid for r in atoms)
            for r in atoms:
                if r.cid in values:
                    r._set_obj(values[r.cid])
            others = [r for r in out.values() if type(r) is not AtomRef]
            if others:
                self.storage.attach(others, inplace=True)
        return out

    def creation_times(self, hids: Iterable[str]) -> dict:
        """hid -> created_at of a call, or of a ref's creator call (raw values are absent)."""
        hids = sorted(set(hids))
        if not hids:
            return {}
        p = self.params()
        return dict(self.query(emit_load.emit_creation_times(hids, p), p))

    def call_edges(self, hids: Iterable[str]) -> dict:
        """``call hid -> (input ref hids, output ref hids)``, each in position order, in one statement."""
        hids = sorted(set(hids))
        out: dict = {}
        if not hids:
            return out
        p = self.params()
        for call, direction, ref in self.query(emit_load.emit_call_edges(hids, p), p):
            ports = out.get(call)
            if ports is None:
                ports = out[call] = ([], [])
            ports[direction].append(ref)
        return out

    def load_calls(self, hids: Iterable[str]) -> dict:
        """``Call`` objects by hid (with lazy input and output Refs), in one statement."""
        hids = sorted(set(hids))
        if not hids:
            return {}
        p = self.params()
        ops = getattr(self.storage, "_ops_by_name", {})
        out: dict = {}
        make = self.storage.make_ref
        for hid, cid, op_name, version, direction, label, r_hid, r_cid, kind in self.query(
            emit_load.emit_load_calls(hids, p), p
        ):
            call = out.get(hid)
            if call is None:
                call = out[hid] = Call(ops.get((op_name, version), op_name), hid, cid, {}, {})
            if label is not None:
                (call.outputs if direction == 1 else call.inputs)[label] = make(kind or "atom", r_cid, r_hid)
        return out


def _label_key(label: str) -> tuple:
    head, _, tail = label.rpartition("_")
    return (head, int(tail)) if head and tail.isdigit() else (label, -1)


_INPUTS = Call.__dict__["inputs"]
_OUTPUTS = Call.__dict__["outputs"]


class CallBatch:
    """The calls of one table: their inputs and outputs are read together, in one statement, on first use.

    ``hids`` is filled by whoever makes the table's LazyCalls."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.hids: list = []
        self._full: Any = None

    def get(self, hid: str) -> Call:
        if self._full is None:
            self._full = self.reader.load_calls(self.hids)
        return self._full[hid]


class LazyCall(Call):
    """A ``Call`` whose ``inputs`` and ``outputs`` are read (for its whole table at once) when first used."""

    __slots__ = ("_batch",)

    def __init__(self, op: Any, hid: str, cid: str, batch: CallBatch) -> None:  # noqa: D107
        self.op, self.hid, self.cid, self._batch = op, hid, cid, batch

    def _load(self) -> None:
        full = self._batch.get(self.hid)
        _INPUTS.__set__(self, full.inputs)
        _OUTPUTS.__set__(self, full.outputs)

    @property
    def inputs(self) -> dict:  # type: ignore[override]
        try:
            return _INPUTS.__get__(self, Call)
        except AttributeError:
            self._load()
            return _INPUTS.__get__(self, Call)

    @property
    def outputs(self) -> dict:  # type: ignore[override]
        try:
            return _OUTPUTS.__get__(self, Call)
        except AttributeError:
            self._load()
            return _OUTPUTS.__get__(self, Call)


class ValuePass:
    """One pass over a store's small plain values (pickles of at most ``SCAN_BYTES`` kept in their row), read and
    decoded a piece of ``PIECE`` rows at a time, so that its pieces can fill time spent waiting for other reads.
    :meth:`finish` reads what is left, then by id the values the pass skips that the table names."""

    PIECE = 100_000

    def __init__(self, reader: Reader, value_columns: int = 1) -> None:
        self.reader = reader
        self.value_columns = value_columns  # how many value cells a history brings
        self.values: dict = {}
        self.chosen = False  # (by :meth:`worth`)
        self._next = 0
        self._top = 0
        self._undecoded: set = set()

    def worth(self, cells: int) -> bool:
        """Whether ``cells`` values (counting repeats) are a large enough share of the store's to read them all."""
        if cells < SCAN_MIN:
            return False
        p = self.reader.params()
        self._top = self.reader.query(emit_load.emit_values_top(p), p)[0][0] or 0
        self.chosen = self._top > 0 and cells >= SCAN_SHARE * self._top
        return self.chosen

    def plan(self, histories: int) -> Callable[[], bool] | None:
        """:meth:`step` if ``histories`` make the pass worth it (else None)."""
        return self.step if self.value_columns and self.worth(histories * self.value_columns) else None

    def step(self) -> bool:
        """Read and decode one piece; False once the pass is done."""
        if self._next > self._top:
            return False
        p = self.reader.params()
        rows = self.reader.query(emit_load.emit_values_piece(self._next, self._next + self.PIECE - 1, SCAN_BYTES, p), p)
        self._next += self.PIECE
        failed: list = []  # (the storage's decoding reports those by id, if the table names them)
        self.values.update(self.reader._decode_rows(rows, failed))
        self._undecoded.update(row[0] for row in failed)
        return self._next <= self._top

    def finish(self, columns: list) -> dict:
        while self.step():
            pass
        rest = self._undecoded  # and values too large, in files, cloudpickled, or stored since the pass began
        p = self.reader.params()
        rest.update(cid for (cid,) in self.reader.query(emit_load.emit_values_skipped(self._top, SCAN_BYTES, p), p))
        if rest:
            self.values.update(self.reader.load_values(set().union(*(rest.intersection(c) for c in columns))))
        return self.values
