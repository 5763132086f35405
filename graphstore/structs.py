"""Collections stored element by element: the ``MList``/``MDict``/``MSet``/``MTuple`` annotations and their Refs.

Annotating an input or the return value of an op with one of these types stores each element as its own Ref,
shared by every collection that holds it. The collection is linked to its elements by *structural calls*, ordinary
calls of the graph: ``__make_list__`` (elements in, list out) when a collection is built from Refs passed to an op, and
``__list_getitem__`` (list and index in, element out) for the elements of a collection an op returns; likewise for
dicts, sets and tuples.

>>> from graphstore import Storage, op
>>> @op
... def evens(n) -> MList[int]:
...     return list(range(0, n, 2))
>>> storage = Storage()
>>> with storage:
...     xs = evens(10)
>>> len(xs), storage.unwrap(xs[1:3])
(5, [2, 4])
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from typing import Any

from .hashing import hash_value
from .refs import _NOT_LOADED, Ref

KINDS = ("list", "dict", "set", "tuple")
MAKE_OPS = {"list": "__make_list__", "dict": "__make_dict__", "set": "__make_set__", "tuple": "__make_tuple__"}
GETITEM_OPS = {
    "list": "__list_getitem__",
    "dict": "__dict_getitem__",
    "set": "__set_getitem__",
    "tuple": "__tuple_getitem__",
}
COLLECTION_LABEL = {"list": "lst", "dict": "dct", "set": "st", "tuple": "tpl"}
KEY_LABEL = {"list": "idx", "dict": "key", "set": "key", "tuple": "idx"}
STRUCTURAL_OPS = frozenset(MAKE_OPS.values()) | frozenset(GETITEM_OPS.values())


class StructType:
    """A parsed collection annotation: its kind and the type of its elements (``None`` for plain atoms)."""

    __slots__ = ("kind", "elements")

    def __init__(self, kind: str, elements: Any = None) -> None:
        self.kind = kind
        self.elements = elements

    def element_type(self, position: int) -> StructType | None:
        """The struct type of one element (tuples may give one type per position)."""
        elements = self.elements
        if self.kind == "tuple" and isinstance(elements, tuple):
            elements = elements[position] if position < len(elements) else None
        return struct_type(elements)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # lets typing accept it as an annotation
        raise TypeError(f"{self!r} is an annotation, not a constructor")

    def __repr__(self) -> str:
        return f"M{self.kind.capitalize()}[{self.elements!r}]"


class _Annotation:
    kind = ""

    def __class_getitem__(cls, params: Any) -> StructType:
        if cls.kind == "dict":
            params = params[1] if isinstance(params, tuple) and len(params) == 2 else params
        elif cls.kind == "tuple":
            if isinstance(params, tuple) and len(params) == 2 and params[1] is Ellipsis:
                params = params[0]
        return StructType(cls.kind, params)


class MList(_Annotation):
    """``MList[T]``: a list stored element by element."""

    kind = "list"


class MDict(_Annotation):
    """``MDict[str, T]``: a dict with string keys, stored value by value."""

    kind = "dict"


class MSet(_Annotation):
    """``MSet[T]``: a set stored element by element."""

    kind = "set"


class MTuple(_Annotation):
    """``MTuple[A, B]`` (one type per position) or ``MTuple[T, ...]``: a tuple stored element by element."""

    kind = "tuple"


def struct_type(annotation: Any) -> StructType | None:
    """The StructType an annotation asks for, or None for a plain value."""
    if isinstance(annotation, StructType):
        return annotation
    if isinstance(annotation, type) and issubclass(annotation, _Annotation) and annotation.kind:
        return StructType(annotation.kind, None)
    return None


def resolve_annotation(annotation: Any, func: Callable) -> Any:
    """Evaluate a string annotation (``from __future__ import annotations``) in the function's globals."""
    if not isinstance(annotation, str):
        return annotation
    namespace = dict(vars(typing))
    namespace.update(getattr(func, "__globals__", {}))
    try:
        return eval(annotation, namespace)  # noqa: S307  (annotations are the user's own code)
    except Exception:
        return annotation


def output_struct_types(annotation: Any) -> tuple[StructType | None, ...] | None:
    """Struct types of each output for a return annotation ``Tuple[A, B]`` (None when not a fixed tuple)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is tuple and args and Ellipsis not in args:
        return tuple(struct_type(a) for a in args)
    return None


# --- Refs of collections ---------------------------------------------------------------------------------------------

MembersResolver = Callable[["CollectionRef"], list]


class CollectionRef(Ref):
    """A Ref whose elements are Refs of their own; ``len``, indexing and iteration load no element value."""

    __slots__ = ("_members", "_resolver")
    kind = ""

    def __init__(
        self,
        cid: str,
        hid: str,
        obj: Any = _NOT_LOADED,
        members: list | None = None,
        resolver: MembersResolver | None = None,
    ) -> None:
        super().__init__(cid, hid, obj)
        self._members = members
        self._resolver = resolver

    def members(self) -> list[tuple[Any, Ref]]:
        """``(key, element Ref)`` pairs: positions for lists, sets and tuples, string keys for dicts."""
        if self._members is None:
            if self._resolver is None:
                raise LookupError(f"{self!r} has no store to read its elements from")
            self._members = self._resolver(self)
        return self._members

    def detached(self) -> Ref:
        return type(self)(self.cid, self.hid, resolver=self._resolver, members=self._members)

    def __len__(self) -> int:
        return len(self.members())

    def __iter__(self) -> Iterator[Ref]:
        return iter([ref for _, ref in self.members()])

    def shape(self) -> str:
        return f"{len(self)} elements" if self._members is not None else "elements not read"


class ListRef(CollectionRef):
    """A Ref to a list stored element by element."""

    __slots__ = ()
    kind = "list"

    def __getitem__(self, index: Any) -> Any:
        refs = [ref for _, ref in self.members()]
        return refs[index]


class TupleRef(ListRef):
    """A Ref to a tuple stored element by element."""

    __slots__ = ()
    kind = "tuple"


class SetRef(CollectionRef):
    """A Ref to a set stored element by element (iteration follows the elements' content ids)."""

    __slots__ = ()
    kind = "set"


class DictRef(CollectionRef):
    """A Ref to a dict with string keys, stored value by value."""

    __slots__ = ()
    kind = "dict"

    def __getitem__(self, key: str) -> Ref:
        for k, ref in self.members():
            if k == key:
                return ref
        raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        return iter([k for k, _ in self.members()])

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _ in self.members())

    def keys(self) -> list[str]:
        return [k for k, _ in self.members()]

    def values(self) -> list[Ref]:
        return [ref for _, ref in self.members()]

    def items(self) -> list[tuple[str, Ref]]:
        return list(self.members())


REF_CLASSES: dict[str, type] = {"list": ListRef, "dict": DictRef, "set": SetRef, "tuple": TupleRef}


def assemble(kind: str, objs: list[tuple[Any, Any]]) -> Any:
    """The plain Python collection from ``(key, value)`` pairs."""
    if kind == "dict":
        return {k: v for k, v in objs}
    values = [v for _, v in objs]
    if kind == "list":
        return values
    if kind == "tuple":
        return tuple(values)
    return set(values)


def iter_members(kind: str, value: Any) -> list[tuple[Any, Any]]:
    """``(key, element)`` pairs of a plain collection, in canonical order (sets sorted by content id)."""
    if kind == "dict":
        return list(value.items())
    if kind == "set":
        return list(enumerate(sorted(value, key=lambda v: v.cid if isinstance(v, Ref) else hash_value(v))))
    return list(enumerate(value))
