"""ComputationFrame as mandala shows and changes it: ``inplace=``, pictures, the printed summary, collection cells."""

from __future__ import annotations

import logging
import re
import shutil

import pytest
from graphstore.query import (
    CallCollection,
    ComputationFrame,
    FrameStructureError,
    MissingProgramError,
    RefCollection,
    UnknownNodeError,
    ValueCollection,
)
from graphstore.query.picture import Picture

from graphstore import Ref, Storage, op
from graphstore.structs import MList


@op(output_names=["y"])
def inc(x):
    return x + 1


@op(output_names=["z"])
def add(x, y):
    return x + y


@op
def scale(X):
    return X * 2


@op(output_names=["score"])
def evaluate(X):
    return X + 0.5


@op
def train(n):
    return n * 10


@op(output_names=["total"])
def ensemble(models: MList[int]):
    return sum(models)


def composed(storage: Storage) -> None:
    with storage:
        for x in range(5):
            y = inc(x)
            if x % 2 == 0:
                add(x, y)


def looped(storage: Storage) -> None:
    with storage:
        for seed in range(3):
            X = inc(seed)
            for _ in range(seed + 1):
                X = scale(X)
            evaluate(X)


# --- inplace= ---------------------------------------------------------------------------------------------------------


def test_inplace_changes_the_frame_and_returns_none(storage):
    composed(storage)
    cf = storage.cf(inc)
    before = cf.pattern
    assert cf.expand_forward(inplace=True) is None
    assert cf.fnames == {"add", "inc"} and cf.pattern != before
    assert cf.expand_back("x", inplace=True) is None and cf.expand_all(inplace=True) is None
    assert len(cf.df()) == 5 and cf.vnames == {"x", "y", "z"}
    assert cf.rename(vars={"z": "total"}, inplace=True) is None
    assert "total" in cf.vnames and "z" not in cf.vnames
    assert cf.rename_var("total", "t", inplace=True) is None and "t" in cf.vnames
    assert cf.drop_var("t", inplace=True) is None and "t" not in cf.vnames
    assert cf.drop_func("add", inplace=True) is None and cf.fnames == {"inc"}
    assert cf.drop(["inc"], inplace=True) is None and cf.fnames == set()
    assert cf.drop_node("x", inplace=True) is None and cf.vnames == {"y"}


def test_without_inplace_the_frame_is_unchanged_and_a_new_one_returned(storage):
    composed(storage)
    cf = storage.cf(inc)
    for grown in (cf.expand_forward(), cf.expand_forward(inplace=False), cf.expand_all()):
        assert isinstance(grown, ComputationFrame) and grown.fnames == {"add", "inc"}
    assert cf.fnames == {"inc"}
    renamed = cf.rename(vars={"y": "total"}, inplace=False)
    assert cf.vnames == {"x", "y"} and renamed.vnames == {"x", "total"}
    assert cf.drop("x").vnames == {"y"} and cf.vnames == {"x", "y"}


def test_inplace_merges_like_the_returned_frames(storage):
    with storage:
        ys = [inc(i) for i in range(3)]
        zs = [scale(y) for y in ys]
    cf = storage.cf({"y": ys, "z": zs}).expand_back("z")
    expected = cf.merge_vars()
    assert cf.merge_vars(inplace=True) is None
    assert cf.pattern == expected.pattern and cf.vnames == {"y", "z"} and len(cf.df()) == 3
    two = storage.cf({"a": ys, "b": ys})
    assert two.merge_into("a", "b", inplace=True) is None and two.vnames == {"b"}


def test_inplace_is_never_a_node_name_and_unknown_keywords_are_type_errors(storage):
    composed(storage)
    cf = storage.cf(add)
    out = cf.rename(vars={"z": "inplace"}, inplace=False)  # a node may be called "inplace", through vars=
    assert "inplace" in out.vnames and "z" in cf.vnames
    assert out.rename(vars={"inplace": "z"}, inplace=True) is None and "z" in out.vnames
    assert cf.rename(z="w").vnames == {"x", "y", "w"}  # a keyword that names a node renames it
    with pytest.raises(TypeError, match="'inplcae'"):
        cf.rename(vars={"z": "w"}, inplcae=True)
    assert cf.vnames == {"x", "y", "z"}
    for method in (cf.expand_back, cf.expand_all, cf.merge_vars, cf.drop_var):
        with pytest.raises(TypeError, match="in_place"):
            method(in_place=True)
    with pytest.raises(TypeError, match="inplace must be True or False"):
        cf.expand_back(inplace="yes")
    with pytest.raises(UnknownNodeError):
        cf.drop_var("nope", inplace=True)
    assert cf.vnames == {"x", "y", "z"}  # a failed inplace call leaves the frame as it was


