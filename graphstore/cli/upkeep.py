"""``graphstore check|gc|backup STORE``: verify a store, give back the space of what nothing uses, copy it.

Exit codes: 0 when all is well, 1 on an error, 2 on a command used wrongly, 3 when ``check`` finds problems.
"""

from __future__ import annotations

import os

import click

from ..backends import shown_location
from ..copying import copy_store
from ..errors import StoreError
from .common import emit_json, human_bytes, json_option, opened, overflow_option, store_argument

PROBLEMS_FOUND = 3
"""The exit code of ``graphstore check`` on a store with problems."""


@click.command("check", short_help="Verify a store (exit code 3 on problems).")
@store_argument
@click.option("--quick", is_flag=True, help="Skip re-checksumming every stored value.")
@overflow_option
@json_option
def check_command(store: str, quick: bool, overflow_dir: str | None, as_json: bool) -> None:
    """Verify store STORE: the database's own check, every edge to an existing call and ref, every ref to a value,
    every collection to its elements, every overflow file present with its size and checksum, and (unless --quick)
    every stored value against its checksum. Nothing is unpickled and nothing changed.

    Exits with 0 when the store is sound and 3 when problems were found (each printed on a line).

    \b
    Example:
        graphstore check runs.db || echo "runs.db needs attention"
    """
    with opened(store, overflow_dir=overflow_dir) as storage:
        report = storage.check(full=not quick)
    if as_json:
        emit_json({"store": shown_location(store), "ok": report.ok, "problems": report.problems})
    elif report.ok:
        click.echo(f"store {shown_location(store)}: no problems found")
    else:
        click.echo(f"store {shown_location(store)}: {len(report.problems)} problem(s)")
        for problem in report.problems:
            click.echo(f"  {problem}")
    if not report.ok:
        click.get_current_context().exit(PROBLEMS_FOUND)


@click.command("gc", short_help="Delete what no call uses, give the space back.")
@store_argument
@click.option("--dry-run", is_flag=True, help="Say what would go; delete nothing.")
@click.option("--no-vacuum", is_flag=True, help="Delete, but leave the space to the database for reuse.")
@overflow_option
@json_option
def gc_command(store: str, dry_run: bool, no_vacuum: bool, overflow_dir: str | None, as_json: bool) -> None:
    """Delete what no call uses any more from store STORE (refs no call has, values no ref holds, and their
    overflow files, as after deleting calls), then give the space back to the file system (vacuum). Deleting calls
    is done from Python (storage.drop_calls, cf.delete_calls); this removes what they leave.

    \b
    Example:
        graphstore gc runs.db --dry-run
    """
    with opened(store, write=True, overflow_dir=overflow_dir) as storage:
        before = storage.backend.disk_bytes()
        gone = storage.cleanup_refs(dry_run=dry_run)
        vacuum = not (dry_run or no_vacuum)
        if vacuum:
            storage.vacuum()
        after = storage.backend.disk_bytes()
    if as_json:
        emit_json({"store": shown_location(store), "dry_run": dry_run, "deleted": gone, "disk_bytes": [before, after]})
        return
    what = f"{gone['refs']} refs, {gone['values']} values and {gone['overflow_files']} overflow files"
    if dry_run:
        click.echo(f"store {shown_location(store)}: would delete {what} (nothing was deleted)")
        return
    click.echo(f"store {shown_location(store)}: deleted {what}")
    if vacuum:
        click.echo(f"  size {human_bytes(before)} -> {human_bytes(after)}")


@click.command("backup", short_help="Copy a store, as of one instant, to a new file.")
@store_argument
@click.argument("dest", type=click.Path(dir_okay=False))
@overflow_option
@json_option
def backup_command(store: str, dest: str, overflow_dir: str | None, as_json: bool) -> None:
    """Copy store STORE, complete and consistent as it was at one instant (others may record meanwhile), to a new
    SQLite file DEST, with its overflow files into DEST-overflow. A store on a PostgreSQL server is copied record by
    record into DEST (as `graphstore copy` does).

    \b
    Example:
        graphstore backup runs.db backups/runs-monday.db
    """
    if os.path.exists(dest):
        raise StoreError(f"cannot back store {shown_location(store)} up to {dest}: the file exists (choose a new path)")
    with opened(store, overflow_dir=overflow_dir) as storage:
        if "://" in store:
            copy_store(store, dest, source_overflow_dir=overflow_dir)
        else:
            storage.backup(dest)
        calls = storage.cache_info()["calls"]
    if as_json:
        emit_json({"store": shown_location(store), "backup": dest, "calls": calls})
    else:
        click.echo(f"backed store {shown_location(store)} up to {dest} ({calls} calls)")
