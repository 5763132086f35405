"""The examples of mandala's documentation pages (tutorials "Quickstart", "Random forest ML project", "Caveats";
topics "Storage & the @op decorator", "Patterns for incremental computation", "Changing @ops and managing
versions"), as graphstore tests. Models are small ops with the pages' signatures; prints become a log of the
bodies that ran."""

from __future__ import annotations

import builtins
import importlib
import sys
import textwrap

import pytest

import graphstore
from graphstore.imports import *


@pytest.fixture
def module(tmp_path, monkeypatch):
    """Write a module into a folder on sys.path and import it; ``module(code)`` again rewrites and reloads it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    name = f"docs_mod_{abs(hash(str(tmp_path))) % 10**8}"
    state: dict = {}

    def write(code: str):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code))
        importlib.invalidate_caches()
        state["mod"] = importlib.reload(state["mod"]) if "mod" in state else importlib.import_module(name)
        return state["mod"]

    write.folder = tmp_path
    yield write
    sys.modules.pop(name, None)


@pytest.fixture
def answers(monkeypatch):
    """Script the answers to the versioning questions, as mandala's docs do with ``mock_input``."""
    given: list = []
    asked: list = []

    def fake_input(prompt=""):
        asked.append(prompt)
        assert given, f"unexpected question: {asked}"
        return given.pop(0)

    monkeypatch.setattr(builtins, "input", fake_input)
    return given, asked


# --- tutorials/01_hello ----------------------------------------------------------------------------------------

HELLO = """
from graphstore import op, track

@op
def inc(x):
    print("Hello from inc!")
    return x + 1

@op
def add(x, y):
    print("Hello from add!")
    return x + y
"""


def test_quickstart_memoization_frames_and_versioning(module, answers, capsys):
    # tracked code may not mutate a global (graphstore refuses it), so the bodies print as on the page
    def ran():
        out = capsys.readouterr().out.splitlines()  # (also the change and its diff, when one is asked about)
        return [line.split()[-1].rstrip("!") for line in out if line.startswith("Hello from ")]

    m = module(HELLO)
    storage = Storage(deps_path=module.folder)
    with storage:
        a = inc_a = m.inc(1)
        b = m.inc(1)  # reused, not run
    assert ran() == ["inc"] and a.hid == b.hid and storage.unwrap(inc_a) == 2

    with storage:
        for i in range(5):
            j = m.inc(i)
            if i % 2 == 0:
                m.add(i, j)
    bodies = ran()
    assert bodies.count("inc") == 4 and bodies.count("add") == 3  # inc(1) was reused
    cf = storage.cf(m.inc)
    assert cf.fnames == {"inc"}
    cf.expand_all(inplace=True)
    assert cf.fnames == {"inc", "add"}
    df = cf.df()
    assert sorted(df.columns) == sorted(["x", "inc", "var_0", "add", "var_1"])
    assert len(df) == 5
    assert sorted(df["x"]) == [0, 1, 2, 3, 4] and (df["var_0"] == df["x"] + 1).all()
    added = df["var_1"].notnull()
    assert sorted(df[added]["x"]) == [0, 2, 4] and (df[added]["var_1"] == 2 * df[added]["x"] + 1).all()

    # add now calls a tracked helper: the change is asked about, "y" makes it breaking, the adds run again
    m = module(
        HELLO.replace("return x + y", "return x + square(y)")
        + """
@track
def square(num):
    return num ** 2
"""
    )
    given, asked = answers
    given.append("y")
    with storage:
        for i in range(5):
            j = m.inc(i)
            if i % 2 == 0:
                k = m.add(i, j)
    assert len(asked) == 1 and ran() == ["add"] * 3
    assert storage.unwrap(k) == 4 + 25
    versions = storage.versions(m.add, show=False)
    assert len(versions) == 2 and sum(v.is_current for v in versions) == 1
    [current] = [v for v in versions if v.is_current]
    assert any("square" in dep for dep in current.deps)


# --- tutorials/02_ml ---------------------------------------------------------------------------------------------

ML = """
from graphstore import op, NewArgDefault

ran = []

@op
def generate_dataset(random_seed=42):
    ran.append("generate")
    return [random_seed, 1], [random_seed, 2], [0, 1], [1, 0]

@op
def train_model(X_train, y_train):
    ran.append("train")
    return ("forest", 1), 0.91

@op
def eval_model(model, X_test, y_test):
    ran.append("eval")
    return round(0.7 + model[1] / 200, 2)
"""

