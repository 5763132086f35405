"""graphstore's query layer: ComputationFrames over the recorded graph, compiled to SQL.

It reads the store through graphstore's public model; graphstore never imports it (except lazily in ``Storage.cf``
and ``Storage.provenance``). A frame's table is made in stages: the pattern (``model``), its plan (``plan``), the
statements in the store's SQL dialect (``sql``), the rows they return (``rows``, run through ``store.Reader``), and the
DataFrame (``table``).

>>> from graphstore import Storage, op
>>> @op(output_names=["y"])
... def inc(x):
...     return x + 1
>>> storage = Storage()
>>> with storage:
...     _ = [inc(i) for i in range(4)]
>>> storage.cf(inc).df(values="objs", include_calls=False).sort_values("x")["y"].tolist()
[1, 2, 3, 4]
"""

from .cells import CallCollection, RefCollection, ValueCollection
from .errors import FrameStructureError, MissingProgramError, QueryError, UnknownNodeError
from .frame import ComputationFrame
from .picture import Picture
from .provenance import Provenance, provenance_frame

__all__ = [
    "CallCollection",
    "ComputationFrame",
    "FrameStructureError",
    "MissingProgramError",
    "Picture",
    "Provenance",
    "QueryError",
    "RefCollection",
    "UnknownNodeError",
    "ValueCollection",
    "make_frame",
    "provenance_frame",
]


def make_frame(storage, source) -> ComputationFrame:
    """The frame of ``source`` in ``storage`` (what ``storage.cf(source)`` returns)."""
    from .shape import from_source
    from .store import Reader

    return ComputationFrame(storage, from_source(Reader(storage), source))
