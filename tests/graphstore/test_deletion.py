"""Deleting history: drop_calls (with and without dependents), cleanup_refs, creators/consumers, failures, overflow.

Every count asserted here is derived by hand in the comments next to it: which refs and values each program creates,
which are shared (a raw input and an output with the same value share one value row; equal raw inputs and list
indices share one raw ref), and which of them lose their last edge when calls go.
"""

from __future__ import annotations

import sqlite3

import pytest

from graphstore import Call, MList, Ref, Storage, StoreError, op
from store_tools import store_rows, value_files

TABLES = ("values", "refs", "calls", "edges", "members")


def counts(storage: Storage) -> dict[str, int]:
    info = storage.cache_info()
    return {t: info[t] for t in TABLES}


def snapshot(storage: Storage) -> dict[str, list[tuple]]:
    """Every row of the graph tables (value bytes left out), to compare a store before and after a failure."""
    sql = {
        "values": 'SELECT cid, path FROM "values" ORDER BY cid',
        "refs": "SELECT hid, cid, kind FROM refs ORDER BY hid",
        "calls": "SELECT hid, cid, op_name FROM calls ORDER BY hid",
        "edges": "SELECT c.hid, e.direction, e.label, r.hid FROM edges AS e JOIN calls AS c ON c.id = e.call_id "
        "JOIN refs AS r ON r.id = e.ref_id ORDER BY 1, 2, 3",
        "members": "SELECT c.hid, m.pos, m.key, r.hid FROM members AS m JOIN refs AS c ON c.id = m.coll_id "
        "JOIN refs AS r ON r.id = m.elt_id ORDER BY 1, 2",
    }
    return {t: storage.backend.execute(q) for t, q in sql.items()}


def call_hids(storage: Storage, op_name: str) -> set[str]:
    return {h for (h,) in store_rows(storage, "SELECT hid FROM calls WHERE op_name = ?", (op_name,))}


# --- a chain a -> b -> c ---------------------------------------------------------------------------------------------


def chain_ops(log):
    @op
    def a(x):
        log.append("a")
        return x + 1

    @op
    def b(y):
        log.append("b")
        return y * 2

    @op
    def c(z):
        log.append("c")
        return z - 4

    def program(storage):
        with storage:
            ra = a(2)  # 3
            rb = b(ra)  # 6
            rc = c(rb)  # 2: the same value as the raw input of a
        return ra, rb, rc

    program.ops = {"a": a, "b": b, "c": c}
    return program


# The chain stores 4 refs (raw 2, a's 3, b's 6, c's 2), 3 values (2, 3, 6: the raw 2 and c's 2 share one), 3 calls
# and 6 edges (one input and one output each).
CHAIN_FULL = {"values": 3, "refs": 4, "calls": 3, "edges": 6, "members": 0}


def test_chain_drop_with_dependents_then_cleanup_then_retrace(storage, log):
    program = chain_ops(log)
    ra, rb, rc = program(storage)
    assert counts(storage) == CHAIN_FULL
    assert log == ["a", "b", "c"]

    assert storage.drop_calls(storage.get_ref_creator(rb), delete_dependents=True) == 2  # b and c
    assert {c.op_name for c in storage.get_creators([ra, rb, rc])} == {"a"}
    # refs and values stay until cleanup; a's two edges are all that is left
    assert counts(storage) == {"values": 3, "refs": 4, "calls": 1, "edges": 2, "members": 0}

    # b's 6 and c's 2 lose their last edge; of the values only 6 goes: 2 is still held by the raw input of a
    assert storage.cleanup_refs() == {"refs": 2, "values": 1, "overflow_files": 0}
    assert counts(storage) == {"values": 2, "refs": 2, "calls": 1, "edges": 2, "members": 0}
    assert storage.check().ok
    assert storage.cleanup_refs() == {"refs": 0, "values": 0, "overflow_files": 0}  # nothing left to clean

    log.clear()
    ra2, rb2, rc2 = program(storage)
    assert log == ["b", "c"]  # exactly the dropped calls run again
    assert [r.hid for r in (ra2, rb2, rc2)] == [r.hid for r in (ra, rb, rc)]
    assert storage.unwrap([ra2, rb2, rc2]) == [3, 6, 2]
    assert counts(storage) == CHAIN_FULL
    log.clear()
    program(storage)
    assert log == []


