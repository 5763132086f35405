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


def test_a_frames_display_renders_in_a_browser_with_the_data_it_shows(storage, tmp_path):
    """The frame's notebook HTML opened in a headless chromium: the page it renders holds the summary's counts and
    a picture with every node of the frame, and a screenshot is drawn."""
    import shutil
    import subprocess
    from html.parser import HTMLParser

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is not installed (scripts/test.sh installs it with apt-get)"
    recorded(storage)
    cf = storage.cf(shout).expand_back(recursive=True)
    page = tmp_path / "frame.html"
    page.write_text(f"<!doctype html><html><body>{cf._repr_html_()}</body></html>")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path}"]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout

    class Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.svg_text, self.text, self.inside = [], [], []

        def handle_starttag(self, tag, attrs):
            self.inside.append(tag)

        def handle_endtag(self, tag):
            while self.inside and self.inside.pop() != tag:
                pass

        def handle_data(self, data):
            (self.svg_text if "svg" in self.inside else self.text).append(data.strip())

    seen = Text()
    seen.feed(dom)
    assert "\n".join(seen.text).strip().startswith(str(cf).splitlines()[0])
    for line in str(cf).splitlines():
        assert line.strip() in dom  # the summary, as the browser holds it
    assert set(cf.nodes) <= set(seen.svg_text)  # every node drawn, named
    shot = tmp_path / "frame.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=900,900", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5_000


def test_pictures_of_the_seed_pipeline_and_of_one_values_lineage(storage, tmp_path):
    """The seed pipeline's frame and one accuracy's lineage drawn into files: every op and variable is a node,
    ops and variables look different, and edges carry the argument names."""
    import re

    from test_frame_basic import get_acc, seed_pipeline

    seed_pipeline(storage)
    cf = storage.cf(get_acc).expand_all()
    pic = cf.draw(verbose=True, path=tmp_path / "pipeline.svg")
    cf.draw(path=tmp_path / "pipeline.png")
    assert (tmp_path / "pipeline.png").read_bytes()[:4] == b"\x89PNG"
    svg = (tmp_path / "pipeline.svg").read_text()
    assert svg == pic.svg
    titles = set(re.findall(r"<title>([^<]+)</title>", svg))
    assert set(cf.nodes) <= titles
    for name in ("load_data", "train_model", "get_acc"):
        assert re.search(rf'"{name}"\s*\[shape=box, style="rounded,filled"', pic.dot)  # ops: rounded, one colour
    assert re.search(r'"?X"?\s*\[shape=box, style=filled, fillcolor="#dbe9f6"', pic.dot)  # variables: another
    for label in ("n_estimators", "model", "n_class"):
        assert f">{label}</text>" in svg  # an edge labelled with its argument's name
    assert "4 calls" in svg and "2 calls" in svg  # verbose: counts
    acc = cf.df(values="refs")["acc"].iloc[0]
    storage.provenance(acc).draw(path=tmp_path / "lineage.svg")
    lineage = (tmp_path / "lineage.svg").read_text()
    assert ">train_model</text>" in lineage and ">load_data</text>" in lineage and ">1 call" not in lineage
