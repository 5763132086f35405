"""Differential test: random programs recorded into SQLite and into PostgreSQL give the same ids, the same records and
the same frame tables (rows sorted the same way), for the programs and frame steps of the SQL-against-naive property
test (tests/query/test_frame_property.py); on PostgreSQL the query layer's rows also equal the naive
evaluator's (tests/naive_eval.py). PostgreSQL also explains every statement of the frames just before it runs
(tests/pg_explain.py)."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphstore import Storage
from naive_eval import naive_rows, read_store, sql_rows
from pg_explain import Explainer
from test_frame_property import OPS, apply, frame_op, instruction, run_program

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
            cfs.append((apply(cfs[-1][0], step, lite, lite_refs), apply(cfs[-1][1], step, pg, pg_refs)))
        for lite_cf, pg_cf in cfs:
            assert lite_cf.pattern == pg_cf.pattern
            assert sql_rows(pg, pg_cf.pattern) == naive_rows(pg, pg_cf.pattern, store)
            assert table(lite_cf.df(values="refs")) == table(pg_cf.df(values="refs"))
            assert table(lite_cf.df()) == table(pg_cf.df())
        assert explainer.explained
    finally:
        lite.close()
        pg.close()
