"""Memoized calls computed on a real Dask cluster (a LocalCluster of 2 worker processes on the loopback interface,
started once for the module): the same ids, values and history as a serial run, nothing computed twice, failures
reported per call, dead workers survived.

The ops reach the workers by value (cloudpickle); they find the module's scratch folder through an environment
variable the workers inherit.
"""

import os
import signal
import threading
import time

import dask
import pytest
from distributed import Client, LocalCluster

from graphstore import ClusterCallError, NewCallsNotAllowedError, Storage, op

SCRATCH = "GRAPHSTORE_TEST_CLUSTER_DIR"


@op
def cl_double(x):
    return x * 2


@op
def cl_add(a, b):
    return a + b


@op(output_names=["low", "high"])
def cl_split(x):
    return x - 1, x + 1


@op
def cl_flaky(x):
    """Raises for x % 40 == 3 while the scratch folder holds a file named ``broken``."""
    if x % 40 == 3 and os.path.exists(os.path.join(os.environ[SCRATCH], "broken")):
        raise ValueError(f"flaky input {x}")
    return x + 1


@op
def cl_deadly(x):
    """Kills its worker for x == 4 always, for x == 1 the first time only."""
    marker = os.path.join(os.environ[SCRATCH], f"died-{x}")
    if x == 4 or (x == 1 and not os.path.exists(marker)):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return -x


@op
def cl_counted(x):
    """Slow, and notes each run in the scratch folder."""
    time.sleep(0.4)
    with open(os.path.join(os.environ[SCRATCH], "runs.log"), "a") as fh:
        fh.write(f"{x}\n")
    return x * 10


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("cluster")
    os.environ[SCRATCH] = str(scratch)  # (the worker processes inherit it)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()


def _pipeline(n):
    doubled = [cl_double(i) for i in range(n)]
    summed = [cl_add(d, i) for i, d in enumerate(doubled)]
    lows_highs = [cl_split(s) for s in summed[:5]]
    return doubled + summed + [r for pair in lows_highs for r in pair]


def test_a_map_and_a_chained_pipeline_give_the_ids_and_values_of_a_serial_run(storage, client):
    serial = Storage()
    with serial:
        expected = _pipeline(20)
    with storage.executor(client) as ex:
        refs = _pipeline(20)
        assert [r.hid for r in refs] == [r.hid for r in expected]  # known before anything ran
        assert storage.unwrap(refs[25]) == 15  # waits for that value alone
    assert [(r.hid, r.cid) for r in refs] == [(r.hid, r.cid) for r in expected]
    assert storage.unwrap(refs) == serial.unwrap(expected)
    assert ex.stats["submitted"] == 45 and ex.stats["recorded"] == 45 and ex.stats["tasks"] < 45
    counts, serial_counts = storage.cache_info(), serial.cache_info()
    assert {k: counts[k] for k in ("calls", "refs", "values")} == {
        k: serial_counts[k] for k in ("calls", "refs", "values")
    }
    call = storage.get_ref_creator(refs[20])
    assert call.op.name == "cl_add" and call.hid == serial.get_ref_creator(expected[20]).hid

    with storage.executor(client) as again:  # the re-run: everything is stored, nothing is submitted
        rerun = _pipeline(20)
    assert again.stats["submitted"] == 0 and again.stats["tasks"] == 0 and again.stats["stored"] == 45
    assert [r.cid for r in rerun] == [r.cid for r in expected]


def test_a_call_stored_under_another_history_is_recorded_sharing_its_values_not_computed(client):
    serial, storage = Storage(), Storage()
    for s in (serial, storage):
        with s:
            cl_double(2)  # the content of cl_double(cl_add(1, 1)), under another history
            cl_add(1, 1)
    with serial:
        expected = cl_double(cl_add(1, 1))
    with storage.executor(client) as ex:
        ref = cl_double(cl_add(1, 1))
    assert (ref.hid, ref.cid) == (expected.hid, expected.cid) and storage.unwrap(ref) == 4
    assert ex.stats["submitted"] == 0 and ex.stats["stored"] == 2
    assert storage.cache_info()["calls"] == serial.cache_info()["calls"] == 3


def test_new_calls_are_refused_before_anything_is_submitted_when_they_are_not_allowed(client):
    storage = Storage()
    with storage:
        cl_double(1)
    with storage.allow_new_calls(False):
        with storage.executor(client) as ex:
            assert storage.unwrap(cl_double(1)) == 2
        with pytest.raises(NewCallsNotAllowedError, match="cl_double"):
            with storage.executor(client) as ex:
                cl_double(2)
    assert ex.stats["submitted"] == 0


def test_calls_that_raise_are_reported_together_and_only_they_run_again(storage, client):
    broken = os.path.join(os.environ[SCRATCH], "broken")
    open(broken, "w").close()
    try:
        with pytest.raises(ClusterCallError) as info:
            with storage.executor(client) as ex:
                refs = [cl_flaky(i) for i in range(100)]
                with pytest.raises(ClusterCallError, match=r"op cl_flaky\(x=43\).*raised ValueError: flaky input 43"):
                    storage.unwrap(refs[43])
                assert storage.unwrap(refs[42]) == 43
    finally:
        os.remove(broken)
    assert len(info.value.calls) == 3 and all("cl_flaky" in c for c in info.value.calls)
    assert "x=3)" in str(info.value) and "x=83)" in str(info.value)
    assert ex.stats["recorded"] == 97 and ex.stats["failed"] == 3
    assert storage.cache_info()["calls"] == 97

    with storage.executor(client) as rerun:
        refs = [cl_flaky(i) for i in range(100)]
    assert rerun.stats["submitted"] == 3 and rerun.stats["stored"] == 97
    assert storage.unwrap(refs) == list(range(1, 101))


