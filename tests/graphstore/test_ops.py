"""Recording behaviour of ``@op`` (docs api.md, "Recording"): signatures, outputs, argument markers, Refs, modes."""

from __future__ import annotations

import asyncio
import re
import threading

import numpy as np
import pytest

from graphstore import (
    AtomRef,
    Call,
    Ignore,
    NewArgDefault,
    OpCallError,
    OpDefinitionError,
    Ref,
    Storage,
    ValuePointer,
    hash_value,
    noop,
    op,
    wrap_atom,
)
from graphstore.context import current_frame


def creator(storage: Storage, ref: Ref) -> Call:
    """The stored call that output ``ref``."""
    call = storage.get_ref_creator(ref)
    assert call is not None
    assert ref.hid in {r.hid for r in call.outputs.values()}
    return call


def n_calls(storage: Storage) -> int:
    storage.commit()
    return storage.cache_info()["calls"]


# --- signatures -------------------------------------------------------------------------------------------------------


def test_positional_keyword_and_default_spellings_are_one_call(storage, log):
    @op
    def f(x, n=5):
        log.append("f")
        return x * n

    with storage:
        refs = [f(1), f(1, n=5), f(x=1), f(1, 5), f(n=5, x=1)]
    assert log.count("f") == 1
    assert len({r.hid for r in refs}) == 1
    assert storage.unwrap(refs[0]) == 5
    assert n_calls(storage) == 1
    with storage:
        other = f(1, n=6)
    assert log.count("f") == 2
    assert other.hid != refs[0].hid
    assert storage.unwrap(other) == 6


def test_star_args_become_numbered_inputs(storage, log):
    @op
    def total(*args):
        log.append("total")
        return sum(args)

    with storage:
        r = total(1, 2)
        again = total(1, 2)
        swapped = total(2, 1)
    assert log.count("total") == 2  # (1, 2) once, (2, 1) once
    assert again.hid == r.hid and swapped.hid != r.hid
    call = creator(storage, r)
    assert set(call.inputs) == {"args_0", "args_1"}
    assert storage.unwrap(call.inputs["args_0"]) == 1
    assert storage.unwrap(call.inputs["args_1"]) == 2


def test_star_kwargs_inputs_are_named_by_their_keys(storage, log):
    @op
    def pack(**kw):
        log.append("pack")
        return sorted(kw.items())

    with storage:
        r = pack(a=1, b=2)
        same = pack(b=2, a=1)
    assert log.count("pack") == 1
    assert same.hid == r.hid
    call = creator(storage, r)
    assert set(call.inputs) == {"a", "b"}
    assert storage.unwrap(call.inputs["b"]) == 2
    assert storage.unwrap(r) == [("a", 1), ("b", 2)]


def test_mixed_signature(storage, log):
    @op
    def mixed(a, b=2, *args, c, d=4, **kw):
        log.append("mixed")
        return [a, b, args, c, d, kw]

    with storage:
        r = mixed(1, 2, 3, c=5, e=6)
        same = mixed(1, 2, 3, e=6, c=5, d=4)
    assert log.count("mixed") == 1
    assert same.hid == r.hid
    assert storage.unwrap(r) == [1, 2, (3,), 5, 4, {"e": 6}]
    call = creator(storage, r)
    assert set(call.inputs) == {"a", "b", "args_0", "c", "d", "e"}


@pytest.mark.parametrize(
    "args, kwargs",
    [((), {}), ((1, 2), {}), ((1,), {"y": 2}), ((), {"x": 1, "x2": 3}), ((1,), {"x": 1})],
    ids=["missing", "too-many", "unexpected-kw", "unexpected-kw-2", "multiple-values"],
)
def test_wrong_arguments_raise_op_call_error_naming_the_op(storage, log, args, kwargs):
    @op
    def inc(x):
        log.append("inc")
        return x + 1

    for ctx in (storage, noop()):
        with pytest.raises(OpCallError) as ei:
            with ctx:
                inc(*args, **kwargs)
        assert isinstance(ei.value, TypeError)
        assert "inc" in str(ei.value)
    with pytest.raises(TypeError, match="inc"):
        inc(*args, **kwargs)  # outside any context too
    assert log.count() == 0
    assert n_calls(storage) == 0


# --- outputs ----------------------------------------------------------------------------------------------------------


