"""mandala's computation-frame tests (tests/test_cfs.py) and the examples of its frame pages (topics "Query the
Storage with ComputationFrames", "Natively handling Python collections", "Advanced ComputationFrame tools", and the
blog post "Tidy Computations"), as graphstore tests. The scikit-learn models of the pages are replaced by small
ops with the same signatures and the same shape of results."""

from __future__ import annotations

import math

import pandas as pd

from graphstore.imports import *


def _empty(cell) -> bool:
    return cell is None or (isinstance(cell, float) and math.isnan(cell))


# --- test_cfs.py -------------------------------------------------------------------------------------------------


def test_frame_of_one_op_is_its_memoization_table():
    storage = Storage()

    @op
    def inc(x: int) -> int:
        return x + 1

    with storage:
        for i in range(10):
            inc(i)
    df = storage.cf(inc).df()
    assert df.shape == (10, 3)
    assert list(df.columns) == ["x", "inc", "var_0"]
    assert (df["var_0"] == df["x"] + 1).all()


def test_composed_ops_with_output_names():
    storage = Storage()

    @op(output_names=["y"])
    def inc(x):
        return x + 1

    @op(output_names=["z"])
    def add(x, y):
        return x + y

    with storage:
        for x in range(5):
            y = inc(x)
            if x % 2 == 0:
                add(x, y)
    df = storage.cf(add).expand_all().df()
    assert df.shape[0] == 3
    assert (df["z"] == df["x"] + df["y"]).all()

    df = storage.cf(inc).expand_all().df()
    assert df.shape[0] == 5
    assert (df["y"] == df["x"] + 1).all()
    done = df["z"].notnull()
    assert done.sum() == 3 and (df["z"] == df["x"] + df["y"])[done].all()


def test_merge_vars_of_two_branches():
    storage = Storage()

    @op(output_names=["y"])
    def inc(x):
        return x + 1

    @op(output_names=["z"])
    def add(x, y):
        return x + y

    @op(output_names=["w"])
    def mul(x, y):
        return x * y

    @op(output_names=["v"])
    def final(t):
        return t**2

    with storage:
        for x in range(10):
            y = inc(x)
            final(add(x, y) if x < 5 else mul(x, y))
    cf = storage.cf(final).expand_all().merge_vars()
    df = cf.df()
    assert df.shape[0] == 10
    assert sorted(df["v"]) == sorted((x + x + 1) ** 2 if x < 5 else (x * (x + 1)) ** 2 for x in range(10))


# --- topics/03_cf: a toy training pipeline ---------------------------------------------------------------------


@op
def generate_dataset(random_seed=42):
    return [random_seed, 1, 2], [random_seed, 3], [0, 1, 0], [1, 0]


@op
def train_model(X_train, y_train, n_estimators):
    return ("forest", n_estimators), round(0.7 + n_estimators / 800, 2)


@op
def eval_model(model, X_test, y_test):
    return round(0.6 + model[1] / 400, 2)


def _run_pipeline(storage):
    models, test_accs = [], []
    with storage:
        X_train, X_test, y_train, y_test = generate_dataset()
        for n_estimators in [10, 20, 40, 80]:
            model, train_acc = train_model(X_train, y_train, n_estimators=n_estimators)
            models.append(model)
            if storage.unwrap(train_acc) > 0.72:  # conditional execution: only 40 and 80 are evaluated
                test_accs.append(eval_model(model, X_test, y_test))
    return models, test_accs


def test_frame_from_one_ref_and_its_full_history():
    storage = Storage()
    _, test_accs = _run_pipeline(storage)
    cf = storage.cf(test_accs[-1])
    assert cf.vnames == {"v"} and cf.fnames == set()
    assert [storage.unwrap(r) for r in cf.refs_by_var()["v"]] == [0.8]
    assert cf.calls_by_func() == {}
    assert "1 variable(s) (1 unique refs)" in str(cf) and "0 operation(s) (0 unique calls)" in str(cf)

    cf.expand_back(inplace=True, recursive=True)
    assert cf.vnames == {"X_train", "X_test", "y_train", "y_test", "model", "random_seed", "n_estimators", "v"}
    assert cf.fnames == {"generate_dataset", "train_model", "eval_model"}
    assert "8 variable(s) (8 unique refs)" in str(cf) and "3 operation(s) (3 unique calls)" in str(cf)
    values = {
        v: storage.unwrap(refs)
        for v, refs in cf.refs_by_var().items()
        if v in ("v", "model", "random_seed", "n_estimators")
    }
    assert values == {"v": {0.8}, "model": {("forest", 80)}, "random_seed": {42}, "n_estimators": {80}}
    assert {f: len(calls) for f, calls in cf.calls_by_func().items()} == {
        "generate_dataset": 1,
        "train_model": 1,
        "eval_model": 1,
    }


