"""Property: after random drops and a cleanup the store is consistent, and a rerun recomputes exactly what was lost.

Programs mix collections: ops returning ``MList`` (flat and nested) and ``MDict`` outputs, ops taking ``MList`` inputs
passed whole, sliced, or mixed from elements of several lists, and scalar ops on elements. After recording, random
subsets of the stored calls (user and structural alike) are dropped, with or without dependents, and ``cleanup_refs``
runs. Expected outcomes come from a model computed in Python from the tables themselves:

- which calls a drop deletes (the seeds, plus with dependents every call reachable through output -> input edges);
- which refs a cleanup deletes (those with no edge that are not, directly or through nested collections, elements of
  a ref that has one) and which values (those no remaining atom ref holds);
- which op bodies a rerun executes: lookup is by history id, then by content id, so a deleted call runs again only
  when no call with its content id survives, and then once per content id (later twins in the rerun are content
  hits on the first). The rerun reproduces every id, so the comparison is exact, as a multiset of ``(op, args)``.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from graphstore import MDict, MList, Storage, op
from graphstore.recording import is_structural

EXECUTED: list[tuple] = []


def norm(value):
    """A hashable form of an argument: lists as tuples, dicts as sorted item tuples."""
    if isinstance(value, (list, tuple)):
        return tuple(norm(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, norm(v)) for k, v in value.items()))
    return value


def ran(name, **args):
    EXECUTED.append((name, tuple(sorted((k, norm(v)) for k, v in args.items()))))


@op
def p_span(start, n) -> MList[int]:
    ran("p_span", start=start, n=n)
    return [start + i for i in range(n)]


@op
def p_scaled(xs: MList[int], k) -> MList[int]:
    ran("p_scaled", xs=xs, k=k)
    return [x * k for x in xs]


@op
def p_total(xs: MList[int]):
    ran("p_total", xs=xs)
    return sum(xs)


@op
def p_plus(x, y):
    ran("p_plus", x=x, y=y)
    return x + y


@op
def p_half(x):
    ran("p_half", x=x)
    return x // 2


@op
def p_tally(xs: MList[int]) -> MDict[str, int]:
    ran("p_tally", xs=xs)
    return {"n": len(xs), "s": sum(xs)}


@op
def p_pick(d: MDict[str, int]):
    ran("p_pick", d=d)
    return d["s"] - d["n"]


@op
def p_pairs(xs: MList[int]) -> MList[MList[int]]:
    ran("p_pairs", xs=xs)
    return [[x, x + 1] for x in xs[:2]]


@op
def p_flat(rows: MList[MList[int]]) -> MList[int]:
    ran("p_flat", rows=rows)
    return [x for row in rows for x in row]


# --- programs ---------------------------------------------------------------------------------------------------------

small = st.integers(0, 4)
source = st.one_of(
    st.tuples(st.just("whole"), small),
    st.tuples(st.just("slice"), small, small, small),
    st.tuples(st.just("mix"), st.lists(st.tuples(small, small), min_size=1, max_size=3)),
    st.tuples(st.just("raw"), st.lists(small, max_size=3)),
)
step = st.one_of(
    st.tuples(st.just("span"), small, st.integers(0, 3)),
    st.tuples(st.just("scaled"), source, st.integers(-1, 2)),
    st.tuples(st.just("total"), source),
    st.tuples(st.just("plus"), small, small),
    st.tuples(st.just("half"), small),
    st.tuples(st.just("tally"), source),
    st.tuples(st.just("pick"), small),
    st.tuples(st.just("pairs"), source),
    st.tuples(st.just("pairs"), source),  # twice as likely: nested collections are where cleanup is subtle
    st.tuples(st.just("flat"), small),
)
programs = st.lists(step, min_size=1, max_size=7)


def list_arg(src, lists):
    """An MList argument: a list Ref, a slice of one, elements mixed from several, or raw ints."""
    kind = src[0]
    if kind == "raw" or not lists:
        return list(src[1]) if kind == "raw" else [1, 2]
    if kind == "whole":
        return lists[src[1] % len(lists)]
    if kind == "slice":
        return lists[src[1] % len(lists)][src[2] : src[2] + src[3]]
    picked = []
    for i, j in src[1]:
        lst = lists[i % len(lists)]
        picked.append(lst[j % len(lst)] if len(lst) else j)
    return picked


def run(program):
    """Interpret a program; returns every result, to compare between runs."""
    lists, scalars, dicts, nested, results = [], [], [], [], []

    def scalar(i):
        return scalars[i % len(scalars)] if scalars else i

    for s in program:
        kind = s[0]
        if kind == "span":
            out = p_span(s[1], s[2])
            lists.append(out)
            scalars.extend(list(out))
        elif kind == "scaled":
            out = p_scaled(list_arg(s[1], lists), s[2])
            lists.append(out)
        elif kind == "total":
            out = p_total(list_arg(s[1], lists))
            scalars.append(out)
        elif kind == "plus":
            out = p_plus(scalar(s[1]), scalar(s[2]))
            scalars.append(out)
        elif kind == "half":
            out = p_half(scalar(s[1]))
            scalars.append(out)
        elif kind == "tally":
            out = p_tally(list_arg(s[1], lists))
            dicts.append(out)
            scalars.append(out["s"])
        elif kind == "pick":
            out = p_pick(dicts[s[1] % len(dicts)] if dicts else {"n": 1, "s": s[1]})
            scalars.append(out)
        elif kind == "pairs":
            out = p_pairs(list_arg(s[1], lists))
            nested.append(out)
            lists.extend(list(out))
        else:
            out = p_flat(nested[s[1] % len(nested)] if nested else [[s[1]], []])
            lists.append(out)
        results.append(out)
    return results


# --- the model --------------------------------------------------------------------------------------------------------


def rows(conn, sql):
    return conn.execute(sql).fetchall()


EDGES = (
    "SELECT c.hid, e.direction, r.hid FROM edges AS e JOIN calls AS c ON c.id = e.call_id "
    "JOIN refs AS r ON r.id = e.ref_id"
)


def dependents(conn, seeds):
    """Seeds plus every call downstream of their outputs, computed in Python from the edges."""
    outs, consumers = {}, {}
    for call, direction, ref in rows(conn, EDGES):
        if direction == 1:
            outs.setdefault(call, set()).add(ref)
        else:
            consumers.setdefault(ref, set()).add(call)
    doomed, todo = set(), list(seeds)
    while todo:
        call = todo.pop()
        if call in doomed:
            continue
        doomed.add(call)
        for ref in outs.get(call, ()):
            todo.extend(consumers.get(ref, ()))
    return doomed


def live_refs(conn):
    """Refs with an edge, and (transitively) the elements of a live collection."""
    members = {}
    for coll, elt in rows(
        conn,
        "SELECT c.hid, r.hid FROM members AS m JOIN refs AS c ON c.id = m.coll_id JOIN refs AS r ON r.id = m.elt_id",
    ):
        members.setdefault(coll, []).append(elt)
    live, todo = (
        set(),
        [r for (r,) in rows(conn, "SELECT DISTINCT r.hid FROM edges AS e JOIN refs AS r ON r.id = e.ref_id")],
    )
    while todo:
        ref = todo.pop()
        if ref not in live:
            live.add(ref)
            todo.extend(members.get(ref, ()))
    return live


def expected_cleanup(conn):
    refs = dict(((h, (c, k)) for h, c, k in rows(conn, "SELECT hid, cid, kind FROM refs")))
    live = live_refs(conn) & set(refs)
    held = {refs[h][0] for h in live if refs[h][1] == "atom"}
    values = {c for (c,) in rows(conn, 'SELECT cid FROM "values"')}
    return set(refs) - live, values - held


INVARIANTS = {
    "edge to a missing call": "SELECT count(*) FROM edges AS e WHERE NOT EXISTS (SELECT 1 FROM calls AS c "
    "WHERE c.id = e.call_id)",
    "edge of a call to a missing ref": "SELECT count(*) FROM edges AS e JOIN calls AS c ON c.id = e.call_id "
    "WHERE NOT EXISTS (SELECT 1 FROM refs AS r WHERE r.id = e.ref_id)",
    "atom ref without a value": "SELECT count(*) FROM refs AS r WHERE r.kind = 'atom' AND NOT EXISTS "
    '(SELECT 1 FROM "values" AS v WHERE v.cid = r.cid)',
    "member of an existing collection missing": "SELECT count(*) FROM members AS m WHERE EXISTS (SELECT 1 FROM refs "
    "AS c WHERE c.id = m.coll_id) AND NOT EXISTS (SELECT 1 FROM refs AS r WHERE r.id = m.elt_id)",
}

AFTER_CLEANUP = {
    "members of a missing collection": "SELECT count(*) FROM members AS m WHERE NOT EXISTS (SELECT 1 FROM refs AS c "
    "WHERE c.id = m.coll_id)",
}


def assert_consistent(conn, storage, cleaned):
    checks = dict(INVARIANTS, **(AFTER_CLEANUP if cleaned else {}))
    broken = {name: n for name, sql in checks.items() if (n := rows(conn, sql)[0][0])}
    assert broken == {}
    if cleaned:
        assert expected_cleanup(conn) == (set(), set())  # nothing left for another cleanup
    report = storage.check()
    assert report.ok, report.problems


def calls_table(conn):
    return {h: (c, name) for h, c, name in rows(conn, "SELECT hid, cid, op_name FROM calls")}


@given(programs, st.data())
def test_drops_and_cleanup_keep_the_store_consistent_and_a_rerun_recomputes_what_was_lost(
    tmp_path_factory, program, data
):
    path = str(tmp_path_factory.mktemp("drops") / "store.db")
    storage = Storage(path)
    conn = sqlite3.connect(path)
    try:
        EXECUTED.clear()
        with storage:
            first = run(program)
        first_values = storage.unwrap(first)
        original = calls_table(conn)
        user = {h for h, (_, name) in original.items() if not is_structural(name)}
        keys = {}  # (op, args) of every user call, read back from the store
        for h in user:
            call = storage.get_call(h)
            args = tuple(sorted((n, norm(storage.unwrap(r))) for n, r in call.inputs.items()))
            keys[h] = (call.op_name, args)
        assert Counter(EXECUTED) == Counter({keys[h] for h in user})  # first run: one execution per content

        for _ in range(data.draw(st.integers(1, 2), label="rounds")):
            present = sorted(calls_table(conn))
            if not present:
                break
            if data.draw(st.booleans(), label="drop by op"):  # every call of one op, structural ones included
                names = sorted({name for _, name in calls_table(conn).values()})
                name = data.draw(st.sampled_from(names), label="op")
                seeds = sorted(h for h, (_, n) in calls_table(conn).items() if n == name)
            else:
                seeds = data.draw(st.lists(st.sampled_from(present), max_size=5, unique=True), label="drop")
            with_deps = data.draw(st.booleans(), label="delete_dependents")
            doomed = dependents(conn, seeds) if with_deps else set(seeds)
            preview = storage.drop_calls(seeds, delete_dependents=with_deps, dry_run=True)
            report = storage.drop_calls(seeds, delete_dependents=with_deps)
            assert set(report) == doomed and len(report) == len(doomed) and list(preview) == list(report)
            assert set(report.dependents) == doomed - set(seeds)
            assert set(calls_table(conn)) == set(present) - doomed
            assert_consistent(conn, storage, cleaned=False)

            gone_refs, gone_values = expected_cleanup(conn)
            removed = storage.cleanup_refs()
            assert removed == {"refs": len(gone_refs), "values": len(gone_values), "overflow_files": 0}
            assert_consistent(conn, storage, cleaned=True)

        surviving = calls_table(conn)
        surviving_cids = {c for c, _ in surviving.values()}
        lost = {original[h][0]: keys[h] for h in user - set(surviving) if original[h][0] not in surviving_cids}

        if data.draw(st.booleans(), label="reopen"):
            storage.close()
            storage = Storage(path)  # nothing kept in memory from the first run
        EXECUTED.clear()
        with storage:
            second = run(program)
        assert Counter(EXECUTED) == Counter(lost.values())
        assert [r.hid for r in second] == [r.hid for r in first]
        assert storage.unwrap(second) == first_values
        after = calls_table(conn)
        assert {h for h, (_, name) in after.items() if not is_structural(name)} == user
        assert set(after) <= set(original)
        assert_consistent(conn, storage, cleaned=False)

        EXECUTED.clear()
        with storage:
            run(program)
        assert EXECUTED == []
    finally:
        conn.close()
        storage.close()
