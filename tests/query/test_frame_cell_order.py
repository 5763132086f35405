"""Cells of several elements list them in history order, the same in every column of a row: zipping two columns
pairs each input with its own output, whatever order the calls were first computed in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from graphstore import MList, Storage, op


@op
def prep(n):
    return n + 1


@op
def fit(p):
    return p * 10


@op(output_names=["score"])
def ensemble(models: MList[int]):
    return sum(models)


def test_zipped_columns_pair_each_input_with_its_output_in_list_order():
    storage = Storage()
    with storage:
        fit(prep(4)), fit(prep(2))  # computed first, in another order than the lists below
        for k in range(3):
            ensemble([fit(prep(n + k)) for n in (4, 0, 2, 1)])
    cf = storage.cf(ensemble).expand_back(recursive=True)
    df = cf.df().sort_values("score")
    assert df["n"].tolist() == [[4, 0, 2, 1], [5, 1, 3, 2], [6, 2, 4, 3]]  # the lists' order
    for _, row in df.iterrows():
        assert [10 * (n + 1) for n in row["n"]] == row["elts"]
        assert [p - 1 for p in row["p"]] == row["n"]
        assert [storage.unwrap(c.inputs["n"]) for c in row["prep"]] == row["n"]
        assert [storage.unwrap(c.outputs["output_0"]) for c in row["fit"]] == row["elts"]
    refs = cf.df(values="refs", include_calls=False).loc[df.index]  # the same rows, in the same order
    for i, row in refs.iterrows():  # Refs follow the same order as values
        assert storage.unwrap(row["n"]) == df.loc[i, "n"] and storage.unwrap(row["elts"]) == df.loc[i, "elts"]


def test_a_chain_lists_its_values_upstream_first():
    @op
    def double(x):
        return 2 * x

    @op(output_names=["out"])
    def finish(x):
        return x

    storage = Storage()
    with storage:
        for start in (3, 5):
            x = start
            for _ in range(3):
                x = double(x)
            finish(x)
    df = storage.cf(finish).expand_back(recursive=True).df(include_calls=False).sort_values("out")
    assert df["x"].tolist() == [[3, 6, 12, 24], [5, 10, 20, 40]]


@given(
    st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=6), min_size=1, max_size=4),
    st.lists(st.integers(0, 30), max_size=8),
)
def test_columns_of_a_row_are_aligned(lists, computed_first):
    storage = Storage()
    with storage:
        for n in computed_first:
            fit(prep(n))
        for ns in lists:
            ensemble([fit(prep(n)) for n in ns])
    df = storage.cf(ensemble).expand_back(recursive=True).df()
    expected: dict = {}
    for ns in lists:
        expected.setdefault(sum(10 * (n + 1) for n in ns), []).append(list(dict.fromkeys(ns)))
    df = df[df["ensemble"].notna()]  # (calls computed first and never aggregated have rows of their own)
    assert len(df) == len({tuple(ns) for ns in lists})
    for _, row in df.iterrows():
        cells = {c: row[c] if isinstance(row[c], list) else [row[c]] for c in ("n", "p", "elts", "prep", "fit")}
        assert cells["n"] in expected[row["score"]]  # distinct inputs, in the order of the list
        assert len({len(v) for v in cells.values()}) == 1
        for n, p, out, c_prep, c_fit in zip(*cells.values()):
            assert (p, out) == (n + 1, 10 * (n + 1))
            assert storage.unwrap(c_prep.inputs["n"]) == n and storage.unwrap(c_fit.inputs["p"]) == p
    storage.close()