# --- pictures ---------------------------------------------------------------------------------------------------------

MAGIC = {"svg": None, "png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF", "jpg": b"\xff\xd8", "jpeg": b"\xff\xd8"}


def test_draw_returns_a_picture_notebooks_show(storage):
    composed(storage)
    pic = storage.cf(inc).expand_all().draw()
    assert isinstance(pic, Picture) and not isinstance(pic, str)
    svg = pic._repr_svg_()
    assert svg == pic.svg and "<svg" in svg and "</svg>" in svg
    assert pic._repr_html_().startswith("<svg")
    for name in ("inc", "add", "x", "y", "z"):
        assert f">{name}</text>" in svg
    assert "refs" not in svg and "calls" not in svg  # counts only with verbose
    assert repr(pic).startswith("<Picture") and "TB" in repr(pic)


def test_verbose_pictures_count_each_nodes_refs_or_calls(storage):
    composed(storage)
    svg = storage.cf(inc).expand_all().draw(verbose=True).svg
    assert ">5 calls</text>" in svg  # inc
    assert ">3 calls</text>" in svg  # add
    assert svg.count(">5 refs</text>") == 2 and ">3 refs</text>" in svg  # x and y; z


def _size(svg: str) -> tuple:
    m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    return float(m.group(1)), float(m.group(2))


def test_orientation_changes_the_layout(storage):
    looped(storage)
    cf = storage.cf(evaluate).expand_back(recursive=True)
    pics = {o: cf.draw(orientation=o) for o in ("TB", "LR", "BT", "RL")}
    for o, pic in pics.items():
        assert f"rankdir={o};" in pic.dot
    (w_tb, h_tb), (w_lr, h_lr) = _size(pics["TB"].svg), _size(pics["LR"].svg)
    assert h_tb > w_tb and w_lr > h_lr  # a chain of nodes: tall from top to bottom, wide from left to right
    assert _size(pics["BT"].svg) == (w_tb, h_tb) and _size(pics["RL"].svg) == (w_lr, h_lr)
    with pytest.raises(FrameStructureError, match="orientation"):
        cf.draw(orientation="sideways")


@pytest.mark.parametrize("ext", sorted(MAGIC))
def test_path_writes_the_format_its_extension_names(storage, tmp_path, ext):
    composed(storage)
    path = tmp_path / f"frame.{ext.upper() if ext == 'pdf' else ext}"
    pic = storage.cf(add).draw(verbose=True, path=str(path))
    data = path.read_bytes()
    if MAGIC[ext] is None:
        assert data.decode() == pic.svg and "<svg" in data.decode()
    else:
        assert data.startswith(MAGIC[ext]) and b"<svg" not in data[:200]


def test_bad_paths_and_arguments_write_nothing(storage, tmp_path):
    composed(storage)
    cf = storage.cf(add)
    with pytest.raises(FrameStructureError, match=r"\.svg.*\.png.*\.pdf.*\.jpg"):
        cf.draw(path=str(tmp_path / "frame.gif"))
    with pytest.raises(TypeError, match="path="):
        cf.draw(str(tmp_path / "frame.svg"))  # the old draw(path) form: say how to call it now
    assert list(tmp_path.iterdir()) == []


def test_without_graphviz_drawing_names_what_to_install(storage, tmp_path, monkeypatch):
    composed(storage)
    cf = storage.cf(add)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert shutil.which("dot") is None
    for kwargs in ({}, {"path": str(tmp_path / "f.png")}, {"verbose": True, "path": str(tmp_path / "f.svg")}):
        with pytest.raises(MissingProgramError, match="graphviz.*'dot'.*apt-get install graphviz"):
            cf.draw(**kwargs)
    assert not any(tmp_path.glob("f.*"))
    html = cf._repr_html_()  # a notebook still shows the summary
    assert html.startswith("<pre>ComputationFrame with:") and "<svg" not in html


def test_a_frame_shows_its_summary_and_picture_in_notebooks(storage):
    composed(storage)
    html = storage.cf(inc).expand_all()._repr_html_()
    assert html.startswith("<pre>ComputationFrame with:\n    3 variable(s)")
    assert "<svg" in html and "&lt;" not in html.split("<svg")[1][:20]


