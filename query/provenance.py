"""The full upstream history of one value: ``storage.provenance(ref)``.

>>> from graphstore import Storage, op
>>> @op
... def inc(x):
...     return x + 1
>>> storage = Storage()
>>> with storage:
...     y = inc(inc(1))
>>> lineage = storage.provenance(y)
>>> lineage.df.shape  # one history: inc(inc(.)) is a loop, so its cells hold both calls and all three values
(1, 2)
>>> sorted(lineage.to_networkx().nodes)
['inc', 'v']
>>> lineage.df["v"][0]
ValueCollection([1, 2, 3])
"""

from __future__ import annotations

from typing import Any

from .frame import ComputationFrame
from .shape import from_source
from .store import Reader


def provenance_frame(storage: Any, ref: Any) -> ComputationFrame:
    """The frame of ``ref`` expanded back to its sources (loops become cycles; variables sharing a ref merge)."""
    reader = Reader(storage)
    return ComputationFrame(storage, from_source(reader, ref)).expand_back(recursive=True).merge_vars()


class Provenance:
    """Lineage of one value: ``df`` (every upstream call and value, one row) and ``to_networkx()``."""

    def __init__(self, storage: Any, ref: Any, values: str = "objs") -> None:
        self.frame = provenance_frame(storage, ref)
        self.df = self.frame.df(values=values)

    def to_networkx(self) -> Any:
        return self.frame.to_networkx()

    def __repr__(self) -> str:
        return f"Provenance(\n{self.df!r}\n)"
