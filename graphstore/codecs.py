"""Serialization of values to bytes and back.

Two codecs exist today, both read back with :func:`pickle.loads`:

- ``"pickle"``: the standard library's pickle (protocol 5), used for builtin scalars and containers of them and for
  numpy arrays, where it is exact and fastest;
- ``"cloudpickle"``: everything else, so functions, lambdas and classes defined in ``__main__`` round-trip.

A stored value is trusted data: loading it runs pickle, which can execute code. Listing or querying ids never loads.

>>> codec, data = encode_value([1, 2.5, "x"])
>>> codec, decode_value(codec, data)
('pickle', [1, 2.5, 'x'])
"""

from __future__ import annotations

import pickle
from typing import Any

from .errors import SerializationError

_PLAIN = (type(None), bool, int, float, complex, str, bytes, bytearray)
_CONTAINERS = (list, tuple, set, frozenset, dict)


def _is_plain(obj: Any, depth: int = 0) -> bool:
    """True if the standard pickle is exact for ``obj`` (builtins all the way down, or a numpy array)."""
    t = type(obj)
    if t in _PLAIN:
        return True
    if depth > 4:
        return False
    if t in _CONTAINERS:
        items = obj.items() if t is dict else obj
        if t is dict:
            return all(_is_plain(k, depth + 1) and _is_plain(v, depth + 1) for k, v in items)
        return all(_is_plain(x, depth + 1) for x in items)
    if t.__module__ == "numpy" and t.__name__ == "ndarray":
        return not obj.dtype.hasobject
    return False


def encode_value(obj: Any) -> tuple[str, bytes]:
    """Serialize ``obj``; returns ``(codec, data)``."""
    if _is_plain(obj):
        try:
            return "pickle", pickle.dumps(obj, protocol=5)
        except Exception:  # a plain-looking value pickle still refuses: let cloudpickle try and report
            pass
    import cloudpickle

    try:
        return "cloudpickle", cloudpickle.dumps(obj, protocol=5)
    except Exception as exc:
        raise SerializationError(f"cannot serialize a value of type {type(obj).__qualname__}: {exc}") from exc


def decode_value(codec: str, data: bytes) -> Any:
    """Inverse of :func:`encode_value`."""
    if codec in ("pickle", "cloudpickle"):
        if codec == "cloudpickle":
            import cloudpickle  # noqa: F401  (cloudpickled data may reference its helpers)
        try:
            return pickle.loads(data)
        except Exception as exc:
            raise SerializationError(f"cannot deserialize a stored value (codec {codec!r}): {exc}") from exc
    raise SerializationError(f"unknown codec {codec!r} in the store")
