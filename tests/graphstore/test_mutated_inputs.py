"""An op that changes its argument in place: the store keeps the value that was hashed, and the user is warned.

Each test records, in one context, an op that changes its input and a second op that produces, from scratch, the same
content as that input had before the change. A new process then reads the store: every stored value must hash to
its content id, and the second op's output must load as the value it returned.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from graphstore import InputMutatedWarning, Storage, hash_value, op, wrap_atom
from store_tools import audit_store


@op
def sort_in_place(xs):
    xs.sort()
    return xs[0]


@op
def append_in_place(xs):
    xs.append(99)
    return len(xs)


@op
def make_list(n):
    return [3, 1, 2] if n == 3 else list(range(n))


@op
def center_in_place(a):
    a -= a.mean()
    return float(a.std())


@op
def make_array(n):
    return np.arange(n, dtype=float)


@op
def fill_in_place(df):
    df.fillna(0, inplace=True)
    return int(df.shape[0])


@op
def make_frame(n):
    return pd.DataFrame({"x": [1.0, None, 3.0][:n], "y": ["a", "b", "c"][:n]})


@op
def total(x):
    return float(sum(x))


def _mutation_warnings(caught: list) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, InputMutatedWarning)]


def _assert_store_sound(path: str, expected: dict) -> None:
    """In a new process: every value matches its content id, nothing is unloadable, check() is clean, and the refs
    in ``expected`` (hid -> value) load as those values."""
    report = audit_store(path)
    assert report["values"] > 0
    assert report["mismatched"] == [] and report["unloadable"] == [] and report["problems"] == []
    for hid, value in expected.items():
        assert report["loaded"][hid] == repr(value), (report["loaded"][hid], value)


@pytest.mark.parametrize("mutator, what", [(sort_in_place, "sort"), (append_in_place, "append")])
def test_list_changed_in_place_keeps_the_hashed_value(tmp_path, mutator, what):
    path = str(tmp_path / "s.db")
    storage = Storage(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with storage:
            raw = [3, 1, 2]
            mutator(raw)  # a plain list: the general path
            made = make_list(3)  # the same content, produced by an op
            mutator(made)  # an AtomRef holding a list: the fast path
            again = make_list(3)  # retraced: lazy
            t = total(made)  # `made` was changed in place: the original value is used
    storage.close()
    assert raw != [3, 1, 2]  # the program's own list did change
    fresh = Storage(path)
    assert fresh.unwrap(again) == [3, 1, 2]
    assert fresh.unwrap(t) == 6.0
    fresh.close()
    _assert_store_sound(path, {made.hid: [3, 1, 2], again.hid: [3, 1, 2]})
    messages = _mutation_warnings(caught)
    assert len(messages) == 1, messages  # once per op and argument
    assert mutator.name in messages[0] and "'xs'" in messages[0]


def test_numpy_array_changed_in_place_keeps_the_hashed_value(tmp_path):
    path = str(tmp_path / "s.db")
    storage = Storage(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with storage:
            raw = np.arange(4, dtype=float)
            center_in_place(raw)
            made = make_array(4)
            center_in_place(made)
    storage.close()
    fresh = Storage(path)
    original = np.arange(4, dtype=float)
    np.testing.assert_array_equal(fresh.unwrap(fresh.load_ref(made.hid)), original)
    fresh.close()
    report = audit_store(path)
    assert report["mismatched"] == [] and report["unloadable"] == [] and report["problems"] == []
    assert report["loaded"][made.hid] == repr(original)
    messages = _mutation_warnings(caught)
    assert len(messages) == 1 and "center_in_place" in messages[0] and "'a'" in messages[0]


def test_pandas_fillna_in_place_keeps_the_hashed_value(tmp_path):
    path = str(tmp_path / "s.db")
    storage = Storage(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with storage:
            raw = pd.DataFrame({"x": [1.0, None, 3.0], "y": ["a", "b", "c"]})
            fill_in_place(raw)
            made = make_frame(3)
    storage.close()
    original = pd.DataFrame({"x": [1.0, None, 3.0], "y": ["a", "b", "c"]})
    assert made.cid == hash_value(original) and raw.isna().sum().sum() == 0
    fresh = Storage(path)
    pd.testing.assert_frame_equal(fresh.unwrap(fresh.load_ref(made.hid)), original)
    fresh.close()
    report = audit_store(path)
    assert report["mismatched"] == [] and report["unloadable"] == [] and report["problems"] == []
    messages = _mutation_warnings(caught)
    assert len(messages) == 1 and "fill_in_place" in messages[0] and "'df'" in messages[0]


def test_ops_that_do_not_change_their_inputs_are_not_warned_about(tmp_path):
    storage = Storage(str(tmp_path / "s.db"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with storage:
            total([1.0, 2.0])
            total(make_list(5))
            total(wrap_atom((1, 2)))
    storage.close()
    assert _mutation_warnings(caught) == []
