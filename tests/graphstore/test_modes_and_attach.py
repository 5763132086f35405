"""Storage modes (``storage.mode``, ``storage(mode=...)``, ``noop()``), ``storage.attach(obj, inplace=...)`` and
ValuePointer cells in frames, with mandala's semantics."""

from __future__ import annotations

import pytest

from graphstore import Ignore, MList, NewArgDefault, RefNotLoadedError, Storage, ValuePointer, noop, op


def test_modes_nest_and_restore_the_outer_mode():
    storage = Storage()
    assert storage.mode == "run"
    with storage(mode="noop"):
        assert storage.mode == "noop"
        with storage():
            assert storage.mode == "run"
        assert storage.mode == "noop"
        with storage(mode="noop"):
            assert storage.mode == "noop"
        assert storage.mode == "noop"
    assert storage.mode == "run"
    with storage:
        with noop():
            assert storage.mode == "noop"
        assert storage.mode == "run"
    other = Storage()
    with storage, other(mode="noop"):
        assert storage.mode == "run" and other.mode == "noop"


def test_noop_gives_ops_plain_values_and_records_nothing(log):
    @op
    def inc(x):
        log.append("inc")
        return x + 1

    @op
    def add(x, y, z=NewArgDefault(0), w=None):
        log.append("add")
        return x + y + z + (w or 0)

    storage = Storage()
    with storage:
        inc(20)
    with storage:
        x = inc(20)  # retraced: lazy
    assert not x.in_memory and log == ["inc"]
    before = storage.cache_info()
    with storage(mode="noop"):
        z = add(x, 21)
        pointed = add(ValuePointer("one", 1), Ignore(x), w=Ignore(2))
    assert (z, pointed) == (42, 24)  # plain values, not Refs
    with storage:
        with noop():
            again = add(x, NewArgDefault(5))
            fresh = inc(100)
    assert (again, fresh) == (26, 101)
    after = storage.cache_info()
    assert {k: after[k] for k in ("ops", "values", "calls")} == {k: before[k] for k in ("ops", "values", "calls")}
    assert log == ["inc", "add", "add", "add", "inc"]


def test_noop_outside_any_context_runs_plain_functions():
    @op
    def inc(x):
        return x + 1

    with noop():
        assert inc(20) == 21
        assert inc(Ignore(1)) == 2
    storage = Storage()
    with storage:
        inc(1)
    with storage:
        lazy = inc(1)
    with noop(), pytest.raises(RefNotLoadedError):  # no storage to load it from
        inc(lazy)


def test_attach_returns_a_loaded_copy_or_loads_in_place():
    @op
    def inc(x):
        return x + 1

    @op
    def pair(n) -> MList[int]:
        return [n, n + 1]

    storage = Storage()
    with storage:
        inc(1), inc(2), pair(5)
    with storage:
        a, b, c = inc(1), inc(2), pair(5)
    assert not any(r.in_memory for r in (a, b, c))

    copy = storage.attach({"xs": [a, (b, "raw")], "c": c})
    assert copy["xs"][0].obj == 2 and copy["xs"][1][0].obj == 3 and copy["xs"][1][1] == "raw"
    assert isinstance(copy["xs"][1], tuple) and copy["c"].obj == [5, 6]
    assert copy["xs"][0] is not a and copy["xs"][0].hid == a.hid and copy["c"].hid == c.hid
    assert not any(r.in_memory for r in (a, b, c))  # the given Refs stay lazy
    assert not any(e.in_memory for e in c)

    single = storage.attach(a)
    assert single.obj == 2 and not a.in_memory

    assert storage.attach([a, {"k": c}], inplace=True) is None
    assert a.in_memory and a.obj == 2 and c.in_memory and c.obj == [5, 6]
    assert not b.in_memory


def test_frames_show_value_pointers_in_their_cells():
    @op
    def length(data, k):
        return len(data) + k

    storage = Storage()
    with storage:
        for k in range(3):
            length(ValuePointer("X", [1, 2, 3]), k)
        length(ValuePointer("Y", [1]), 0)
    df = storage.cf(length).expand_all().df()
    cells = sorted((v.id, out) for v, out in zip(df["data"], df["var_0"]))
    assert cells == [("X", 3), ("X", 4), ("X", 5), ("Y", 1)]
    assert all(isinstance(v, ValuePointer) and v.obj is None for v in df["data"])
    values = storage.cf(length).get_var_values("data")
    assert sorted(v.id for v in values) == ["X", "Y"]
