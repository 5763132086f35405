"""New calls of an op are known to be new without a lookup statement, and calls other connections store are seen.

SQLite only: the ids the SQLite store keeps in memory and its lookup statements.
"""

from __future__ import annotations

import graphstore.backends.sqlite_known as known_mod
from graphstore import Storage, op


def make_inc(log):
    @op
    def inc(x):
        log.append(x)
        return x + 1

    return inc


def lookups(counter):
    return [sql for sql in counter.reads() if "FROM calls WHERE hid = ?" in sql]


def test_new_calls_after_the_first_need_no_lookup(db_path, log, counter):
    inc = make_inc(log)
    s = Storage(db_path, tracer=counter)
    with s:
        inc(-1)
    with s:  # a new context: what is held in memory is read again
        counter.reset()
        for i in range(200):
            inc(i)
        inc(-1)  # stored in the first context: found, not computed
    assert log == [-1] + list(range(200))
    assert len(lookups(counter)) == 2  # the first new call, and inc(-1) (its ids are in the set)
    assert len([sql for sql in counter.reads() if "LIMIT ?" in sql and "op_name" in sql]) == 1
    with s:
        assert [s.unwrap(inc(i)) for i in range(200)] == list(range(1, 201))
    assert log == [-1] + list(range(200))
    s.close()


def test_calls_another_connection_stores_are_seen_after_the_next_write(db_path, log):
    inc = make_inc(log)
    s1 = Storage(db_path)
    s2 = Storage(db_path)
    with s1:
        inc(1)
        s1.commit()  # ids of inc's calls are held; the writer has seen the store's version
        with s2:
            inc(100)  # another connection stores a call s1 does not know of
        s2.commit()
        inc(2)
        s1.commit()  # this write notices the other connection's commit and drops the held ids
        assert s1.unwrap(inc(100)) == 101
    assert log == [1, 100, 2]
    s1.close()
    s2.close()


def test_ops_with_many_calls_are_looked_up_one_by_one(db_path, log, counter, monkeypatch):
    monkeypatch.setattr(known_mod, "KNOWN_MAX_CALLS", 5)
    inc = make_inc(log)
    s = Storage(db_path, tracer=counter)
    with s:
        for i in range(10):
            inc(i)
    with s:
        counter.reset()
        for i in range(10, 20):
            inc(i)
        assert s.unwrap(inc(3)) == 4
    assert len(lookups(counter)) == 11
    assert log == list(range(20))
    s.close()


def test_calls_written_while_ids_are_read_are_kept(db_path, log):
    """A batch committed just after the ids were read (so not among them) is added to the set all the same."""
    inc = make_inc(log)
    s = Storage(db_path)
    backend = s.backend
    original = backend.db.run

    def run(sql, params=()):
        rows = original(sql, params)
        if "LIMIT ?" in sql and "op_name" in sql:  # just after the ids were read, this process commits inc(2)
            s._pending.flush()
        return rows

    with s:
        inc(1)  # the first miss: ids read
        inc(2)  # known to be new: pending
        backend.known.forget()  # (as when another connection has written)
        backend.db.run = run
        inc(3)  # a miss: ids read again, while inc(2) is being committed
        backend.db.run = original
        s.commit()
        assert s.unwrap(inc(2)) == 3
    assert log == [1, 2, 3]
    s.close()
