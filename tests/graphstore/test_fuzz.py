"""Fuzzing the public API with hostile input: odd signatures and names, values that cannot be hashed or pickled, huge,
empty and nested values, NaN keys.

Every failure must be one of graphstore's own errors (a GraphstoreError) naming what was wrong, nothing may be stored
for a refused call, every accepted call must retrace and read back the same value, and the store must pass check()
after every example.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from graphstore import (
    GraphstoreError,
    MDict,
    MList,
    OpDefinitionError,
    Storage,
    ValueTooLargeError,
    hash_value,
    op,
)
from graphstore.structs import STRUCTURAL_OPS

# the fuzzed values include lambdas, which only the pickle can hash: their warning is expected here
pytestmark = pytest.mark.filterwarnings("ignore::graphstore.UnstableIdWarning")

THRESHOLD_MB = 0.01  # 10,000 bytes: "huge" values below go to the overflow directory (or are refused without one)

# --- hostile values ---------------------------------------------------------------------------------------------------


class BadReduce:
    def __reduce__(self):
        raise RuntimeError("no pickling")


class PicklesOnce:
    def __init__(self) -> None:
        self.n = 0

    def __reduce__(self):
        self.n += 1
        if self.n > 1:
            raise RuntimeError("pickled once already")
        return (PicklesOnce, ())


class EqRaises:
    """Picklable, but comparing it raises."""

    def __eq__(self, other):
        raise RuntimeError("no comparing")

    __hash__ = object.__hash__


def _self_containing():
    x: list = [1]
    x.append(x)
    return x


HOSTILE = {
    "lock": threading.Lock,
    "generator": lambda: (i for i in range(2)),
    "bad_reduce": BadReduce,
    "pickles_once": PicklesOnce,
    "eq_raises": EqRaises,
    "self_containing": _self_containing,
    "lambda": lambda: lambda v: v + 1,
    "object_array": lambda: np.array([1, "a", None], dtype=object),
    "float_array": lambda: np.arange(6.0).reshape(2, 3),
    "huge_bytes": lambda: b"\x00" * 20_000,
    "huge_text": lambda: "é" * 12_000,
}

odd_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=6),  # any code point, lone surrogates too
    st.sampled_from(
        [
            "",
            "\x00",
            "\x1e\x1f",
            "é",
            "名前",
            "\ud800",
            "a\udcffb",
            "elts_0",
            "args_0",
            "output_0",
            "x",
            "self",
            "__class__",
        ]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.just(5000).map(lambda n: 10**n),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(allow_nan=True),
    odd_text,
    st.binary(max_size=40),
    st.just(b""),
    st.just(""),
)
keys = st.one_of(st.floats(allow_nan=True), odd_text, st.integers(), st.tuples(st.integers()))
plain = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=3),
        st.frozensets(st.one_of(st.integers(), odd_text, st.floats(allow_nan=True)), max_size=3),
    ),
    max_leaves=8,
)
hostile = st.sampled_from(sorted(HOSTILE)).map(lambda k: HOSTILE[k]())
values = st.one_of(plain, plain, hostile, st.lists(hostile, min_size=1, max_size=2))

# --- ops with odd signatures (plain functions: each example makes ops of them under fuzzed names) ---------------------


def posonly(a, b=2, /, c=None):
    return [a, b, c]


def kwonly(*, k, k2="d", **rest):
    return [k, k2, rest]


def variadic(*args, **kwargs):
    return [args, kwargs]


def underscores(_, __=None, *___, ____=1, **_____):
    return [_, __, ___, ____, _____]


def unicode_names(ä, 名前=1, *ξs, **κw):
    return [ä, 名前, ξs, κw]


def structured(d: MDict, xs: MList) -> MList:
    return [len(d), len(xs)]


def two_outputs(a, b=None):
    return a, b


def counting(*args, **kwargs):  # keeps nothing of its arguments: a value that cannot be pickled fails as an argument
    return len(args) + len(kwargs)


SIGNATURES = [posonly, kwonly, variadic, underscores, unicode_names, structured, two_outputs, counting]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A file store with an overflow directory, and one without (where huge values are refused)."""
    root = tmp_path_factory.mktemp("fuzz")
    made = [
        Storage(root / "with.db", overflow_dir=root / "ovf", overflow_threshold_MB=THRESHOLD_MB),
        Storage(root / "without.db", overflow_threshold_MB=THRESHOLD_MB),
    ]
    yield made
    for s in made:
        s.close()