def test_chain_drop_without_dependents_leaves_the_consumer(storage, log):
    program = chain_ops(log)
    ra, rb, rc = program(storage)
    assert storage.drop_calls([storage.get_ref_creator(rb)], delete_dependents=False) == 1
    assert [c.op_name for c in storage.get_creators([rc])] == ["c"]
    assert storage.get_ref_creator(rb) is None
    assert counts(storage)["calls"] == 2
    # b's output is still c's input, so no ref and no value is unreferenced
    assert storage.cleanup_refs() == {"refs": 0, "values": 0, "overflow_files": 0}
    assert counts(storage) == {"values": 3, "refs": 4, "calls": 2, "edges": 4, "members": 0}
    assert storage.unwrap(storage.load_ref(rc.hid)) == 2

    log.clear()
    program(storage)
    assert log == ["b"]
    assert counts(storage) == CHAIN_FULL


def test_dropping_the_head_without_dependents_removes_only_its_raw_input_ref(storage, log):
    program = chain_ops(log)
    ra, _, _ = program(storage)
    assert storage.drop_calls(storage.get_ref_creator(ra).hid, delete_dependents=False) == 1
    # the raw 2 had only a's input edge: its ref goes, but its value stays (c's output is 2 too);
    # a's output 3 is still b's input
    assert storage.cleanup_refs() == {"refs": 1, "values": 0, "overflow_files": 0}
    assert counts(storage) == {"values": 3, "refs": 3, "calls": 2, "edges": 4, "members": 0}
    log.clear()
    program(storage)
    assert log == ["a"]
    assert counts(storage) == CHAIN_FULL


def test_dropping_everything_empties_the_store_and_a_retrace_recomputes_everything(file_storage, db_path, log):
    program = chain_ops(log)
    _, _, rc = program(file_storage)
    head = file_storage.get_ref_creator(
        file_storage.get_ref_creator(file_storage.get_ref_creator(rc).inputs["z"]).inputs["y"]
    )
    assert head.op_name == "a"
    assert file_storage.drop_calls(head) == 3
    assert file_storage.cleanup_refs() == {"refs": 4, "values": 3, "overflow_files": 0}
    assert counts(file_storage) == {t: 0 for t in TABLES}
    file_storage.vacuum()
    file_storage.close()

    again = Storage(db_path)  # the deletions are on disk
    assert counts(again) == {t: 0 for t in TABLES}
    log.clear()
    program(again)
    assert log == ["a", "b", "c"]
    assert counts(again) == CHAIN_FULL
    again.close()


def test_drop_accepts_hids_and_calls_and_ignores_unknown_ids(storage, log):
    program = chain_ops(log)
    ra, rb, rc = program(storage)
    call_c = storage.get_ref_creator(rc)
    assert storage.drop_calls(["0" * 32, "not a hid"]) == 0
    assert storage.drop_calls(call_c.hid, delete_dependents=False) == 1
    assert storage.drop_calls(call_c.hid, delete_dependents=False) == 0  # already gone
    # a Call and a hid naming the same call count once
    call_b = storage.get_ref_creator(rb)
    assert storage.drop_calls([call_b, call_b.hid], delete_dependents=True) == 1
    assert counts(storage)["calls"] == 1


def test_a_dropped_call_whose_content_lives_on_under_another_history_is_not_recomputed(storage, log):
    program = chain_ops(log)

    b = program.ops["b"]

    def twin_program():
        ra, rb, rc = program(storage)
        with storage:
            twin = b(3)  # b applied to a raw 3: same content as b(a(2)), another history
        return rb, twin

    rb, twin = twin_program()
    assert log == ["a", "b", "c"]  # the twin was a content hit: recorded, not run
    assert twin.cid == rb.cid and twin.hid != rb.hid
    assert len(call_hids(storage, "b")) == 2

    # dropping the chain's b (and c) leaves the twin, so the retrace records b again from it without running it
    assert storage.drop_calls(storage.get_ref_creator(rb)) == 2
    storage.cleanup_refs()
    log.clear()
    rb2, _ = twin_program()
    assert log == ["c"]
    assert rb2.hid == rb.hid and storage.unwrap(rb2) == 6
    assert len(call_hids(storage, "b")) == 2


