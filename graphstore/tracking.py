"""Which code a call actually touched: ``@track`` for helper functions, and the globals that tracked code reads.

While a versioned op runs, a :class:`DepCollector` is active in a context variable. The op itself and every
``@track``-ed function that runs add themselves to it, with the module globals their code reads (found once per code
object from its ``LOAD_GLOBAL`` instructions). Helpers that live in the tracked code but are not ``@track``-ed are an
error, since their changes would go unnoticed.

>>> @track
... def helper(x):
...     return x * 2
>>> helper(4)  # outside a versioned call it is the plain function
8
"""

from __future__ import annotations

import dis
import functools
import inspect
import os
import types
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from .errors import DependencySkippedWarning, HashingError, VersioningError

_COLLECTOR: ContextVar[DepCollector | None] = ContextVar("graphstore_deps", default=None)
_GLOBAL_NAMES: dict[types.CodeType, tuple[str, ...]] = {}
_DATA_TYPES = (type(None), bool, int, float, complex, str, bytes, tuple, list, dict, set, frozenset)


class Tracked:
    """A function marked with :func:`track`: a dependency of the versioned calls that run it."""

    def __init__(self, func: Callable) -> None:
        self.func = func
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        collector = _COLLECTOR.get()
        if collector is not None:
            collector.add_function(self.func)
        return self.func(*args, **kwargs)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return functools.partial(self.__call__, obj)

    def __repr__(self) -> str:
        return f"track({self.func.__qualname__})"


def track(func: Callable) -> Tracked:
    """Mark a helper function or method as a dependency of the versioned ops that call it."""
    return Tracked(func)


def component_key(func: Callable) -> str:
    """A function's stable name: ``module:qualname``."""
    return f"{func.__module__}:{func.__qualname__}"


def global_names(code: types.CodeType) -> tuple[str, ...]:
    """Names a code object (and the code nested in it) loads as globals."""
    found = _GLOBAL_NAMES.get(code)
    if found is None:
        names: list[str] = []
        for ins in dis.get_instructions(code):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(ins.argval, str):
                names.append(ins.argval)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                names.extend(global_names(const))
        found = _GLOBAL_NAMES[code] = tuple(dict.fromkeys(names))
    return found


def unwrap_callable(obj: Any) -> Any:
    """The plain function behind an op or a tracked function."""
    for _ in range(5):
        inner = getattr(obj, "func", None)
        if inner is None or not callable(inner):
            return obj
        obj = inner
    return obj


class Scope:
    """Which code counts as the user's own: ``"__main__"`` or a folder of source files."""

    def __init__(self, deps_path: str) -> None:
        self.deps_path = deps_path
        self.folder = None if deps_path == "__main__" else os.path.realpath(os.fspath(deps_path))

    def contains(self, obj: Any) -> bool:
        if self.folder is None:
            return getattr(obj, "__module__", None) == "__main__"
        code = getattr(obj, "__code__", None)
        path = code.co_filename if code is not None else _module_file(obj)
        return bool(path) and os.path.realpath(path).startswith(self.folder + os.sep)


def _module_file(obj: Any) -> str | None:
    import sys

    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    return getattr(module, "__file__", None)


class DepCollector:
    """Everything one running call touched: functions (by key) and globals (by ``module.name``)."""

    def __init__(self, scope: Scope, op_name: str, options: Any = None) -> None:
        self.scope = scope
        self.op_name = op_name
        self.options = options
        self.functions: dict[str, Callable] = {}
        self.globals: dict[str, tuple[str, str, Any]] = {}
        self.global_hashes: dict[str, str] = {}
        self.order: list[tuple[str, str]] = []
        """``(kind, key)`` of every component, in the order the call met them."""

    def add_function(self, func: Callable) -> None:
        func = unwrap_callable(func)
        key = component_key(func)
        if key in self.functions:
            return
        self.functions[key] = func
        self.order.append(("function", key))
        code = getattr(func, "__code__", None)
        if code is None:
            return
        if code.co_freevars and self.options is not None and self.options.strict_tracing:
            raise VersioningError(
                f"op {self.op_name}: function {key} reads closure variables {list(code.co_freevars)}, which are not "
                "tracked (strict_tracing=True); make them globals or arguments"
            )
        namespace = func.__globals__
        for name in global_names(code):
            if name in namespace:
                self._add_global(func, name, namespace[name])

    def _add_global(self, func: Callable, name: str, value: Any) -> None:
        from .ops import Op

        if isinstance(value, (types.ModuleType, Tracked)):
            return
        if isinstance(value, Op):
            self.add_function(value.func)  # an op called inside the op: its code is a dependency too
            return
        if inspect.isclass(value) or callable(value):
            if self.scope.contains(value) and inspect.isfunction(value):
                raise VersioningError(
                    f"op {self.op_name}: function {component_key(value)} is used by tracked code "
                    f"({component_key(func)}) but is not tracked; decorate it with @track"
                )
            return
        if self._is_data(value):
            self.add_global_value(func.__module__, name, value)

    def add_global_value(self, module: str, name: str, value: Any) -> None:
        """Record that the call read the data global ``module.name`` (with its content now)."""
        key = f"{module}.{name}"
        if key in self.globals:
            return
        options = self.options
        if options is not None and not options.track_globals:
            return
        try:
            content = _content(value)
        except HashingError as exc:
            if options is not None and not options.skip_unhashable_globals:
                raise VersioningError(
                    f"op {self.op_name}: global {key} cannot be hashed (skip_unhashable_globals=False): {exc}"
                ) from exc
            if options is None or not options.skip_globals_silently:
                warnings.warn(
                    f"op {self.op_name}: global {key} cannot be hashed, so it is not a dependency: {exc}",
                    DependencySkippedWarning,
                    stacklevel=2,
                )
            return
        self.globals[key] = (module, name, value)
        self.global_hashes[key] = content
        self.order.append(("global", key))

    @staticmethod
    def _is_data(value: Any) -> bool:
        from .refs import Ref

        if isinstance(value, _DATA_TYPES) or isinstance(value, Ref):
            return True
        module = type(value).__module__ or ""
        return module.startswith(("numpy", "pandas"))


def _content(value: Any) -> str:
    from .hashing import hash_value
    from .refs import Ref

    return value.cid if isinstance(value, Ref) else hash_value(value)


def collecting(collector: DepCollector) -> Any:
    """Make ``collector`` the active one; returns the token to reset with :func:`stop_collecting`."""
    return _COLLECTOR.set(collector)


def stop_collecting(token: Any) -> None:
    _COLLECTOR.reset(token)


def active_collector() -> DepCollector | None:
    """The collector of the versioned call running now, if any."""
    return _COLLECTOR.get()