def test_calls_taking_a_failed_calls_output_do_not_run_and_are_not_recorded(client):
    storage = Storage()  # (inputs no other test uses: a task's key is its call's, and the scheduler may still hold one)
    broken = os.path.join(os.environ[SCRATCH], "broken")
    open(broken, "w").close()
    try:
        with pytest.raises(ClusterCallError, match="1 call.s. taking their outputs did not run") as info:
            with storage.executor(client):
                bad = cl_add(cl_flaky(123), 1)
                good = cl_add(cl_flaky(124), 1)
                with pytest.raises(ClusterCallError, match=r"cl_add.*not run: its input 'a' comes from a call"):
                    storage.unwrap(bad)
    finally:
        os.remove(broken)
    assert len(info.value.calls) == 1 and "cl_flaky(x=123)" in info.value.calls[0]
    assert storage.unwrap(good) == 126 and storage.cache_info()["calls"] == 2


def test_a_dead_worker_costs_a_retry_and_a_call_that_kills_every_worker_is_reported(client):
    storage = Storage()
    with pytest.raises(ClusterCallError, match="killed every worker it ran on") as info:
        with storage.executor(client):
            refs = [cl_deadly(i) for i in range(6)]
    assert len(info.value.calls) == 1 and "cl_deadly(x=4)" in info.value.calls[0]
    assert storage.cache_info()["calls"] == 5  # x=1 killed its first worker and ran again elsewhere
    assert [storage.unwrap(r) for i, r in enumerate(refs) if i != 4] == [0, -1, -2, -3, -5]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_clients_submitting_the_same_calls_at_once_compute_each_once(kind, request, tmp_path, client):
    path = request.getfixturevalue("pg_url") if kind == "postgres" else str(tmp_path / "shared.db")
    inputs = range(0, 4) if kind == "sqlite" else range(10, 14)  # (each store its own calls: task keys are calls')
    Storage(path).close()  # (the store exists before the two open it)
    ready = threading.Barrier(2, timeout=30)
    results: dict[int, list] = {}

    def run(who):
        try:
            with Client(client.cluster.scheduler_address) as own, Storage(path) as storage:
                with storage.executor(own):
                    refs = [cl_counted(i) for i in inputs]
                    ready.wait()
                results[who] = [(r.hid, storage.unwrap(r)) for r in refs]
        except BaseException as exc:
            ready.abort()
            results[who] = [exc]

    threads = [threading.Thread(target=run, args=(who,)) for who in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0] == results[1] and [v for _, v in results[0]] == [10 * i for i in inputs]
    with open(os.path.join(os.environ[SCRATCH], "runs.log")) as fh:
        runs = [int(x) for x in fh.read().split()]
    assert sorted(x for x in runs if x in inputs) == list(inputs)
    with Storage(path) as storage:
        assert storage.cache_info()["calls"] == 4


def test_with_code_versions_calls_run_on_the_cluster_and_are_recorded_as_in_a_serial_run(tmp_path, client):
    serial = Storage(deps_path=str(tmp_path))
    with serial:
        expected = [cl_add(cl_double(i), 1) for i in range(3)]
    storage = Storage(deps_path=str(tmp_path))
    with storage.executor(client) as ex:
        refs = [cl_add(cl_double(i), 1) for i in range(3)]
    assert ex.stats["submitted"] == 6 and ex.stats["recorded"] == 6
    assert [(r.hid, r.cid) for r in refs] == [(r.hid, r.cid) for r in expected]
    assert storage.unwrap(refs) == [1, 3, 5]
    call, serial_call = storage.get_ref_creator(refs[1]), serial.get_ref_creator(expected[1])
    assert call.hid == serial_call.hid
    [version] = storage.versions(cl_add, show=False)
    assert version.version_id == serial.versions(cl_add, show=False)[0].version_id
    with storage.executor(client) as again:
        [cl_add(cl_double(i), 1) for i in range(3)]
    assert again.stats["submitted"] == 0


VERSIONED_MODULE = """
from graphstore import op, track

SCALE = 3


@track
def scaled(x):
    return x * SCALE


@track
def negated(x):
    return -x


@op
def cl_branch(x):
    return scaled(x) if x > 0 else negated(x)
"""


def test_the_code_a_call_ran_on_a_worker_makes_its_version_as_in_a_serial_run(tmp_path, monkeypatch, client):
    (tmp_path / "cluster_versioned_ops.py").write_text(VERSIONED_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    from cluster_versioned_ops import cl_branch

    serial = Storage(deps_path=str(tmp_path))
    with serial:
        expected = [cl_branch(x) for x in (-2, -1, 1, 2)]
    storage = Storage(deps_path=str(tmp_path))
    with storage.executor(client) as ex:
        refs = [cl_branch(x) for x in (-2, -1, 1, 2)]
    assert ex.stats["submitted"] == 4
    assert [(r.hid, r.cid) for r in refs] == [(r.hid, r.cid) for r in expected]
    assert storage.unwrap(refs) == [2, 1, 3, 6]
    versions = storage.versions(cl_branch, show=False)
    assert len(versions) == 2  # one per branch: the tracked function each call ran
    assert sorted(v.version_id for v in versions) == sorted(
        v.version_id for v in serial.versions(cl_branch, show=False)
    )
