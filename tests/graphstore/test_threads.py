"""Ops called from threads that entered no storage context themselves: thread pools and joblib's threading backend
inside ``with storage:`` record into that storage; when other threads are in different contexts the call is refused;
after the block, ops run as plain functions again."""

from __future__ import annotations

import random
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import joblib
import pytest

from graphstore import AmbiguousContextError, Ref, Storage, noop, op

EXECUTED: list = []
_LOCK = threading.Lock()


def _ran(name: str, x) -> None:
    with _LOCK:
        EXECUTED.append((name, x))


@op
def th_square(x):
    _ran("th_square", x)
    return x * x


@op
def th_plus(a, b):
    _ran("th_plus", (a, b))
    return a + b


@op
def th_chain(x):
    """An op that calls ops: the inner calls are recorded too."""
    _ran("th_chain", x)
    return th_plus(th_square(x), 1)


def _calls_by_op(path) -> dict:
    conn = sqlite3.connect(str(path))
    try:
        return dict(conn.execute("SELECT op_name, count(*) FROM calls GROUP BY op_name").fetchall())
    finally:
        conn.close()


def _ran_since(mark: int, name: str) -> list:
    return [x for n, x in EXECUTED[mark:] if n == name]


def _assert_retraced(path, calls) -> None:
    """A new Storage on the file finds every call (``(f, expected)``: ``f()`` makes the calls): nothing runs, nothing
    is added, and the store checks clean."""
    s = Storage(path)
    try:
        assert s.check().ok, s.check().problems
        before = s.cache_info()["calls"]
        mark = len(EXECUTED)
        with s.allow_new_calls(False), s:
            for f, value in calls:
                assert s.unwrap(f()) == value
        assert EXECUTED[mark:] == []
        assert s.cache_info()["calls"] == before
    finally:
        s.close()


def test_a_pool_made_inside_the_block_records_into_the_storage(tmp_path):
    path = tmp_path / "pool.db"
    s = Storage(path)
    mark = len(EXECUTED)
    with s:
        with ThreadPoolExecutor(4) as pool:
            squares = list(pool.map(th_square, range(40)))
            chained = list(pool.map(th_chain, range(10)))
        assert all(isinstance(r, Ref) for r in squares + chained)
        assert [s.unwrap(r) for r in squares] == [i * i for i in range(40)]
        assert [s.unwrap(r) for r in chained] == [i * i + 1 for i in range(10)]
    s.close()
    assert sorted(_ran_since(mark, "th_square")) == list(range(40))  # th_chain's squares were found, not run again
    assert _calls_by_op(path) == {"th_square": 40, "th_plus": 10, "th_chain": 10}
    _assert_retraced(
        path,
        [(lambda i=i: th_square(i), i * i) for i in range(40)]
        + [(lambda i=i: th_chain(i), i * i + 1) for i in range(10)],
    )


def test_a_pool_made_before_the_block_records_inside_it_and_not_after(tmp_path):
    path = tmp_path / "outside.db"
    s = Storage(path)
    with ThreadPoolExecutor(3) as pool:
        assert pool.submit(th_square, 3).result() == 9  # no context anywhere: plain
        with s:
            inside = list(pool.map(th_square, range(12)))
        after = list(pool.map(th_square, range(12)))
    assert all(isinstance(r, Ref) for r in inside)
    assert after == [i * i for i in range(12)]  # the block was left: plain values, nothing recorded
    s.close()
    assert _calls_by_op(path) == {"th_square": 12}


def test_a_thread_calling_after_the_block_ended_gets_a_plain_value(storage):
    entered, left, results = threading.Event(), threading.Event(), {}

    def worker():
        entered.wait(10)
        results["inside"] = th_square(5)
        left.wait(10)
        results["after"] = th_square(6)

    t = threading.Thread(target=worker)
    t.start()
    with storage:
        entered.set()
        while "inside" not in results and t.is_alive():
            t.join(0.01)
    left.set()
    t.join(10)
    assert isinstance(results["inside"], Ref) and storage.unwrap(results["inside"]) == 25
    assert results["after"] == 36
    assert storage.cache_info()["calls"] == 1


