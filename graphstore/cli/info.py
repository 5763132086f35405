"""``graphstore info STORE`` and ``graphstore ops STORE``: what a store holds, read without its code."""

from __future__ import annotations

from typing import Any

import click

from ..backends import schema_versions, shown_location
from ..storage import Storage, default_overflow_dir
from .common import (
    emit_json,
    emit_table,
    folder_bytes,
    human_bytes,
    json_option,
    opened,
    overflow_option,
    store_argument,
    table_options,
)

_KINDS = ("ops", "calls", "refs", "values", "edges", "members")


def summary(storage: Storage, location: str, overflow_dir: str | None) -> dict[str, Any]:
    """What ``info`` reports, as one JSON-ready object."""
    if overflow_dir is None and "://" not in location:
        overflow_dir = default_overflow_dir(location)
    counts = storage.cache_info()
    ops = op_table(storage)
    return {
        "store": shown_location(location),
        "engine": storage.backend.sql_dialect,
        "schema_version": schema_versions(location)[0],
        "disk_bytes": storage.backend.disk_bytes(),
        "overflow_bytes": folder_bytes(overflow_dir),
        "counts": {k: counts.get(k, 0) for k in _KINDS},
        "versioning": storage.backend.get_meta("versioning") == "on",
        "ops": ops.to_dict("records"),
    }


def op_table(storage: Storage) -> Any:
    """``storage.ops()``, its times to the second."""
    table = storage.ops()
    for column in ("first", "last"):
        table[column] = table[column].dt.floor("s")
    return table


@click.command("info", short_help="What a store holds: engine, size, records, ops.")
@store_argument
@overflow_option
@json_option
def info_command(store: str, overflow_dir: str | None, as_json: bool) -> None:
    """What the store STORE (a SQLite file or a postgresql:// URL) holds: its engine, schema version, size, how
    many records of each kind, and its ops with their versions and calls. Reads no value.

    \b
    Example:
        graphstore info runs.db
    """
    with opened(store, overflow_dir=overflow_dir) as storage:
        found = summary(storage, store, overflow_dir)
    if as_json:
        emit_json(found)
        return
    place = "database" if found["engine"] == "postgres" else "file"
    counts = found["counts"]
    click.echo(f"store           {found['store']}")
    click.echo(f"engine          {found['engine']}, schema version {found['schema_version']}")
    click.echo(f"size            {human_bytes(found['disk_bytes'])} ({place})")
    click.echo(f"overflow files  {human_bytes(found['overflow_bytes'])}")
    click.echo("records         " + ", ".join(f"{counts[k]} {k}" for k in _KINDS))
    click.echo(f"versioning      {'on: see graphstore versions' if found['versioning'] else 'off'}")
    click.echo("")
    if not found["ops"]:
        click.echo("no ops")
        return
    width = max(len(op["op"]) for op in found["ops"])
    click.echo(f"{'op':<{width}}  {'version':>7}  {'calls':>8}  last call (UTC)")
    for op in found["ops"]:
        last = "" if op["last"] is None or op["last"] != op["last"] else op["last"].strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{op['op']:<{width}}  {op['version']:>7}  {op['calls']:>8}  {last}")


@click.command("ops", short_help="A store's ops with their versions and calls.")
@store_argument
@table_options
def ops_command(store: str, fmt: str | None, output: str | None, as_json: bool) -> None:
    """The ops of the store STORE, one row per op and version: op, version, calls, and the times of the first and
    the last call (UTC).

    \b
    Example:
        graphstore ops runs.db --format csv
    """
    with opened(store) as storage:
        table = op_table(storage)
    emit_table(table, fmt, output, as_json)
