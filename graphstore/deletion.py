"""What a deletion deleted (or, in a dry run, would delete): :class:`DeletionReport`.

>>> r = DeletionReport([("a1", "train"), ("b1", "score")], requested=["a1"])
>>> len(r), list(r), r.by_op
(2, ['a1', 'b1'], {'score': 1, 'train': 1})
>>> r.dependents
('b1',)
>>> print(r)
deleted 2 calls: score 1, train 1 (1 of them because they used outputs of deleted calls)
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger("graphstore")


class DeletionReport:
    """The calls a deletion removed, in recording order: a read-only sequence of their history ids.

    ``ops`` maps each id to its op's name and ``by_op`` counts them per op. ``dependents`` are the deleted calls
    that were not asked for but used (directly or not) an output of a deleted call: a call cannot stay without its
    inputs. ``kept`` are calls of the selected histories that were left because other histories use them (only
    for deletions from a frame). ``dry_run`` says that nothing was deleted: the report says what would be.

    For code written when ``drop_calls`` returned a count, a report compares equal to its number of calls.
    """

    __slots__ = ("ops", "_calls", "_requested", "kept", "dry_run")

    def __init__(
        self,
        deleted: Iterable[tuple[str, str]],
        requested: Iterable[str] | None = None,
        kept: Iterable[tuple[str, str]] = (),
        dry_run: bool = False,
    ) -> None:
        pairs = list(deleted)
        self._calls = tuple(h for h, _ in pairs)
        self.ops = {h: name for h, name in pairs}
        self._requested = None if requested is None else frozenset(requested)
        self.kept = {h: name for h, name in kept}
        self.dry_run = dry_run

    @property
    def calls(self) -> tuple:
        """History ids of the deleted calls, in recording order."""
        return self._calls

    @property
    def by_op(self) -> dict:
        """Op name -> number of deleted calls, sorted by name."""
        return dict(sorted(Counter(self.ops.values()).items()))

    @property
    def dependents(self) -> tuple:
        """The deleted calls that were not asked for: they depended on deleted calls."""
        if self._requested is None:
            return ()
        return tuple(h for h in self._calls if h not in self._requested)

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[str]:
        return iter(self._calls)

    def __getitem__(self, i: Any) -> Any:
        return self._calls[i]

    def __contains__(self, hid: object) -> bool:
        return getattr(hid, "hid", hid) in self.ops

    def __bool__(self) -> bool:
        return bool(self._calls)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DeletionReport):
            return self._calls == other._calls
        if isinstance(other, int) and not isinstance(other, bool):
            return len(self._calls) == other
        if isinstance(other, (list, tuple)):
            return list(self._calls) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        text = f"{verb} {_counted(len(self), self.by_op)}"
        if self.dependents:
            text += f" ({len(self.dependents)} of them because they used outputs of deleted calls)"
        if self.kept:
            kept = dict(sorted(Counter(self.kept.values()).items()))
            noun = "call" if len(self.kept) == 1 else "calls"
            text += f"; kept {len(self.kept)} {noun} that other histories use: " + _listed(kept)
        return text

    def __repr__(self) -> str:
        return f"DeletionReport({str(self)!r})"


def _counted(n: int, by_op: dict) -> str:
    noun = "call" if n == 1 else "calls"
    if not n:
        return f"0 {noun}"
    return f"{n} {noun}: " + _listed(by_op)


def _listed(by_op: dict) -> str:
    return ", ".join(f"{name} {k}" for name, k in by_op.items())


def log_deletion(report: DeletionReport) -> None:
    if not report.dry_run:
        log.info("Dropped %d calls (%s)", len(report), ", ".join(f"{k}: {v}" for k, v in report.by_op.items()))


__all__ = ["DeletionReport", "log_deletion"]
