"""Shared hypothesis strategies for values graphstore hashes and stores.

Sizes are kept small on purpose: these strategies feed property tests that also open SQLite files and start
subprocesses, and the suite has to stay fast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["arrays", "dataframes", "hashables", "object_fields", "scalars", "values"]

floats = st.floats(allow_nan=True, allow_infinity=True)
"""Every float, NaN (of any sign and payload hypothesis makes), infinities and -0.0 included."""

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    floats,
    st.text(max_size=8),
    st.binary(max_size=8),
)
"""Builtin scalars: None, bools, ints (big ones too), floats incl. NaN/inf, text and bytes."""

hashables = st.one_of(
    scalars,
    st.tuples(scalars, scalars),
    st.frozensets(st.one_of(st.integers(), st.text(max_size=4)), max_size=3),
)
"""Values that can live in a set or be a dict key."""

_ARRAY_DTYPES = [
    np.dtype("int64"),
    np.dtype("int8"),
    np.dtype("float64"),
    np.dtype("float32"),
    np.dtype("bool"),
    np.dtype("<U3"),
    np.dtype("datetime64[s]"),
    np.dtype("complex128"),
]


@st.composite
def arrays(draw) -> np.ndarray:
    """Small numpy arrays of several dtypes and 0 to 2 dimensions; sometimes a non-contiguous view."""
    dtype = draw(st.sampled_from(_ARRAY_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4))
    arr = draw(hnp.arrays(dtype, shape))
    if arr.ndim >= 1 and arr.shape[0] > 1 and draw(st.booleans()):
        arr = arr[::2]  # a strided view, not C-contiguous when it has more than one row left
    return arr


_COLUMN_KINDS = {
    "int": st.integers(-(2**31), 2**31),
    "float": floats,
    "str": st.text(max_size=4),
    "bool": st.booleans(),
}


@st.composite
def dataframes(draw) -> pd.DataFrame:
    """Small DataFrames: up to 3 columns of ints, floats (NaN included), strings or bools, up to 4 rows."""
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=3))
    nrows = draw(st.integers(0, 4))
    data = {}
    for name in names:
        kind = draw(st.sampled_from(sorted(_COLUMN_KINDS)))
        data[name] = draw(st.lists(_COLUMN_KINDS[kind], min_size=nrows, max_size=nrows))
        if kind == "float":
            data[name] = pd.Series(data[name], dtype="float64")
        elif kind == "int":
            data[name] = pd.Series(data[name], dtype="int64")
        elif kind == "bool":
            data[name] = pd.Series(data[name], dtype="bool")
        else:
            data[name] = pd.Series(data[name], dtype=object if draw(st.booleans()) else None)
    if not data:
        return pd.DataFrame(index=pd.RangeIndex(nrows))
    return pd.DataFrame(data)


values = st.recursive(
    st.one_of(scalars, arrays(), dataframes()),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=4), children, max_size=3),
        st.sets(hashables, max_size=3),
    ),
    max_leaves=6,
)
"""Nested lists, tuples, str-keyed dicts and sets of hashables, with scalars, numpy arrays and DataFrames as leaves."""


object_fields = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d"]),
    st.one_of(
        scalars,
        st.sets(st.one_of(st.integers(), st.text(max_size=4)), max_size=5),
        st.frozensets(st.text(max_size=3), max_size=5),
        st.lists(scalars, max_size=3),
        st.dictionaries(st.text(max_size=3), st.sets(st.integers(), max_size=3), max_size=3),
    ),
    max_size=4,
)
"""Attributes of an object (names ``a`` to ``d``): scalars, sets and frozensets, lists, dicts of sets."""
