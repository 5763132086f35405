"""Differential test: random programs recorded into SQLite and into PostgreSQL give the same ids, the same records and
the same frame tables (rows sorted the same way); on PostgreSQL the query layer's rows also equal the naive
evaluator's (tests/naive_eval.py). PostgreSQL also explains every statement of the frames just before it runs
(tests/pg_explain.py)."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphstore import Storage, op
from graphstore.structs import MList
from naive_eval import naive_rows, read_store, sql_rows
from pg_explain import Explainer


@op
def d1(a):
    return a + 1


@op(output_names=["s"])
def d2(a, b):
    return 2 * a + b


@op
def d3(a):
    return a, a % 3


@op
def d4(a):
    return a // 2


@op
def d5(*args):
    return sum(args)


@op
def d6(xs: MList[int]):
    return max(xs)


OPS = {"d1": d1, "d2": d2, "d3": d3, "d4": d4, "d5": d5, "d6": d6}

instruction = st.one_of(
    st.tuples(st.just("call"), st.sampled_from(["d1", "d3", "d4"]), st.integers(0, 30)),
    st.tuples(st.just("call2"), st.just("d2"), st.integers(0, 30), st.integers(0, 30)),
    st.tuples(st.just("loop"), st.sampled_from(["d1", "d4"]), st.integers(0, 30), st.integers(1, 4)),
    st.tuples(st.just("raw"), st.integers(0, 6)),
    st.tuples(st.just("many"), st.sampled_from(["d5", "d6"]), st.lists(st.integers(0, 30), min_size=1, max_size=3)),
)

frame_op = st.one_of(
    st.tuples(st.just("back"), st.booleans()),
    st.tuples(st.just("back_one"), st.integers(0, 20)),
    st.tuples(st.just("select"), st.integers(0, 2**12)),
    st.tuples(st.just("union"), st.sampled_from(sorted(OPS))),
    st.tuples(st.just("forward"), st.booleans()),
    st.just(("all",)),
    st.just(("merge_vars",)),
    st.tuples(st.just("drop"), st.integers(0, 20)),
    st.tuples(st.just("isin"), st.integers(0, 20), st.integers(0, 50)),
    st.tuples(st.just("upstream"), st.integers(0, 20)),
    st.tuples(st.just("downstream"), st.integers(0, 20)),
)


def run_program(storage: Storage, program: list) -> list:
    pool: list = [0, 1]
    with storage:
        for ins in program:
            kind = ins[0]
            if kind == "raw":
                pool.append(ins[1])
                continue
            fn = OPS[ins[1]]
            if kind == "many":
                args = [pool[i % len(pool)] for i in ins[2]]
                pool.append(fn(*args) if ins[1] == "d5" else fn(args))
                continue
            a = pool[ins[2] % len(pool)]
            if kind == "call":
                out = fn(a)
            elif kind == "call2":
                out = fn(a, pool[ins[3] % len(pool)])
            else:
                out = a
                for _ in range(ins[3]):
                    out = fn(out)
            pool.extend(out if isinstance(out, tuple) else [out])
    return [x for x in pool if not isinstance(x, int)]


def apply(cf, step, refs, storage):
    kind = step[0]
    names, vnames = sorted(cf.nodes), sorted(cf.vnames)

    def pick(seq, i):
        return seq[i % len(seq)]

    if kind == "back":
        return cf.expand_back(recursive=step[1])
    if kind == "back_one" and vnames:
        return cf.expand_back(pick(vnames, step[1]))
    if kind == "select" and names:
        return cf.select_nodes([n for i, n in enumerate(names) if step[1] >> i & 1] or names[:1])
    if kind == "union":
        try:
            return cf | storage.cf(OPS[step[1]])
        except Exception:  # (frames that cannot be joined: the same on both stores)
            return cf
    if kind == "forward":
        return cf.expand_forward(recursive=step[1])
    if kind == "all":
        return cf.expand_all()
    if kind == "merge_vars":
        return cf.merge_vars()
    if kind == "drop" and len(names) > 1:
        return cf.drop(pick(names, step[1]))
    if kind == "isin" and vnames and refs:
        return cf.isin(pick(vnames, step[1]), [pick(refs, step[2])], by="hid")
    if kind == "upstream" and names:
        return cf.upstream(pick(names, step[1]))
    if kind == "downstream" and names:
        return cf.downstream(pick(names, step[1]))
    return cf


RECORDS = {
    "calls": "SELECT hid, cid, op_name, op_version, tuple_out, version_id, outputs FROM calls",
    "refs": "SELECT hid, cid, kind FROM refs",
    "values": 'SELECT cid, codec, size, data, path, checksum FROM "values"',
    "ops": "SELECT name, version, signature, source_hash, output_names FROM ops",
    "edges": "SELECT c.hid, e.direction, e.label, e.pos, r.hid FROM edges AS e JOIN calls AS c ON c.id = e.call_id "
    "JOIN refs AS r ON r.id = e.ref_id",
    "members": "SELECT c.hid, m.pos, m.key, r.hid FROM members AS m JOIN refs AS c ON c.id = m.coll_id "
    "JOIN refs AS r ON r.id = m.elt_id",
}


def records(storage: Storage) -> dict[str, list]:
    return {name: sorted(storage.backend.execute(sql), key=repr) for name, sql in RECORDS.items()}


def cell(x):
    """A table cell, comparable across stores: refs and calls by id, values as they are (NaN equal to NaN)."""
    hid = getattr(x, "hid", None)
    if hid is not None:
        return ("id", hid)
    if isinstance(x, float) and math.isnan(x):
        return ("nan",)
    return ("value", repr(x))


def table(df) -> tuple[list, list]:
    return list(df.columns), sorted([tuple(cell(v) for v in row) for row in df.itertuples(index=False)])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    program=st.lists(instruction, min_size=1, max_size=12),
    start=st.sampled_from(sorted(OPS)),
    steps=st.lists(frame_op, max_size=4),
)
def test_sqlite_and_postgres_agree(pg_new_database, program, start, steps):
    # (the fixture makes a new database per example: nothing is shared between examples)
    lite = Storage()
    pg = Storage(pg_new_database())
    try:
        lite_refs = run_program(lite, program)
        pg_refs = run_program(pg, program)
        assert [r.hid for r in lite_refs] == [r.hid for r in pg_refs]
        assert records(lite) == records(pg)
        explainer = Explainer().attach(pg)  # every statement of the frames below is explained before it runs
        assert lite.cache_info() == pg.cache_info()
        store = read_store(pg)
        cfs = [(lite.cf(OPS[start]), pg.cf(OPS[start]))]
        for step in steps:
            cfs.append((apply(cfs[-1][0], step, lite_refs, lite), apply(cfs[-1][1], step, pg_refs, pg)))
        for lite_cf, pg_cf in cfs:
            assert lite_cf.pattern == pg_cf.pattern
            assert sql_rows(pg, pg_cf.pattern) == naive_rows(pg, pg_cf.pattern, store)
            assert table(lite_cf.df(values="refs")) == table(pg_cf.df(values="refs"))
            assert table(lite_cf.df()) == table(pg_cf.df())
        assert explainer.explained
    finally:
        lite.close()
        pg.close()
