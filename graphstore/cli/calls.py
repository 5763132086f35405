"""``graphstore calls STORE OP`` (an op's calls, filtered by argument values) and ``graphstore show STORE ID`` (one
call or ref). Values stay unread unless ``--load-values``: a cell shows a ref's id, ``show`` a value's content id and
size.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..backends import shown_location
from ..errors import StoreError
from ..refs import wrap_atom
from ..storage import Storage
from .common import (
    checked_id,
    emit_json,
    emit_table,
    json_option,
    load_values_option,
    opened,
    store_argument,
    table_options,
    when,
)


def known_op(storage: Storage, location: str, name: str) -> None:
    """Refuse an op name the store does not hold, naming the ones it does."""
    names = sorted(set(storage.ops()["op"]))
    if name not in names:
        known = ", ".join(names) or "none"
        raise StoreError(f"store {shown_location(location)} holds no op named {name!r} (ops: {known})")


def parse_value(text: str) -> Any:
    """A value given on the command line: JSON if it reads as JSON (``3``, ``2.5``, ``true``, ``"3"``, ``[1, 2]``),
    else the text itself.

    >>> parse_value("3"), parse_value("alice"), parse_value('"3"')
    (3, 'alice', '3')
    """
    try:
        return json.loads(text)
    except ValueError:
        return text


def _filtered_frame(storage: Storage, op: str, where: tuple[str, ...]) -> Any:
    """The frame of ``op``'s calls whose arguments have the given values (compared by content id, in SQL)."""
    frame = storage.cf(op)
    func = frame.pattern.funcs_of_op(op)[0].name
    inputs = {edge.label: edge.var for edge in frame.pattern.inputs(func)}
    for condition in where:
        name, sep, text = condition.partition("=")
        if not sep:
            raise click.BadParameter(f"{condition!r} is not NAME=VALUE", param_hint="--where")
        if name not in inputs:
            raise StoreError(f"op {op} has no argument {name!r} (its arguments: {', '.join(sorted(inputs))})")
        frame = frame.where(inputs[name], cids=[wrap_atom(parse_value(text)).cid])
    return frame


@click.command("calls", short_help="An op's calls, filtered by argument values.")
@store_argument
@click.argument("op")
@click.option("--where", "where", multiple=True, metavar="NAME=VALUE", help="Keep calls whose argument NAME was VALUE.")
@click.option("--limit", type=click.IntRange(min=0), help="At most this many calls (the latest).")
@load_values_option
@table_options
def calls_command(
    store: str,
    op: str,
    where: tuple[str, ...],
    limit: int | None,
    load_values: bool,
    fmt: str | None,
    output: str | None,
    as_json: bool,
) -> None:
    """The calls of op OP in store STORE, latest first: the call's id, when it ran, how long it took, the op's
    version, and a column per argument and output holding the ref's id (its value with --load-values).

    --where NAME=VALUE (repeatable) keeps the calls whose argument NAME had that value. VALUE is read as JSON when
    it can be (3, 2.5, true, "3", [1, 2]), else as text, and compared with the stored arguments by content id: 3
    matches an int 3, not 3.0 or a numpy integer.

    \b
    Example:
        graphstore calls runs.db train --where lr=0.1 --limit 5
    """
    import pandas as pd

    with opened(store, load_values=load_values) as storage:
        known_op(storage, store, op)
        calls = _filtered_frame(storage, op, where).calls
        records = sorted(storage.backend.get_calls(list(calls)).values(), key=lambda r: (-r.created_at, r.hid))
        if limit is not None:
            records = records[:limit]
        rows = []
        for record in records:
            cells = {name: hid for name, hid, _ in (*record.inputs, *record.outputs)}
            if load_values:
                call = calls[record.hid]
                refs = {**call.inputs, **call.outputs}
                cells = dict(zip(cells, storage.unwrap([refs[name] for name in cells])))
            row = {"call": record.hid, "created": when(record.created_at), "seconds": round(record.duration, 6)}
            row["version"] = record.op_version
            rows.append({**row, **cells})
    emit_table(
        pd.DataFrame(rows, columns=None if rows else ["call", "created", "seconds", "version"]), fmt, output, as_json
    )