# --- a diamond a -> (b, c) -> d ---------------------------------------------------------------------------------------


def diamond_ops(log):
    @op
    def a(x):
        log.append("a")
        return x + 1

    @op
    def b(y):
        log.append("b")
        return y * 10

    @op
    def c(y):
        log.append("c")
        return y + 100

    @op
    def d(p, q):
        log.append("d")
        return p + q

    def program(storage):
        with storage:
            ra = a(1)  # 2
            rb, rc = b(ra), c(ra)  # 20, 102
            rd = d(rb, rc)  # 122
        return ra, rb, rc, rd

    return program


# 5 refs (raw 1, 2, 20, 102, 122) and 5 distinct values; 4 calls; edges 2 + 2 + 2 + 3 = 9
DIAMOND_FULL = {"values": 5, "refs": 5, "calls": 4, "edges": 9, "members": 0}


def test_diamond_drop_one_branch_with_dependents(storage, log):
    program = diamond_ops(log)
    ra, rb, rc, rd = program(storage)
    assert counts(storage) == DIAMOND_FULL
    assert storage.drop_calls(storage.get_ref_creator(rb), delete_dependents=True) == 2  # b and d
    assert sorted(c.op_name for c in storage.get_creators([ra, rb, rc, rd])) == ["a", "c"]
    assert [c.op_name for c in storage.get_consumers([ra])] == ["c"]
    assert storage.get_consumers([rc]) == []
    assert storage.cleanup_refs() == {"refs": 2, "values": 2, "overflow_files": 0}  # 20 and 122
    assert counts(storage) == {"values": 3, "refs": 3, "calls": 2, "edges": 4, "members": 0}
    log.clear()
    program(storage)
    assert sorted(log) == ["b", "d"]
    assert counts(storage) == DIAMOND_FULL


def test_diamond_drop_the_source_with_dependents_drops_everything(storage, log):
    program = diamond_ops(log)
    ra, _, _, _ = program(storage)
    assert storage.drop_calls(storage.get_ref_creator(ra)) == 4
    assert storage.cleanup_refs() == {"refs": 5, "values": 5, "overflow_files": 0}
    assert counts(storage) == {t: 0 for t in TABLES}
    log.clear()
    program(storage)
    assert sorted(log) == ["a", "b", "c", "d"]


def test_diamond_drop_both_branches_without_dependents_keeps_the_join(storage, log):
    program = diamond_ops(log)
    _, rb, rc, rd = program(storage)
    assert storage.drop_calls(storage.get_creators([rb, rc]), delete_dependents=False) == 2
    assert [c.op_name for c in storage.get_creators([rd])] == ["d"]
    # 20 and 102 are still d's inputs, 2 is still a's output: nothing is unreferenced
    assert storage.cleanup_refs() == {"refs": 0, "values": 0, "overflow_files": 0}
    assert counts(storage) == {"values": 5, "refs": 5, "calls": 2, "edges": 5, "members": 0}
    log.clear()
    program(storage)
    assert sorted(log) == ["b", "c"]
    assert counts(storage) == DIAMOND_FULL


def test_diamond_dropping_both_inputs_of_the_join_counts_it_once(storage, log):
    program = diamond_ops(log)
    _, rb, rc, _ = program(storage)
    assert storage.drop_calls(storage.get_creators([rb, rc]), delete_dependents=True) == 3  # b, c, d once
    assert counts(storage)["calls"] == 1


# --- collections ------------------------------------------------------------------------------------------------------


