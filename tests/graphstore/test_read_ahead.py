"""Reading an op's stored calls ahead while a program retraces: fewer statements, never a stale answer.

SQLite only: the SQLite store's read-ahead and its statements.
"""

from __future__ import annotations

import multiprocessing

from graphstore import Storage, op
from graphstore.backends.sqlite import MEMO_HIT_SHARE, MEMO_MIN_HITS

N = 400


def make_ops(log):
    @op
    def inc(x):
        log.append("inc")
        return x + 1

    @op
    def double(x):
        log.append("double")
        return 2 * x

    return inc, double


def record(db_path, log, n=N):
    inc, double = make_ops(log)
    s = Storage(db_path)
    with s:
        for i in range(n):
            double(inc(i))
    s.close()


def lookups(counter):
    return [sql for sql in counter.reads() if "FROM calls WHERE hid = ?" in sql]


def test_a_retracing_program_reads_each_ops_calls_in_one_statement(db_path, log, counter):
    record(db_path, log)
    log.clear()
    inc, double = make_ops(log)
    s = Storage(db_path, tracer=counter)
    with s:
        counter.reset()
        outs = [double(inc(i)) for i in range(N)]
        # per op: lookups one by one until enough of its calls were found, then one read of all of them
        assert len(lookups(counter)) <= 2 * max(MEMO_MIN_HITS, N // MEMO_HIT_SHARE + MEMO_MIN_HITS)
        assert len([sql for sql in counter.reads() if "WHERE op_name = ? AND op_version = ?" in sql]) == 4
    assert log == []
    assert not any(o.in_memory for o in outs)  # still lazy: reading ahead reads ids, never values
    assert [s.unwrap(o) for o in outs[:5]] == [2, 4, 6, 8, 10] and s.unwrap(outs[-1]) == 2 * N
    s.close()


def test_few_hits_read_nothing_ahead(db_path, log, counter):
    record(db_path, log)
    inc, _ = make_ops(log)
    s = Storage(db_path, tracer=counter)
    with s:
        counter.reset()
        for i in range(MEMO_MIN_HITS - 1):
            inc(i)
    assert not [sql for sql in counter.reads() if "WHERE op_name = ? AND op_version = ?" in sql]
    s.close()


def read_ahead(db_path, log):
    """A store of N calls of each op, reopened and every call of ``inc`` retraced (so read ahead), log cleared."""
    record(db_path, log)
    log.clear()
    inc, double = make_ops(log)
    s = Storage(db_path)
    with s:
        outs = [inc(i) for i in range(N)]
    assert log == []
    return s, inc, double, outs


def test_calls_dropped_after_reading_ahead_are_computed_again(db_path, log):
    s, inc, double, outs = read_ahead(db_path, log)
    dropped = s.get_ref_creator(outs[7])
    assert s.drop_calls([dropped], delete_dependents=True) == 2  # inc(7) and double(inc(7))
    with s:
        assert s.unwrap(double(inc(7))) == 16
        assert s.unwrap(inc(8)) == 9
    assert log == ["inc", "double"]
    s.close()


def _drop_in_other_process(db_path, hid):
    other = Storage(db_path)
    assert other.drop_calls([hid], delete_dependents=True) == 2
    other.close()


def test_a_drop_by_another_process_is_seen_from_the_next_context_on(db_path, log):
    s, inc, _, outs = read_ahead(db_path, log)
    hid = s.get_ref_creator(outs[3]).hid
    proc = multiprocessing.get_context("spawn").Process(target=_drop_in_other_process, args=(db_path, hid))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    with s:
        assert s.unwrap(inc(3)) == 4
        assert s.unwrap(inc(4)) == 5
    assert log == ["inc"]
    s.close()