def test_joblib_threading_backend(tmp_path):
    path = tmp_path / "joblib.db"
    s = Storage(path)
    with s:
        out = joblib.Parallel(n_jobs=4, backend="threading")(joblib.delayed(th_plus)(i, 100) for i in range(60))
        assert all(isinstance(r, Ref) for r in out)
        assert [s.unwrap(r) for r in out] == [i + 100 for i in range(60)]
    s.close()
    assert _calls_by_op(path) == {"th_plus": 60}
    _assert_retraced(path, [(lambda i=i: th_plus(i, 100), i + 100) for i in range(60)])


def test_many_threads_recording_overlapping_calls(tmp_path):
    """Eight threads (no context of their own) record overlapping calls at once: each call is stored once."""
    path = tmp_path / "overlap.db"
    s = Storage(path)
    n, workers = 150, 8
    barrier = threading.Barrier(workers)
    errors: list = []
    results: list = []

    def work(seed: int) -> None:
        try:
            order = list(range(n))
            random.Random(seed).shuffle(order)
            barrier.wait(10)
            mine = [(i, th_plus(th_square(i), i)) for i in order]
            with _LOCK:
                results.extend(mine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    mark = len(EXECUTED)
    with s:
        threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []
    assert len(results) == n * workers and all(isinstance(r, Ref) for _, r in results)
    assert all(s.unwrap(r) == i * i + i for i, r in results)
    # a call being computed by one thread may be computed by another at the same moment, never more than once each
    assert set(_ran_since(mark, "th_square")) == set(range(n)) and len(_ran_since(mark, "th_square")) <= n * workers
    assert len({r.hid for i, r in results}) == n  # one history per call, whichever thread computed it
    s.close()
    assert _calls_by_op(path) == {"th_square": n, "th_plus": n}
    _assert_retraced(path, [(lambda i=i: th_plus(th_square(i), i), i * i + i) for i in range(n)])


def test_a_thread_with_two_storages_active_elsewhere_is_told(tmp_path):
    a, b = Storage(tmp_path / "a.db"), Storage(tmp_path / "b.db")
    a_in, b_in, done = threading.Event(), threading.Event(), threading.Event()

    def hold(storage, entered):
        with storage:
            entered.set()
            done.wait(10)

    holders = [threading.Thread(target=hold, args=(a, a_in)), threading.Thread(target=hold, args=(b, b_in))]
    for t in holders:
        t.start()
    a_in.wait(10)
    b_in.wait(10)
    caught: dict = {}

    def third():
        try:
            th_square(7)
        except AmbiguousContextError as exc:
            caught["error"] = exc

    try:
        t = threading.Thread(target=third)
        t.start()
        t.join(10)
        message = str(caught["error"])
        assert repr(a) in message and repr(b) in message
        assert "with storage:" in message
        with a:  # a thread that enters a storage itself is never in doubt
            assert isinstance(th_square(7), Ref)
    finally:
        done.set()
        for t in holders:
            t.join(10)
        a.close()
        b.close()
    assert th_square(7) == 49  # every block left: plain again


def test_noop_is_respected_by_threads(storage):
    with ThreadPoolExecutor(2) as pool:
        with storage:
            with noop():
                assert pool.submit(th_square, 4).result() == 16
            with storage(mode="noop"):
                assert pool.submit(th_square, 4).result() == 16
            assert isinstance(pool.submit(th_square, 4).result(), Ref)
        with noop():
            assert pool.submit(th_square, 4).result() == 16
    assert storage.cache_info()["calls"] == 1


def test_a_storage_and_noop_in_two_threads_leave_a_third_in_doubt(storage):
    hold_in, done = threading.Event(), threading.Event()

    def hold():
        with noop():
            hold_in.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    hold_in.wait(10)
    try:
        with storage, ThreadPoolExecutor(1) as pool:
            with pytest.raises(AmbiguousContextError, match="noop"):
                pool.submit(th_square, 2).result()
    finally:
        done.set()
        holder.join(10)


def test_a_thread_in_its_own_context_keeps_it(tmp_path):
    """Per-thread nesting is untouched: a thread that enters a storage records there, whatever other threads do."""
    outer, own = Storage(), Storage()
    results: dict = {}

    def worker():
        with own:
            results["own"] = th_square(8)
        results["after"] = th_square(9)  # back to no context of its own: the creator's storage

    with outer:
        t = threading.Thread(target=worker)
        t.start()
        t.join(10)
    assert outer.cache_info()["calls"] == 1 and own.cache_info()["calls"] == 1
    assert own.unwrap(results["own"]) == 64 and outer.unwrap(results["after"]) == 81
    outer.close()
    own.close()