def collection_ops(log):
    @op
    def tens(n) -> MList[int]:
        log.append("tens")
        return [10 * i for i in range(1, n + 1)]

    @op
    def other(n) -> MList[int]:
        log.append("other")
        return [10 * n, 10 * n + 10]

    @op
    def inc(x):
        log.append("inc")
        return x + 1

    @op
    def total(xs: MList[int]):
        log.append("total")
        return sum(xs)

    def program(storage):
        with storage:
            xs = tens(3)  # [10, 20, 30]
            ys = other(3)  # [30, 40]: shares the value 30 with xs
            first = inc(xs[0])  # 11
            whole = total(xs)  # 60, takes the list Ref itself
            tail = total(xs[1:])  # 50, takes a list built by __make_list__ from xs's elements 20 and 30
        return xs, ys, first, whole, tail

    return program


# calls: tens, 3 getitems of xs, other, 2 getitems of ys, inc, total(xs), __make_list__, total(tail) = 11
# refs: raw 3 (shared by tens and other), indices 0, 1, 2 (shared by both lists' getitems), xs, its 3 elements,
#       ys, its 2 elements, 11, 60, the made list [20, 30], 50 = 15
# values: 3, 0, 1, 2, 10, 20, 30, 40, 11, 60, 50 = 11 (lists have no value row of their own)
# members: xs 3, ys 2, the made list 2 = 7
# edges: tens 2, getitems 3 x 5, other 2, inc 2, total 2 + 2, __make_list__ 3 = 28
COLL_FULL = {"values": 11, "refs": 15, "calls": 11, "edges": 28, "members": 7}


def test_dropping_a_list_producer_with_dependents(storage, log):
    program = collection_ops(log)
    xs, ys, first, whole, tail = program(storage)
    assert counts(storage) == COLL_FULL
    assert log == ["tens", "other", "inc", "total", "total"]
    structural = call_hids(storage, "__list_getitem__") | call_hids(storage, "__make_list__")
    assert len(structural) == 6

    # tens, its 3 getitems, inc, both totals and the __make_list__ of the slice
    assert storage.drop_calls(storage.get_ref_creator(xs), delete_dependents=True) == 8
    assert len(call_hids(storage, "__list_getitem__")) == 2  # ys's getitems stay
    assert call_hids(storage, "__make_list__") == set()
    assert {c.op_name for c in storage.get_creators([ys])} == {"other"}

    # left: other (raw 3 -> ys) and ys's getitems (ys, index 0 or 1 -> element): refs raw 3, 0, 1, ys, 30, 40.
    # gone: index 2, xs and its 3 elements, 11, 60, the made list, 50 = 9 refs; values 2, 10, 20, 11, 60, 50 = 6,
    # while 30 stays (ys holds it) and so do 3, 0 and 1
    assert storage.cleanup_refs() == {"refs": 9, "values": 6, "overflow_files": 0}
    assert counts(storage) == {"values": 5, "refs": 6, "calls": 3, "edges": 8, "members": 2}
    assert storage.backend.execute("SELECT DISTINCT c.hid FROM members AS m JOIN refs AS c ON c.id = m.coll_id") == [
        (ys.hid,)
    ]
    assert storage.check().ok
    assert storage.unwrap(storage.load_ref(ys.hid)) == [30, 40]

    log.clear()
    xs2, ys2, first2, whole2, tail2 = program(storage)
    assert log == ["tens", "inc", "total", "total"]
    assert storage.unwrap([xs2, first2, whole2, tail2]) == [[10, 20, 30], 11, 60, 50]
    assert counts(storage) == COLL_FULL


def test_dropping_a_list_producer_without_dependents_keeps_its_elements(storage, log):
    program = collection_ops(log)
    xs, *_ = program(storage)
    assert storage.drop_calls(storage.get_ref_creator(xs), delete_dependents=False) == 1
    # xs is still the input of its getitems and of total; raw 3 is still other's input
    assert storage.cleanup_refs() == {"refs": 0, "values": 0, "overflow_files": 0}
    assert storage.check().ok
    log.clear()
    program(storage)
    assert log == ["tens"]
    assert counts(storage) == COLL_FULL


