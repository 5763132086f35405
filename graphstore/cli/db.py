"""``graphstore db ...``: the store itself (its schema)."""

from __future__ import annotations

import click

from ..backends import shown_location, upgrade_store


@click.group("db")
def db_group() -> None:
    """The store itself: its schema version."""


@db_group.command("upgrade")
@click.argument("location")
def upgrade_command(location: str) -> None:
    """Bring the store at LOCATION (a SQLite file or a postgresql:// URL) to this graphstore's schema version.

    Clients of older graphstore versions cannot open the store afterwards. Nothing is created where there is no
    store.

    \b
    Example:
        graphstore db upgrade postgresql://alice@db.example.org/team
    """
    before, after = upgrade_store(location)
    where = shown_location(location)
    if before == after:
        click.echo(f"store {where}: schema version {after}, already current")
    else:
        click.echo(f"store {where}: schema version {before} -> {after}")
