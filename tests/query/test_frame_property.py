"""Differential test: SQL extraction equals the naive evaluator (tests/naive_eval.py) on random programs and frames.

Programs mix branches, merges (ops of two arguments), tuple outputs, loops (an op applied to its own output),
conditional calls, ``*args`` and list (MList) arguments; frames are built by random sequences of frame operations.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import graphstore.query.expand
import graphstore.query.rows
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from graphstore import Storage, op
from graphstore.structs import MList
from naive_eval import naive_rows, read_store, sql_rows, sql_table_rows
from pg_explain import Explainer


@op
def f1(a):
    return a + 1


@op(output_names=["s"])
def f2(a, b):
    return 2 * a + b


@op
def f3(a):
    return a, a % 3


@op
def f4(a):
    return a // 2


@op
def f5(*args):
    return sum(args)


@op
def f6(xs: MList[int]):
    return max(xs)


OPS = {"f1": f1, "f2": f2, "f3": f3, "f4": f4, "f5": f5, "f6": f6}

instruction = st.one_of(
    st.tuples(st.just("call"), st.sampled_from(["f1", "f3", "f4"]), st.integers(0, 30)),
    st.tuples(st.just("call2"), st.just("f2"), st.integers(0, 30), st.integers(0, 30)),
    st.tuples(st.just("loop"), st.sampled_from(["f1", "f4"]), st.integers(0, 30), st.integers(1, 4)),
    st.tuples(st.just("raw"), st.integers(0, 6)),
    st.tuples(st.just("many"), st.sampled_from(["f5", "f6"]), st.lists(st.integers(0, 30), min_size=1, max_size=3)),
)

frame_op = st.one_of(
    st.tuples(st.just("back"), st.booleans()),
    st.tuples(st.just("back_one"), st.integers(0, 20)),
    st.tuples(st.just("forward"), st.booleans()),
    st.just(("all",)),
    st.just(("merge_vars",)),
    st.tuples(st.just("select"), st.integers(0, 2**12)),
    st.tuples(st.just("drop"), st.integers(0, 20)),
    st.tuples(st.just("isin"), st.integers(0, 20), st.integers(0, 50)),
    st.tuples(st.just("union"), st.sampled_from(sorted(OPS))),
    st.tuples(st.just("upstream"), st.integers(0, 20)),
    st.tuples(st.just("downstream"), st.integers(0, 20)),
)


def run_program(storage: Storage, program: list) -> list:
    pool = [0, 1]
    with storage:
        for ins in program:
            kind = ins[0]
            if kind == "raw":
                pool.append(ins[1])
                continue
            fn = OPS[ins[1]]
            if kind == "many":
                args = [pool[i % len(pool)] for i in ins[2]]
                pool.append(fn(*args) if ins[1] == "f5" else fn(args))
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


def apply(cf, step, storage, refs):
    kind = step[0]
    names = sorted(cf.nodes)
    vnames = sorted(cf.vnames)
    pick = lambda seq, i: seq[i % len(seq)] if seq else None  # noqa: E731
    if kind == "back":
        return cf.expand_back(recursive=step[1])
    if kind == "back_one" and vnames:
        return cf.expand_back(pick(vnames, step[1]))
    if kind == "forward":
        return cf.expand_forward(recursive=step[1])
    if kind == "all":
        return cf.expand_all()
    if kind == "merge_vars":
        return cf.merge_vars()
    if kind == "select" and names:
        chosen = [n for i, n in enumerate(names) if step[1] >> i & 1] or names[:1]
        return cf.select_nodes(chosen)
    if kind == "drop" and len(names) > 1:
        return cf.drop(pick(names, step[1]))
    if kind == "isin" and vnames and refs:
        return cf.isin(pick(vnames, step[1]), [pick(refs, step[2])], by="hid")
    if kind == "union":
        other = storage.cf(OPS[step[1]])
        try:
            return cf | other
        except Exception:
            return cf
    if kind == "upstream" and names:
        return cf.upstream(pick(names, step[1]))
    if kind == "downstream" and names:
        return cf.downstream(pick(names, step[1]))
    return cf


@given(
    program=st.lists(instruction, min_size=1, max_size=14),
    start=st.one_of(st.sampled_from(sorted(OPS)), st.integers(0, 50)),
    steps=st.lists(frame_op, max_size=5),
    on_file=st.booleans(),
    sample=st.sampled_from([1, 3, 2000]),
)
@example(  # merging variables made a member query of more than 500 UNION terms
    program=[
        ("call", "f4", 0),
        ("many", "f6", [11, 30]),
        ("raw", 5),
        ("call", "f4", 23),
        ("call2", "f2", 11, 14),
        ("many", "f6", [12, 13]),
        ("many", "f5", [1, 9, 11]),
        ("raw", 0),
        ("call", "f4", 4),
        ("call2", "f2", 29, 6),
    ],
    start="f5",
    steps=[("upstream", 20), ("upstream", 16), ("all",), ("merge_vars",)],
    on_file=True,
    sample=2000,
)
def test_sql_extraction_equals_naive_evaluation(program, start, steps, on_file, sample):
    # a file store reads on two connections, side by side; a store in memory on one. Expansion learns which ops
    # and labels to count from the first ``sample`` members of a variable (a small sample often misses some).
    folder = tempfile.mkdtemp() if on_file else None
    storage = Storage(os.path.join(folder, "s.db")) if folder else Storage()
    expand_sample = graphstore.query.expand.SAMPLE
    graphstore.query.expand.SAMPLE = sample
    try:
        refs = run_program(storage, program)
        cf = storage.cf(OPS[start]) if isinstance(start, str) else storage.cf(refs[start % len(refs)] if refs else [])
        store = read_store(storage)
        assert sql_rows(storage, cf.pattern) == naive_rows(storage, cf.pattern, store)
        for step in steps:
            cf = apply(cf, step, storage, refs)
            assert sql_rows(storage, cf.pattern) == naive_rows(storage, cf.pattern, store), (step, cf)
        chunk_rows = graphstore.query.rows.CHUNK_ROWS
        graphstore.query.rows.CHUNK_ROWS = 3  # tables read by column in many chunks of roots
        try:
            assert sql_table_rows(storage, cf.pattern) == naive_rows(storage, cf.pattern, store), cf
        finally:
            graphstore.query.rows.CHUNK_ROWS = chunk_rows
        df = cf.df(values="refs")
        assert len(df) == len(naive_rows(storage, cf.pattern, store))
        assert list(df.columns) == cf.pattern.topo_names()
        if sample < 2000:  # expansion from small samples grows the same frames as from whole ones
            graphstore.query.expand.SAMPLE = 2000
            again = (
                storage.cf(OPS[start])
                if isinstance(start, str)
                else storage.cf(refs[start % len(refs)] if refs else [])
            )
            for step in steps:
                again = apply(again, step, storage, refs)
            assert again.pattern == cf.pattern
    finally:
        graphstore.query.expand.SAMPLE = expand_sample
        storage.close()
        if folder:
            shutil.rmtree(folder)


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    program=st.lists(instruction, min_size=1, max_size=14),
    start=st.one_of(st.sampled_from(sorted(OPS)), st.integers(0, 50)),
    steps=st.lists(frame_op, max_size=5),
)
def test_postgres_accepts_every_statement(pg_new_database, program, start, steps):
    # The frames of the test above on a PostgreSQL store: the server EXPLAINs every statement of the query layer
    # just before it runs (temporary tables included: same connection, after the statements that made them), and
    # the rows still equal the naive evaluator's.
    storage = Storage(pg_new_database())
    explainer = Explainer()
    try:
        refs = run_program(storage, program)
        explainer.attach(storage)
        cf = storage.cf(OPS[start]) if isinstance(start, str) else storage.cf(refs[start % len(refs)] if refs else [])
        store = read_store(storage)
        frames = [cf]
        for step in steps:
            frames.append(apply(frames[-1], step, storage, refs))
        for cf in frames:
            expected = naive_rows(storage, cf.pattern, store)
            assert sql_rows(storage, cf.pattern) == expected, cf
            assert sql_table_rows(storage, cf.pattern) == expected, cf
            cf.sql()  # (its root probes run after the statements that stage members)
            cf.delete_calls(dry_run=True)  # (the statements that plan a deletion)
        assert explainer.explained
        assert all(s.lstrip().upper().startswith(("CREATE TEMPORARY TABLE", "DROP")) for s in explainer.unexplained)
    finally:
        storage.close()
