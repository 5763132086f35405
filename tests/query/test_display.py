"""What a notebook shows (``_repr_html_``) for Refs, Calls, provenance and frames; pictures of a value's lineage."""

from __future__ import annotations

import html

from graphstore import op


@op(output_names=["label"])
def tag(name, n):
    return f"<b>{name}</b>#{n}"


@op
def shout(label):
    return label.upper()


def recorded(storage):
    with storage:
        out = shout(tag("x<y", 3))
    return out


def test_a_ref_shows_its_ids_and_its_value_or_that_it_is_not_loaded(storage):
    out = recorded(storage)
    shown = out._repr_html_()
    assert out.hid[:8] in shown and out.cid[:8] in shown
    assert html.escape(repr("<B>X<Y</B>#3")) in shown and "<B>" not in shown  # the value, escaped
    lazy = out.detached()
    assert "value not loaded" in lazy._repr_html_() and "X&lt;Y" not in lazy._repr_html_()
    assert repr(out).startswith("AtomRef('<B>X<Y</B>#3', hid=")  # the text repr is unchanged


def test_a_call_shows_its_op_inputs_and_outputs(storage):
    recorded(storage)
    call = storage.cf(tag).df()["tag"][0]
    shown = call._repr_html_()
    assert "<b>tag</b>" in shown and call.hid[:8] in shown
    for name, ref in {**call.inputs, **call.outputs}.items():
        assert f"<td>{name}</td>" in shown and ref.hid[:8] in shown
    assert shown.count("<tr>") == 1 + 3  # a header, two inputs, one output


def test_provenance_shows_its_table_and_picture_and_draws_to_a_file(storage, tmp_path):
    out = recorded(storage)
    lineage = storage.provenance(out)
    shown = lineage._repr_html_()
    assert "<table" in shown and "<svg" in shown and html.escape("x<y") in shown
    path = lineage.draw(path=tmp_path / "lineage.png", verbose=True)
    assert (tmp_path / "lineage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "1 call" in path.dot and "shout" in path.dot and "tag" in path.dot
    pdf = tmp_path / "lineage.pdf"
    lineage.draw(path=pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