def test_dropping_structural_calls_keeps_the_elements_of_a_surviving_list(storage, log):
    program = collection_ops(log)
    xs, ys, *_ = program(storage)
    getitems_of_ys = [c for c in storage.get_consumers([ys])]
    assert {c.op_name for c in getitems_of_ys} == {"__list_getitem__"}
    assert storage.drop_calls(getitems_of_ys, delete_dependents=False) == 2
    # ys's elements have no edge left but are members of ys, which other still outputs: they stay, and so does
    # every index (xs's getitems use them); nothing is removed
    assert storage.cleanup_refs() == {"refs": 0, "values": 0, "overflow_files": 0}
    assert storage.check().ok
    assert storage.unwrap(storage.load_ref(ys.hid)) == [30, 40]
    log.clear()
    program(storage)
    assert log == []  # other is still stored: nothing runs


def nested_ops(log):
    @op
    def grid(n) -> MList[MList[int]]:
        log.append("grid")
        return [[10 * i + j for j in range(2)] for i in range(1, n + 1)]

    @op
    def total_all(rows: MList[MList[int]]):
        log.append("total_all")
        return sum(sum(r) for r in rows)

    return grid, total_all


def test_elements_of_nested_collections_survive_while_the_outer_one_is_used(storage, log):
    grid, total_all = nested_ops(log)
    with storage:
        g = grid(2)  # [[10, 11], [20, 21]]
    assert storage.unwrap(g) == [[10, 11], [20, 21]]
    outer_getitems = storage.get_consumers([g])
    inner_getitems = storage.get_consumers([c.outputs["elt"] for c in outer_getitems])
    assert (len(outer_getitems), len(inner_getitems)) == (2, 4)
    assert storage.drop_calls(outer_getitems + inner_getitems, delete_dependents=False) == 6
    # grid still outputs g, so its rows and their elements are still part of a stored value and stay; only the raw
    # indices 0 and 1 (inputs of the getitems alone) lose every edge, and their values 0 and 1 go with them
    assert storage.cleanup_refs() == {"refs": 2, "values": 2, "overflow_files": 0}
    assert storage.check().ok, storage.check().problems
    fresh = storage.load_ref(g.hid, in_memory=True)
    assert storage.unwrap(fresh) == [[10, 11], [20, 21]]
    log.clear()
    with storage:
        again = grid(2)
        t = total_all(again)
    assert log == ["total_all"]
    assert storage.unwrap(t) == 62


def test_elements_of_nested_collections_built_for_an_input_survive(storage, log):
    _, total_all = nested_ops(log)
    with storage:
        t = total_all([[1, 2], [3]])
    makes = call_hids(storage, "__make_list__")
    assert len(makes) == 3  # two rows and the outer list
    assert storage.drop_calls(makes, delete_dependents=False) == 3
    # total_all still takes the outer list: rows and numbers are members (of members) of it, nothing goes
    assert storage.cleanup_refs() == {"refs": 0, "values": 0, "overflow_files": 0}
    assert storage.check().ok, storage.check().problems
    call = storage.get_ref_creator(t)
    assert storage.unwrap(call.inputs["rows"]) == [[1, 2], [3]]


def test_a_plain_value_equal_to_a_surviving_list_is_cleaned_up(storage, log):
    @op
    def plain_pair(n):
        return [n, n + 1]

    @op
    def listed(n) -> MList[int]:
        return [n, n + 1]

    with storage:
        p = plain_pair(5)  # one value row: the pickled list [5, 6]
        lst = listed(5)  # a list Ref with the same content id, but no value row: its elements are stored
    assert p.cid == lst.cid
    assert storage.drop_calls(storage.get_ref_creator(p)) == 1
    # p's ref goes, and with it the only value row of [5, 6]; the raw 5 is listed's input
    assert storage.cleanup_refs() == {"refs": 1, "values": 1, "overflow_files": 0}
    assert store_rows(storage, 'SELECT count(*) FROM "values" WHERE cid = ?', (p.cid,)) == [(0,)]
    assert storage.unwrap(storage.load_ref(lst.hid)) == [5, 6]
    assert storage.check().ok


# --- failures leave the store as it was ---------------------------------------------------------------------------


