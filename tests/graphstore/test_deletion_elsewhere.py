"""Deletions by another process: what a storage remembers about the store (values it stored, calls it read ahead)
must not make it record calls without their values.

Each test deletes from a second process while this one (or a recording process) keeps its Storage open, then reads
the store in a new process: every ref must load and ``storage.check()`` must be clean.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

from graphstore import CallNotStoredWarning, Storage, op
from store_tools import audit_store, wait_for_helper
from test_concurrency import _finish, _spawn, _start_together

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DELETE_ALL = """
import sys
from graphstore import Storage
storage = Storage(sys.argv[1])
hids = [h for (h,) in storage.backend.execute("SELECT hid FROM calls")]
print(len(storage.drop_calls(hids)), storage.cleanup_refs()["values"])
storage.close()
"""


def delete_everything_elsewhere(path: str) -> tuple[int, int]:
    """Drop every call and clean up, in another process; returns (calls, values) deleted."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", DELETE_ALL, path], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    calls, values = map(int, out.stdout.split())
    return calls, values


@op
def make_list(n):
    return [n, "made"]


@op
def size(xs):
    return len(xs) * 10


@op
def head(xs):
    return xs[0]


@op
def inc(x):
    return x + 1


@op
def five():
    return 5


def _assert_sound(path: str) -> dict:
    report = audit_store(path)
    assert report["unloadable"] == [] and report["problems"] == [] and report["mismatched"] == []
    return report


def test_values_deleted_elsewhere_are_stored_again_with_the_next_calls(tmp_path):
    path = str(tmp_path / "s.db")
    storage = Storage(path)
    with storage:
        made = [make_list(i) for i in range(5)]
        for ref in made:
            size(ref)
    assert delete_everything_elsewhere(path) == (10, 11)  # 5 + 5 calls; inputs, lists, one size
    with storage:
        heads = [head(ref) for ref in made]  # new calls (the fast path) on values this process stored before
        again = [make_list(i) for i in range(5)]  # deleted calls: computed again, outputs as before
        plain = size([0, "made"])  # a plain list (the general path) with the same content
    storage.close()
    report = _assert_sound(path)
    assert len(report["loaded"]) == 17  # make_list: 5 inputs, 5 outputs; head: 5 outputs; size: 1 input, 1 output
    fresh = Storage(path)
    assert [fresh.unwrap(fresh.load_ref(r.hid)) for r in made] == [[i, "made"] for i in range(5)]
    assert fresh.unwrap(heads) == list(range(5)) and fresh.unwrap(again) == [[i, "made"] for i in range(5)]
    assert fresh.unwrap(plain) == 20
    fresh.close()


def test_values_deleted_elsewhere_with_the_helper_process_writing(tmp_path):
    path = str(tmp_path / "s.db")
    storage = Storage(path)
    with storage:
        made = [make_list(i) for i in range(600)]  # enough waiting calls for the helper process to start
    assert storage.backend.helper.process is not None
    assert wait_for_helper(storage)
    delete_everything_elsewhere(path)
    with storage:
        for _ in range(2):
            heads = [head(ref) for ref in made]
    assert storage.backend.helper_ready()  # the helper wrote (and refused, then wrote) the batches
    storage.close()
    _assert_sound(path)
    fresh = Storage(path)
    assert fresh.unwrap(fresh.load_ref(made[7].hid)) == [7, "made"] and fresh.unwrap(heads[599]) == 599
    fresh.close()


def test_a_call_whose_value_is_gone_everywhere_is_left_out_with_a_warning(tmp_path):
    path = str(tmp_path / "s.db")
    storage = Storage(path)
    with storage:
        inc(5)
    storage._pending.max_delay = 600  # the next context's calls wait until it is left
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with storage:
            hit = inc(five())  # same content as inc(5): a new call sharing inc(5)'s output, which is not loaded
            delete_everything_elsewhere(path)  # ... and which is deleted before that call is written
    lost = [str(w.message) for w in caught if issubclass(w.category, CallNotStoredWarning)]
    assert len(lost) == 1 and "op inc" in lost[0]
    assert storage.get_creators([hit]) == []  # left out: not stored half
    with storage:
        again = inc(five())  # computed again, and stored whole
    assert storage.unwrap(again) == 6
    storage.close()
    report = _assert_sound(path)
    assert report["loaded"][again.hid] == "6"


def test_recording_beside_a_deleting_process_stores_only_whole_calls(tmp_path):
    path = str(tmp_path / "s.db")
    Storage(path).close()
    stop = str(tmp_path / "stop")
    recorder, deleter = _spawn("reuse", path, "2000"), _spawn("delete", path, stop)
    _start_together([recorder, deleter])
    recorded = _finish([recorder])[0]
    with open(stop, "w"):
        pass
    deleted = _finish([deleter])[0]
    assert recorded["calls"] == 6000 and deleted["rounds"] > 5 and deleted["dropped"] > 50
    storage = Storage(path)
    calls = storage.cache_info()["calls"]
    storage.close()
    assert calls > 0
    _assert_sound(path)
