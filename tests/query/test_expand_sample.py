"""Expansion counts a variable's creators and consumers into the groups (op, label) found among its first members,
and counts again with a grouped query when the total shows groups the sample missed."""

from __future__ import annotations

import graphstore.query.expand
import pytest

from graphstore import Storage, op


@op
def source(k):
    return k * 10


@op
def common(x):
    return x + 1


@op
def rare(x):
    return x - 1


def _record(storage):
    with storage:
        xs = [source(k) for k in range(30)]
        for x in xs:
            common(x)
        for x in xs[20:]:  # only the last members of x have this consumer
            rare(x)


@pytest.mark.parametrize("on_file", [False, True])
def test_groups_a_small_sample_misses_are_found(tmp_path, monkeypatch, on_file):
    storage = Storage(tmp_path / "s.db") if on_file else Storage()
    _record(storage)
    frames = {}
    for sample in (1, 5, 2000):
        monkeypatch.setattr(graphstore.query.expand, "SAMPLE", sample)
        statements = []
        storage.backend.tracer = lambda sql, params, statements=statements: statements.append(sql)
        frames[sample] = storage.cf(source).expand_all()
        storage.backend.tracer = None
        grouped = [s for s in statements if 'GROUP BY "c"."op_name", "e"."label"' in s and "LIMIT" not in s]
        assert bool(grouped) == (sample < 20), sample  # a grouped count only when the sample missed a group
    assert {"source", "common", "rare"} <= frames[1].fnames
    assert frames[1].pattern == frames[5].pattern == frames[2000].pattern
    df = frames[1].df()
    assert len(df) == 40 and df["rare"].notna().sum() == 10
    storage.close()
