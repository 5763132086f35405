"""``graphstore copy SRC DST``: copy every record of one store into another (see :func:`graphstore.copy_store`)."""

from __future__ import annotations

import json

import click

from ..copying import copy_store

_KINDS = ("calls", "refs", "values", "members", "ops", "commits", "versions", "overflow_files")


@click.command("copy", short_help="Copy every record of one store into another.")
@click.argument("source")
@click.argument("target")
@click.option("--source-overflow-dir", type=click.Path(file_okay=False), help="Where the source keeps large values.")
@click.option("--target-overflow-dir", type=click.Path(file_okay=False), help="Where the target keeps large values.")
@click.option("--batch-size", type=click.IntRange(min=1), default=5000, show_default=True, help="Records per batch.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
def copy_command(
    source: str,
    target: str,
    source_overflow_dir: str | None,
    target_overflow_dir: str | None,
    batch_size: int,
    as_json: bool,
) -> None:
    """Copy every record of store SOURCE into store TARGET (each a SQLite file or a postgresql:// URL).

    The source is only read. The target is created if there is none; records it holds already are kept, so copying
    into a store merges, and copying again adds nothing. Large values in overflow files are copied and checked
    against their checksums (a SQLite file keeps them in FILE-overflow by default; a PostgreSQL store has a folder
    only when given).

    \b
    Example:
        graphstore copy runs.db postgresql://alice@db.example.org/team --target-overflow-dir /shared/overflow
    """
    report = copy_store(
        source,
        target,
        source_overflow_dir=source_overflow_dir,
        target_overflow_dir=target_overflow_dir,
        batch_size=batch_size,
    )
    if as_json:
        click.echo(json.dumps(report.as_dict(), sort_keys=True))
        return
    click.echo(f"copied {report.source} into {report.target}")
    click.echo(f"  {'records':<16}{'read':>12}{'new':>12}")
    for kind in _KINDS:
        new = report.added.get(kind)
        click.echo(f"  {kind.replace('_', ' '):<16}{report.read.get(kind, 0):>12}{'' if new is None else new:>12}")
