"""mandala's memoization and configuration tests (tests/test_memoization.py, tests/test_configs.py), as graphstore
tests: the same programs, written with ``graphstore.imports`` names, asserting what they observe."""

from __future__ import annotations

import numpy as np
import pytest

from graphstore.imports import *

# --- test_memoization.py ----------------------------------------------------------------------------------------


def test_content_and_history_ids_of_composed_calls():
    ran = []
    storage = Storage()

    @op
    def inc(x: int) -> int:
        ran.append(x)
        return x + 1

    with storage:
        two = inc(1)
        three_direct = inc(2)
        three_composed = inc(two)
    # inc on the Ref to 2 has the content of inc(2): its output is reused (nothing runs) under a new history
    assert ran == [1, 2] and storage.cache_info()["calls"] == 3
    # the same value reached two ways: one content id, two history ids
    assert three_composed.cid == three_direct.cid
    assert three_composed.hid != three_direct.hid
    assert three_composed.hid != two.hid and three_composed.cid != two.cid
    assert [storage.unwrap(r) for r in (two, three_direct, three_composed)] == [2, 3, 3]
    for ref in (two, three_direct, three_composed):
        loaded = storage.attach(ref)
        assert loaded.in_memory and loaded.obj == storage.unwrap(ref)


def test_variadic_and_keyword_signatures():
    storage = Storage()

    @op
    def total(x, *args, y: int = 1, **kwargs):
        s = x + sum(args) + y + sum(kwargs.values())
        if kwargs:
            return s, kwargs
        return None if args else s

    with storage:
        results = [
            total(1),
            total(1, 2, 3, 4),
            total(1, 2, 3, 4, y=5),
            total(1, 2, 3, 4, y=5, z=6),
            total(1, 2, 3, 4, z=5, w=7),
        ]
    assert [storage.unwrap(r) for r in results] == [2, None, None, (21, {"z": 6}), (23, {"z": 5, "w": 7})]
    assert storage.cache_info()["calls"] == 5


def test_retracing_iterated_and_composed_ops():
    ran = []
    storage = Storage()

    @op
    def inc(x):
        ran.append("inc")
        return x + 1

    @op
    def add(x, y):
        ran.append("add")
        return x + y

    def chain():
        value = 1
        for _ in range(10):
            value = inc(value)
        return value

    with storage:
        first = chain()
    assert ran.count("inc") == 10 and storage.unwrap(first) == 11
    with storage:
        again = chain()
    assert ran.count("inc") == 10  # retraced: nothing ran
    assert again.hid == first.hid and not again.in_memory

    def pipeline():
        stage_1 = [inc(x) for x in [1, 2, 3, 4, 5]]
        return [add(a, b) for a, b in zip(stage_1, stage_1)]

    with storage:
        sums = pipeline()
    # inc(1) .. inc(5) on plain values are new calls (inc's earlier calls were on Refs after the first)
    assert ran.count("add") == 5
    assert storage.unwrap(sums) == [4, 6, 8, 10, 12]
    before = len(ran)
    with storage:
        sums_again = pipeline()
    assert len(ran) == before
    assert [r.hid for r in sums_again] == [r.hid for r in sums]


def test_list_outputs_inputs_and_indexing():
    storage = Storage()

    @op
    def get_sum(elts: MList[int]) -> int:
        return sum(elts)

    @op
    def primes_below(n: int) -> MList[int]:
        primes: list[int] = []
        for i in range(2, n):
            if all(i % p for p in primes):
                primes.append(i)
        return primes

    @op
    def chunked_square(elts: MList[int]) -> MList[int]:
        return [x * x for x in elts]

    with storage:
        primes = primes_below(10)
        total = get_sum(primes)
    assert len(primes) == 4
    assert storage.unwrap(primes[0]) == 2
    assert storage.unwrap(primes[:2]) == [2, 3]
    assert storage.unwrap(total) == 17

    # lists that share elements: each prefix is its own list, the elements are stored once
    with storage:
        primes = primes_below(100)
        sums = [get_sum(primes[: i + 1]) for i in range(0, len(primes), 2)]
    assert len(primes) == 25
    assert storage.unwrap(sums[-1]) == sum(storage.unwrap(primes))
    assert storage.unwrap(sums[1]) == 2 + 3 + 5

    with storage:
        squares = chunked_square(list(range(1, 11)))
    assert storage.unwrap(squares) == [x * x for x in range(1, 11)]
    assert storage.unwrap(squares[3]) == 16


def test_ignored_argument_does_not_make_a_new_call():
    ran = []
    storage = Storage()

    @op(ignore_args=("irrelevant",))
    def inc(x, irrelevant):
        ran.append(irrelevant)
        return x + 1

    with storage:
        inc(23, 0)
    assert len(storage.cf(inc).df()) == 1
    with storage:
        assert storage.unwrap(inc(23, 1)) == 24
    assert len(storage.cf(inc).df()) == 1
    assert ran == [0]


