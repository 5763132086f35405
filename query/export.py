"""A frame's table for other tools: calls and refs as their history ids, values as native columns where the file
format has a type for them, text otherwise.

>>> import pandas as pd
>>> from graphstore.refs import Ref
>>> table = pd.DataFrame({"x": [1, 2], "f": [Ref("c" * 32, "a" * 32), None], "obj": [object, 1.5]})
>>> portable(table).to_dict("list")
{'x': [1, 2], 'f': ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', None], 'obj': ["<class 'object'>", '1.5']}
"""

from __future__ import annotations

import datetime
import decimal
import os
from typing import Any

import numpy as np
import pandas as pd

from graphstore.refs import Call, Ref

_SCALARS = (bool, int, float, str, bytes, datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, np.generic)


def portable(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` that CSV and parquet files hold as it is: a Call or Ref becomes its history id (32-hex
    text), a column of plain values (numbers, text, bytes, times) stays as it is, and a column holding anything
    else (arrays, lists, objects of the user's classes) becomes the text of each value (``str``)."""
    out = {}
    for name in table.columns:
        column = table[name]
        if column.dtype != object:
            out[name] = column
            continue
        items = [_id_of(v) for v in column]
        if all(v is None or _is_scalar(v) for v in items):
            out[name] = pd.Series(items, index=table.index, dtype=object)
        else:
            out[name] = pd.Series([None if v is None else str(v) for v in items], index=table.index, dtype=object)
    return pd.DataFrame(out, index=table.index)


def _id_of(value: Any) -> Any:
    if isinstance(value, (Call, Ref)):
        return value.hid
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def _is_scalar(value: Any) -> bool:
    return isinstance(value, _SCALARS) and not isinstance(value, np.ndarray)


def to_csv(table: pd.DataFrame, path: str | os.PathLike, **options: Any) -> str:
    """Write :func:`portable` ``table`` as CSV (without pandas' index unless ``index=True``); returns the path."""
    options.setdefault("index", False)
    portable(table).to_csv(path, **options)
    return os.fspath(path)


def to_parquet(table: pd.DataFrame, path: str | os.PathLike, **options: Any) -> str:
    """Write :func:`portable` ``table`` as parquet; returns the path. Needs pyarrow (the ``parquet`` extra)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError(
            f"writing {os.fspath(path)!r} as parquet needs pyarrow: pip install 'graphstore[parquet]' "
            "(or pip install pyarrow)"
        ) from None
    options.setdefault("index", False)
    portable(table).to_parquet(path, **options)
    return os.fspath(path)