def _same(a, b) -> bool:
    """Equal as graphstore sees values: equal content ids (NaN-safe, order-insensitive for dicts and sets)."""
    return hash_value(a) == hash_value(b)


def _make_op(func, name, output_names):
    try:
        return op(func, name=name, output_names=output_names)
    except OpDefinitionError as exc:
        bad_name = not name or any(0xD800 <= ord(c) <= 0xDFFF for c in name) or name in STRUCTURAL_OPS
        assert bad_name or output_names is not None, exc
        assert str(exc), exc
        return None


@given(
    data=st.data(),
    which=st.sampled_from(range(len(SIGNATURES))),
    name=odd_text,
    args=st.lists(values, max_size=3),
    kwargs=st.dictionaries(odd_text, values, max_size=3),
    use_overflow=st.booleans(),
)
def test_fuzz_calls(stores, data, which, name, args, kwargs, use_overflow):
    storage = stores[0] if use_overflow else stores[1]
    func = SIGNATURES[which]
    output_names = data.draw(st.none() | st.lists(odd_text, min_size=2, max_size=2)) if func is two_outputs else None
    f = _make_op(func, f"fz{which}_{name}", output_names)
    if f is None:
        event("refused: OpDefinitionError")
        return
    before = storage.cache_info()
    try:
        with storage:
            result = f(*args, **kwargs)
    except GraphstoreError as exc:
        event(f"refused: {type(exc).__name__}")
        message = str(exc)
        assert f.name in message or repr(f.name) in message or "cannot hash" in message, message
        if isinstance(exc, ValueTooLargeError):
            assert not use_overflow
        after = storage.cache_info()  # nothing of the refused call was stored
        assert {k: after[k] for k in ("calls", "edges", "members")} == {
            k: before[k] for k in ("calls", "edges", "members")
        }
    else:
        event("stored")
        outputs = result if isinstance(result, tuple) else (result,)
        loaded = [storage.unwrap(r) for r in outputs]
        # the same call again, and from disk: retraced, nothing runs, the values read back the same
        with storage.allow_new_calls(False), storage:
            again = f(*args, **kwargs)
        again = again if isinstance(again, tuple) else (again,)
        assert [r.hid for r in again] == [r.hid for r in outputs]
        for ref, value in zip(again, loaded):
            assert _same(storage.unwrap(ref.detached()), value)
    report = storage.check()
    assert report.ok, report.problems
    assert storage.cache_info()["pending_calls"] == 0


@given(
    value=values,
    key_name=odd_text,
)
def test_fuzz_values_through_one_op(stores, value, key_name):
    """Any value through an identity op: refused with a message naming the op and the argument or output, or
    stored and read back with the same content id."""
    storage = stores[0]

    @op(name="fz_ident", nout=1)
    def ident(x):
        return x

    @op(name="fz_wrap")
    def wrap(**kw):
        return kw

    try:
        expected = hash_value(value)
    except GraphstoreError:
        expected = None
    try:
        with storage:
            out = ident(value)
            wrapped = wrap(**{key_name: out})  # the value under an odd keyword, as a lazy or in-memory Ref
    except GraphstoreError as exc:
        event(f"refused: {type(exc).__name__}")
        message = str(exc)
        assert "op fz_ident" in message or "op fz_wrap" in message or "cannot hash" in message, message
        assert "argument" in message or "output" in message or "cannot hash" in message, message
    else:
        event("stored")
        assert expected is not None and out.cid == expected
        assert storage.unwrap(out.detached()).__class__ is type(value) or isinstance(value, float)
        assert _same(storage.unwrap(out.detached()), value)
        assert _same(storage.unwrap(wrapped.detached()), {key_name: value})
    assert storage.check().ok


@given(keys=st.lists(st.floats(allow_nan=True), min_size=1, max_size=4), nested=plain)
def test_fuzz_nan_keys_round_trip(stores, keys, nested):
    storage = stores[0]

    @op(name="fz_nan")
    def build(ks, inner):
        return {k: inner for k in ks}

    with storage:
        out = build(keys, nested)
    got = storage.unwrap(out.detached())
    assert len(got) == len({k: None for k in keys})  # NaN keys are all kept (each NaN is its own key)
    assert all(math.isnan(k) for k in got if isinstance(k, float) and k != k)
    assert _same(got, {k: nested for k in keys})
    assert storage.check().ok
