"""Values survive serialization: codecs in isolation, and a real SQLite store closed and reopened."""

from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphstore import Storage, hash_value, op
from graphstore.codecs import decode_value, encode_value
from graphstore.errors import SerializationError
from strategies import arrays, dataframes, hashables, scalars, values


def same(a, b) -> bool:
    """Equality for round trips: exact types, NaN equal to NaN, numpy by dtype/shape/data, pandas by ``.equals``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        if a.dtype.kind in "mM":  # NaT never equals itself; compare the underlying integers
            return bool(np.array_equal(a.view("i8"), b.view("i8")))
        if a.dtype.hasobject:
            return all(same(x, y) for x, y in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist()))
        return bool(np.array_equal(a, b))
    if isinstance(a, pd.DataFrame):
        return bool(a.equals(b)) and list(map(str, a.dtypes)) == list(map(str, b.dtypes))
    if isinstance(a, (pd.Series, pd.Index)):
        return bool(a.equals(b)) and str(a.dtype) == str(b.dtype)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (set, frozenset)):  # a NaN in a set is found by identity only, so match elements pairwise
        rest = list(b)
        for x in a:
            match = next((i for i, y in enumerate(rest) if same(x, y)), None)
            if match is None:
                return False
            rest.pop(match)
        return not rest
    return a == b


def roundtrip(x):
    codec, data = encode_value(x)
    assert isinstance(data, bytes)
    return decode_value(codec, data)


# --- the helper itself must be able to say no ------------------------------------------------------------------------


def test_same_distinguishes_what_the_round_trips_must_preserve():
    assert same(float("nan"), float("nan"))
    assert not same(0.0, -0.0)
    assert not same(1, 1.0) and not same(1, True)
    assert not same(np.array([1], dtype="int64"), np.array([1], dtype="int32"))
    assert not same(np.array([1, 2]), np.array([[1, 2]]))
    assert same(np.array([np.nan]), np.array([np.nan]))
    assert not same(pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [1.0]}))
    assert same({float("nan"), 1}, {float("nan"), 1})
    assert not same({1, 2}, {1, 3})
    assert not same({"a": 1, "b": 2}, {"b": 2, "a": 1})  # insertion order is kept by a round trip, so check it


# --- codec round trips -----------------------------------------------------------------------------------------------


@given(scalars)
def test_scalars_round_trip(x):
    assert same(roundtrip(x), x)


@given(st.integers())
def test_ints_round_trip_with_the_plain_codec(x):
    codec, data = encode_value(x)
    assert codec == "pickle"
    assert same(decode_value(codec, data), x)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_round_trip_bit_for_bit(x):
    y = roundtrip(x)
    assert same(y, x)
    assert np.float64(y).tobytes() == np.float64(x).tobytes()


@given(st.one_of(st.text(), st.binary()))
def test_text_and_bytes_round_trip(x):
    assert same(roundtrip(x), x)


@given(
    st.recursive(
        scalars,
        lambda c: st.one_of(
            st.lists(c, max_size=3),
            st.tuples(c, c),
            st.dictionaries(st.text(max_size=3), c, max_size=3),
            st.sets(hashables, max_size=3),
            st.frozensets(hashables, max_size=3),
        ),
        max_leaves=8,
    )
)
def test_nested_containers_round_trip(x):
    assert same(roundtrip(x), x)


@given(arrays())
def test_numpy_arrays_round_trip(arr):
    codec, data = encode_value(arr)
    assert codec == "pickle"
    back = decode_value(codec, data)
    assert same(back, arr)
    assert hash_value(back) == hash_value(arr)


@given(dataframes())
def test_dataframes_round_trip(df):
    back = roundtrip(df)
    assert same(back, df)
    assert list(back.columns) == list(df.columns)
    assert hash_value(back) == hash_value(df)


@given(values)
def test_any_value_round_trips_with_an_unchanged_content_id(x):
    back = roundtrip(x)
    assert same(back, x)
    assert hash_value(back) == hash_value(x)


def test_codec_choice():
    assert encode_value([1, 2.5, "x", b"y", None, {"k": (1, {2})}])[0] == "pickle"
    assert encode_value(np.arange(3))[0] == "pickle"
    assert encode_value([np.arange(3)])[0] == "pickle"
    assert encode_value(np.array([1, "a"], dtype=object))[0] == "cloudpickle"
    assert encode_value(pd.DataFrame({"a": [1]}))[0] == "cloudpickle"
    assert encode_value(lambda: 1)[0] == "cloudpickle"
    deep = [[[[[1]]]]]  # five levels of containers: still plain
    assert encode_value(deep)[0] == "pickle"
    deeper = [deep]  # six: cloudpickle, and it still round-trips
    assert encode_value(deeper)[0] == "cloudpickle"
    assert roundtrip(deeper) == deeper


def test_self_referential_list_round_trips():
    a: list = [1]
    a.append(a)
    back = roundtrip(a)
    assert back[0] == 1 and back[1] is back


def test_lambda_round_trips_via_cloudpickle():
    offset = 10
    f = lambda x: x + offset  # noqa: E731
    codec, data = encode_value(f)
    assert codec == "cloudpickle"
    g = decode_value(codec, data)
    assert g(5) == 15
    assert g is not f


def test_local_class_instance_round_trips_via_cloudpickle():
    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

        def norm2(self):
            return self.x * self.x + self.y * self.y

    p = Point(3, 4)
    codec, data = encode_value(p)
    assert codec == "cloudpickle"
    q = decode_value(codec, data)
    assert q is not p
    assert type(q).__name__ == "Point"
    assert (q.x, q.y) == (3, 4)
    assert q.norm2() == 25


def test_unserializable_value_names_its_type():
    with pytest.raises(SerializationError, match="lock"):
        encode_value(threading.Lock())
    with pytest.raises(SerializationError, match="lock"):
        encode_value([1, threading.Lock()])


def test_bad_stored_bytes_and_unknown_codecs_are_serialization_errors():
    with pytest.raises(SerializationError, match="codec 'pickle'"):
        decode_value("pickle", b"not a pickle")
    with pytest.raises(SerializationError, match="unknown codec 'json'"):
        decode_value("json", b"{}")


# --- a real store: write, close, reopen, retrace, load ----------------------------------------------------------------


@op
def ident(x):
    return x


def _lazy_refs(result):
    return list(result) if isinstance(result, tuple) else [result]


@settings(max_examples=20)
@given(values)
def test_value_survives_a_file_store_reopened(tmp_path_factory, x):
    path = str(tmp_path_factory.mktemp("codecs") / "store.db")
    original_cid = hash_value(x)
    storage = Storage(path)
    with storage:
        first = ident(x)
    first_cids = [r.cid for r in _lazy_refs(first)]
    storage.close()

    reopened = Storage(path)
    try:
        with reopened:
            again = ident(x)  # a tuple argument comes back as a tuple of Refs, one per element (nout="auto")
        refs = _lazy_refs(again)
        assert all(not r.in_memory for r in refs)
        assert [r.cid for r in refs] == first_cids
        loaded = reopened.unwrap(again)
        assert same(loaded, x)
        assert hash_value(loaded) == original_cid
        if not isinstance(x, tuple):
            assert again.cid == original_cid
    finally:
        reopened.close()


def test_dataframe_survives_a_file_store_reopened(db_path, store_kind):
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, float("nan"), -0.0], "c": ["x", "y", "z"]})
    storage = Storage(db_path)
    with storage:
        ident(df)
    storage.close()
    reopened = Storage(db_path)
    with reopened:
        ref = ident(df)
    assert ref.in_memory is False
    loaded = reopened.unwrap(ref)
    reopened.close()
    assert loaded is not df
    assert same(loaded, df)
    assert hash_value(loaded) == hash_value(df) == ref.cid
