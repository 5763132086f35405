"""Everything a notebook or script needs, for ``from graphstore.imports import *``.

>>> from graphstore.imports import *
>>> callable(op) and callable(Storage)
True
"""

from . import AtomRef, Call, Ignore, NewArgDefault, Ref, Storage, ValuePointer, noop, op, wrap_atom

__all__ = ["AtomRef", "Call", "Ignore", "NewArgDefault", "Ref", "Storage", "ValuePointer", "noop", "op", "wrap_atom"]
