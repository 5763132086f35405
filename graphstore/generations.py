"""Batches of recorded calls waiting to be written, with the indexes that let lookups find them meanwhile."""

from __future__ import annotations

from collections.abc import Sequence

from .backends import Batch, CallRow, MemberRecord, RefRecord, ValueRecord


class Generation:
    """One batch of records and the indexes that let lookups find them before they are written.

    Records come in as their named types and are kept as plain tuples in the same field order (see
    :class:`~graphstore.backends.base.CallRow` for why).
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

    def stamp(self, deletions: int | None, held: dict | None) -> None:
        """Note the deletion count the records being added were made under (the batch keeps the oldest)."""
        b = self.batch
        if deletions is not None and (b.deletions is None or deletions < b.deletions):
            b.deletions = deletions
        if held:
            self.held.update(held)

    def add(
        self,
        calls: Sequence[CallRow],
        refs: Sequence[RefRecord],
        values: Sequence[ValueRecord],
        members: Sequence[MemberRecord] = (),
    ) -> None:
        """Add one group (one op call with its structural calls), given as records of their named types; they are
        kept as plain tuples in the same field order."""
        b = self.batch
        self.groups.append((len(b.values), len(b.refs), len(b.calls), len(b.members)))
        for v in values:
            value: tuple = tuple(v)
            b.values.append(value)
            self.values[v.cid] = value
        for r in refs:
            b.refs.append(tuple(r))
            self.refs[r.hid] = (r.cid, r.kind)
        if members:
            for m in members:
                member: tuple = tuple(m)
                b.members.append(member)
                self.members.setdefault(m.coll_hid, []).append(member)
        for c in calls:
            row: tuple = tuple(c)
            b.calls.append(row)
            self.calls[c.hid] = row
            self.calls_by_cid.setdefault(c.cid, row)

    def add_batch(self, batch: Batch) -> None:
        """Add the records of a batch (plain tuples) as one group (not its ops)."""
        self.add(
            [CallRow._make(c) for c in batch.calls],
            [RefRecord._make(r) for r in batch.refs],
            [ValueRecord._make(v) for v in batch.values],
            [MemberRecord._make(m) for m in batch.members],
        )

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

    def parts(self, max_calls: int | None) -> list[Batch]:
        """The generation's batch, or (past ``max_calls`` calls) its groups gathered in order into batches of at most
        ``max_calls`` calls each (a group larger than that alone); every batch carries all the ops."""
        b = self.batch
        if max_calls is None or len(b.calls) <= max_calls:
            return [b]
        parts: list[Batch] = []
        for group in self.group_batches():
            last = parts[-1] if parts else None
            if last is not None and len(last.calls) + len(group.calls) <= max_calls:
                last.values += group.values
                last.refs += group.refs
                last.calls += group.calls
                last.members += group.members
            else:
                parts.append(group)
        return parts

    def absorb(self, later: Generation) -> Generation:
        """This generation followed by a later one (to put a failed write back in front of newer records)."""
        merged = Generation()
        for gen in (self, later):
            for group in gen.group_batches():
                merged.add_batch(group)
            merged.batch.ops.extend(gen.batch.ops)
            merged.stamp(gen.batch.deletions, gen.held)
        return merged
