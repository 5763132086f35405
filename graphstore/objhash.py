"""Content ids of objects that are neither builtins nor numpy or pandas values: by their type's name and their state.

An instance of a class (a dataclass, an Enum member, a named tuple, a ``defaultdict``, a plain object...) is reduced
the way pickle reduces it (``__reduce_ex__(4)``: a callable, its arguments, a state, list items and dict items), and
each part is hashed with :func:`~graphstore.hashing.digest_value`, so sets inside are hashed in sorted order and the
id is the same in every process. Classes and functions are hashed by their module and qualified name. The exact rules
are in ``docs/hashing.md`` ("Objects").

What cannot be hashed by content (a lambda, a function defined inside another function, an object whose reduction
fails but that cloudpickle can pickle, an object that refers back to itself) is hashed through its pickle, whose bytes
may differ between processes; :func:`hash_value_noting` reports such parts, and the recorder warns about them.

>>> import enum
>>> from graphstore.hashing import hash_value
>>> class Color(enum.Enum):
...     RED = 1
>>> hash_value(Color.RED) == hash_value(Color(1))
True
"""

from __future__ import annotations

import copyreg
import pickle
import threading
import types
from collections import OrderedDict
from typing import Any

from . import hashing
from .hashing import _digest, digest_value

REDUCE_PROTOCOL = 4
"""The pickle protocol objects are reduced with (``obj.__reduce_ex__(REDUCE_PROTOCOL)``); part of the scheme."""

_NONE = _digest(b"N")


class _State(threading.local):
    """Per thread: the objects being hashed (to notice cycles), digests of objects hashed in this value, and the
    list that collects the parts hashed through their pickle (None when nobody asked)."""

    def __init__(self) -> None:
        self.active: dict[int, Any] = {}
        self.memo: dict[int, tuple[Any, bytes]] = {}
        self.notes: list[str] | None = None


_state = _State()


class _Cycle(Exception):
    """Raised when an object is reached again while it is being hashed; caught by that object's own encoding."""

    def __init__(self, key: int) -> None:
        super().__init__(key)
        self.key = key


def _module_of(obj: Any, name: str) -> str:
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str):
        module = pickle.whichmodule(obj, name)
    return "__main__" if module == "__mp_main__" else module  # (a multiprocessing child's name for the script)


def enc_global(module: str, qualname: str) -> bytes:
    """``H(b"G" + dec(len(module)) + b":" + utf8(module) + utf8(qualname))``: a class or function, by name."""
    text = f"{len(module)}:{module}{qualname}"
    return _digest(b"G" + text.encode("utf-8", "surrogatepass"))


def _enc_class(cls: type) -> bytes:
    qualname = getattr(cls, "__qualname__", None) or cls.__name__
    return enc_global(_module_of(cls, qualname), qualname)


def _enc_function(fn: types.FunctionType) -> bytes:
    qualname = fn.__qualname__
    if "<" in qualname:  # <lambda>, <locals>: no name leads back to it, and its closure may differ
        return _fallback(fn, "a lambda or a function defined inside another function has no name to hash")
    return enc_global(_module_of(fn, qualname), qualname)


def _is_library(module: str) -> bool:
    """numpy's and pandas' own objects that their encodings do not cover keep the pickle encoding of scheme 1."""
    return module.startswith(("numpy.", "pandas.")) or module in ("numpy", "pandas")


def digest_object(obj: Any) -> bytes:
    """The digest of a value that is neither a builtin nor a numpy array or scalar nor a pandas Index, Series or
    DataFrame (those are encoded by :mod:`graphstore.hashing` itself)."""
    t = type(obj)
    if isinstance(obj, type):
        return _enc_class(obj)
    if t is types.FunctionType:
        return _enc_function(obj)
    if t is types.BuiltinFunctionType and (obj.__self__ is None or type(obj.__self__) is types.ModuleType):
        return enc_global(_module_of(obj, obj.__qualname__), obj.__qualname__)
    if t is types.ModuleType:
        return _digest(b"M" + obj.__name__.encode("utf-8", "surrogatepass"))
    if _is_library(getattr(t, "__module__", None) or ""):
        return hashing._enc_pickled(obj)
    return _by_content(obj)


