"""The fast path for plain calls records exactly what the general path records, and hands back what it cannot do."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphstore import Storage, op
from graphstore.refs import AtomRef, Ref
from store_tools import dump

CALLS = []


@op
def inc(x):
    CALLS.append("inc")
    return x + 1 if isinstance(x, (int, float)) and not isinstance(x, bool) else x


@op
def add(x, y=1):
    CALLS.append("add")
    return [x, y]


@op
def pair(x):
    CALLS.append("pair")
    return x, x


@op(output_names=["z"])
def named(x):
    CALLS.append("named")
    return (x, "t")


@op
def const():
    CALLS.append("const")
    return {"k": 1.5}


OPS = [inc, add, pair, named, const]

scalars = st.one_of(
    st.integers(-5, 5),
    st.floats(allow_nan=False, width=16),
    st.text(max_size=3),
    st.booleans(),
    st.none(),
    st.binary(max_size=3),
)
step = st.tuples(
    st.sampled_from(["inc", "add", "add_kw", "pair", "named", "const", "list"]),
    scalars,
    st.integers(0, 50),
    st.booleans(),
)


def run(path: str, steps: list, fast: bool) -> tuple[list, list]:
    """Run the steps in two contexts (the second retraces the first and goes on, with lazy Refs from the first as
    arguments); returns the ids of what each call returned and the op bodies that ran."""
    saved = [o._fast_output for o in OPS]
    if not fast:
        for o in OPS:
            o._fast_output = None
    CALLS.clear()
    out: list = []
    try:
        s = Storage(path)
        for _ in range(2):
            made: list = []
            with s:
                for name, value, pick, use_ref in steps:
                    arg = made[pick % len(made)] if use_ref and made else value
                    if name == "inc":
                        r = inc(arg)
                    elif name == "add":
                        r = add(arg)
                    elif name == "add_kw":
                        r = add(y=arg, x=value)
                    elif name == "pair":
                        r = pair(arg)
                    elif name == "named":
                        r = named(arg)
                    elif name == "const":
                        r = const()
                    else:
                        r = inc([arg, value])  # a list argument: the general path
                    for ref in r if isinstance(r, tuple) else (r,):
                        made.append(ref)
                        out.append((name, type(ref).__name__, ref.hid, ref.cid))
            made = [m.detached() for m in made]
        s.close()
    finally:
        for o, f in zip(OPS, saved):
            o._fast_output = f
    return out, list(CALLS)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_fast_path_records_what_the_general_path_records(tmp_path_factory, steps):
    d = tmp_path_factory.mktemp("fast")
    fast_out, fast_calls = run(str(d / "fast.db"), steps, fast=True)
    slow_out, slow_calls = run(str(d / "slow.db"), steps, fast=False)
    assert fast_out == slow_out
    assert fast_calls == slow_calls
    assert dump(str(d / "fast.db")) == dump(str(d / "slow.db"))


def test_ops_that_take_the_fast_path():
    assert inc._fast_output == "output_0" and named._fast_output == "z" and add._fast_output == "output_0"
    assert op(output_names=["a", "b"])(lambda x: (x, x))._fast_output is None
    assert op(nout=2)(lambda x: (x, x))._fast_output is None
    assert op(lambda *xs: xs)._fast_output is None  # not plain parameters
    assert op(ignore_args=["y"])(lambda x, y: x)._fast_output is None


def test_a_tuple_result_still_makes_two_outputs(storage):
    with storage:
        a, b = pair(3)
        z = named(3)
    assert isinstance(a, AtomRef) and storage.unwrap(a) == 3 and storage.unwrap(b) == 3
    assert isinstance(z, Ref) and storage.unwrap(z) == (3, "t")  # one named output holds the tuple