def test_single_output_default_name(storage):
    @op
    def inc(x):
        return x + 1

    with storage:
        r = inc(1)
    assert isinstance(r, AtomRef)
    assert set(creator(storage, r).outputs) == {"output_0"}
    with storage:
        again = inc(1)
    assert isinstance(again, Ref) and again.hid == r.hid


def test_returned_tuple_splits_into_refs_and_retrace_keeps_the_shape(storage, log):
    @op
    def split(x):
        log.append("split")
        return x, x * 10

    with storage:
        a, b = split(2)
    assert storage.unwrap([a, b]) == [2, 20]
    call = creator(storage, a)
    assert set(call.outputs) == {"output_0", "output_1"}
    assert call.outputs["output_1"].hid == b.hid
    with storage:
        again = split(2)
    assert log.count("split") == 1
    assert isinstance(again, tuple) and len(again) == 2
    assert [r.hid for r in again] == [a.hid, b.hid]
    assert all(not r.in_memory for r in again)


def test_one_tuple_result_in_auto_mode_stays_a_one_tuple(storage, log):
    @op
    def single(x):
        log.append("single")
        return (x,)

    with storage:
        out = single(3)
    assert isinstance(out, tuple) and len(out) == 1 and isinstance(out[0], Ref)
    with storage:
        again = single(3)
    assert log.count("single") == 1
    assert isinstance(again, tuple) and len(again) == 1
    assert again[0].hid == out[0].hid
    assert storage.unwrap(again) == (3,)


def test_output_names(storage, log):
    @op(output_names=["q", "r"])
    def qr(x, y):
        log.append("qr")
        return divmod(x, y)

    @op(output_names=["only"])
    def one(x):
        return (x, x)  # a single named output holds the whole tuple

    with storage:
        q, r = qr(7, 2)
        o = one(1)
    assert storage.unwrap((q, r)) == (3, 1)
    call = creator(storage, q)
    assert set(call.outputs) == {"q", "r"}
    assert call.outputs["r"].hid == r.hid
    assert isinstance(o, Ref) and storage.unwrap(o) == (1, 1)
    assert set(creator(storage, o).outputs) == {"only"}
    with storage:
        again = qr(7, 2)
    assert log.count("qr") == 1
    assert len(again) == 2 and [x.hid for x in again] == [q.hid, r.hid]


def test_nout_int_with_wrong_length_raises_and_stores_nothing(storage, log):
    @op(nout=2)
    def two(x):
        log.append("two")
        return (x, x, x) if x else x

    for arg in (1, 0):  # a 3-tuple, and not a tuple at all
        with pytest.raises(OpCallError, match="two"):
            with storage:
                two(arg)
    assert n_calls(storage) == 0

    @op(nout=2)
    def good(x):
        return x, -x

    with storage:
        a, b = good(4)
    assert storage.unwrap([a, b]) == [4, -4]


def test_nout_var(storage, log):
    @op(nout="var")
    def upto(n):
        log.append("upto")
        return tuple(range(n))

    with storage:
        outs = {n: upto(n) for n in (0, 1, 3)}
    assert outs[0] == ()
    assert isinstance(outs[1], tuple) and len(outs[1]) == 1
    assert storage.unwrap(outs[3]) == (0, 1, 2)
    with storage:
        again = {n: upto(n) for n in (0, 1, 3)}
    assert log.count("upto") == 3
    assert {n: len(v) for n, v in again.items()} == {0: 0, 1: 1, 3: 3}
    assert [r.hid for r in again[3]] == [r.hid for r in outs[3]]


def test_nout_zero(storage, log):
    @op(nout=0)
    def side(x):
        log.append("side")

    @op(nout=0)
    def bad(x):
        return x

    with storage:
        assert side(1) is None
    assert n_calls(storage) == 1
    with storage:
        assert side(1) is None
    assert log.count("side") == 1
    with pytest.raises(OpCallError, match="bad"):
        with storage:
            bad(1)
    assert n_calls(storage) == 1


def test_output_name_equal_to_input_name_is_an_error_at_decoration():
    def f(x, y):
        return x, y

    with pytest.raises(OpDefinitionError, match="x"):
        op(output_names=["x", "z"])(f)
    with pytest.raises(OpDefinitionError):
        op(f, output_names=["y"])
    op(output_names=["a", "b"])(f)  # fine


# --- Ignore / ignore_args ---------------------------------------------------------------------------------------------


def test_ignore_args(storage, log):
    @op(ignore_args=("verbose",))
    def f(x, verbose=False):
        log.append(("f", verbose))
        return x + 1

    with storage:
        a = f(1, verbose=True)
        b = f(1, verbose=False)
        c = f(1)
    assert log == [("f", True)]
    assert a.hid == b.hid == c.hid
    assert set(creator(storage, a).inputs) == {"x"}