def fail_at(monkeypatch, storage: Storage, n: int, error: BaseException) -> list[str]:
    """Make the backend's n-th write statement from now on fail with ``error``; returns the statements tried."""
    original = storage.backend.db.run_write
    tried: list[str] = []

    def run_write(sql: str) -> int:
        tried.append(sql)
        if len(tried) == n:
            raise error
        return original(sql)

    monkeypatch.setattr(storage.backend.db, "run_write", run_write)
    return tried


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("error", [sqlite3.OperationalError("disk I/O error"), RuntimeError("interrupted")])
def test_a_failure_inside_drop_calls_changes_nothing(monkeypatch, file_storage, db_path, log, n, error):
    program = collection_ops(log)
    xs, *_ = program(file_storage)
    before = snapshot(file_storage)
    tried = fail_at(monkeypatch, file_storage, n, error)
    expected = StoreError if isinstance(error, sqlite3.DatabaseError) else RuntimeError
    with pytest.raises(expected):
        file_storage.drop_calls(file_storage.get_ref_creator(xs), delete_dependents=True)
    assert len(tried) == n  # the failure came after n - 1 statements had run
    assert not file_storage.backend.db.conn.in_transaction
    assert snapshot(file_storage) == before
    assert counts(file_storage) == COLL_FULL
    monkeypatch.undo()

    reopened = Storage(db_path)  # nothing of the failed transaction reached the file
    assert snapshot(reopened) == before
    reopened.close()
    assert file_storage.drop_calls(file_storage.get_ref_creator(xs), delete_dependents=True) == 8  # works again
    assert file_storage.check().ok


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("error", [sqlite3.OperationalError("disk I/O error"), RuntimeError("interrupted")])
def test_a_failure_inside_cleanup_refs_changes_nothing(monkeypatch, tmp_path, log, n, error):
    overflow = tmp_path / "overflow"
    storage = Storage(tmp_path / "store.db", overflow_dir=overflow, overflow_threshold_MB=0.0001)

    @op
    def blob(n_bytes):
        log.append("blob")
        return b"x" * n_bytes

    program = collection_ops(log)
    xs, *_ = program(storage)
    with storage:
        big = blob(1000)
    storage.drop_calls(storage.get_ref_creator(xs), delete_dependents=True)
    storage.drop_calls(storage.get_ref_creator(big))
    assert value_files(overflow) == [f"{big.cid}.bin"]
    before = snapshot(storage)
    tried = fail_at(monkeypatch, storage, n, error)
    expected = StoreError if isinstance(error, sqlite3.DatabaseError) else RuntimeError
    with pytest.raises(expected):
        storage.cleanup_refs()
    assert len(tried) == n
    assert snapshot(storage) == before
    assert value_files(overflow) == [f"{big.cid}.bin"]  # no file goes when the transaction does not commit
    monkeypatch.undo()

    # the cleanup that works afterwards removes what it should: 9 refs and 6 values of the list program (see
    # test_dropping_a_list_producer_with_dependents), and the raw 1000 and the blob with its file
    assert storage.cleanup_refs() == {"refs": 11, "values": 8, "overflow_files": 1}
    assert value_files(overflow) == []
    assert storage.check().ok
    storage.close()


# --- creators and consumers -------------------------------------------------------------------------------------------


