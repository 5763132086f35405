"""Collections stored element by element: MList, MDict, MSet, MTuple."""

from __future__ import annotations

import numpy as np
import pytest

from graphstore import (
    DictRef,
    ListRef,
    MDict,
    MList,
    MSet,
    MTuple,
    OpCallError,
    SetRef,
    Storage,
    TupleRef,
    hash_value,
    op,
)
from store_tools import store_rows

LOG: list[str] = []


@op
def primes_below(n) -> MList[int]:
    LOG.append("primes_below")
    return [p for p in range(2, n) if all(p % d for d in range(2, p))]


@op
def total(xs: MList[int]):
    LOG.append("total")
    return sum(xs)


@op
def doubled(xs: MList[int]) -> MList[int]:
    LOG.append("doubled")
    return [2 * x for x in xs]


@op
def halves(d: MDict[str, int]) -> MDict[str, float]:
    LOG.append("halves")
    return {k: v / 2 for k, v in d.items()}


@op
def unique(xs: MList[int]) -> MSet[int]:
    LOG.append("unique")
    return set(xs)


@op
def describe(x) -> MTuple[int, str]:
    LOG.append("describe")
    return x, str(x)


@op
def records(n) -> MList[MDict[str, int]]:
    LOG.append("records")
    return [{"i": i, "sq": i * i} for i in range(n)]


@op
def inc(x):
    LOG.append("inc")
    return x + 1


@pytest.fixture(autouse=True)
def clear_log():
    LOG.clear()


def program(storage):
    with storage:
        ps = primes_below(30)
        sums = [total(ps[:4]), total(ps[2:6]), total(ps)]
        mixed = total([ps[0], doubled(ps)[1], inc(ps[2])])
        d = halves({"a": 2, "b": 5})
        u = unique([3, 1, 3, 2])
        t = describe(7)
        rs = records(3)
    return ps, sums, mixed, d, u, t, rs


def test_list_ref_indexes_and_slices_without_loading(file_storage, db_path):
    with file_storage:
        primes_below(20)
    file_storage.close()
    storage = Storage(db_path)
    loads: list = []
    original = storage.backend.load_values
    storage.backend.load_values = lambda cids: loads.append(list(cids)) or original(cids)
    with storage:
        ps = primes_below(20)
    assert isinstance(ps, ListRef) and not ps.in_memory
    assert len(ps) == 8
    assert not ps[3].in_memory and [r.in_memory for r in ps[2:5]] == [False] * 3
    assert loads == []  # length, indexing and slicing loaded no value
    assert storage.unwrap(ps[3]) == 7
    assert storage.unwrap(ps[2:5]) == [5, 7, 11]
    assert storage.unwrap(ps) == [2, 3, 5, 7, 11, 13, 17, 19]
    assert LOG == ["primes_below"]


def test_sums_over_overlapping_slices_are_separate_calls_sharing_elements(storage):
    ps, sums, *_ = program(storage)
    assert storage.unwrap(sums) == [17, 36, 129]
    assert LOG.count("total") == 4
    consumers_of_5 = storage.get_consumers([ps[2]])
    assert {c.op.name if hasattr(c.op, "name") else c.op for c in consumers_of_5} >= {"__make_list__"}
    # the element Ref of 5 is the same Ref in both slices: one make_list input each
    make_lists = [c for c in consumers_of_5 if c.op == "__make_list__"]
    assert len(make_lists) == 2
    assert all(any(r.hid == ps[2].hid for r in c.inputs.values()) for c in make_lists)


def test_mlist_in_and_out_and_mixed_elements(storage):
    ps, sums, mixed, *_ = program(storage)
    assert storage.unwrap(mixed) == 2 + 6 + 6
    with storage:
        d = doubled(ps)
    assert isinstance(d, ListRef) and storage.unwrap(d) == [2 * p for p in storage.unwrap(ps)]


def test_dicts_sets_tuples_and_nesting(storage):
    _, _, _, d, u, t, rs = program(storage)
    assert isinstance(d, DictRef) and sorted(d.keys()) == ["a", "b"]
    assert storage.unwrap(d["b"]) == 2.5 and storage.unwrap(d) == {"a": 1.0, "b": 2.5}
    assert [k for k, _ in d.items()] == ["a", "b"] and "a" in d
    assert isinstance(u, SetRef) and len(u) == 3 and storage.unwrap(u) == {1, 2, 3}
    assert isinstance(t, TupleRef) and storage.unwrap(t) == (7, "7") and storage.unwrap(t[1]) == "7"
    assert isinstance(rs, ListRef) and isinstance(rs[2], DictRef)
    assert storage.unwrap(rs[2]["sq"]) == 4
    assert storage.unwrap(rs) == [{"i": 0, "sq": 0}, {"i": 1, "sq": 1}, {"i": 2, "sq": 4}]


