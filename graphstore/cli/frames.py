"""``graphstore frame|sql|draw STORE OP``: an op's ComputationFrame (``storage.cf(name)``, no code needed), grown
back, forward or both: its history table, the SQL it runs, its picture."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..storage import Storage
from .calls import known_op
from .common import emit_json, emit_table, json_option, load_values_option, opened, store_argument, table_options

_EXPANSIONS = ("none", "back", "forward", "all")


def expand_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--expand",
        type=click.Choice(_EXPANSIONS),
        default="none",
        show_default=True,
        help="Grow the frame: back to the calls that made the op's inputs, forward to the calls that used its "
        "outputs, or all (both, until nothing is added).",
    )(command)


def op_frame(storage: Storage, location: str, op: str, expand: str) -> Any:
    """The frame of op ``op``'s calls, grown as ``expand`` says."""
    known_op(storage, location, op)
    frame = storage.cf(op)
    if expand == "back":
        return frame.expand_back(recursive=True)
    if expand == "forward":
        return frame.expand_forward(recursive=True)
    if expand == "all":
        return frame.expand_all()
    return frame


@click.command("frame", short_help="An op's history table (its frame), grown back or forward.")
@store_argument
@click.argument("op")
@expand_option
@load_values_option
@table_options
def frame_command(
    store: str, op: str, expand: str, load_values: bool, fmt: str | None, output: str | None, as_json: bool
) -> None:
    """The history table of op OP in store STORE: one row per history, a column per variable (ref ids; values
    with --load-values) and per op (call ids).

    \b
    Example:
        graphstore frame runs.db train --expand back --format csv
    """
    with opened(store, load_values=load_values) as storage:
        table = op_frame(storage, store, op, expand).df(values="objs" if load_values else "refs")
    emit_table(table, fmt, output, as_json)


@click.command("sql", short_help="The SQL that makes an op's history table.")
@store_argument
@click.argument("op")
@expand_option
@json_option
def sql_command(store: str, op: str, expand: str, as_json: bool) -> None:
    """The SQL statements that make the history table of op OP (as `graphstore frame` makes it), in the store's
    dialect.

    \b
    Example:
        graphstore sql runs.db train --expand back
    """
    with opened(store) as storage:
        sql = op_frame(storage, store, op, expand).sql()
    if as_json:
        emit_json({"op": op, "expand": expand, "sql": sql})
    else:
        click.echo(sql)


@click.command("draw", short_help="Draw an op's frame into a picture.")
@store_argument
@click.argument("op")
@expand_option
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="The picture (.svg, .png, .pdf, .jpg)."
)
@click.option("--orientation", type=click.Choice(["TB", "LR", "BT", "RL"]), default="TB", show_default=True)
@json_option
def draw_command(store: str, op: str, expand: str, output: str, orientation: str, as_json: bool) -> None:
    """Draw the frame of op OP in store STORE (its variables and ops, with how many refs and calls each holds) into
    a picture, with graphviz's dot.

    \b
    Example:
        graphstore draw runs.db train --expand all -o train.svg
    """
    with opened(store) as storage:
        op_frame(storage, store, op, expand).draw(verbose=True, orientation=orientation, path=output)
    if as_json:
        emit_json({"op": op, "expand": expand, "output": output})
    else:
        click.echo(f"drew the frame of {op} into {output}")
