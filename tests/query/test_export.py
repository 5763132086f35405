"""A frame's table written to CSV and parquet files: calls and refs as ids, plain values native, others as text."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from graphstore import op


class Point:
    def __init__(self, x):
        self.x = x

    def __str__(self):
        return f"Point({self.x})"


@op(output_names=["n", "label", "arr", "point"])
def describe(i):
    return i * 2, f"item {i}", np.arange(i + 1), Point(i)


@op
def scale(n, factor=0.5):
    return n * factor


def recorded(storage):
    with storage:
        for i in range(4):
            n, *_ = describe(i)
            if i % 2 == 0:
                scale(n)
    return storage.cf(describe).expand_forward()


def test_csv_holds_ids_native_values_and_text(storage, tmp_path):
    cf = recorded(storage)
    df = cf.df()
    path = cf.to_csv(tmp_path / "t.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == list(df.columns)
    assert list(back["describe"]) == [c.hid for c in df["describe"]]
    assert back["i"].tolist() == df["i"].tolist() and back["label"].tolist() == df["label"].tolist()
    assert back["point"].tolist() == [f"Point({i})" for i in df["i"]]
    assert back["arr"].tolist() == [str(a) for a in df["arr"]]
    assert back["scale"].isna().sum() == 2  # the histories without a scale call


def test_parquet_keeps_the_types_of_plain_values(storage, tmp_path):
    cf = recorded(storage)
    df = cf.df()
    back = pd.read_parquet(cf.to_parquet(tmp_path / "t.parquet"))
    assert list(back.columns) == list(df.columns)
    assert back["n"].tolist() == df["n"].tolist() and back["n"].dtype.kind == "i"
    assert back["var_0"].dropna().tolist() == df["var_0"].dropna().tolist()
    assert back["scale"].dropna().tolist() == [c.hid for c in df["scale"].dropna()]
    assert back["point"].tolist() == [f"Point({i})" for i in df["i"]]


def test_parquet_without_pyarrow_says_what_to_install(storage, tmp_path, monkeypatch):
    cf = recorded(storage)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"t\.parquet.*graphstore\[parquet\]"):
        cf.to_parquet(tmp_path / "t.parquet")
    assert not (tmp_path / "t.parquet").exists()
