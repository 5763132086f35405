"""Canonical, type-tagged content hashing and the derivation of history ids.

A content id (``cid``) is the hex digest of XXH3-128 over a canonical encoding of a value. The encoding starts with a
type tag, so ``1``, ``True`` and ``1.0`` differ; dict and set order does not matter; numpy arrays and pandas objects
are hashed from their dtype, shape and raw data, never from pickles; other objects by their type's name and their state
(:mod:`graphstore.objhash`). The scheme is written down in ``docs/hashing.md`` and pinned by golden tests: changing it
changes ids in every store.

>>> hash_value(1) == hash_value(1)
True
>>> len({hash_value(1), hash_value(True), hash_value(1.0)})
3
>>> hash_value({"a": 1, "b": 2}) == hash_value({"b": 2, "a": 1})
True
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable
from typing import Any

import xxhash

from .errors import HashingError

_digest = xxhash.xxh3_128_digest
_xxh3_128 = xxhash.xxh3_128

SCHEME_VERSION = 2
"""Bumped whenever any encoding changes. Scheme 2 hashes objects by content (:mod:`graphstore.objhash`) instead of
by their pickle; every other encoding is that of scheme 1."""

COMPATIBLE_SCHEMES = frozenset({1, 2})
"""Schemes whose stores this code opens: scheme 1 ids of builtins, numpy and pandas values are scheme 2 ids too, so
their calls are retraced; calls recorded with scheme 1 ids of other objects are simply not met again."""


def _enc_none(obj: Any) -> bytes:
    return _digest(b"N")


def _enc_bool(obj: bool) -> bytes:
    return _digest(b"B1" if obj else b"B0")


def _decimal_str(obj: int) -> str:
    """``str(obj)``, also for ints past the interpreter's int-to-str digit limit (Python 3.11+)."""
    try:
        return str(obj)
    except ValueError:
        import decimal

        return str(decimal.Decimal(obj))  # exact for any int, whatever the decimal context; same digits as str()


def _enc_int(obj: int) -> bytes:
    return _digest(b"I" + _decimal_str(int(obj)).encode())


def _enc_float(obj: float) -> bytes:
    if math.isnan(obj):
        return _digest(b"Fnan")
    return _digest(b"F" + struct.pack("<d", obj))


_CANONICAL_NAN = struct.pack("<d", float("nan"))
"""Every NaN part of a complex number is encoded as these 8 bytes, so each part has a fixed width."""


def _enc_complex(obj: complex) -> bytes:
    parts = (obj.real, obj.imag)
    raw = b"".join(_CANONICAL_NAN if math.isnan(p) else struct.pack("<d", p) for p in parts)
    return _digest(b"C" + raw)


def _enc_str(obj: str) -> bytes:
    return _digest(b"S" + obj.encode("utf-8", "surrogatepass"))


def _enc_bytes(obj: bytes) -> bytes:
    return _digest(b"Y" + obj)


def _enc_bytearray(obj: bytearray) -> bytes:
    return _digest(b"y" + bytes(obj))


def _enc_seq(tag: bytes, items: Iterable[Any]) -> bytes:
    parts = [digest_value(x) for x in items]
    return _digest(tag + str(len(parts)).encode() + b":" + b"".join(parts))


def _enc_list(obj: list) -> bytes:
    return _enc_seq(b"L", obj)


def _enc_tuple(obj: tuple) -> bytes:
    return _enc_seq(b"T", obj)


def _enc_set(obj: set) -> bytes:
    parts = sorted(digest_value(x) for x in obj)
    return _digest(b"E" + str(len(parts)).encode() + b":" + b"".join(parts))


def _enc_frozenset(obj: frozenset) -> bytes:
    parts = sorted(digest_value(x) for x in obj)
    return _digest(b"Z" + str(len(parts)).encode() + b":" + b"".join(parts))


def _enc_dict(obj: dict) -> bytes:
    pairs = sorted(digest_value(k) + digest_value(v) for k, v in obj.items())
    return _digest(b"D" + str(len(pairs)).encode() + b":" + b"".join(pairs))


_EXACT: dict[type, Callable[[Any], bytes]] = {
    type(None): _enc_none,
    bool: _enc_bool,
    int: _enc_int,
    float: _enc_float,
    complex: _enc_complex,
    str: _enc_str,
    bytes: _enc_bytes,
    bytearray: _enc_bytearray,
    list: _enc_list,
    tuple: _enc_tuple,
    set: _enc_set,
    frozenset: _enc_frozenset,
    dict: _enc_dict,
}