ML_NEW_ARG = ML.replace(
    """def train_model(X_train, y_train):
    ran.append("train")
    return ("forest", 1), 0.91""",
    """def train_model(X_train, y_train, n_estimators=NewArgDefault(1)):
    ran.append("train")
    return ("forest", n_estimators), 0.91 if n_estimators == 1 else 1.0""",
)


def test_ml_tutorial_retracing_new_argument_and_frames(module):
    m = module(ML)
    storage = Storage()
    with storage:
        X_train, X_test, y_train, y_test = m.generate_dataset()
        model, train_acc = m.train_model(X_train, y_train)
        test_acc = m.eval_model(model, X_test, y_test)
    assert m.ran == ["generate", "train", "eval"]
    assert storage.unwrap((train_acc, test_acc)) == (0.91, 0.7)
    with storage:  # the same code only loads references
        X_train, X_test, y_train, y_test = m.generate_dataset()
        model, train_acc = m.train_model(X_train, y_train)
        test_acc = m.eval_model(model, X_test, y_test)
    assert len(m.ran) == 3 and not train_acc.in_memory and not test_acc.in_memory

    m = module(ML_NEW_ARG)
    m.ran.clear()
    with storage:
        X_train, X_test, y_train, y_test = m.generate_dataset()
        accs = {}
        for n in [1, 10, 100]:
            model, train_acc = m.train_model(X_train, y_train, n_estimators=n)
            accs[n] = m.eval_model(model, X_test, y_test)
    assert m.ran == ["train", "eval", "train", "eval"]  # n_estimators=1 is the old call
    assert not accs[1].in_memory and accs[10].in_memory

    cf = storage.cf(m.train_model)
    assert "5 variable(s) (10 unique refs)" in str(cf) and "1 operation(s) (3 unique calls)" in str(cf)
    cf.rename(vars={"var_1": "train_acc", "var_0": "model"}, inplace=True)
    df = cf.df()
    assert sorted(df.columns) == sorted(["n_estimators", "X_train", "y_train", "train_model", "model", "train_acc"])
    # the call made before n_estimators existed has no value there
    assert sorted(df["n_estimators"].fillna(-1)) == [-1, 10, 100]

    back = cf.expand_back(varnames=["X_train", "y_train"])
    assert back.fnames == {"train_model", "generate_dataset"}
    forward = cf.expand_forward(varnames=["model", "train_acc"])
    assert forward.fnames == {"train_model", "eval_model"}
    expanded = cf.expand_all()
    assert expanded.fnames == {"generate_dataset", "train_model", "eval_model"}
    df = expanded.df()
    assert len(df) == 3 and set(df["random_seed"]) == {42}
    assert sorted(df["var_0"] if "var_0" in df else df[next(c for c in df if c.startswith("var_"))]) == [0.7, 0.75, 1.2]


# --- tutorials/gotchas ------------------------------------------------------------------------------------------


def test_equal_values_of_different_types_have_different_content_ids():
    assert 1 == True and graphstore.hash_value(1) != graphstore.hash_value(True)  # noqa: E712
    assert 23 == 23.0 and graphstore.hash_value(23) != graphstore.hash_value(23.0)
    assert len({graphstore.hash_value(v) for v in (42, 42.0, 42.00000000001)}) == 3
    assert wrap_atom(1).cid != wrap_atom(True).cid


def test_content_id_is_stable_across_a_roundtrip():
    storage = Storage()

    @op
    def make_table(n):
        return {"rows": [[i, i * i] for i in range(n)], "name": "squares"}

    with storage:
        first = make_table(5)
    with storage:
        again = make_table(5)
    assert first.cid == again.cid == wrap_atom(storage.unwrap(again)).cid


# --- topics/01_storage_and_ops ----------------------------------------------------------------------------------


def test_storage_refs_and_calls(module, tmp_path):
    sum_args = module("""
        from graphstore import op

        @op
        def sum_args(a, *args, b=1, **kwargs):
            return a + sum(args) + b + sum(kwargs.values())
    """).sum_args
    storage = Storage(db_path=str(tmp_path / "my_persistent_storage.db"), deps_path=module.folder)

    assert sum_args(6, 7, 8, 9, c=11) == 42  # outside a block: a plain function
    with storage:
        s = sum_args(6, 7, 8, 9, c=11)
    assert isinstance(s, AtomRef) and s.in_memory and s.obj == 42
    with storage:
        s = sum_args(6, 7, 8, 9, c=11)
    assert not s.in_memory
    assert storage.unwrap(s) == 42
    attached = storage.attach(obj=s, inplace=False)
    assert attached.in_memory and attached.obj == 42 and attached.hid == s.hid
    loaded = storage.load_ref(s.hid)
    assert loaded.obj == 42 and loaded.cid == s.cid
    assert not storage.load_ref(s.hid, in_memory=False).in_memory

    call = storage.get_ref_creator(ref=s)
    assert sorted(call.inputs) == ["a", "args_0", "args_1", "args_2", "b", "c"]
    assert list(call.outputs) == ["output_0"] and call.outputs["output_0"].hid == s.hid
    assert storage.unwrap(call.inputs["c"]) == 11 and storage.unwrap(call.inputs["b"]) == 1
    storage.close()