def test_commit_inside_a_block():
    # mandala clears its in-memory cache of atoms (`storage.atoms.clear()`, refused with ValueError before a
    # commit). graphstore keeps no such cache: `commit()` writes what is pending, and the calls are then on disk
    # (docs/migrating.md, "No `storage.atoms` cache").
    storage = Storage()

    @op
    def inc(x):
        return x + 1

    with storage:
        for i in range(10):
            inc(i)
        storage.commit()
        assert storage.cache_info()["calls"] == 10
        assert not hasattr(storage, "atoms")
    assert len(storage.cf(inc).df()) == 10


def test_new_argument_with_new_arg_default():
    storage = Storage()

    @op
    def add(x):
        return x + 1

    with storage:
        add(1)

    @op
    def add(x, y=NewArgDefault(1)):  # noqa: F811 (the same op, given a new argument)
        return x + y

    with storage:
        old = add(1)
    assert len(storage.cf(add).calls_by_func()["add"]) == 1
    assert not old.in_memory and storage.unwrap(old) == 2  # the old call, reused
    with storage:
        add(1, 1)  # the default, passed explicitly: still the old call
    assert len(storage.cf(add).calls_by_func()["add"]) == 1
    with storage:
        assert storage.unwrap(add(1, 2)) == 3
    assert len(storage.cf(add).calls_by_func()["add"]) == 2


def test_new_arg_default_with_arrays():
    storage = Storage()

    @op
    def add_array(x: np.ndarray):
        return x

    with storage:
        add_array(np.array([1, 2, 3]))

    @op
    def add_array(x: np.ndarray, y=NewArgDefault(None)):  # noqa: F811
        return x + y

    with storage:
        raw = add_array(np.array([1, 2, 3]), y=np.array([4, 5, 6]))
    with storage:
        wrapped = add_array(np.array([1, 2, 3]), y=wrap_atom(np.array([7, 8, 9])))
    assert storage.unwrap(raw).tolist() == [5, 7, 9]
    assert storage.unwrap(wrapped).tolist() == [8, 10, 12]
    assert len(storage.cf(add_array).df()) == 3


def test_value_pointer_input():
    storage = Storage()

    @op
    def get_mean(x: np.ndarray) -> float:
        return x.mean()

    with storage:
        mean = get_mean(ValuePointer("X", np.array([1, 2, 3, 4, 5])))
    assert storage.unwrap(mean) == 3.0
    df = storage.cf(get_mean).df()
    assert len(df) == 1
    assert df["x"].item().id == "X"


# --- test_configs.py -------------------------------------------------------------------------------------------


def test_modes_nest():
    storage = Storage()
    with storage(mode="noop"):
        assert storage.mode == "noop"
        with storage():
            assert storage.mode == "run"
        assert storage.mode == "noop"
        with storage(mode="noop"):
            assert storage.mode == "noop"
        assert storage.mode == "noop"
    assert storage.mode == "run"


def test_noop_unwraps_pointer_and_new_arg_default():
    storage = Storage()

    @op
    def inc(x: int, *args, y: int = NewArgDefault(2), z: int = 23) -> int:
        return x + y + z + sum(args)

    with storage(mode="noop"):
        result = inc(ValuePointer(id="one", obj=1), 1, 1, z=1)
    assert result == 6
    assert storage.cache_info()["calls"] == 0


def test_noop_gets_loaded_values_of_retraced_refs():
    storage = Storage()

    @op
    def inc(x: int) -> int:
        return x + 1

    @op
    def add(x: int, y: int) -> int:
        return x + y

    with storage:
        inc(20)
    with storage:
        x = inc(20)
        assert not x.in_memory
        with storage(mode="noop"):
            z = add(x, 21)
        assert z == 42
    assert storage.cache_info()["calls"] == 1


def test_noop_context_inside_and_outside_a_storage():
    storage = Storage()

    @op
    def inc(x: int) -> int:
        return x + 1

    with storage:
        x = inc(20)
        assert storage.mode == "run"
        with noop():
            assert storage.mode == "noop"
            y = inc(x)
            z = inc(20)
        assert storage.mode == "run"
        assert (y, z) == (22, 21)
    with noop():
        assert inc(20) == 21
    assert storage.cache_info()["calls"] == 1


def test_no_new_calls_allowed():
    storage = Storage()

    @op
    def inc(x: int) -> int:
        return x + 1

    with storage:
        inc(20)
    storage.allow_new_calls(False)
    try:
        with storage:
            assert storage.unwrap(inc(20)) == 21  # memoized calls still work
        with pytest.raises(RuntimeError) as raised:
            with storage:
                inc(21)
        assert str(raised.value) == "Call to inc does not exist and new calls are not allowed."
    finally:
        storage.allow_new_calls(True)
    with storage:
        assert storage.unwrap(inc(21)) == 22