def test_ignore_marker(storage, log):
    @op
    def f(x, y):
        log.append(("f", y))
        return x

    @op
    def g(x, y=Ignore(7)):
        log.append(("g", y))
        return x

    with storage:
        a = f(1, Ignore(3))
        b = f(1, Ignore(4))
        g(1)
    assert log == [("f", 3), ("g", 7)]
    assert a.hid == b.hid
    assert set(creator(storage, a).inputs) == {"x"}
    assert g(2) == 2 and log[-1] == ("g", 7)  # plain call: the default is unwrapped


def test_lazy_ref_passed_to_an_ignored_argument_is_loaded(storage, log):
    @op
    def make():
        return 5

    @op(ignore_args=("y",))
    def f(x, y):
        log.append(("f", y))
        return x

    @op
    def g(x, y):
        log.append(("g", y))
        return x

    with storage:
        make()
    with storage:
        lazy = make()
        assert not lazy.in_memory
        f(1, lazy)
        g(1, Ignore(make()))
    assert log == [("f", 5), ("g", 5)]


# --- NewArgDefault ----------------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("error:op .* has changed:UserWarning")  # adding a NewArgDefault parameter is no alarm
def test_new_arg_default_reuses_old_calls(storage, log):
    @op(name="scale")
    def scale_v1(x):
        log.append("v1")
        return x * 2

    with storage:
        old = scale_v1(3)

    @op(name="scale")
    def scale_v2(x, k=NewArgDefault(2)):
        log.append(("v2", type(k).__name__))
        return x * k

    with storage:
        hits = [scale_v2(3), scale_v2(3, k=2), scale_v2(3, 2)]
    assert log == ["v1"]
    assert {r.hid for r in hits} == {old.hid}
    assert storage.unwrap(hits[0]) == 6
    with storage:
        new = scale_v2(3, k=3)
    assert log == ["v1", ("v2", "int")]
    assert storage.unwrap(new) == 9
    assert n_calls(storage) == 2
    # outside any storage the function receives the plain default
    assert scale_v2(4) == 8
    assert log[-1] == ("v2", "int")


@pytest.mark.filterwarnings("error:op .* has changed:UserWarning")  # adding a NewArgDefault parameter is no alarm
def test_new_arg_default_numpy_is_compared_by_value_and_dtype(storage, log):
    @op(name="shift")
    def shift_v1(x):
        log.append("v1")
        return x

    with storage:
        shift_v1(1)

    @op(name="shift")
    def shift_v2(x, w=NewArgDefault(np.array([1, 2]))):  # noqa: B008 (the default's value is what the test is about)
        log.append(("v2", w.dtype.kind, w.tolist()))
        return x + int(w.sum()) - 3

    with storage:
        shift_v2(1)
        shift_v2(1, w=np.array([1, 2]))  # equal by value: the old call
    assert log == ["v1"]
    with storage:
        shift_v2(1, w=np.array([1.0, 2.0]))  # same numbers, other dtype: a new call
        shift_v2(1, w=np.array([1, 2, 3]))
    assert log == ["v1", ("v2", "f", [1.0, 2.0]), ("v2", "i", [1, 2, 3])]
    assert n_calls(storage) == 3
    assert shift_v2(1) == 1  # plain: receives the array itself
    assert log[-1] == ("v2", "i", [1, 2])


def test_lazy_ref_equal_to_new_arg_default_is_loaded_when_the_call_runs(storage, log):
    @op
    def two():
        return 2

    @op
    def mul(x, k=NewArgDefault(2)):
        log.append(("mul", k))
        return x * k

    with storage:
        two()
    with storage:
        k = two()
        assert not k.in_memory
        r = mul(5, k)
    assert log == [("mul", 2)]
    assert storage.unwrap(r) == 10


# --- ValuePointer -----------------------------------------------------------------------------------------------------


