"""The full upstream history of one value: ``storage.provenance(ref)``.

>>> from graphstore import Storage, op
>>> @op
... def inc(x):
...     return x + 1
>>> storage = Storage()
>>> with storage:
...     y = inc(inc(1))
>>> lineage = storage.provenance(y)
>>> lineage.df.shape  # one history; each use of inc is a node of its own, each cell one value
(1, 5)
>>> sorted(lineage.to_networkx().nodes)
['inc', 'inc_0', 'v', 'x', 'x_0']
>>> lineage.df[["x_0", "x", "v"]].values.tolist()
[[1, 2, 3]]
>>> with storage:
...     z = inc(inc(inc(10)))
>>> storage.provenance(z).df["v"][0]  # an op applied to its own output three times in a row: a loop (a cycle)
ValueCollection([10, 11, 12, 13])
"""

from __future__ import annotations

from typing import Any

from .errors import MissingProgramError
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

    def draw(self, verbose: bool = False, orientation: str = "TB", path: Any | None = None) -> Any:
        """A picture of the lineage: the frame's picture (see ``ComputationFrame.draw``), written to ``path`` in
        the format its extension names when given."""
        return self.frame.draw(verbose=verbose, orientation=orientation, path=path)

    def _repr_html_(self) -> str:
        """In a notebook: the lineage's table and its picture (the table alone without graphviz)."""
        try:
            svg = self.frame.draw()._repr_html_()
        except MissingProgramError:
            svg = ""
        return f'<div class="graphstore-provenance">{self.df.to_html()}{svg}</div>'

    def __repr__(self) -> str:
        return f"Provenance(\n{self.df!r}\n)"
