"""How Refs and Calls show in a notebook (``_repr_html_``): a Ref's kind, ids and a preview of its value (or that it
is not loaded), a Call's op, ids and its inputs and outputs. Text reprs (a terminal) are the classes' own.

>>> from graphstore.refs import AtomRef
>>> print(ref_html(AtomRef("c" * 32, "a" * 32)).replace("> <", ">\\n<"))
<div class="graphstore-ref"><b>AtomRef</b>
<code title="history id">aaaaaaaa…</code>
<code title="content id">cccccccc…</code><br><i>value not loaded</i></div>
"""

from __future__ import annotations

import html
import reprlib
from typing import Any

PREVIEW = reprlib.Repr()
"""How much of a value a preview shows."""
PREVIEW.maxstring = PREVIEW.maxother = 200
PREVIEW.maxlist = PREVIEW.maxdict = 12
PREVIEW.maxlevel = 3


def short_id(hid: str, what: str) -> str:
    return f'<code title="{what}">{html.escape(hid[:8])}…</code>'


def ref_html(ref: Any) -> str:
    """A Ref as HTML: kind, history and content ids, and a preview of the value when it is loaded."""
    body = f"<pre>{html.escape(PREVIEW.repr(ref.obj))}</pre>" if ref.in_memory else "<br><i>value not loaded</i>"
    return (
        f'<div class="graphstore-ref"><b>{type(ref).__name__}</b> {short_id(ref.hid, "history id")} '
        f"{short_id(ref.cid, 'content id')}{body}</div>"
    )


def _ref_cell(ref: Any) -> str:
    if ref is None:
        return ""
    value = html.escape(PREVIEW.repr(ref.obj)) if ref.in_memory else "<i>not loaded</i>"
    return f"{short_id(ref.hid, 'history id')} {value}"


def call_html(call: Any) -> str:
    """A Call as HTML: its op and ids, then a table of its inputs and outputs (a value shown when loaded)."""
    rows = [
        f"<tr><td>{kind}</td><td>{html.escape(str(name))}</td><td>{_ref_cell(ref)}</td></tr>"
        for kind, refs in (("input", call.inputs), ("output", call.outputs))
        for name, ref in refs.items()
    ]
    return (
        f'<div class="graphstore-call"><b>Call</b> of <b>{html.escape(call.op_name)}</b> '
        f"{short_id(call.hid, 'history id')} {short_id(call.cid, 'content id')}"
        f"<table><tr><th></th><th>name</th><th>ref</th></tr>{''.join(rows)}</table></div>"
    )