def test_frame_of_all_calls_to_an_op():
    storage = Storage()
    _run_pipeline(storage)
    cf = storage.cf(train_model)
    # 4 n_estimators, 1 X_train, 1 y_train, 4 models, 4 accuracies
    assert "5 variable(s) (14 unique refs)" in str(cf) and "1 operation(s) (4 unique calls)" in str(cf)
    df = cf.df(values="refs")
    assert sorted(df.columns) == sorted(["X_train", "y_train", "n_estimators", "train_model", "var_0", "var_1"])
    assert len(df) == 4 and all(isinstance(r, Ref) for r in df["var_0"])


def test_frame_from_named_groups_of_refs_expanded_forward():
    storage = Storage()
    models, test_accs = _run_pipeline(storage)
    cf = storage.cf({"model": models, "test_acc": test_accs})
    assert cf.vnames == {"model", "test_acc"}
    assert "2 variable(s) (6 unique refs)" in str(cf)
    cf.expand_forward(varnames=["model"], inplace=True)
    # the calls to eval_model connect to the test_acc variable, which holds their outputs
    assert cf.vnames == {"model", "test_acc"} and cf.fnames == {"eval_model"}
    df = cf.df()
    assert len(df) == 4
    evaluated = df[df["test_acc"].notnull()]
    assert sorted(evaluated["test_acc"]) == [0.7, 0.8]
    assert sorted(m[1] for m in evaluated["model"]) == [40, 80]


def test_expanding_back_one_variable_at_a_time_reuses_nodes():
    storage = Storage()
    _, test_accs = _run_pipeline(storage)
    cf = storage.cf(test_accs[-1]).expand_back("v")
    assert cf.fnames == {"eval_model"} and cf.vnames == {"v", "model", "X_test", "y_test"}
    cf = cf.expand_back("X_test")
    assert cf.fnames == {"eval_model", "generate_dataset"}
    cf = cf.expand_back("model")
    assert cf.fnames == {"eval_model", "generate_dataset", "train_model"}
    cf = cf.expand_back("X_train")
    # X_train's creator is the generate_dataset node already there: no second node
    assert cf.fnames == {"eval_model", "generate_dataset", "train_model"}
    assert len(cf.vnames) == 8
    assert {e for e in cf.edges() if e[0] == "generate_dataset"} >= {
        ("generate_dataset", "X_test", "output_1"),
        ("generate_dataset", "X_train", "output_0"),
    }


def test_expand_all_and_the_table_of_partial_traces():
    storage = Storage()
    _run_pipeline(storage)
    cf = storage.cf(train_model).expand_all()
    assert cf.fnames == {"generate_dataset", "train_model", "eval_model"}
    assert len(cf.calls) == 1 + 4 + 2  # every call in the store is reachable
    df = cf.df()
    assert len(df) == 4
    assert set(df["random_seed"]) == {42}
    assert sorted(df["n_estimators"]) == [10, 20, 40, 80]
    evaluated = df["eval_model"].map(lambda c: not _empty(c))
    assert sorted(df[evaluated]["n_estimators"]) == [40, 80]  # only two traces follow the whole graph
    assert df[~evaluated]["var_2"].map(_empty).all()
    # mandala's frame stops at eval_model(model=var_0); graphstore's expand_all gives generate_dataset all its
    # outputs, so X_test and y_test reach eval_model too (docs/migrating.md, "expand_all gives a node all its outputs")
    assert {e[2] for e in cf.edges() if e[1] == "eval_model"} == {"model", "X_test", "y_test"}


