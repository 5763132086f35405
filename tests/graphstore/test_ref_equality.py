"""Ref equality: two Refs are equal exactly when their histories are (same hid), and hash alike; comparing a Ref with
a value raises ``RefComparisonError`` telling to unwrap, whether the value is in memory or not. Tables of Refs
still support the pandas operations that compare cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphstore import Call, RefComparisonError, op, wrap_atom


@op
def inc(x):
    return x + 1


@op
def same(x):
    return x


def test_refs_with_the_same_history_are_equal_and_hash_alike(storage):
    with storage:
        a = inc(1)
    with storage:
        b = inc(1)  # retraced: another object, lazy
    assert a is not b and not b.in_memory
    assert a == b and not (a != b) and hash(a) == hash(b)
    assert {a, b} == {a} and {a: 1}[b] == 1 and b in [a]
    assert a.detached() == a


def test_refs_with_the_same_value_but_other_histories_differ(storage):
    with storage:
        a, b = inc(1), same(2)
    assert storage.unwrap(a) == storage.unwrap(b) == 2 and a.cid == b.cid
    assert a != b and len({a, b}) == 2
    assert wrap_atom(2) == wrap_atom(2) and wrap_atom(2) != a


@pytest.mark.parametrize("value", [2, 2.0, "2", [2], np.int64(2)])
def test_comparing_a_ref_with_a_value_raises_and_tells_to_unwrap(storage, value):
    with storage:
        loaded = inc(1)
    with storage:
        lazy = inc(1)
    for ref in (loaded, lazy):  # the same rule whether the value is in memory or not
        with pytest.raises(RefComparisonError, match=r"storage\.unwrap\(ref\)"):
            ref == value  # noqa: B015
        with pytest.raises(RefComparisonError):
            ref != value  # noqa: B015
        with pytest.raises(RefComparisonError):
            value == ref  # noqa: B015  (the reflected comparison reaches the Ref too)
    assert storage.unwrap(lazy) == 2


def test_a_ref_is_never_none_nor_a_call(storage):
    with storage:
        y = inc(1)
    call = storage.get_ref_creator(y)
    assert isinstance(call, Call)
    assert (y == None) is False and (y != None) is True  # noqa: E711
    assert (y == call) is False and y in [None, call, y]


def test_tables_of_refs_support_the_pandas_operations_that_compare_cells(storage):
    with storage:
        for x in (1, 2, 2, 3):
            inc(x)
        same(2)
    df = storage.cf(inc).df(values="refs", include_calls=False)
    assert len(df) == 3  # inc(2) is one call
    ref = df["var_0"].iloc[0]
    assert (df["var_0"] == ref).tolist() == [True, False, False]
    assert df["var_0"].isin([ref]).sum() == 1 and not df["var_0"].isna().any()
    doubled = pd.concat([df, df], ignore_index=True)
    assert len(doubled.drop_duplicates()) == 3
    assert doubled["var_0"].nunique() == 3 and doubled["var_0"].value_counts().max() == 2
    merged = df.merge(storage.cf(inc).df(values="refs"), on=["x", "var_0"])
    assert len(merged) == 3 and "inc" in merged.columns
    assert len(df.groupby("var_0", sort=False)) == 3  # (Refs have no order: sorting them raises)
    with pytest.raises(RefComparisonError):  # raised through pandas, not answered False
        df["var_0"] == 3  # noqa: B015  (compare the values instead:)
    with pytest.raises(RefComparisonError):
        np.asarray(df["var_0"]) == 3  # noqa: B015
    values = storage.cf(inc).df(include_calls=False)
    assert (values["var_0"] == 3).sum() == 1
