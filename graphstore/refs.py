"""Refs (values with ids), Calls, and the argument markers ``Ignore``, ``NewArgDefault`` and ``ValuePointer``.

A Ref carries two ids: ``cid``, the hash of its value, and ``hid``, the hash of how it was computed. Its value may be
in memory or not (a *lazy* Ref); ``Storage.unwrap`` loads it.

>>> r = wrap_atom(1.0)
>>> r.in_memory, r.obj
(True, 1.0)
>>> repr(r).startswith("AtomRef(1.0, hid=")
True
"""

from __future__ import annotations

from typing import Any

from .errors import RefComparisonError
from .hashing import derive_pointer_cid, derive_source_hid, hash_value

_NOT_LOADED = object()


def _no_arithmetic(name: str):
    def method(self, *args, **kwargs):
        raise TypeError(
            f"unsupported operation {name!r} on a {type(self).__name__}: it wraps a stored value; "
            "get the value with storage.unwrap(ref) first"
        )

    method.__name__ = name
    return method


class Ref:
    """A value in the computation graph, identified by content (``cid``) and history (``hid``)."""

    __slots__ = ("cid", "hid", "_obj")

    def __init__(self, cid: str, hid: str, obj: Any = _NOT_LOADED) -> None:
        self.cid = cid
        self.hid = hid
        self._obj = obj

    @property
    def in_memory(self) -> bool:
        """Whether the value is loaded."""
        return self._obj is not _NOT_LOADED

    @property
    def obj(self) -> Any:
        """The value, or ``None`` if it is not loaded (see ``in_memory``)."""
        return None if self._obj is _NOT_LOADED else self._obj

    def _set_obj(self, obj: Any) -> None:
        self._obj = obj

    def detached(self) -> Ref:
        """A lazy copy of this Ref (same ids, value not in memory)."""
        return type(self)(self.cid, self.hid)

    def __repr__(self) -> str:
        name = type(self).__name__
        if self.in_memory:
            return f"{name}({self._obj!r}, hid={self.hid[:3]}...)"
        return f"{name}(hid={self.hid[:3]}..., in_memory=False)"

    def _repr_html_(self) -> str:
        """In a notebook: kind, ids, and a preview of the value (or that it is not loaded)."""
        from .display import ref_html

        return ref_html(self)

    def __eq__(self, other: object) -> bool:
        """Refs are equal when their histories are (same ``hid``); any other comparison raises ``RefComparisonError``.

        A Ref is compared with a value only after ``storage.unwrap(ref)``: whether a Ref's value is in memory
        depends on how it was obtained, so comparing the wrapper would mean different things at different times.
        Comparing with ``None`` or a Call is ``False``.
        """
        if isinstance(other, Ref):
            return self.hid == other.hid
        if other is None or isinstance(other, Call):
            return False
        raise RefComparisonError(
            f"cannot compare a {type(self).__name__} (hid={self.hid[:8]}...) with {_brief(other)}: a Ref wraps a "
            "stored value; compare storage.unwrap(ref) with the value, or two Refs (equal when their histories are)"
        )

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.hid)

    def __bool__(self) -> bool:
        raise TypeError(
            f"the truth value of a {type(self).__name__} is ambiguous: it wraps a stored value; "
            "use storage.unwrap(ref) to get the value"
        )


for _name in (
    "__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ __floordiv__ __rfloordiv__ "
    "__mod__ __rmod__ __pow__ __rpow__ __matmul__ __rmatmul__ __neg__ __pos__ __abs__ __lt__ __le__ __gt__ "
    "__ge__ __and__ __rand__ __or__ __ror__ __xor__ __rxor__ __lshift__ __rlshift__ __rshift__ __rrshift__ "
    "__invert__ __float__ __int__ __index__ __complex__ __round__"
).split():
    setattr(Ref, _name, _no_arithmetic(_name))


def _brief(x: Any) -> str:
    text = repr(x)
    return f"{text[:40]}... ({type(x).__name__})" if len(text) > 40 else f"{text} ({type(x).__name__})"


class AtomRef(Ref):
    """A Ref to a single value, stored as a whole."""

    __slots__ = ()


class PointerRef(AtomRef):
    """An AtomRef to a ``ValuePointer``: the object is passed to ops but only the pointer's id is stored."""

    __slots__ = ("pointer_id",)

    def __init__(self, cid: str, hid: str, obj: Any = _NOT_LOADED, pointer_id: str = "") -> None:
        super().__init__(cid, hid, obj)
        self.pointer_id = pointer_id

    def detached(self) -> Ref:
        return PointerRef(self.cid, self.hid, pointer_id=self.pointer_id)

    def __repr__(self) -> str:
        return "Atom" + super().__repr__()[len("Pointer") :]


class Call:
    """One memoized execution of an op: its ids and its input and output Refs by name.

    ``repr`` shows the op and the first hex digits of the history id, like ``Call(inc, hid=f99...)``.
    """

    __slots__ = ("op", "hid", "cid", "inputs", "outputs")

    def __init__(self, op: Any, hid: str, cid: str, inputs: dict[str, Ref], outputs: dict[str, Ref]) -> None:
        self.op = op
        self.hid = hid
        self.cid = cid
        self.inputs = inputs
        self.outputs = outputs

    @property
    def op_name(self) -> str:
        return getattr(self.op, "name", str(self.op))

    def __repr__(self) -> str:
        return f"Call({self.op_name}, hid={self.hid[:3]}...)"

    def _repr_html_(self) -> str:
        """In a notebook: the op, ids, and a table of inputs and outputs."""
        from .display import call_html

        return call_html(self)


class Ignore:
    """Pass ``value`` to the op's function but leave it out of the call's identity and the store.

    >>> Ignore(3).value
    3
    """

    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Ignore({self.value!r})"


class NewArgDefault:
    """Default for a parameter added to an existing op: calls passing this value match the calls made before it.

    >>> NewArgDefault(0.5).value
    0.5
    """

    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"NewArgDefault({self.value!r})"


class ValuePointer:
    """A value identified by a name you choose (``id``) and never stored, such as a large dataset on disk.

    >>> ValuePointer("mnist-v1", obj=[1, 2]).id
    'mnist-v1'
    """

    __slots__ = ("id", "obj")

    def __init__(self, id: str, obj: Any) -> None:  # noqa: A002  (the public name follows the established API)
        if not isinstance(id, str) or not id:
            raise TypeError("ValuePointer id must be a non-empty string")
        self.id = id
        self.obj = obj

    def __repr__(self) -> str:
        return f"ValuePointer({self.id!r})"


def wrap_atom(obj: Any) -> AtomRef:
    """Wrap a raw value as an in-memory AtomRef with its content id and source history id.

    >>> wrap_atom(1).hid == wrap_atom(1).hid
    True
    """
    if isinstance(obj, Ref):
        return obj  # type: ignore[return-value]
    if isinstance(obj, ValuePointer):
        cid = derive_pointer_cid(obj.id)
        return PointerRef(cid, derive_source_hid(cid), obj.obj, pointer_id=obj.id)
    cid = hash_value(obj)
    return AtomRef(cid, derive_source_hid(cid), obj)
