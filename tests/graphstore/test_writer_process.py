"""The helper process that writes batches: same store as writing in the recording process, nothing lost when either
process dies, errors reported to the recording program.

SQLite only: the helper process is the SQLite store's.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from graphstore import Storage, StoreError, op
from graphstore.backends import Batch
from graphstore.backends.sqlite_helper import batch_message
from store_tools import dump
from test_crash import wait_for_helpers

EXECUTED: list = []


@op
def inc(x):
    EXECUTED.append(x)
    return x + 1


@op
def add(x, y):
    EXECUTED.append((x, y))
    return x + y


def with_helper(path: str) -> Storage:
    """A file storage whose helper process is up (waited for: its first message, or its end)."""
    s = Storage(path)
    s.backend.start_helper()
    select.select([s.backend.helper.process.proc.stdout], [], [])
    assert s.backend.helper_ready(), "the helper process did not start"
    return s


def program(s: Storage, n: int) -> list:
    """Calls in several batches (each commit writes one), with Refs from earlier batches as arguments."""
    outs = []
    with s:
        prev = inc(0)
        for i in range(n):
            a = inc(i)
            prev = add(a, prev)
            outs.append(prev)
            if i % 97 == 0:
                s.commit()
    return [(r.hid, r.cid) for r in outs]


def test_the_helper_writes_what_the_recording_process_would(tmp_path, monkeypatch):
    helped = with_helper(str(tmp_path / "helped.db"))
    helper_pid = helped.backend.helper.process.proc.pid
    out_helped = program(helped, 600)
    assert (
        helped.backend.helper.process is not None and helped.backend.helper.process.proc.pid == helper_pid
    )  # it wrote them
    helped.close()
    monkeypatch.setenv("GRAPHSTORE_WRITER_PROCESS", "0")
    plain = Storage(str(tmp_path / "plain.db"))
    out_plain = program(plain, 600)
    assert plain.backend.helper.process is None
    plain.close()
    assert out_helped == out_plain
    assert dump(str(tmp_path / "helped.db")) == dump(str(tmp_path / "plain.db"))


def test_threads_asking_whether_the_helper_is_up_do_not_block(db_path, monkeypatch):
    """The recording thread and the writer thread both ask while the helper starts: one of them reads its "ready"
    message, and neither waits for a second one."""
    import threading

    import graphstore.backends.sqlite_helper as helper_mod

    real_select = helper_mod.select.select

    def slow_select(*args):  # every asker sees the message waiting before any of them reads it
        found = real_select(*args)
        time.sleep(0.05)
        return found

    monkeypatch.setattr(helper_mod.select, "select", slow_select)
    for _ in range(2):
        s = Storage(db_path)
        s.backend.start_helper()
        helper = s.backend.helper.process
        done = []

        def ask(helper=helper, done=done):
            deadline = time.monotonic() + 30
            while not helper.usable() and time.monotonic() < deadline:
                pass
            done.append(helper.usable())

        threads = [threading.Thread(target=ask, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
        assert done == [True] * 4, "a thread blocked reading a message that never came"
        with s:
            inc(len(done))  # and the helper still answers
        s.close()


def test_closing_the_storage_ends_the_helper(db_path):
    s = with_helper(db_path)
    proc = s.backend.helper.process.proc
    s.close()
    assert proc.returncode == 0


def test_a_dead_helper_is_replaced_by_writing_in_process(db_path):
    s = with_helper(db_path)
    s._pending.max_delay = 1e9  # written at the commit below, where the warning is expected
    EXECUTED.clear()
    with s:
        for i in range(300):
            inc(i)
        os.kill(s.backend.helper.process.proc.pid, signal.SIGKILL)
        s.backend.helper.process.proc.wait()
        for i in range(300, 600):
            inc(i)
        with pytest.warns(RuntimeWarning, match="helper process writing its batches has exited"):
            s.commit()
    assert s.backend.helper.process is None
    with s:
        assert [s.unwrap(inc(i)) for i in range(600)] == list(range(1, 601))
    assert EXECUTED == list(range(600))  # every call kept, none computed twice
    assert s.check().ok
    s.close()


def test_an_error_in_the_helper_reaches_the_recording_program_and_loses_nothing(db_path):
    s = with_helper(db_path)
    with s:
        inc(1)
    broken = Batch(
        calls=[
            (
                "h" * 32,
                "c" * 32,
                "inc",
                0,
                ("output_0", "o" * 32, "v" * 32),
                False,
                ("x", "missing" + "0" * 25, "d" * 32),
                0.0,
                0.0,
                ("atom",),
                None,
            )
        ]
    )
    with pytest.raises(StoreError, match="is used by a recorded call but is not stored"):
        s.backend.save_batch(broken)
    assert s.backend.helper_ready()  # the helper goes on
    with s:
        assert s.unwrap(inc(1)) == 2
        inc(2)
    assert s.cache_info()["calls"] == 2
    s.close()


def test_another_connections_calls_are_seen_while_the_helper_writes(db_path):
    EXECUTED.clear()
    s1 = with_helper(db_path)
    s2 = Storage(db_path)
    with s1:
        inc(1)
        s1.commit()
        with s2:
            inc(100)
        s2.commit()
        inc(2)
        s1.commit()  # the helper notices the other connection's commit; the ids held in memory are dropped
        assert s1.unwrap(inc(100)) == 101
    assert EXECUTED == [1, 100, 2]
    s1.close()
    s2.close()


_KILLED_WORKER = textwrap.dedent("""
    import os, signal, sys, time
    sys.path[:0] = [{tests!r}, os.path.dirname({tests!r})]
    from test_writer_process import inc, with_helper
    from graphstore.backends.sqlite_helper import _send, batch_message
    import graphstore.writer
    graphstore.writer.HELPER_BATCH_CALLS = 10 ** 9  # nothing is written before the kill but the batch sent below
    s = with_helper({path!r})
    s._pending.max_delay = 1e9
    s.__enter__()
    for i in range(2000):
        inc(i)
    batch = s._pending._current.batch
    assert len(batch.calls) == 2000
    _send(s.backend.helper.process.proc.stdin, batch_message(batch))  # handed over; the acknowledgement is not awaited
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_the_helper_writes_what_it_received_after_the_recording_process_is_killed(db_path):
    tests = os.path.dirname(os.path.abspath(__file__))
    code = _KILLED_WORKER.format(tests=tests, path=db_path)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    wait_for_helpers(db_path)
    s = Storage(db_path)
    assert s.check().ok
    EXECUTED.clear()
    with s.allow_new_calls(False), s:
        assert [s.unwrap(inc(i)) for i in range(2000)] == list(range(1, 2001))
    assert EXECUTED == []
    s.close()


