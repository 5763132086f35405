"""``graphstore lineage STORE ID``: where a value came from, as a tree in the terminal (or a picture with ``-o``)."""

from __future__ import annotations

from typing import Any

import click

from ..backends import shown_location
from ..errors import StoreError
from ..storage import Storage
from .common import checked_id, emit_json, json_option, load_values_option, opened, store_argument


class _Tracer:
    """Walks back from refs to the calls that made them, one store read a step, each call once."""

    def __init__(self, storage: Storage, load_values: bool, depth: int | None) -> None:
        self.storage = storage
        self.load_values = load_values
        self.depth = depth
        self.seen: set[str] = set()

    def ref(self, hid: str, level: int) -> dict[str, Any]:
        node: dict[str, Any] = {"ref": hid}
        if self.load_values:
            node["value"] = repr(self.storage.unwrap(self.storage.load_ref(hid)))
        creator = self.storage.get_ref_creator(hid)
        if creator is None:
            node["made_by"] = None
        elif self.depth is not None and level >= self.depth:
            node["made_by"] = {"call": creator.hid, "op": creator.op_name, "cut": True}
        else:
            node["made_by"] = self.call(creator, level + 1)
        return node

    def call(self, call: Any, level: int) -> dict[str, Any]:
        node: dict[str, Any] = {"call": call.hid, "op": call.op_name}
        if call.hid in self.seen:
            node["shown_above"] = True
            return node
        self.seen.add(call.hid)
        node["inputs"] = {name: self.ref(ref.hid, level) for name, ref in call.inputs.items()}
        return node


def _text(node: dict[str, Any], label: str, prefix: str, last: bool, lines: list[str], top: bool = False) -> None:
    """Append the tree under a ref ``node`` to ``lines`` (box-drawing branches, like ``tree``)."""
    branch, below = ("", "") if top else (("└── ", "    ") if last else ("├── ", "│   "))
    value = f" = {node['value']}" if "value" in node else ""
    made = node["made_by"]
    given = " (given: made by no call)" if made is None else ""
    lines.append(f"{prefix}{branch}{label}ref {node['ref']}{value}{given}")
    if made is None:
        return
    prefix += below
    note = " (shown above)" if made.get("shown_above") else " ..." if made.get("cut") else ""
    lines.append(f"{prefix}└── {made['op']} call {made['call']}{note}")
    inputs = list(made.get("inputs", {}).items())
    for i, (name, child) in enumerate(inputs):
        _text(child, f"{name}: ", prefix + "    ", i == len(inputs) - 1, lines)


@click.command("lineage", short_help="Where a value came from: a tree, or a picture.")
@store_argument
@click.argument("id")
@click.option("--depth", type=click.IntRange(min=1), help="Follow at most this many calls back.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Draw the history to this file (.svg, .png, .pdf, .jpg)."
)
@load_values_option
@json_option
def lineage_command(
    store: str, id: str, depth: int | None, output: str | None, load_values: bool, as_json: bool
) -> None:
    """The history of a ref (or of a call's outputs) of store STORE: the call that made it, that call's inputs and
    the calls that made them, back to the first inputs, printed as a tree. A call met twice is shown once.

    With -o FILE the whole history is drawn by graphviz (every op one node) into FILE instead.

    \b
    Example:
        graphstore lineage runs.db 8c6b1e0f4a2d4a7f9e3b5c1d2e3f4a5b
    """
    hid = checked_id(id)
    with opened(store, load_values=load_values) as storage:
        call = storage.backend.get_calls([hid]).get(hid)
        if call is None and not storage.backend.get_refs([hid]):
            raise StoreError(f"store {shown_location(store)} holds no call or ref with id {hid}")
        if output is not None:
            _draw(storage, hid, call is not None, output)
            if as_json:
                emit_json({"id": hid, "output": output})
            else:
                click.echo(f"drew the history of {hid} into {output}")
            return
        tracer = _Tracer(storage, load_values, depth)
        roots = [(name, out_hid) for name, out_hid, _ in call.outputs] if call is not None else [("", hid)]
        trees = [(name, tracer.ref(ref_hid, 0)) for name, ref_hid in roots]
    if as_json:
        emit_json(trees[0][1] if call is None else {"call": hid, "outputs": dict(trees)})
        return
    lines: list[str] = []
    for name, tree in trees:
        _text(tree, f"{name}: " if name else "", "", True, lines, top=True)
    click.echo("\n".join(lines))


def _draw(storage: Storage, hid: str, is_call: bool, path: str) -> None:
    from ..query import provenance_frame

    if is_call:
        frame = storage.cf([hid]).expand_back(recursive=True)
    else:
        frame = provenance_frame(storage, storage.load_ref(hid, in_memory=False))
    frame.draw(path=path)