def test_print_graph_names_outputs(capsys):
    storage = Storage()
    _run_pipeline(storage)
    storage.cf(train_model).print_graph()
    out = capsys.readouterr().out
    assert "var_0@output_0, var_1@output_1 = train_model(" in out
    assert "n_estimators=n_estimators" in out


# --- topics/05_collections ----------------------------------------------------------------------------------------


def test_list_input_through_make_list():
    storage = Storage()

    @op
    def average(nums: MList[float]) -> float:
        return sum(nums) / len(nums)

    with storage:
        average([1, 2, 3, 4, 5])
    cf = storage.cf(average).expand_all()
    assert set(cf.ops().values()) == {"__make_list__", "average"}
    df = cf.df(values="objs")
    assert len(df) == 1  # one row: the five elements are one cell
    assert sorted(df["elts"].item()) == [1, 2, 3, 4, 5]
    assert df["nums"].item() == [1, 2, 3, 4, 5]
    assert df["var_0"].item() == 3


# --- topics/06_advanced_cf ----------------------------------------------------------------------------------------


def test_union_of_frames_of_a_middle_layer():
    storage = Storage()

    @op
    def inc(x):
        return x + 1

    @op
    def add(y, z):
        return y + z

    @op
    def square(w):
        return w**2

    @op
    def divmod_(u, v):
        return divmod(u, v)

    with storage:
        xs = [inc(i) for i in range(5)]
        ys = [add(x, z=42) for x in xs] + [square(x) for x in range(5, 10)]
        [divmod_(x, y) for x, y in zip(xs, ys[3:8])]
    both = storage.cf(add) | storage.cf(square)
    assert {"add", "square"} <= both.fnames
    cf = both.expand_all()
    assert set(cf.ops().values()) == {"inc", "add", "square", "divmod_"}
    assert len(cf.calls) == 5 + 5 + 5 + 5
    # expanding from add reaches divmod_ and, through divmod_'s v, the three squares it read; expanding from square
    # reaches the three divmod_ calls that read a square (not inc or add: divmod_'s u is an input of calls added
    # forward, which expansion does not go back from). The intersection holds what both hold.
    from_add, from_square = storage.cf(add).expand_all(), storage.cf(square).expand_all()
    assert {f: len(c) for f, c in from_square.calls_by_func().items()} == {"square": 5, "divmod_": 3}
    assert {f: len(c) for f, c in from_add.calls_by_func().items()} == {"inc": 5, "add": 5, "square": 3, "divmod_": 5}
    inter = from_add & from_square
    assert {f: len(c) for f, c in inter.calls_by_func().items()} == {"square": 3, "divmod_": 3}


# --- blog: Tidy Computations -------------------------------------------------------------------------------------


def test_blog_minimal_example():
    @op(output_names=["y"])
    def increment(x):
        return x + 1

    @op(output_names=["w"])
    def add(y, z):
        return y + z

    with Storage() as storage:
        for x in range(5):
            y = increment(x)
            if x % 2 == 0:
                add(y=y, z=x)
    cf = storage.cf(increment).expand_forward()
    df = cf.df()
    assert {"x", "increment", "y", "add", "w"} <= set(df.columns)
    assert len(df) == 5
    rows = {r.x: r for r in df.itertuples()}
    assert all(rows[x].y == x + 1 for x in range(5))
    assert {x for x in range(5) if not _empty(rows[x].w)} == {0, 2, 4}
    assert all(rows[x].w == 2 * x + 1 for x in (0, 2, 4))


@op(output_names=["X", "y"])
def get_data():
    return [0.5, 1.5, 2.5, 3.5], [0, 1, 0, 1]


@op(output_names=["X_train", "X_test", "y_train", "y_test"])
def get_train_test_split(X, y):
    return X[:3], X[3:], y[:3], y[3:]


@op(output_names=["X_scaled"])
def scale_data(X):
    return [v * 2 for v in X]


@op(output_names=["svc_model"])
def train_svc(X_train, y_train, C: float = 1.0, kernel: str = "linear"):
    return ("svc", kernel)


@op(output_names=["rf_model"])
def train_random_forest(X_train, y_train, n_estimators: int = 5, max_depth: int = 5):
    return ("rf", n_estimators)