def _record_in_fork(path: str, start: int) -> None:
    s = Storage(path)
    with s:
        for i in range(start, start + 700):  # enough calls to start a helper of its own
            inc(i)
    s.close()


def test_a_forked_process_does_not_use_its_parents_helper(db_path):
    s = with_helper(db_path)
    with s:
        inc(-1)
    proc = multiprocessing.get_context("fork").Process(target=_record_in_fork, args=(db_path, 0))
    proc.start()
    proc.join(120)
    assert proc.exitcode == 0
    assert s.backend.helper_ready()
    with s:
        for i in range(700, 1000):
            inc(i)
    assert s.backend.helper_ready()
    with s.allow_new_calls(False), s:
        assert [s.unwrap(inc(i)) for i in range(-1, 1000)] == list(range(0, 1001))
    assert s.check().ok
    s.close()


def test_batches_survive_the_message_format():
    batch = Batch(
        values=[("c", "pickle", 3, b"abc", None, "k")],
        refs=[("h", "c", "atom")],
        calls=[("h1", "c1", "f", 0, ("output_0", "h", "c"), False, (), 1.5, 0.25, ("atom",), None)],
        members=[("h", 0, None, "e")],
    )
    import marshal

    from graphstore.backends.sqlite_helper import message_batch

    assert message_batch(marshal.loads(marshal.dumps(batch_message(batch)))) == batch


def test_the_helper_imports_this_graphstore_whatever_folder_the_program_runs_in(tmp_path):
    """A program started in a folder that holds another (here: broken) copy of graphstore still gets its helper."""
    import subprocess
    import sys
    import textwrap

    other = tmp_path / "elsewhere"
    (other / "graphstore").mkdir(parents=True)
    (other / "graphstore" / "__init__.py").write_text("raise ImportError('another copy of graphstore')\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {root!r})
        from graphstore import Storage, op

        @op
        def f(x):
            return x + 1

        s = Storage({str(tmp_path / "s.db")!r})
        with s:
            f(0)
            deadline = time.monotonic() + 30
            while not s.backend.helper_ready() and time.monotonic() < deadline:
                time.sleep(0.01)
            print(s.backend.helper_ready())
        s.close()
    """)
    env = dict(os.environ, GRAPHSTORE_WRITER_PROCESS="always")
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=other, capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True"]