def test_value_pointer_is_identified_by_id_and_never_stored(storage, log):
    payload = ["secret-payload-0xC0FFEE"] * 3

    @op
    def length(data):
        log.append(("length", data))
        return len(data)

    with storage:
        r = length(ValuePointer("dataset-v1", payload))
        hit = length(ValuePointer("dataset-v1", ["something else"]))
        other = length(ValuePointer("dataset-v2", ["x"]))
    assert log == [("length", payload), ("length", ["x"])]
    assert hit.hid == r.hid and other.hid != r.hid
    assert storage.unwrap(r) == 3

    pointer_cid = wrap_atom(ValuePointer("dataset-v1", payload)).cid
    assert pointer_cid == wrap_atom(ValuePointer("dataset-v1", None)).cid
    assert creator(storage, r).inputs["data"].cid == pointer_cid
    rec = storage.backend.load_values([pointer_cid])[pointer_cid]
    assert rec.codec == "pointer"
    rows = storage.backend.execute('SELECT codec, data FROM "values"')
    assert rows
    assert not any(data is not None and b"secret-payload-0xC0FFEE" in data for _, data in rows)


# --- Refs and Calls ---------------------------------------------------------------------------------------------------


def test_wrap_atom_and_ref_reprs(storage):
    r = wrap_atom(1.0)
    assert isinstance(r, AtomRef) and r.in_memory and r.obj == 1.0
    assert r.cid == hash_value(1.0)
    assert wrap_atom(1).cid != r.cid  # type-aware
    assert wrap_atom(r) is r
    assert repr(r) == f"AtomRef(1.0, hid={r.hid[:3]}...)"
    assert re.fullmatch(r"AtomRef\(1\.0, hid=[0-9a-f]{3}\.\.\.\)", repr(r))

    @op
    def inc(x):
        return x + 1

    with storage:
        inc(1)
    with storage:
        lazy = inc(1)
    assert repr(lazy) == f"AtomRef(hid={lazy.hid[:3]}..., in_memory=False)"
    assert re.fullmatch(r"AtomRef\(hid=[0-9a-f]{3}\.\.\., in_memory=False\)", repr(lazy))
    call = creator(storage, lazy)
    assert repr(call) == f"Call(inc, hid={call.hid[:3]}...)"
    assert re.fullmatch(r"Call\(inc, hid=[0-9a-f]{3}\.\.\.\)", repr(call))
    assert call.outputs["output_0"].cid == hash_value(2)
    assert call.inputs["x"].cid == hash_value(1)


@pytest.mark.parametrize(
    "operation",
    [
        lambda r: r + 1,
        lambda r: 1 + r,
        lambda r: r * 2,
        lambda r: r / 2,
        lambda r: -r,
        lambda r: r < 1,
        lambda r: r >= 1,
        lambda r: bool(r),
        lambda r: 1 if r else 0,
        lambda r: float(r),
    ],
)
def test_arithmetic_comparison_and_truth_on_a_ref_say_to_unwrap(operation):
    with pytest.raises(TypeError, match="unwrap"):
        operation(wrap_atom(3))


# --- modes and contexts -----------------------------------------------------------------------------------------------


def test_outside_any_context_ops_are_plain_functions(storage, log):
    @op
    def inc(x):
        log.append("inc")
        return x + 1

    assert inc(1) == 2
    assert inc(1) == 2
    assert log.count("inc") == 2
    assert n_calls(storage) == 0


def test_noop_modes_record_nothing(storage, log):
    @op
    def inc(x):
        log.append("inc")
        return x + 1

    with storage(mode="noop"):
        assert inc(1) == 2
    with noop():
        assert inc(1) == 2
    with storage:
        with noop():
            assert inc(1) == 2
    assert log.count("inc") == 3
    assert storage.cache_info()["calls"] == 0
    assert n_calls(storage) == 0


def test_nested_different_storages(log):
    outer, inner = Storage(), Storage()

    @op
    def inc(x):
        log.append(x)
        return x + 1

    try:
        with outer:
            inc(1)
            with inner:
                r2 = inc(2)
            inc(3)
        assert log == [1, 2, 3]
        assert n_calls(outer) == 2 and n_calls(inner) == 1
        with inner:
            assert inc(2).hid == r2.hid  # a hit in inner
            inc(1)  # recorded in outer only: runs again here
        assert log == [1, 2, 3, 1]
        assert current_frame() is None
    finally:
        outer.close()
        inner.close()


def test_nesting_the_same_storage_twice(storage, log):
    @op
    def inc(x):
        log.append(x)
        return x + 1

    with storage:
        with storage:
            a = inc(1)
        b = inc(2)  # still recording after the inner block
        assert isinstance(b, Ref)
    assert current_frame() is None
    assert isinstance(a, Ref)
    assert n_calls(storage) == 2
    assert inc(1) == 2  # plain again