def _enc_ndarray(arr: Any) -> bytes:
    import numpy as np

    if arr.dtype.hasobject:
        flat = arr.reshape(-1)
        return _digest(b"Ao" + repr(arr.shape).encode() + _enc_seq(b"L", flat.tolist()))
    header = b"A" + arr.dtype.str.encode() + repr(arr.dtype.descr).encode() + b"|" + repr(arr.shape).encode()
    data = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    h = _xxh3_128(header)
    h.update(memoryview(data))
    return h.digest()


def _enc_npscalar(obj: Any) -> bytes:
    import numpy as np

    return _digest(b"a" + _enc_ndarray(np.asarray(obj)))


def _enc_pandas_index(idx: Any) -> bytes:
    return _digest(b"PI" + str(idx.dtype).encode() + digest_value(idx.name) + _enc_array_like(idx))


def _enc_array_like(obj: Any) -> bytes:
    import numpy as np

    values = obj.to_numpy()
    if not isinstance(values, np.ndarray) or values.dtype.hasobject:
        return _enc_seq(b"L", list(values))
    return _enc_ndarray(values)


def _enc_series(obj: Any) -> bytes:
    return _digest(
        b"PS" + str(obj.dtype).encode() + digest_value(obj.name) + _enc_pandas_index(obj.index) + _enc_array_like(obj)
    )


def _enc_dataframe(obj: Any) -> bytes:
    parts = [_enc_pandas_index(obj.columns), _enc_pandas_index(obj.index)]
    for i in range(obj.shape[1]):
        col = obj.iloc[:, i]
        parts.append(str(col.dtype).encode() + b"|" + _enc_array_like(col))
    return _digest(b"PD" + str(obj.shape).encode() + b"".join(parts))


def _enc_pickled(obj: Any) -> bytes:
    import cloudpickle

    try:
        data = cloudpickle.dumps(obj, protocol=5)
    except Exception as exc:
        raise HashingError(
            f"cannot hash a value of type {type(obj).__qualname__}: it cannot be pickled ({exc})"
        ) from exc
    return _digest(b"O" + data)


def _enc_foreign(obj: Any) -> bytes | None:
    """Encode numpy and pandas objects without importing those libraries unless the value is theirs."""
    module = type(obj).__module__ or ""
    if module.startswith("numpy"):
        import numpy as np

        if isinstance(obj, np.ndarray) and type(obj) is np.ndarray:
            return _enc_ndarray(obj)
        if isinstance(obj, np.generic):
            return _enc_npscalar(obj)
    if module.startswith("pandas"):
        import pandas as pd

        if type(obj) is pd.DataFrame:
            return _enc_dataframe(obj)
        if type(obj) is pd.Series:
            return _enc_series(obj)
        if isinstance(obj, pd.Index):
            return _enc_pandas_index(obj)
    return None


def digest_value(obj: Any) -> bytes:
    """The 16-byte canonical digest of ``obj``."""
    enc = _EXACT.get(type(obj))
    if enc is not None:
        return enc(obj)
    foreign = _enc_foreign(obj)
    if foreign is not None:
        return foreign
    return digest_object(obj)


def hash_value(obj: Any) -> str:
    """The content id of ``obj``: 32 hex digits.

    >>> len(hash_value(None))
    32
    """
    try:
        return digest_value(obj).hex()
    except RecursionError:
        raise HashingError(
            f"cannot hash a value of type {type(obj).__qualname__}: it is nested too deeply or contains itself"
        ) from None
    except HashingError:
        raise
    except Exception as exc:  # a foreign encoder failed (e.g. pandas copying attrs that cannot be copied)
        kind = type(obj).__qualname__
        raise HashingError(f"cannot hash a value of type {kind}: {type(exc).__name__}: {exc}") from exc


def hash_text(*parts: str) -> str:
    """Hash a sequence of strings unambiguously (length-prefixed), for derived ids."""
    text = "".join([f"{len(p)}:{p}" for p in parts])  # lengths in code points, as the spec says
    return _digest(text.encode("utf-8", "surrogatepass")).hex()


def op_identity(name: str, version: int, semantic_version: str | None = None) -> str:
    """The op identity that call ids are derived from: ``"<name>@<version>"``, and in a store that tracks code
    versions ``"<name>@<version>#<semantic version>"``.

    >>> op_identity("inc", 0), op_identity("inc", 2, "ab12")
    ('inc@0', 'inc@2#ab12')
    """
    base = f"{name}@{version}"
    return base if semantic_version is None else f"{base}#{semantic_version}"