def _by_content(obj: Any) -> bytes:
    state = _state
    key = id(obj)
    active = state.active
    if key in active:
        raise _Cycle(key)
    found = state.memo.get(key)
    if found is not None:
        return found[1]
    outermost = not active
    active[key] = obj
    try:
        try:
            digest = _enc_reduced(obj)
        except _Cycle as cycle:
            if cycle.key != key:
                raise
            digest = _fallback(obj, "it refers back to itself")
        except RecursionError:
            if not outermost:
                raise
            # (a long chain of objects: pickle goes deeper than Python code can, from a shallow stack here)
            digest = _fallback(obj, "it is nested too deeply to be hashed by content")
    finally:
        del active[key]
        if not active:
            state.memo.clear()
    if active:  # (an object met again in the same value is hashed once; the memo lives as long as the value's hash)
        state.memo[key] = (obj, digest)
    return digest


def _reduce(obj: Any) -> Any:
    reducer = copyreg.dispatch_table.get(type(obj))
    if reducer is not None:
        return reducer(obj)
    return obj.__reduce_ex__(REDUCE_PROTOCOL)


def _enc_reduced(obj: Any) -> bytes:
    try:
        rv = _reduce(obj)
    except (RecursionError, _Cycle):
        raise
    except Exception as exc:  # pickle would fail too; cloudpickle may manage (else HashingError names the type)
        return _fallback(obj, f"it cannot be reduced: {type(exc).__name__}: {exc}")
    if isinstance(rv, str):  # a module-level singleton, named like pickle names it
        return enc_global(_module_of(obj, rv), rv)
    if type(rv) is not tuple or not 2 <= len(rv) <= 6:
        return _fallback(obj, f"its __reduce_ex__ returned {type(rv).__name__}, not a tuple of 2 to 6 items")
    func, args = rv[0], rv[1]
    state = rv[2] if len(rv) > 2 else None
    listitems = rv[3] if len(rv) > 3 else None
    dictitems = rv[4] if len(rv) > 4 else None
    setter = rv[5] if len(rv) > 5 else None
    if isinstance(obj, (set, frozenset)) and type(args) is tuple and args and type(args[0]) is list:
        # a set subclass reduces to (cls, (list of its elements,), ...): that list is in hash-seed order
        elements = [_enc_unordered(b"E", args[0])] + [digest_value(a) for a in args[1:]]
        args_digest = _digest(b"T" + str(len(elements)).encode() + b":" + b"".join(elements))
    else:
        args_digest = digest_value(args)
    if listitems is None:
        items_digest = _NONE
    else:
        items_digest = hashing._enc_seq(b"L", list(listitems))
    if dictitems is None:
        pairs_digest = _NONE
    elif isinstance(obj, OrderedDict):  # its equality depends on the order of its items
        pairs_digest = hashing._enc_seq(b"L", [tuple(p) for p in dictitems])
    else:
        pairs = sorted(digest_value(k) + digest_value(v) for k, v in dictitems)
        pairs_digest = _digest(b"D" + str(len(pairs)).encode() + b":" + b"".join(pairs))
    parts = digest_value(func) + args_digest + digest_value(state) + items_digest + pairs_digest
    if setter is not None:
        parts += digest_value(setter)
    return _digest(b"R" + parts)


def _enc_unordered(tag: bytes, items: Any) -> bytes:
    parts = sorted(digest_value(x) for x in items)
    return _digest(tag + str(len(parts)).encode() + b":" + b"".join(parts))


def _fallback(obj: Any, reason: str) -> bytes:
    """The pickle encoding, for a part that cannot be hashed by content; noted for the caller's warning."""
    digest = hashing._enc_pickled(obj)
    notes = _state.notes
    if notes is not None:
        what = type(obj).__qualname__
        if isinstance(obj, types.FunctionType):
            what += f" {obj.__qualname__}"
        notes.append(f"{what} ({reason})")
    return digest


def hash_value_noting(obj: Any) -> tuple[str, list[str]]:
    """``hash_value(obj)``, and a description of each part of ``obj`` that was hashed through its pickle (its id may
    then differ in another process); the list is empty when the id is the same in every process.

    >>> hash_value_noting([1, "a"])[1]
    []
    >>> hash_value_noting(lambda: 1)[1]
    ['function <lambda> (a lambda or a function defined inside another function has no name to hash)']
    """
    state = _state
    saved = state.notes
    notes: list = []
    state.notes = notes
    try:
        return hashing.hash_value(obj), notes
    finally:
        state.notes = saved