def test_collection_cid_equals_the_plain_value_hash(storage):
    ps, _, _, d, u, t, rs = program(storage)
    assert ps.cid == hash_value(storage.unwrap(ps))
    assert d.cid == hash_value({"a": 1.0, "b": 2.5})
    assert u.cid == hash_value({1, 2, 3})
    assert t.cid == hash_value((7, "7"))
    assert rs.cid == hash_value(storage.unwrap(rs))


def test_element_in_two_lists_is_stored_once(file_storage):
    @op
    def pair_lists() -> MTuple[MList[int], MList[int]]:
        return [10, 20, 30], [30, 40]

    with file_storage:
        a, b = pair_lists()
    file_storage.commit()
    assert store_rows(file_storage, 'SELECT count(*) FROM "values" WHERE cid = ?', (hash_value(30),)) == [(1,)]
    assert store_rows(file_storage, "SELECT count(*) FROM members") == [(2 + 3 + 2,)]


def test_numpy_elements(storage):
    @op
    def arrays(n) -> MList[np.ndarray]:
        return [np.arange(i, dtype=np.float32) for i in range(n)]

    with storage:
        xs = arrays(3)
    got = storage.unwrap(xs)
    assert [a.tolist() for a in got] == [[], [0.0], [0.0, 1.0]] and got[2].dtype == np.float32


def test_retracing_programs_with_collections_executes_nothing(db_path, store_kind):
    first = Storage(db_path)
    program(first)
    values = first.unwrap(program(first))
    first.close()
    LOG.clear()
    again = Storage(db_path)
    out = program(again)
    assert LOG == []
    assert again.unwrap(out) == values


def test_retrace_in_a_new_process_of_a_list_output_keeps_element_hids(db_path, store_kind):
    s1 = Storage(db_path)
    with s1:
        hids = [r.hid for r in primes_below(12)]
    s1.close()
    s2 = Storage(db_path)
    with s2:
        assert [r.hid for r in primes_below(12)] == hids


def test_content_hit_of_collection_op_records_new_history_sharing_values(storage):
    with storage:
        ps = primes_below(10)  # [2, 3, 5, 7]
        n = inc(9)  # 10, another history than the raw 10
        again = primes_below(n)
    assert LOG.count("primes_below") == 1
    assert again.hid != ps.hid and again.cid == ps.cid
    assert [r.cid for r in again] == [r.cid for r in ps]
    assert [r.hid for r in again] != [r.hid for r in ps]
    assert storage.unwrap(again) == [2, 3, 5, 7]


def test_wrong_container_type_names_the_op_and_argument(storage):
    with storage:
        with pytest.raises(OpCallError, match="op total, argument 'xs'"):
            total(5)
        with pytest.raises(OpCallError, match="MDict keys must be strings"):
            halves({1: 2})


def test_string_annotations_are_understood(storage):
    namespace: dict = {}
    exec(
        "from __future__ import annotations\n"
        "from graphstore import op, MList\n"
        "@op\n"
        "def squares(n) -> MList[int]:\n"
        "    return [i * i for i in range(n)]\n",
        namespace,
    )
    with storage:
        sq = namespace["squares"](4)
    assert isinstance(sq, ListRef) and storage.unwrap(sq[3]) == 9


def test_outside_storage_collection_ops_are_plain():
    assert primes_below(10) == [2, 3, 5, 7]
    assert total([1, 2]) == 3


def test_plain_containers_of_refs_keep_histories_and_load_nothing_on_retrace(db_path, store_kind):
    @op
    def pair(xs):
        LOG.append("pair")
        return [xs[0], xs[-1]]

    first = Storage(db_path)
    with first:
        a, b = inc(1), inc(2)
        p = pair([a, b, {"k": a}])
    assert first.unwrap(p) == [2, {"k": 2}]  # the op received plain values and returned a plain list
    assert any(c.op == "__make_list__" for c in first.get_consumers([a]))
    first.close()
    LOG.clear()
    again = Storage(db_path)
    loads: list = []
    original = again.backend.load_values
    again.backend.load_values = lambda cids: loads.append(list(cids)) or original(cids)
    with again:
        a, b = inc(1), inc(2)
        p = pair([a, b, {"k": a}])
    assert LOG == [] and loads == []
    assert again.unwrap(p) == [2, {"k": 2}]


def test_an_op_returning_refs_in_a_plain_list_returns_a_list_ref(storage):
    @op
    def pair_from(n):
        return [inc(n), inc(n + 1)]  # ops called inside an op return Refs

    with storage:
        out = pair_from(10)
    assert isinstance(out, ListRef) and storage.unwrap(out) == [11, 12]
    with storage:
        inner = inc(10)
    assert out[0].cid == inner.cid and out[0].hid != inner.hid
    LOG.clear()
    with storage:
        again = pair_from(10)
    assert LOG == [] and isinstance(again, ListRef) and [r.hid for r in again] == [r.hid for r in out]
