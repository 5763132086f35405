"""ComputationFrame: sub-frames, set operations, filters, lineage, graphs and deletion."""

from __future__ import annotations

import os
import stat

import networkx as nx
import pytest
from graphstore.query import FrameStructureError, MissingProgramError, QueryError

from graphstore import Storage, op


@op(output_names=["y"])
def inc(x):
    return x + 1


@op(output_names=["z"])
def add(y, w):
    return y + w


@op(output_names=["q"])
def square(z):
    return z * z


@op(output_names=["y"], version=1, name="inc")
def inc_v1(x):
    return x + 100


@pytest.fixture
def pipeline(storage):
    with storage:
        for x in range(6):
            y = inc(x)
            z = add(y, 10)
            if x < 3:
                square(z)
    return storage


def test_select_and_getitem(pipeline):
    cf = pipeline.cf(add).expand_all()
    sub = cf[["y", "add", "z"]]
    assert sub.nodes == {"y", "add", "z"}
    assert len(sub.df()) == 6
    single = cf["q"]
    assert single.vnames == {"q"} and sorted(single.df()["q"]) == [121, 144, 169]


def test_upstream_downstream_midstream(pipeline):
    cf = pipeline.cf(add).expand_all()
    up = cf.upstream("q")
    assert up.nodes == {"x", "inc", "y", "w", "add", "z", "square", "q"}
    assert len(up.df()) == 3  # only the histories that reach q
    down = cf.downstream("z")
    assert down.nodes == {"z", "square", "q"}
    assert sorted(down.df()["q"].dropna()) == [121, 144, 169]
    mid = cf.midstream("y", "q")
    assert mid.nodes == {"y", "add", "z", "square", "q"}


def test_set_operations(pipeline):
    a = pipeline.cf(add).expand_back()
    b = pipeline.cf(square).expand_back()
    both = a | b
    assert both.fnames == {"inc", "add", "square"}
    assert len(both.df()) == 6
    common = a & b
    assert common.nodes == {"add", "y", "w", "z"}
    assert len(common.df()) == 3
    rest = a - b  # node by node: add keeps the calls b lacks, inc keeps all (b has no inc node)
    assert rest.df()["add"].notna().sum() == 3 and len(rest.df()) == 6
    assert a.union(b).nodes == both.nodes and a.intersection(b).nodes == common.nodes
    with pytest.raises(FrameStructureError):
        a | pipeline.cf(square).rename(funcs={"square": "add"})


def test_isin_and_where(pipeline):
    cf = pipeline.cf(add).expand_all()
    assert sorted(cf.isin("x", [1, 2]).df()["x"]) == [1, 2]
    z_refs = pipeline.cf(add).df(values="refs")["z"].tolist()[:2]
    assert len(cf.isin("z", z_refs, by="hid").df()) == 2
    assert len(cf.isin("z", [r.cid for r in z_refs], by="cid").df()) == 2
    assert sorted(cf.where("x", lambda v: v >= 4).df()["x"]) == [4, 5]
    assert len(cf.where("z", hids=[z_refs[0].hid]).df()) == 1
    id_list = "json_each" if pipeline.backend.sql_dialect == "sqlite" else "unnest"
    assert id_list in cf.isin("x", [1]).sql().lower()
    with pytest.raises(FrameStructureError):
        cf.isin("x", [1], by="name")


def test_where_by_op_version(storage):
    with storage:
        for x in range(3):
            inc(x)
            inc_v1(x)
    cf = storage.cf(inc_v1)
    assert cf.fnames == {"inc"} and sorted(cf.df()["y"]) == [100, 101, 102]
    old = cf.where("inc", version=0)
    assert sorted(old.df()["y"]) == [1, 2, 3]
    assert "op_version" in old.sql()


def test_merge_rename_drop(pipeline):
    cf = pipeline.cf(add).expand_all()
    assert cf.rename_var("w", "ten").vnames >= {"ten"}
    assert "add" not in cf.drop_func("add").fnames
    assert "q" not in cf.drop_var("q").vnames and "q" not in cf.drop("q", "square").nodes
    with pytest.raises(FrameStructureError):
        cf.drop_var("add")
    merged = cf.merge_into("w", "x")
    assert "w" not in merged.vnames


def test_provenance_table_and_graph(pipeline):
    q = pipeline.cf(square).df(values="refs")["q"].iloc[0]
    lineage = pipeline.provenance(q)
    assert len(lineage.df) == 1
    assert set(lineage.df.columns) == {"x", "inc", "y", "w", "add", "z", "square", "v"}
    g = lineage.to_networkx()
    assert nx.has_path(g, "x", "v") and g.nodes["square"]["kind"] == "func"


def test_to_networkx_and_draw(pipeline, tmp_path, monkeypatch):
    cf = pipeline.cf(add).expand_all()
    g = cf.to_networkx()
    assert set(g.nodes) == cf.nodes and g.number_of_edges() == len(cf.edges())
    assert list(nx.topological_sort(g))[-1] in cf.sinks
    out = tmp_path / "frame.svg"
    pic = cf.draw(path=str(out))
    assert pic.svg == out.read_text() and "<svg" in pic.svg
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingProgramError, match="'dot'"):
        cf.draw()
    fake = tmp_path / "dot"  # a graphviz that writes nothing: an error, not an empty picture
    fake.write_text("#!/bin/sh\ncat > /dev/null\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(QueryError, match="could not render"):
        cf.draw(path=str(tmp_path / "broken.png"))
    assert not os.path.exists(tmp_path / "broken.png")


def test_delete_calls(pipeline):
    cf = pipeline.cf(square)
    cf.delete_calls()
    assert len(pipeline.cf(square).df()) == 0
    cf = pipeline.cf(add).expand_all()
    df = cf.df()
    cf.delete_calls_from_df(df[df["x"] == 5])
    assert sorted(pipeline.cf(inc).df()["x"]) == [0, 1, 2, 3, 4]
    assert len(pipeline.cf(add).df()) == 5


def test_storage_methods_need_no_query_import_at_module_level():
    import subprocess
    import sys

    code = "import sys, graphstore; from graphstore import Storage; Storage(); print('graphstore.query' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_file_store_frames(file_storage):
    with file_storage:
        for x in range(3):
            square(add(inc(x), 1))
    cf = file_storage.cf(square).expand_back(recursive=True)
    assert len(cf.df()) == 3
    fresh = Storage(file_storage.db_path)
    assert len(fresh.cf(square).expand_back(recursive=True).df()) == 3
    fresh.close()
