"""Serialization of values to bytes and back.

Two codecs exist today, both read back with :func:`pickle.loads`:

- ``"pickle"``: the standard library's pickle (protocol 5), used for builtin scalars and containers of them and for
  numpy arrays, where it is exact and fastest;
- ``"cloudpickle"``: everything else, so functions, lambdas and classes defined in ``__main__`` round-trip.

A stored value is trusted data: loading it runs pickle, which can execute code. Listing or querying ids never loads.
A store from someone else can be read with ``trusted=False``: then only ``"pickle"`` values are decoded, by an
unpickler that builds nothing but builtin scalars and containers and numpy arrays of plain dtypes (every other
global a pickle names is refused with :class:`~graphstore.errors.UntrustedValueError`), and ``"cloudpickle"`` values
are refused outright.

>>> codec, data = encode_value([1, 2.5, "x"])
>>> codec, decode_value(codec, data)
('pickle', [1, 2.5, 'x'])
"""

from __future__ import annotations

import pickle
from typing import Any

from .errors import SerializationError, UntrustedValueError

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


_SAFE_GLOBALS = frozenset(
    [
        ("builtins", "complex"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "_reconstruct"),
    ]
)
"""What a pickle of plain values (see ``_is_plain``) names: the only globals an untrusted value may use."""


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _SAFE_GLOBALS:
            raise UntrustedValueError(
                f"the stored value needs {module}.{name}, which is not a plain type: unpickling it could run code"
            )
        return super().find_class(module, name)


def untrusted_loads(data: bytes) -> Any:
    """``pickle.loads`` that builds plain values only (raises :class:`UntrustedValueError` for anything else)."""
    import io

    return _PlainUnpickler(io.BytesIO(data)).load()


def decode_value(codec: str, data: bytes, trusted: bool = True) -> Any:
    """Inverse of :func:`encode_value`. With ``trusted=False`` only plain values are decoded (see above).

    >>> decode_value(*encode_value({"a": (1, 2.5)}), trusted=False)
    {'a': (1, 2.5)}
    """
    if not trusted:
        if codec == "pickle":
            try:
                return untrusted_loads(data)
            except UntrustedValueError:
                raise
            except Exception as exc:
                raise SerializationError(f"cannot deserialize a stored value (codec {codec!r}): {exc}") from exc
        if codec == "cloudpickle":
            raise UntrustedValueError("the stored value was written with cloudpickle: loading it could run code")
    if codec in ("pickle", "cloudpickle"):
        if codec == "cloudpickle":
            import cloudpickle  # noqa: F401  (cloudpickled data may reference its helpers)
        try:
            return pickle.loads(data)
        except Exception as exc:
            raise SerializationError(f"cannot deserialize a stored value (codec {codec!r}): {exc}") from exc
    raise SerializationError(f"unknown codec {codec!r} in the store")
