"""One op name, one function: two different live functions recording under one name into one store is an error
naming both and the fix; the same function defined again keeps today's behaviour (the newest definition wins)."""

from __future__ import annotations

import importlib
import sys
import types
import warnings

import pytest

from graphstore import OpDefinitionError, OpNameConflictError, Ref, Storage, op

PREP = """
from graphstore import op

RAN = []


@op{options}
def process(x):
    RAN.append(x)
    return x {operator} 1
"""


@pytest.fixture
def prep_modules(tmp_path, monkeypatch):
    """Write prep_a.py and prep_b.py (each with an op ``process``) and import them; ``options`` decorates both."""

    def load(options_a: str = "", options_b: str = "") -> tuple[types.ModuleType, types.ModuleType]:
        (tmp_path / "prep_a.py").write_text(PREP.format(options=options_a, operator="+"))
        (tmp_path / "prep_b.py").write_text(PREP.format(options=options_b, operator="-"))
        monkeypatch.syspath_prepend(str(tmp_path))
        for name in ("prep_a", "prep_b"):
            monkeypatch.delitem(sys.modules, name, raising=False)
        importlib.invalidate_caches()
        return importlib.import_module("prep_a"), importlib.import_module("prep_b")

    yield load
    for name in ("prep_a", "prep_b"):
        sys.modules.pop(name, None)


def test_two_modules_one_op_name_is_an_error_naming_both(prep_modules, tmp_path, db_path, store_kind):
    prep_a, prep_b = prep_modules()
    s = Storage(db_path)
    try:
        with s:
            a = prep_a.process(10)
            with pytest.raises(OpNameConflictError) as caught:
                prep_b.process(10)
            assert isinstance(prep_a.process(11), Ref)  # the first function keeps its name
        message = str(caught.value)
        assert "prep_a.process" in message and "prep_b.process" in message
        assert f"{tmp_path / 'prep_a.py'}:" in message and f"{tmp_path / 'prep_b.py'}:" in message
        assert "@op(name=" in message
        assert isinstance(caught.value, OpDefinitionError)
        assert prep_b.RAN == []  # nothing ran, nothing shared
        assert s.unwrap(a) == 11
        assert s.cache_info()["calls"] == 2
    finally:
        s.close()


def test_the_conflict_holds_across_storages_of_one_file(prep_modules, db_path, store_kind):
    prep_a, prep_b = prep_modules()
    first, second = Storage(db_path), Storage(db_path)
    other = Storage()
    try:
        with first:
            prep_a.process(1)
        with second, pytest.raises(OpNameConflictError, match="prep_b.process"):
            prep_b.process(1)
        with other:  # another store: the names do not meet there
            assert other.unwrap(prep_b.process(1)) == 0
    finally:
        first.close()
        second.close()
        other.close()


def test_distinct_names_record_separately(prep_modules, db_path, store_kind):
    prep_a, prep_b = prep_modules('(name="prep_a.process")', '(name="prep_b.process")')
    s = Storage(db_path)
    try:
        with s:
            a, b = prep_a.process(10), prep_b.process(10)
        assert (s.unwrap(a), s.unwrap(b)) == (11, 9)
        assert prep_a.RAN == [10] and prep_b.RAN == [10]
        frame = s.cf(prep_a.process).df(include_calls=False)  # a query by op finds that op's calls only
        assert list(frame.itertuples(index=False, name=None)) == [(10, 11)]
        s.close()
        s = Storage(db_path)
        with s.allow_new_calls(False), s:  # both retraced, each its own
            assert (s.unwrap(prep_a.process(10)), s.unwrap(prep_b.process(10))) == (11, 9)
        assert prep_a.RAN == [10] and prep_b.RAN == [10]
    finally:
        s.close()


def test_an_explicit_shared_name_is_deliberate(prep_modules, tmp_path):
    """``@op(name=...)`` on both: one op on purpose (the second reuses the first's calls, as before)."""
    prep_a, prep_b = prep_modules('(name="process")', '(name="process")')
    s = Storage()
    try:
        with s:
            prep_a.process(10)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # (the op has changed since its calls were stored)
                assert s.unwrap(prep_b.process(10)) == 11
        assert prep_b.RAN == []
    finally:
        s.close()


SOURCE = """
from graphstore import op

@op
def step(x):
    RAN.append(x)
    return x {operator} 1
"""


def test_the_same_function_redefined_keeps_todays_behaviour(storage):
    """The same source run twice in one module namespace (a notebook cell run again): no error."""
    namespace = {"__name__": "notebook_cell", "RAN": []}
    exec(compile(SOURCE.format(operator="+"), "<cell>", "exec"), namespace)
    first = namespace["step"]
    with storage:
        first(1)
    exec(compile(SOURCE.format(operator="+"), "<cell>", "exec"), namespace)
    assert namespace["step"] is not first
    with storage, warnings.catch_warnings():
        warnings.simplefilter("error")  # same code: no warning either
        assert storage.unwrap(namespace["step"](1)) == 2
        first(2)  # the old definition, still alive, is the same function too
    assert namespace["RAN"] == [1, 2]

    exec(compile(SOURCE.format(operator="*"), "<cell>", "exec"), namespace)  # the cell edited and run again
    with storage, pytest.warns(UserWarning, match="op step .* has changed"):
        assert storage.unwrap(namespace["step"](1)) == 2  # unversioned: the old result is reused, with the warning
    assert namespace["RAN"] == [1, 2]


def test_the_same_code_executed_twice_at_module_level_is_a_redefinition(storage):
    code = compile(SOURCE.format(operator="+"), "<module>", "exec")
    namespace = {"__name__": "reloaded", "RAN": []}
    exec(code, namespace)
    first = namespace["step"]
    exec(code, namespace)
    with storage:
        first(1)
        namespace["step"](1)
    assert namespace["RAN"] == [1]


def make_scaler(k):
    @op
    def scale(x):
        return x * k

    return scale


def make_named_scaler(k):
    @op(name=f"scale_by_{k}")
    def scale(x):
        return x * k

    return scale


def test_ops_made_by_a_factory_are_an_error_unless_named(storage):
    double, triple = make_scaler(2), make_scaler(3)
    with storage:
        assert storage.unwrap(double(5)) == 10
        with pytest.raises(OpNameConflictError) as caught:
            triple(5)
    message = str(caught.value)
    assert "make_scaler.<locals>.scale" in message and f"{__file__}:" in message
    assert "@op(name=" in message

    double, triple = make_named_scaler(2), make_named_scaler(3)
    with storage:
        assert (storage.unwrap(double(5)), storage.unwrap(triple(5))) == (10, 15)


def test_one_op_object_called_again_is_no_conflict(storage):
    double = make_scaler(2)
    again = op(double.func)  # a second Op of the very same function
    with storage:
        double(1)
        assert storage.unwrap(again(1)) == 2