@op(output_names=["accuracy"])
def eval_model_acc(model, X_test, y_test):
    if model[0] == "svc":
        return {"linear": 0.82, "rbf": 0.91, "poly": 0.83}[model[1]]
    return 0.85 + model[1] / 1000


@op(output_names=["accuracy"])
def eval_ensemble(models: MList, X_test, y_test):
    return 0.895


def test_blog_in_place_update_is_a_cycle():
    with Storage() as storage:
        for scale in (True, False):
            X, y = get_data()
            if scale:
                X = scale_data(X=X)
            get_train_test_split(X=X, y=y)
    cf = storage.cf(get_train_test_split).expand_back(recursive=True)
    assert cf.fnames == {"get_train_test_split", "get_data", "scale_data"}
    # scale_data reads and writes the same variable: one X, a loop through scale_data
    [x_in] = [e[1] for e in cf.edges() if e[0] == "scale_data"]
    assert x_in in {e[0] for e in cf.edges() if e[1] == "scale_data"}
    df = cf.df()[["get_data", "scale_data", "get_train_test_split"]]
    assert len(df) == 2
    assert sorted(_empty(c) for c in df["scale_data"]) == [False, True]
    assert not df["get_data"].map(_empty).any()


def _run_models(storage, kernels=("linear",), trees=(5,), ensemble=False):
    with storage:
        for scale in (True, False):
            X, y = get_data()
            if scale:
                X = scale_data(X=X)
            X_train, X_test, y_train, y_test = get_train_test_split(X=X, y=y)
            models = []
            for kernel in kernels:
                models.append(train_svc(X_train=X_train, y_train=y_train, kernel=kernel))
                eval_model_acc(model=models[-1], X_test=X_test, y_test=y_test)
            for n in trees:
                models.append(train_random_forest(X_train=X_train, y_train=y_train, n_estimators=n))
                eval_model_acc(model=models[-1], X_test=X_test, y_test=y_test)
            if ensemble:
                eval_ensemble(models=models, X_test=X_test, y_test=y_test)


def test_blog_branching_and_merging_pipelines():
    storage = Storage()
    _run_models(storage)
    cf = storage.cf(eval_model_acc).expand_back(recursive=True)
    assert {"train_svc", "train_random_forest", "scale_data", "get_data"} <= cf.fnames
    df = cf.df()[["accuracy", "scale_data", "train_svc", "train_random_forest"]]
    df = df.sort_values("accuracy", ascending=False)
    assert len(df) == 4
    # each row went through one of the two trainers, and half of them through scaling
    assert all(_empty(r.train_svc) != _empty(r.train_random_forest) for r in df.itertuples())
    assert sum(not _empty(c) for c in df["scale_data"]) == 2
    assert list(df["accuracy"]) == [0.855, 0.855, 0.82, 0.82]


def test_blog_union_and_aggregation_through_a_list():
    storage = Storage()
    _run_models(storage, kernels=("linear", "rbf", "poly"), trees=(5, 10, 20), ensemble=True)
    cf = storage.cf(eval_ensemble) | storage.cf(eval_model_acc)
    assert {"eval_ensemble", "eval_model_acc"} <= cf.fnames
    assert "accuracy" in cf.vnames  # both ops name their output "accuracy"
    cf = cf.expand_back(recursive=True)
    assert "__make_list__" in set(cf.ops().values())
    df = cf.df()[["n_estimators", "kernel", "accuracy"]].sort_values("accuracy", ascending=False)
    assert len(df) == 2 * 6 + 2  # 12 single models and 2 ensembles
    ensembles = df[df["accuracy"] == 0.895]
    assert len(ensembles) == 2
    for cell in ensembles["kernel"]:  # an ensemble depends on several kernels: a collection
        assert sorted(cell) == ["linear", "poly", "rbf"]
    for cell in ensembles["n_estimators"]:
        assert sorted(cell) == [5, 10, 20]
    singles = df[df["accuracy"] != 0.895]
    assert all(_empty(r.kernel) != _empty(r.n_estimators) for r in singles.itertuples())
    assert isinstance(df, pd.DataFrame)