def test_a_thread_started_inside_a_context_records_into_it(storage, log):
    """The thread has no context of its own (contexts are per thread) but works for the one its creator is in."""

    @op
    def inc(x):
        log.append(x)
        return x + 1

    seen = {}

    def worker():
        seen["frame"] = current_frame()
        seen["result"] = inc(10)

    with storage:
        t = threading.Thread(target=worker)
        t.start()
        t.join(10)
        inc(1)
    assert seen["frame"] is None
    assert isinstance(seen["result"], Ref) and storage.unwrap(seen["result"]) == 11
    assert n_calls(storage) == 2


def test_one_storage_entered_in_two_threads_at_once(storage, log):
    """Thread A enters, B enters, A leaves first, then B: each thread's context is its own."""

    @op
    def inc(x):
        log.append(x)
        return x + 1

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    errors: list = []
    results: dict = {}

    def thread_a():
        try:
            with storage:
                a_in.set()
                b_in.wait(10)
                results["a"] = inc(1)
            results["a_after"] = current_frame()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            a_out.set()

    def thread_b():
        try:
            a_in.wait(10)
            with storage:
                b_in.set()
                a_out.wait(10)
                results["b"] = inc(2)
            results["b_after"] = current_frame()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            b_in.set()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == []
    assert isinstance(results["a"], Ref) and isinstance(results["b"], Ref)
    assert results["a_after"] is None and results["b_after"] is None
    assert n_calls(storage) == 2


def test_contexts_are_task_safe(storage, log):
    @op
    def inc(x):
        log.append(x)
        return x + 1

    async def task(x, first_in, other_in, delay_exit):
        with storage:
            first_in.set()
            await other_in.wait()
            if delay_exit:
                await asyncio.sleep(0.01)
            r = inc(x)
        return r, current_frame()

    async def main():
        a_in, b_in = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(task(1, a_in, b_in, False), task(2, b_in, a_in, True))

    (ra, fa), (rb, fb) = asyncio.run(main())
    assert isinstance(ra, Ref) and isinstance(rb, Ref)
    assert fa is None and fb is None
    assert n_calls(storage) == 2


# --- ops inside ops, refs returned by ops -----------------------------------------------------------------------------


def test_op_returning_a_ref_from_another_op(storage, log):
    inner_refs: list = []

    @op
    def inc(x):
        log.append("inc")
        return x + 1

    @op
    def wrapper(x):
        log.append("wrapper")
        r = inc(x)
        inner_refs.append(r)
        return r

    with storage:
        w = wrapper(1)
    (inner,) = inner_refs
    assert isinstance(inner, Ref)
    assert w.cid == inner.cid == hash_value(2)
    assert w.hid != inner.hid
    assert storage.unwrap(w) == 2
    assert n_calls(storage) == 2  # the inner call is its own call
    assert creator(storage, inner).op == inc
    with storage:
        again = wrapper(1)
        direct = inc(1)
    assert log == ["wrapper", "inc"]
    assert again.hid == w.hid and direct.hid == inner.hid
    assert n_calls(storage) == 2


def test_ops_called_inside_ops_are_memoized_as_their_own_calls(storage, log):
    @op
    def sq(x):
        log.append("sq")
        return x * x

    @op
    def sum_sq(a, b):
        log.append("sum_sq")
        return storage.unwrap(sq(a)) + storage.unwrap(sq(b))

    with storage:
        s = sum_sq(2, 3)
    assert storage.unwrap(s) == 13
    assert n_calls(storage) == 3
    with storage:
        sq(3)
        sum_sq(3, 2)  # the body runs; both inner calls are hits
    assert log == ["sum_sq", "sq", "sq", "sum_sq"]
    assert n_calls(storage) == 4


def test_an_op_compiled_under_the_name_of_another_file_still_gets_a_source_hash(tmp_path):
    """Code run with ``compile(text, "README.md", "exec")`` (a documentation page's example) names a file whose lines
    are not its source: inspect may fail to tokenize them; the op is hashed by its bytecode instead."""
    page = tmp_path / "page.md"
    page.write_text("Some text (with an open parenthesis\n\n" + "more text\n" * 5)
    namespace: dict = {}
    block = "from graphstore import op\n\n\n@op\ndef inc(x):\n    return x + 1\n"
    exec(compile(block, str(page), "exec"), namespace)
    storage = Storage()
    with storage:
        assert storage.unwrap(namespace["inc"](1)) == 2
    assert len(namespace["inc"].source_hash) > 0
