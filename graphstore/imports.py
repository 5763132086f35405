"""Everything a notebook or script needs, for ``from graphstore.imports import *``.

>>> from graphstore.imports import *
>>> callable(op) and callable(Storage)
True
"""

from . import (
    AtomRef,
    Call,
    DictRef,
    Ignore,
    ListRef,
    MDict,
    MList,
    MSet,
    MTuple,
    NewArgDefault,
    Ref,
    SetRef,
    Storage,
    TupleRef,
    ValuePointer,
    noop,
    op,
    track,
    wrap_atom,
)

__all__ = [
    "AtomRef",
    "Call",
    "DictRef",
    "Ignore",
    "ListRef",
    "MDict",
    "MList",
    "MSet",
    "MTuple",
    "NewArgDefault",
    "Ref",
    "SetRef",
    "Storage",
    "TupleRef",
    "ValuePointer",
    "noop",
    "op",
    "track",
    "wrap_atom",
]