# --- summary ----------------------------------------------------------------------------------------------------------


def test_print_shows_mandalas_summary_then_the_graph(storage, capsys):
    composed(storage)
    cf = storage.cf(inc).expand_all()
    print(cf)
    assert capsys.readouterr().out.splitlines() == [
        "ComputationFrame with:",
        "    3 variable(s) (13 unique refs)",  # x: 5 raw values, y: 5 outputs of inc, z: 3 outputs of add
        "    2 operation(s) (8 unique calls)",
        "Computational graph:",
        "    y = inc(x=x)",
        "    z = add(x=x, y=y)",
    ]
    assert repr(cf) == "ComputationFrame(\n    y = inc(x=x)\n    z = add(x=x, y=y)\n)"  # repr stays cheap


def test_summary_counts_a_ref_in_two_variables_once(storage):
    with storage:
        ys = [inc(i) for i in range(3)]
    text = str(storage.cf({"a": ys, "b": ys[:2]}))
    assert text.splitlines()[:4] == [
        "ComputationFrame with:",
        "    2 variable(s) (3 unique refs)",
        "    0 operation(s) (0 unique calls)",
        "Computational graph:",
    ]
    assert str(storage.cf(evaluate)).splitlines()[1:3] == [
        "    0 variable(s) (0 unique refs)",
        "    1 operation(s) (0 unique calls)",
    ]


# --- collection cells -------------------------------------------------------------------------------------------------


def test_cells_of_several_elements_are_collections_in_history_order(storage):
    looped(storage)
    df = storage.cf(evaluate).expand_back(recursive=True).df().sort_values("score")
    last = df.iloc[2]
    cell = last["X"]
    assert type(cell) is ValueCollection and repr(cell) == "ValueCollection([3, 6, 12, 24])"
    assert len(cell) == 4 and list(cell) == [3, 6, 12, 24] and cell.values == [3, 6, 12, 24]
    assert cell == [3, 6, 12, 24] and cell == ValueCollection([3, 6, 12, 24]) and cell != ValueCollection([3, 6])
    assert type(last["scale"]) is CallCollection and len(last["scale"]) == 3
    assert repr(last["scale"]).startswith("CallCollection([")
    assert not isinstance(df.iloc[0]["x"], ValueCollection)  # single elements stay bare


def test_a_value_that_is_a_list_is_not_a_collection(storage):
    @op
    def listed(n):
        return [n, n]

    with storage:
        listed(1)
    cell = storage.cf(listed).df()["var_0"].iloc[0]
    assert cell == [1, 1] and type(cell) is list


def test_ref_collections_unwrap_to_value_collections(storage):
    with storage:
        for k in range(2):
            ensemble([train(n + k) for n in range(3)])
    cf = storage.cf(ensemble).expand_back(recursive=True)
    refs = cf.df(values="refs").sort_values("total", key=lambda s: s.map(storage.unwrap))
    cell = refs["elts"].iloc[0]
    assert type(cell) is RefCollection and all(isinstance(r, Ref) for r in cell)
    values = storage.unwrap(cell)
    assert type(values) is ValueCollection and values == [0, 10, 20]
    assert storage.unwrap([cell]) == [ValueCollection([0, 10, 20])]
    lazy = cf.df(lazy_vars=["elts"], include_calls=False)
    assert all(type(c) is RefCollection for c in lazy["elts"]) and all(type(c) is ValueCollection for c in lazy["n"])


def test_deleting_from_a_table_with_call_collections(storage, caplog):
    looped(storage)
    cf = storage.cf(evaluate).expand_back(recursive=True)
    df = cf.df().sort_values("score")
    with caplog.at_level(logging.INFO, logger="graphstore"):
        report = cf.delete_calls_from_df(df.iloc[[2]])
    assert report.by_op == {"evaluate": 1, "inc": 1, "scale": 3}
    assert [r.getMessage() for r in caplog.records] == ["Dropped 5 calls (evaluate: 1, inc: 1, scale: 3)"]
    assert len(storage.cf(evaluate).df()) == 2


def test_storage_drop_calls_logs_its_count(storage, caplog):
    composed(storage)
    calls = storage.cf(add).df()["add"].tolist()
    with caplog.at_level(logging.INFO, logger="graphstore"):
        storage.drop_calls(calls[:2])
    assert [r.getMessage() for r in caplog.records] == ["Dropped 2 calls (add: 2)"]
