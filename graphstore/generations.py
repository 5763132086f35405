"""Batches of recorded calls waiting to be written, with the indexes that let lookups find them meanwhile."""

from __future__ import annotations

from collections.abc import Sequence

from .backends import Batch, CallRecord, MemberRecord, RefRecord, ValueRecord
from .backends.base import call_row


class Generation:
    """One batch of records and the indexes that let lookups find them before they are written.

    Records are kept as plain tuples (in their record type's field order): a plain tuple of strings and numbers is
    left alone by Python's cyclic garbage collector, where tens of thousands of waiting named tuples would be
    traversed by every full collection.
    """

    def __init__(self) -> None:
        self.batch = Batch()
        self.calls: dict[str, tuple] = {}
        self.calls_by_cid: dict[str, tuple] = {}
        self.values: dict[str, tuple] = {}
        self.refs: dict[str, tuple[str, str]] = {}
        self.members: dict[str, list[tuple]] = {}
        self.groups: list[tuple[int, int, int, int]] = []
        """Where each added group (one op call with its structural calls) starts: (values, refs, calls, members)."""
        self.held: dict[str, object] = {}
        """Objects of values the batch uses but does not carry (thought stored): supplied if they were deleted."""

    def _mark(self) -> None:
        b = self.batch
        self.groups.append((len(b.values), len(b.refs), len(b.calls), len(b.members)))

    def stamp(self, deletions: int | None, held: dict | None) -> None:
        """Note the deletion count the records being added were made under (the batch keeps the oldest)."""
        b = self.batch
        if deletions is not None and (b.deletions is None or deletions < b.deletions):
            b.deletions = deletions
        if held:
            self.held.update(held)

    def add(
        self,
        calls: Sequence[CallRecord | tuple],
        refs: Sequence[RefRecord | tuple],
        values: Sequence[ValueRecord | tuple],
        members: Sequence[MemberRecord | tuple],
    ) -> None:
        """Add one group: calls as :class:`CallRecord` or rows made by ``call_row``, the other records as their named
        tuples or plain tuples in the same field order."""
        self._mark()
        b = self.batch
        for value in values:
            v = tuple(value)
            b.values.append(v)
            self.values[v[0]] = v
        for r in refs:
            b.refs.append(tuple(r))
            self.refs[r[0]] = (r[1], r[2])
        for member in members:
            m = tuple(member)
            b.members.append(m)
            self.members.setdefault(m[0], []).append(m)
        for call in calls:
            row = call if type(call) is tuple else call_row(call)  # type: ignore[arg-type]
            b.calls.append(row)
            self.calls[row[0]] = row
            self.calls_by_cid.setdefault(row[1], row)

    def add_row(self, row: tuple, refs: list[tuple], values: list[tuple]) -> None:
        """One call already in row form (see ``call_row``), with its refs and values as plain tuples."""
        b = self.batch
        self.groups.append((len(b.values), len(b.refs), len(b.calls), len(b.members)))
        for v in values:
            b.values.append(v)
            self.values[v[0]] = v
        for r in refs:
            b.refs.append(r)
            self.refs[r[0]] = (r[1], r[2])
        b.calls.append(row)
        self.calls[row[0]] = row
        self.calls_by_cid.setdefault(row[1], row)

    def group_batches(self) -> list[Batch]:
        """The generation cut into its groups, each a batch of its own (every batch carries all the ops)."""
        b = self.batch
        ends = self.groups[1:] + [(len(b.values), len(b.refs), len(b.calls), len(b.members))]
        return [
            Batch(
                values=b.values[v0:v1],
                refs=b.refs[r0:r1],
                calls=b.calls[c0:c1],
                ops=list(b.ops),
                members=b.members[m0:m1],
                deletions=b.deletions,
            )
            for (v0, r0, c0, m0), (v1, r1, c1, m1) in zip(self.groups, ends)
        ]

    def absorb(self, later: Generation) -> Generation:
        """This generation followed by a later one (to put a failed write back in front of newer records)."""
        merged = Generation()
        for gen in (self, later):
            for group in gen.group_batches():
                merged.add(group.calls, group.refs, group.values, group.members)
            merged.batch.ops.extend(gen.batch.ops)
            merged.stamp(gen.batch.deletions, gen.held)
        return merged