def test_creators_and_consumers_inside_and_outside_a_storage_block(file_storage, db_path, log):
    @op(output_names=["lo", "hi"])
    def split(x):
        log.append("split")
        return x // 2, x - x // 2

    @op
    def add(p, q):
        log.append("add")
        return p + q

    with file_storage:
        lo, hi = split(7)
        s = add(lo, hi)
        # inside the block, before anything was written: the pending calls are found
        creator = file_storage.get_ref_creator(s)
        assert isinstance(creator, Call)
        assert creator.op is add and creator.op.name == "add"
        assert set(creator.inputs) == {"p", "q"} and set(creator.outputs) == {"output_0"}
        assert all(isinstance(r, Ref) for r in [*creator.inputs.values(), *creator.outputs.values()])
        assert [creator.inputs["p"].hid, creator.inputs["q"].hid] == [lo.hid, hi.hid]
        assert creator.outputs["output_0"].hid == s.hid
        assert [c.op_name for c in file_storage.get_consumers([lo])] == ["add"]
        raw = file_storage.get_ref_creator(lo).inputs["x"]
        assert file_storage.get_ref_creator(raw) is None

    # one call made both of split's outputs
    creators = file_storage.get_creators([lo, hi])
    assert len(creators) == 1 and creators[0].op is split
    assert set(creators[0].outputs) == {"lo", "hi"}
    assert file_storage.unwrap(creators[0].inputs["x"]) == 7
    assert file_storage.unwrap([creators[0].outputs["lo"], creators[0].outputs["hi"]]) == [3, 4]
    raw = creators[0].inputs["x"]
    assert file_storage.get_ref_creator(raw) is None
    assert file_storage.get_creators([raw]) == []
    assert file_storage.get_creators([raw.hid, s.hid])[0].op_name == "add"  # hids work as well as Refs
    assert [c.op_name for c in file_storage.get_consumers([raw])] == ["split"]
    assert sorted(c.op_name for c in file_storage.get_consumers([raw, lo, hi])) == ["add", "split"]
    assert file_storage.get_consumers([s]) == []
    assert file_storage.get_consumers([]) == [] and file_storage.get_creators([]) == []
    assert log == ["split", "add"]
    file_storage.close()

    fresh = Storage(db_path)  # the ops are not known to this Storage: calls name them
    call = fresh.get_ref_creator(s.hid)
    assert call.op_name == "add"
    assert fresh.unwrap(call.outputs["output_0"]) == 7
    assert [c.op_name for c in fresh.get_consumers([lo.hid])] == ["add"]
    fresh.drop_calls(call)
    assert fresh.get_ref_creator(s.hid) is None
    assert fresh.get_consumers([lo.hid]) == []
    fresh.close()


# --- overflow files ---------------------------------------------------------------------------------------------------


def test_cleanup_removes_the_overflow_file_of_a_dropped_value_only_once_nothing_holds_it(tmp_path, log):
    overflow = tmp_path / "overflow"
    storage = Storage(tmp_path / "store.db", overflow_dir=overflow, overflow_threshold_MB=0.0001)  # 100 bytes

    @op
    def blob(n):
        log.append("blob")
        return b"x" * n

    @op
    def same_blob(n):
        log.append("same_blob")
        return bytes(b"x" * n)

    @op
    def size(data):
        log.append("size")
        return len(data)

    with storage:
        a = blob(1000)
        b = same_blob(1000)  # the same value: one file
        n = size(b"y" * 500)  # a large raw input gets a file too
    assert a.cid == b.cid
    files = value_files(overflow)
    assert len(files) == 2 and f"{a.cid}.bin" in files

    assert storage.drop_calls(storage.get_ref_creator(a)) == 1
    # blob's output ref goes; the value (and its file) stays, same_blob's output holds it
    assert storage.cleanup_refs() == {"refs": 1, "values": 0, "overflow_files": 0}
    assert value_files(overflow) == files
    assert storage.unwrap(storage.load_ref(b.hid)) == b"x" * 1000

    assert storage.drop_calls(storage.get_ref_creator(b)) == 1
    # now nothing holds it; the raw 1000 goes with it (its value too: no other ref has it)
    assert storage.cleanup_refs() == {"refs": 2, "values": 2, "overflow_files": 1}
    assert value_files(overflow) == [f for f in files if f != f"{a.cid}.bin"]

    assert storage.drop_calls(storage.get_ref_creator(n)) == 1
    # the raw bytes input and the output 500 go; 500 was not stored anywhere else
    assert storage.cleanup_refs() == {"refs": 2, "values": 2, "overflow_files": 1}
    assert value_files(overflow) == []
    assert counts(storage) == {t: 0 for t in TABLES}
    assert storage.check().ok

    log.clear()
    with storage:
        blob(1000)
    assert log == ["blob"]
    assert value_files(overflow) == [f"{a.cid}.bin"]
    assert storage.check().ok
    storage.close()