# --- topics/02_retracing ----------------------------------------------------------------------------------------


def test_retracing_patterns():
    ran = []
    storage = Storage()

    @op
    def load_data(n_class=2):
        ran.append("load")
        return list(range(n_class * 3)), [i % n_class for i in range(n_class * 3)]

    @op
    def train_model(X, y, n_estimators=5):
        ran.append("train")
        return ["forest", n_estimators, max(y) + 1]  # a tuple would be three outputs

    @op
    def get_acc(model, X, y):
        ran.append("acc")
        return round(1.0 - model[2] / 10 + model[1] / 100, 2)

    with storage:
        X, y = load_data()
        model = train_model(X, y)
        acc = get_acc(model, X, y)
    assert ran == ["load", "train", "acc"] and acc.in_memory

    with storage:  # retracing: nothing runs, nothing is loaded
        X, y = load_data()
        model = train_model(X, y)
        acc = get_acc(model, X, y)
    assert len(ran) == 3 and not any(r.in_memory for r in (X, y, model, acc))
    assert storage.unwrap(acc) == 0.85

    accs = {}
    with storage:  # new calls added "in place"
        for n_class in (2, 5):
            X, y = load_data(n_class)
            for n_estimators in (5, 10):
                model = train_model(X, y, n_estimators=n_estimators)
                accs[n_class, n_estimators] = get_acc(model, X, y)
    assert ran[3:] == ["train", "acc", "load", "train", "acc", "train", "acc"]
    assert not accs[2, 5].in_memory and all(accs[k].in_memory for k in accs if k != (2, 5))

    good = []
    with storage:  # control flow on an unwrapped Ref
        for n_class in (2, 5):
            X, y = load_data(n_class)
            for n_estimators in (5, 10):
                acc = get_acc(train_model(X, y, n_estimators=n_estimators), X, y)
                if storage.unwrap(acc) > 0.7:
                    good.append((n_class, n_estimators, storage.unwrap(acc)))
    assert good == [(2, 5, 0.85), (2, 10, 0.9)]
    assert len(ran) == 10

    with storage:  # the code as a storage interface
        X, y = load_data(5)
        model = train_model(X, y, n_estimators=5)
        acc = get_acc(model, X, y)
        assert storage.unwrap(acc) == 0.55 and storage.unwrap(model) == ["forest", 5, 5]
    assert len(ran) == 10


# --- topics/04_versions -----------------------------------------------------------------------------------------

VERSIONS = """
from graphstore import op, track

N_CLASS = 10

@track
def scale_data(X):
    mean = sum(X) / len(X)
    return [x - mean for x in X]

@op
def load_data():
    return list(range(N_CLASS)), [i % 2 for i in range(N_CLASS)]

@op
def train_model(X, y, scale=False):
    if scale:
        X = scale_data(X)
    return ("model", round(sum(X), 2))

@op
def eval_model(model, X, y, scale=False):
    if scale:
        X = scale_data(X)
    return round(model[1] / 100 + len(X) / 100, 2)
"""


def test_versions_per_call_dependencies(module):
    m = module(VERSIONS)
    storage = Storage(deps_path=module.folder)
    with storage:
        X, y = m.load_data()
        accs = []
        for scale in [False, True]:
            model = m.train_model(X, y, scale=scale)
            accs.append(m.eval_model(model, X, y, scale=scale))
    assert storage.unwrap(accs) == [0.55, 0.1]
    # as on the page: two versions of train_model, one depending on scale_data (the scaled call) and one not
    versions = storage.versions(m.train_model, show=False)
    assert len(versions) == 2 and [v.calls for v in versions] == [1, 1]
    assert sorted(any("scale_data" in dep for dep in v.deps) for v in versions) == [False, True]
    assert all(v.is_current for v in versions)
    assert any("N_CLASS" in dep for dep in storage.versions(m.load_data, show=False)[0].deps)
