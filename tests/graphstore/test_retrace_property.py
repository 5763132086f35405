"""Property: running a program a second time retraces it: nothing executes, nothing loads, same ids and values."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from graphstore import Storage, op

EXECUTED: list[str] = []


@op
def inc(x):
    EXECUTED.append("inc")
    return x + 1


@op
def add(x, y):
    EXECUTED.append("add")
    return x + y


@op(output_names=["lo", "hi"])
def split(x):
    EXECUTED.append("split")
    return x // 2, x - x // 2


@op
def scale(x, factor=2.5):
    EXECUTED.append("scale")
    return x * factor


@op
def total(*xs, **weights):
    EXECUTED.append("total")
    return sum(xs) + sum(weights.values())


numbers = st.integers(-1000, 1000)
step = st.tuples(
    st.sampled_from(["inc", "add", "split", "scale", "total"]),
    st.lists(st.integers(0, 50), max_size=3),
    numbers,
    st.floats(-3, 3, allow_nan=False),
)
programs = st.lists(step, min_size=1, max_size=12)


def run(program, pool_seed):
    """Interpret a program: each step applies an op to earlier results (by index) or fresh numbers."""
    pool = [pool_seed]
    for name, picks, fresh, factor in program:
        args = [pool[i % len(pool)] for i in picks] or [fresh]
        if name == "inc":
            pool.append(inc(args[0]))
        elif name == "add":
            pool.append(add(args[0], args[-1] if len(args) > 1 else fresh))
        elif name == "split":
            lo, hi = split(args[0])
            pool.extend([lo, hi])
        elif name == "scale":
            pool.append(scale(args[0], factor=factor) if factor else scale(args[0]))
        else:
            pool.append(total(*args, w=fresh))
    return pool


def same_value(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


@given(programs, numbers)
def test_second_run_retraces_with_no_execution(tmp_path_factory, program, seed):
    path = str(tmp_path_factory.mktemp("retrace") / "store.db")
    storage = Storage(path)
    EXECUTED.clear()
    with storage:
        first = run(program, seed)
    first_values = storage.unwrap(first)
    storage.close()

    again = Storage(path)  # a new Storage on the same file: nothing shared in memory
    EXECUTED.clear()
    with again:
        second = run(program, seed)
    assert EXECUTED == []
    assert all(not r.in_memory for r in second[1:])  # every op output comes back lazy
    assert [r.hid for r in first[1:]] == [r.hid for r in second[1:]]
    second_values = again.unwrap(second)
    assert all(same_value(a, b) for a, b in zip(first_values, second_values))
    again.close()


@given(programs, numbers)
def test_retrace_in_same_storage_loads_nothing(program, seed):
    storage = Storage()
    with storage:
        run(program, seed)
    loads = []
    original = storage.backend.load_values
    storage.backend.load_values = lambda cids: loads.append(list(cids)) or original(cids)
    EXECUTED.clear()
    with storage:
        run(program, seed)
    assert EXECUTED == []
    assert loads == []
    storage.close()
