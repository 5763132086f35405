"""ComputationFrame: creation, naming, expansion and extraction on small pipelines."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from graphstore.query import ComputationFrame, FrameStructureError, QueryError, UnknownNodeError

from graphstore import Call, Ref, Storage, op


@op
def inc(x):
    return x + 1


@op(output_names=["y"])
def inc_y(x):
    return x + 1


@op(output_names=["z"])
def add(x, y):
    return x + y


def test_single_op_table_is_its_memo_table(storage):
    with storage:
        for i in range(10):
            inc(i)
    df = storage.cf(inc).df()
    assert df.shape == (10, 3)
    assert list(df.columns) == ["x", "inc", "var_0"]
    assert sorted(zip(df["x"], df["var_0"])) == [(i, i + 1) for i in range(10)]
    assert all(isinstance(c, Call) and c.op_name == "inc" for c in df["inc"])
    refs = storage.cf(inc).df(values="refs")
    assert all(isinstance(r, Ref) and not r.in_memory for r in refs["x"])


def composed(storage: Storage) -> None:
    with storage:
        for x in range(5):
            y = inc_y(x)
            if x % 2 == 0:
                add(x, y)


def test_named_outputs_compose_back_and_forward(storage):
    composed(storage)
    df = storage.cf(add).expand_all().df(include_calls=False)
    assert len(df) == 3
    assert {"x", "y", "z"} <= set(df.columns)
    assert all(row.z == row.x + row.y for row in df.itertuples())
    df = storage.cf(inc_y).expand_all().df(include_calls=False).sort_values("x")
    assert len(df) == 5
    assert [math.isnan(z) for z in df["z"]] == [False, True, False, True, False]
    assert list(df["y"]) == [1, 2, 3, 4, 5]


def test_partial_histories_have_null_calls(storage):
    composed(storage)
    df = storage.cf(inc_y).expand_forward().df().sort_values("x")
    assert [c is None for c in df["add"]] == [False, True, False, True, False]


@op
def load_data(n_class=2):
    return [n_class] * 4, [n_class % 2] * 4


@op
def train_model(X, y, n_estimators=5):
    return {"weights": sum(X) + sum(y), "n_estimators": n_estimators}


@op(output_names=["acc"])
def get_acc(model, X, y):
    return round(model["weights"] / (100 + model["n_estimators"]), 3)


@op
def get_acc_unnamed(model, X, y):
    return round(model["weights"] / (100 + model["n_estimators"]), 3)


def seed_pipeline(storage: Storage, acc_op=get_acc) -> None:
    with storage:
        for n_class in (2, 5):
            X, y = load_data(n_class)
            for n_estimators in (5, 10):
                model = train_model(X, y, n_estimators=n_estimators)
                acc_op(model, X, y)


def test_seed_pipeline_one_row_per_run(storage):
    seed_pipeline(storage)
    cf = storage.cf(get_acc).expand_all()
    df = cf.df()
    assert set(df.columns) == {
        "n_class",
        "n_estimators",
        "X",
        "y",
        "model",
        "acc",
        "load_data",
        "train_model",
        "get_acc",
    }
    assert len(df) == 4
    assert sorted(zip(df["n_class"], df["n_estimators"])) == [(2, 5), (2, 10), (5, 5), (5, 10)]
    for row in df.itertuples():
        assert row.X == [row.n_class] * 4 and row.model["n_estimators"] == row.n_estimators
    cols = list(df.columns)
    assert cols.index("n_class") < cols.index("X") < cols.index("model") < cols.index("acc")


def test_unnamed_single_output_is_var_0_like_mandala(storage):
    seed_pipeline(storage, get_acc_unnamed)
    df = storage.cf(get_acc_unnamed).expand_all().df(include_calls=False)
    assert set(df.columns) == {"n_class", "n_estimators", "X", "y", "model", "var_0"}
    assert len(df) == 4


def test_unnamed_tuple_outputs_from_the_op_are_var_k(storage):
    seed_pipeline(storage)
    cf = storage.cf(load_data)
    assert cf.vnames == {"n_class", "var_0", "var_1"}
    assert "var_0@output_0, var_1@output_1 = load_data(n_class=n_class)" in repr(cf)


@op
def f(x):
    return x * 2


@op
def g(x):
    return x * 3


@op(output_names=["c"])
def h(a, b):
    return a + b


def test_two_branches_merge_into_one_op(storage):
    with storage:
        for x in range(10):
            h(f(x), g(x))
    cf = storage.cf(h).expand_back(recursive=True).merge_vars()
    df = cf.df(include_calls=False)
    assert len(df) == 10
    assert sorted(cf.vnames) == ["a", "b", "c", "x"]
    assert all(row.c == 5 * row.x for row in df.itertuples())


@op
def scale(X):
    return X * 2


@op(output_names=["score"])
def evaluate(X):
    return X + 0.5


def test_in_place_loop_is_a_cycle(storage):
    with storage:
        for seed in range(3):
            X = inc(seed * 10)
            for _ in range(seed + 1):
                X = scale(X)
            evaluate(X)
    cf = storage.cf(evaluate).expand_back(recursive=True)
    assert ("X", "scale", "X") in cf.edges() and ("scale", "X", "output_0") in cf.edges()
    df = cf.df().sort_values("score")
    assert len(df) == 3
    assert list(df["score"]) == [2.5, 44.5, 168.5]
    last = df.iloc[2]
    assert last["X"] == [21, 42, 84, 168]  # history order: inc's output, then each scale
    assert len(last["scale"]) == 3 and last["x"] == 20


def test_conditional_execution_gives_nan_cells(storage):
    with storage:
        for n in range(6):
            y = inc(n)
            if n % 3 == 0:
                evaluate(y)
    df = storage.cf(inc).expand_all().df(include_calls=False).sort_values("x")
    assert [math.isnan(v) for v in df["score"]] == [n % 3 != 0 for n in range(6)]


def test_empty_frames_give_empty_tables(storage):
    df = storage.cf(inc).df()
    assert df.shape == (0, 1) and list(df.columns) == ["inc"]
    with storage:
        inc(1)
    df = storage.cf(inc).isin("x", [100]).df()
    assert df.shape == (0, 3) and list(df.columns) == ["x", "inc", "var_0"]
    assert storage.cf([]).df().shape == (0, 1)


def test_frames_from_refs_dicts_calls_and_ids(storage):
    with storage:
        ys = [inc(i) for i in range(3)]
        zs = [scale(y) for y in ys]
    cf = storage.cf(ys[0])
    assert cf.vnames == {"v"} and len(cf.df()) == 1
    cf = storage.cf({"y": ys, "z": zs}).expand_back("z")
    assert cf.vnames == {"y", "z"} and len(cf.df()) == 3  # scale's inputs are y's refs: they join y, as in mandala
    cf = cf.merge_vars()
    assert cf.vnames == {"y", "z"} and len(cf.df()) == 3
    call = storage.get_ref_creator(zs[0]) if hasattr(storage, "get_ref_creator") else None
    if call is not None:
        assert len(storage.cf(call).df()) == 1
    ids = storage.cf([r.hid for r in ys])
    assert ids.vnames == {"v"}
    with pytest.raises(FrameStructureError):
        storage.cf(["0" * 32])


def test_introspection(storage, capsys):
    composed(storage)
    cf = storage.cf(add).expand_back()
    assert cf.fnames == {"add", "inc_y"}
    assert cf.ops() == {"add": "add", "inc_y": "inc_y"}
    assert ("inc_y", "y", "y") in cf.edges() and ("y", "add", "y") in cf.edges()
    assert cf.sinks == {"z"} and "y" not in cf.sources
    assert "z = add(" in repr(cf) and "y = inc_y(x=" in repr(cf)
    info = cf.var_info("y")
    assert info["num_refs"] == 3 and info["creators"] == [("inc_y", "y")]
    assert sorted(cf.get_var_values("z")) == [1, 5, 9]
    table = cf.get_func_table("add")
    assert sorted(table["z"]) == [1, 5, 9] and set(table.columns) == {"x", "y", "z"}
    assert len(cf.calls) == 6 and all(isinstance(c, Call) for c in cf.calls.values())
    assert len(cf.refs) == len({r for rs in cf.refs_by_var().values() for r in rs})
    assert cf.info() is None  # printed once (a notebook echoes a returned text a second time)
    printed = capsys.readouterr().out
    assert printed == cf.info_text() + "\n" and "z: 3 refs" in printed and "add: 3 calls" in printed
    with pytest.raises(UnknownNodeError, match="no node named 'nope'"):
        cf.var_info("nope")
    with pytest.raises(QueryError):
        cf.df(values="bad")


def test_frames_are_immutable(storage):
    composed(storage)
    cf = storage.cf(add)
    grown = cf.expand_back()
    assert cf.fnames == {"add"} and grown.fnames == {"add", "inc_y"}
    renamed = grown.rename(vars={"z": "total"})
    assert "z" in grown.vnames and "total" in renamed.vnames
    assert isinstance(cf.copy(), ComputationFrame) and cf.copy().pattern == cf.pattern


def test_extraction_issues_a_bounded_number_of_statements(counter):
    def statements_for(n: int) -> int:
        s = Storage(tracer=counter)
        with s:
            for i in range(n):
                add(i, inc_y(i))
        cf = s.cf(add).expand_all()
        counter.reset()
        df = cf.df()
        assert len(df) == n
        s.close()
        return len(counter.statements)

    assert statements_for(5) == statements_for(700) <= 6


def test_sql_is_what_runs_and_targets_other_dialects(storage):
    composed(storage)
    cf = storage.cf(add).expand_all()
    text = cf.sql()
    assert '"edges"' in text and '"calls"' in text and "LEFT JOIN" in text
    from graphstore.query.sql.statements import plan_statements

    stmts, _ = plan_statements(cf.pattern, dialect="postgres")
    assert any("%(p0)s" in s.sql for s in stmts)


def test_df_options(storage):
    composed(storage)
    cf = storage.cf(inc_y).expand_all()
    assert len(cf.df(join_how="inner")) == 3
    assert "add" not in cf.df(include_calls=False).columns
    lazy = cf.df(lazy_vars=["y"])
    assert all(isinstance(r, Ref) for r in lazy["y"])
    sub = cf.df("x", "z")
    assert list(sub.columns) == ["x", "z"] and len(sub) == 5
    assert list(cf.eval("x", "y").columns) == ["x", "y"]
    hist = cf.get_history_df("y")
    assert set(hist.columns) == {"x", "inc_y", "y"} and len(hist) == 5
    assert isinstance(cf.df(), pd.DataFrame)