def derive_source_hid(cid: str) -> str:
    """History id of a value that entered the graph as a raw input: ``hash_text("gs:source", cid)``."""
    return _digest(f"9:gs:source{len(cid)}:{cid}".encode("utf-8", "surrogatepass")).hex()


def derive_call_id(kind: str, op_id: str, inputs: Iterable[tuple[str, str]]) -> str:
    """A call's id from its op identity and its inputs' ids (``kind`` is "hid" or "cid")."""
    head = f"{len(kind) + 8}:gs:call-{kind}{len(op_id)}:{op_id}"
    body = "".join([f"{len(n)}:{n}{len(i)}:{i}" for n, i in sorted(inputs)])
    return _digest((head + body).encode("utf-8", "surrogatepass")).hex()


def derive_call_ids(op_id: str, inputs: list[tuple[str, str, str]]) -> tuple[str, str]:
    """``(hid, cid)`` of a call from ``(input name, input hid, input cid)`` triples; same as two derive_call_id."""
    if len(inputs) == 1:  # the usual single argument, without the general joins
        ((n, h, c),) = inputs
        tail = f"{len(op_id)}:{op_id}{len(n)}:{n}"
        return (
            _digest(f"11:gs:call-hid{tail}{len(h)}:{h}".encode("utf-8", "surrogatepass")).hex(),
            _digest(f"11:gs:call-cid{tail}{len(c)}:{c}".encode("utf-8", "surrogatepass")).hex(),
        )
    ordered = sorted(inputs)
    tail = f"{len(op_id)}:{op_id}"
    hid = "".join([f"{len(n)}:{n}{len(h)}:{h}" for n, h, _ in ordered])
    cid = "".join([f"{len(n)}:{n}{len(c)}:{c}" for n, _, c in ordered])
    return (
        _digest(("11:gs:call-hid" + tail + hid).encode("utf-8", "surrogatepass")).hex(),
        _digest(("11:gs:call-cid" + tail + cid).encode("utf-8", "surrogatepass")).hex(),
    )


def derive_collection_cid(kind: str, members: list[tuple[Any, str]]) -> str:
    """Content id of a collection (``kind``: "list", "tuple", "dict" or "set") from its ``(key, element cid)``
    members: equal to ``hash_value`` of the plain value, without the elements' values.

    >>> derive_collection_cid("list", [(0, hash_value(1)), (1, hash_value("a"))]) == hash_value([1, "a"])
    True
    >>> derive_collection_cid("dict", [("k", hash_value(2))]) == hash_value({"k": 2})
    True
    """
    digests = [bytes.fromhex(cid) for _, cid in members]
    if kind == "dict":
        pairs = sorted(bytes.fromhex(hash_value(k)) + d for (k, _), d in zip(members, digests))
        return _digest(b"D" + str(len(pairs)).encode() + b":" + b"".join(pairs)).hex()
    if kind == "set":
        return _digest(b"E" + str(len(digests)).encode() + b":" + b"".join(sorted(digests))).hex()
    tag = b"L" if kind == "list" else b"T"
    return _digest(tag + str(len(digests)).encode() + b":" + b"".join(digests)).hex()


def derive_source_code_hash(source_text: str) -> str:
    """The hash of an op's source text recorded with the op: ``hash_text("gs:source-code", source_text)``."""
    return hash_text("gs:source-code", source_text)


def derive_pointer_cid(pointer_id: str) -> str:
    """Content id of a ValuePointer: ``hash_text("gs:pointer", pointer_id)``, from its id alone (its object is never
    hashed)."""
    return hash_text("gs:pointer", pointer_id)


def derive_output_hid(call_hid: str, output_name: str) -> str:
    """History id of an output from its call's history id and the output's name:
    ``hash_text("gs:output", call_hid, output_name)``."""
    text = f"9:gs:output{len(call_hid)}:{call_hid}{len(output_name)}:{output_name}"
    return _digest(text.encode("utf-8", "surrogatepass")).hex()


_by_reduction: Callable[[Any], bytes] | None = None


def digest_object(obj: Any) -> bytes:
    """The digest of an object of no known type, by ``graphstore.objhash`` (which uses the encoders above: it is
    imported at the first such object)."""
    global _by_reduction
    if _by_reduction is None:
        from .objhash import digest_object as by_reduction

        _by_reduction = by_reduction
    return _by_reduction(obj)