def _values(storage: Storage, refs: list[tuple[str, str, str]], load_values: bool) -> list[dict[str, Any]]:
    """``(name, hid, cid)`` of refs as JSON-ready objects: ids, kind, size of the stored value (atoms), value."""
    kinds = storage.backend.get_refs([hid for _, hid, _ in refs])
    sizes = storage.backend.value_sizes([cid for _, _, cid in refs])
    out = []
    for name, hid, cid in refs:
        item: dict[str, Any] = {"name": name, "ref": hid, "content": cid, "kind": kinds.get(hid, ("", "?"))[1]}
        item["bytes"] = sizes.get(cid)
        if load_values:
            item["value"] = repr(storage.unwrap(storage.load_ref(hid)))
        out.append(item)
    return out


def describe(storage: Storage, location: str, hid: str, load_values: bool) -> dict[str, Any]:
    """What ``show`` prints of the call or ref ``hid``."""
    record = storage.backend.get_calls([hid]).get(hid)
    if record is not None:
        return {
            "kind": "call",
            "call": hid,
            "content": record.cid,
            "op": record.op_name,
            "op_version": record.op_version,
            "created": when(record.created_at),
            "seconds": record.duration,
            "code_version": record.version_id,
            "inputs": _values(storage, list(record.inputs), load_values),
            "outputs": _values(storage, list(record.outputs), load_values),
        }
    found = storage.backend.get_refs([hid]).get(hid)
    if found is None:
        raise StoreError(f"store {shown_location(location)} holds no call or ref with id {hid}")
    cid, kind = found
    about = _values(storage, [("", hid, cid)], load_values)[0]
    creator = storage.get_ref_creator(hid)
    consumers = storage.get_consumers([hid])
    out = {"kind": "ref", **{k: v for k, v in about.items() if k != "name"}, "ref_kind": kind}
    out["created_by"] = None
    if creator is not None:
        names = [name for name, ref in creator.outputs.items() if ref.hid == hid]
        out["created_by"] = {"call": creator.hid, "op": creator.op_name, "output": names[0] if names else None}
    out["used_by"] = [
        {"call": c.hid, "op": c.op_name, "argument": name}
        for c in sorted(consumers, key=lambda c: c.hid)
        for name, ref in c.inputs.items()
        if ref.hid == hid
    ]
    if kind != "atom":
        out["elements"] = len(storage.backend.load_members([hid]).get(hid, []))
    return out


def _ref_lines(items: list[dict[str, Any]]) -> list[str]:
    width = max([len(i["name"]) for i in items] + [4])
    lines = []
    for i in items:
        size = "" if i["bytes"] is None else f"  {i['bytes']} B"
        value = f"  = {i['value']}" if "value" in i else ""
        lines.append(f"  {i['name']:<{width}}  ref {i['ref']}  content {i['content']}{size}{value}")
    return lines


@click.command("show", short_help="One call or ref, by its id.")
@store_argument
@click.argument("id")
@load_values_option
@json_option
def show_command(store: str, id: str, load_values: bool, as_json: bool) -> None:
    """One call or ref of store STORE by its id (32 hex digits, as the other commands print them).

    A call: its op and version, when it ran and for how long, the code version it ran under, and its inputs and
    outputs (ref ids, content ids, sizes). A ref: its content id and size, the call that made it and the calls
    that used it. Values are shown only with --load-values.

    \b
    Example:
        graphstore show runs.db 8c6b1e0f4a2d4a7f9e3b5c1d2e3f4a5b
    """
    with opened(store, load_values=load_values) as storage:
        found = describe(storage, store, checked_id(id), load_values)
    if as_json:
        emit_json(found)
        return
    if found["kind"] == "call":
        code = f", code version {found['code_version']}" if found["code_version"] else ""
        click.echo(f"call {found['call']}: {found['op']} (version {found['op_version']}{code})")
        click.echo(f"  ran {found['created']} UTC, took {found['seconds']:.6f} s; content id {found['content']}")
        click.echo("inputs")
        click.echo("\n".join(_ref_lines(found["inputs"])) or "  (none)")
        click.echo("outputs")
        click.echo("\n".join(_ref_lines(found["outputs"])) or "  (none)")
        return
    click.echo(f"ref {found['ref']}: {found['ref_kind']}, content id {found['content']}")
    if found["bytes"] is not None:
        click.echo(f"  stored value: {found['bytes']} B")
    if "elements" in found:
        click.echo(f"  elements: {found['elements']}")
    if "value" in found:
        click.echo(f"  = {found['value']}")
    made = found["created_by"]
    click.echo(f"made by {made['op']} call {made['call']} ({made['output']})" if made else "made by no call (an input)")
    for use in found["used_by"]:
        click.echo(f"used by {use['op']} call {use['call']} (argument {use['argument']})")
