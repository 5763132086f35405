"""Frames too big for one join (staged through temporary tables), and the seed pipeline with real scikit-learn."""

from __future__ import annotations

from graphstore import Storage, op
from naive_eval import naive_rows, sql_rows
from pg_explain import Explainer
from store_tools import temp_tables

CHAIN = 100


def _step(i: int):
    def step(x):
        return x + i

    step.__name__ = f"step{i}"
    return op(step)


STEPS = [_step(i) for i in range(CHAIN)]


def test_frame_of_200_nodes_is_staged(storage, counter):
    with storage:
        for start in range(3):
            x = start
            for s in STEPS:
                x = s(x)
    cf = storage.cf(STEPS[-1]).expand_back(recursive=True)
    assert len(cf.fnames) == CHAIN and len(cf.vnames) == CHAIN + 1
    sql = cf.sql()
    assert sql.count("CREATE TEMPORARY TABLE") >= 4  # 300 joins do not fit SQLite's 64 tables
    df = cf.df(include_calls=False)
    assert df.shape == (3, CHAIN + 1)
    assert sorted(df.iloc[:, -1]) == [start + sum(range(CHAIN)) for start in range(3)]
    assert sql_rows(storage, cf.pattern) == naive_rows(storage, cf.pattern)
    assert temp_tables(storage) == []  # staging tables are dropped


def test_cyclic_frame_of_many_ops(storage):
    with storage:
        x = 0
        for s in STEPS[:16] * 2:
            x = s(x)
    cf = storage.cf(STEPS[0]).expand_all()
    assert len(cf.fnames) == 16
    rows = sql_rows(storage, cf.pattern)
    assert rows == naive_rows(storage, cf.pattern) and len(rows) == 1


def test_seed_pipeline_with_scikit_learn(storage):
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score

    @op
    def load_data(n_class=2):
        return load_digits(n_class=n_class, return_X_y=True)

    @op
    def train_model(X, y, n_estimators=5):
        return RandomForestClassifier(n_estimators=n_estimators, max_depth=2, random_state=0).fit(X, y)

    @op
    def get_acc(model, X, y):
        return round(accuracy_score(y_pred=model.predict(X), y_true=y), 2)

    with storage:
        for n_class in (2, 5):
            X, y = load_data(n_class)
            for n_estimators in (5, 10):
                get_acc(train_model(X, y, n_estimators=n_estimators), X, y)
    df = storage.cf(get_acc).expand_all().df()
    assert len(df) == 4
    assert set(df.columns) == {
        "n_class",
        "load_data",
        "X",
        "y",
        "n_estimators",
        "train_model",
        "model",
        "get_acc",
        "var_0",
    }
    for row in df.itertuples():
        assert isinstance(row.X, np.ndarray) and row.model.n_estimators == row.n_estimators
        assert set(np.unique(row.y)) == set(range(row.n_class)) and 0 < row.var_0 <= 1


def test_postgres_explains_the_statements_of_staged_tables(pg_url):
    # A chain of 30 steps is staged in two tables; every statement, those that fill and read them included, is
    # explained by the server on the store's connection just before it runs.
    storage = Storage(pg_url)
    with storage:
        x = 0
        for s in STEPS[:30]:
            x = s(x)
    explainer = Explainer().attach(storage)
    cf = storage.cf(STEPS[29]).expand_back(recursive=True)
    df = cf.df(include_calls=False)
    assert list(df.iloc[0]) == [0] + [sum(range(i + 1)) for i in range(30)]
    staged = explainer.temp_statements()
    assert any(s.startswith('CREATE TEMPORARY TABLE "_gs_s') for s in staged)
    assert any(s.startswith("SELECT") and 'FROM "_gs_s' in s for s in staged)
    assert all(s.startswith("DROP") for s in explainer.unexplained)
    storage.close()
