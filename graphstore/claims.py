"""Which function each op name belongs to in a store.

An op's calls are identified by its name (and version), not by its function, so two different functions that record
under one name into one store would share results. The first call of an op in a storage claims its name for its
function; a later op of another function claiming the same name raises :class:`OpNameConflictError`, unless the
later function is the same one defined again:

- *the same function redefined* (a notebook cell run again, a module reloaded or edited and run again, the same
  source executed twice): same module and qualified name, new function object. The newest definition takes the
  name, and versioning decides which stored calls it reuses (an unversioned store warns that the op has changed);
- *another function*: another module or qualified name (``prep_a.process`` and ``prep_b.process``), or another
  function object made from the same code inside a function (two closures returned by one factory, which may
  differ in the values they close over).

Names given with ``@op(name=...)`` are never in conflict: an explicit name says the functions are meant to be one op
(a function renamed or moved, or a new definition that keeps the op's calls).

Claims are per store file, for the whole process (every ``Storage`` opened on one file shares them; an in-memory
store has its own), and last while one of those storages is open (closing the last one ends them): the collision is
a fact about what one store holds, which the decorator alone cannot know (it runs at import, before any store is
chosen, and two modules may well define ``process`` ops that record into different stores).

>>> from graphstore import op
>>> claims = OpClaims()
>>> claims.claim(op(lambda x: x), "a store")
"""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Callable
from typing import Any

from .errors import OpNameConflictError


class OpClaims:
    """Op name -> the op (function) that recorded under it last, for one store."""

    def __init__(self) -> None:
        self._by_name: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.users = 0

    def claim(self, op: Any, store: str) -> None:
        """Claim ``op.name`` for ``op``; raises :class:`OpNameConflictError` if another function holds it."""
        with self._lock:
            held = self._by_name.get(op.name)
            if held is not None and held is not op and _conflict(held, op):
                raise OpNameConflictError(_message(held, op, store))
            self._by_name[op.name] = op


_SHARED: dict[str, OpClaims] = {}
"""Store file -> the claims of its storages open in this process."""
_SHARED_LOCK = threading.Lock()


def acquire(db_path: str) -> tuple[str | None, OpClaims]:
    """The claims of a store, for a storage being opened: shared by every open storage of one file in this process
    (an in-memory store has its own); returns ``(key, claims)``, the key to :func:`release` them with."""
    if db_path == ":memory:" or db_path.startswith("file::memory:"):
        return None, OpClaims()
    key = os.path.realpath(db_path)
    with _SHARED_LOCK:
        claims = _SHARED.get(key)
        if claims is None:
            claims = _SHARED[key] = OpClaims()
        claims.users += 1
        return key, claims


def release(key: str | None) -> None:
    """A storage of the store was closed: the claims end with the last one open."""
    if key is None:
        return
    with _SHARED_LOCK:
        claims = _SHARED.get(key)
        if claims is not None:
            claims.users -= 1
            if claims.users <= 0:
                del _SHARED[key]


def _origin(func: Callable) -> tuple[str, str]:
    module = getattr(func, "__module__", None) or type(func).__module__
    qualname = getattr(func, "__qualname__", None) or type(func).__qualname__
    return str(module), str(qualname)


def _conflict(held: Any, new: Any) -> bool:
    if held.explicit_name or new.explicit_name:
        return False
    a, b = held.func, new.func
    if a is b:
        return False
    if _origin(a) != _origin(b):
        return True
    code = getattr(a, "__code__", None)  # one code object, two functions: made by one def run twice (a factory)
    return code is not None and code is getattr(b, "__code__", None) and "<locals>" in _origin(a)[1]


def describe(func: Callable) -> str:
    """``module.qualname (file:line)`` of a function."""
    module, qualname = _origin(func)
    code = getattr(func, "__code__", None)
    if code is None:
        try:
            where = f"{inspect.getsourcefile(func)}:{inspect.getsourcelines(func)[1]}"
        except (OSError, TypeError):
            where = "source unknown"
    else:
        where = f"{code.co_filename}:{code.co_firstlineno}"
    return f"{module}.{qualname} ({where})"


def _message(held: Any, new: Any, store: str) -> str:
    first, second = describe(held.func), describe(new.func)
    if first == second:
        what = (
            f"two different functions made by one definition, {first} (ops built inside a function, which may "
            "differ in the values they close over)"
        )
    else:
        what = f"two different functions, {first} and then {second}"
    return (
        f"op name {new.name!r} is claimed by {what}, both recording into {store}: their calls would share "
        f'results. Give each op its own name with @op(name="..."), for example @op(name="{_suggest(new)}")'
    )


def _suggest(op: Any) -> str:
    module, qualname = _origin(op.func)
    if "<locals>" in qualname:
        return f"{op.name}_<parameters>"
    return f"{module.rpartition('.')[2]}.{op.name}" if module not in ("__main__", "builtins") else f"{op.name}_2"
