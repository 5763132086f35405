"""Table cells that hold several elements: a list subclass per kind, named as in mandala.

A history holds several elements at a node (a loop, an aggregated list, branches that saw different values): its cell
is then a :class:`ValueCollection` (values), :class:`RefCollection` (Refs, with ``values="refs"`` or ``lazy_vars``) or
:class:`CallCollection` (Calls), in history order (see ``docs/querying.md``). They are lists - iterable, indexable,
with ``len``, equal to a list or collection of equal elements - so code that treats such a cell as a list keeps
working, and the type tells a cell of several elements from a single value that happens to be a list.
``storage.unwrap`` turns a ``RefCollection`` into the ``ValueCollection`` of its values.

>>> cell = ValueCollection([21, 42, 84])
>>> cell
ValueCollection([21, 42, 84])
>>> len(cell), cell[0], cell == [21, 42, 84], cell == ValueCollection([21, 42, 84])
(3, 21, True, True)
>>> isinstance(cell, Collection) and not isinstance([21, 42, 84], Collection)
True
"""

from __future__ import annotations

from typing import Any


class Collection(list):
    """The elements of one table cell that holds several of them, in history order."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list.__repr__(self)})"

    __str__ = __repr__

    @property
    def values(self) -> list:
        """The elements as a plain list (mandala's ``ValueCollection.values``)."""
        return list(self)

    def __add__(self, other: Any) -> Any:  # concatenation gives a plain list, not a cell
        return list(self) + list(other)

    def copy(self) -> Collection:
        return type(self)(self)


class ValueCollection(Collection):
    """The values of a cell that holds several refs."""

    __slots__ = ()


Collection.__unwrap_into__ = ValueCollection  # storage.unwrap(cell) loads the elements' values into a ValueCollection


class RefCollection(Collection):
    """The Refs of a cell that holds several refs (``values="refs"``, or a variable in ``lazy_vars``)."""

    __slots__ = ()


class CallCollection(Collection):
    """The Calls of a cell that holds several calls."""

    __slots__ = ()


CallCollection.__unwrap_into__ = CallCollection  # Calls are not unwrapped: the cell stays a collection of Calls


KINDS = {"obj": ValueCollection, "ref": RefCollection, "call": CallCollection}

__all__ = ["CallCollection", "Collection", "RefCollection", "ValueCollection"]
