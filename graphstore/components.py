"""Content hashes of code components (functions and globals), cached by source file modification time.

A function's content is its source text; a global's content is the content id of its value (the cid of a Ref).
Source text is read once per (file, modification time), so entering a versioned storage again after nothing changed
re-reads nothing.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from typing import Any

from .hashing import hash_text, hash_value
from .refs import Ref
from .tracking import unwrap_callable

_SOURCE_CACHE: dict[tuple[str, int, int, str, int], tuple[str, str]] = {}


def function_source(func: Callable, stats: dict[str, tuple[int, int]] | None = None) -> tuple[str, str]:
    """``(source text, content hash)`` of a function, cached by its file's modification time (and size, in case
    two edits fall within the file system's timestamp granularity); one ``stat`` when cached, none when ``stats``
    (file name -> (mtime, size), filled as files are seen) already knows the file."""
    func = unwrap_callable(func)
    code = getattr(func, "__code__", None)
    filename = code.co_filename if code is not None else ""
    found_stat = stats.get(filename) if stats is not None else None
    if found_stat is not None:
        mtime, size = found_stat
    else:
        try:
            stat = os.stat(filename) if filename else None
            mtime, size = (stat.st_mtime_ns, stat.st_size) if stat is not None else (0, 0)
        except OSError:
            mtime, size = 0, 0
        if stats is not None and mtime:
            stats[filename] = (mtime, size)
    key = (filename, mtime, size, func.__qualname__, code.co_firstlineno if code is not None else 0)
    found = _SOURCE_CACHE.get(key)
    if found is None or mtime == 0:
        try:
            text = inspect.getsource(func)
        except (OSError, TypeError):
            text = repr((code.co_code, code.co_consts, code.co_names)) if code is not None else repr(func)
        found = (text, hash_text("gs:component", text))
        if mtime:
            _SOURCE_CACHE[key] = found
    return found


def value_content(value: Any) -> str:
    """Content hash of a global's value."""
    return value.cid if isinstance(value, Ref) else hash_value(value)


def resolve_function(key: str) -> Callable | None:
    """The live function named ``module:qualname``, or None when it no longer exists."""
    module_name, _, qualname = key.partition(":")
    obj: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        if obj is None or part == "<locals>":
            return None
        obj = getattr(obj, part, None)
    return unwrap_callable(obj) if obj is not None else None


def resolve_global(key: str) -> tuple[bool, Any]:
    """``(exists, value)`` of the module global ``module.name``."""
    module_name, _, name = key.rpartition(".")
    module = sys.modules.get(module_name)
    if module is None or not hasattr(module, name):
        return False, None
    return True, getattr(module, name)


def current_content(kind: str, key: str) -> str | None:
    """The content hash a component has now, or None if it is gone."""
    if kind == "function":
        func = resolve_function(key)
        return None if func is None else function_source(func)[1]
    exists, value = resolve_global(key)
    return value_content(value) if exists else None
