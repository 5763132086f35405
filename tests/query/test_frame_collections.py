"""Frames over collections: structural calls (``__make_list__``, ``__list_getitem__``) are ordinary function nodes,
and a cell that aggregates several values holds all of them."""

from __future__ import annotations

from graphstore import op
from graphstore.structs import MList
from naive_eval import naive_rows, sql_rows


@op
def train(n):
    return n * 10


@op(output_names=["score"])
def ensemble(models: MList[int]):
    return sum(models)


@op
def evens(n) -> MList[int]:
    return list(range(0, n, 2))


@op(output_names=["sq"])
def square(x):
    return x * x


def test_aggregation_through_a_list_gives_collection_cells(storage):
    with storage:
        for k in range(3):
            ensemble([train(n + k) for n in range(3)])
    cf = storage.cf(ensemble).expand_back(recursive=True)
    assert "__make_list__" in cf.fnames and "train" in cf.fnames
    df = cf.df(include_calls=False).sort_values("score")
    assert df["score"].tolist() == [30, 60, 90]
    assert [sorted(ns) for ns in df["n"]] == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert ("elts", "__make_list__", "*elts") in cf.edges()  # one edge for all the elements, however many
    assert sql_rows(storage, cf.pattern) == naive_rows(storage, cf.pattern)


@op
def total(*args):
    return sum(args)


def test_star_args_are_one_grouped_edge(storage):
    with storage:
        for k in range(1, 4):
            total(*[train(n) for n in range(k)])
    cf = storage.cf(total).expand_back(recursive=True)
    assert ("args", "total", "*args") in cf.edges()
    df = cf.df(include_calls=False).sort_values("var_0")
    assert df["var_0"].tolist() == [0, 10, 30]
    assert df["args"].tolist()[0] == 0 and sorted(df["args"].tolist()[2]) == [0, 10, 20]
    assert sql_rows(storage, cf.pattern) == naive_rows(storage, cf.pattern)


def test_elements_of_a_returned_list_trace_back_to_it(storage):
    with storage:
        xs = evens(8)
        for x in xs:
            square(x)
    cf = storage.cf(square).expand_back(recursive=True)
    assert {"__list_getitem__", "evens"} <= cf.fnames
    df = cf.df(include_calls=False).sort_values("sq")
    assert df["sq"].tolist() == [0, 4, 16, 36] and set(df["n"]) == {8}
    assert sql_rows(storage, cf.pattern) == naive_rows(storage, cf.pattern)


def test_filters_keep_whole_aggregated_cells(storage):
    with storage:
        for k in range(1, 4):
            total(*[train(n) for n in range(k)])
    cf = storage.cf(total).expand_back(recursive=True)
    kept = cf.isin("args", [10]).df(include_calls=False)  # histories whose args hold 10: the sums 10 and 30
    assert sorted(kept["var_0"]) == [10, 30]
    assert sorted(kept.sort_values("var_0")["args"].iloc[1]) == [0, 10, 20]
    assert sql_rows(storage, cf.isin("args", [10]).pattern) == naive_rows(storage, cf.isin("args", [10]).pattern)
