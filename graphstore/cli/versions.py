"""``graphstore versions STORE OP``: the code versions an op's calls ran under (stores made with versioning, see
docs/versioning.md), read from the store alone."""

from __future__ import annotations

import click

from ..backends import shown_location
from ..errors import VersioningError
from .calls import known_op
from .common import emit_json, emit_table, opened, store_argument, table_options, when


@click.command("versions", short_help="The code versions an op's calls ran under.")
@store_argument
@click.argument("op")
@click.option(
    "--code",
    is_flag=True,
    help="Print the recorded source of every version's functions instead (with --json: version -> name -> source).",
)
@table_options
def versions_command(store: str, op: str, code: bool, fmt: str | None, output: str | None, as_json: bool) -> None:
    """The code versions of op OP in store STORE (made with versioning: Storage(deps_path=...)): one row per
    version, with the op's own version, the version's id, its semantic id (equal for versions that differ in form
    only), how many calls ran under it, when it was first recorded, and the functions and globals it depends on.

    Whether a version matches the code now is for Python to say (storage.versions(op)), where the code is.

    \b
    Example:
        graphstore versions runs.db train --code
    """
    import pandas as pd

    rows = []
    sources: list[tuple[str, dict[str, str | None]]] = []
    with opened(store) as storage:
        known_op(storage, store, op)
        if storage.backend.get_meta("versioning") != "on":
            raise VersioningError(
                f"store {shown_location(store)} was made without versioning: its calls carry no code versions"
            )
        for op_version in sorted(set(storage.ops().query("op == @op")["version"])):
            counts = storage.backend.version_call_counts(op, int(op_version))
            for v in sorted(storage.backend.load_versions(op, int(op_version)), key=lambda v: v.created_at):
                rows.append(
                    {
                        "op_version": v.op_version,
                        "version": v.version_id,
                        "semantic": v.semantic_version,
                        "calls": counts.get(v.version_id, 0),
                        "recorded": when(v.created_at),
                        "depends_on": " ".join(sorted(key for _, key, _ in v.deps)),
                    }
                )
                if code:
                    sources.append((v.version_id, storage.code(v.version_id)))
    if not code:
        columns = ["op_version", "version", "semantic", "calls", "recorded", "depends_on"]
        emit_table(pd.DataFrame(rows, columns=columns), fmt, output, as_json)
        return
    if as_json:
        emit_json(dict(sources))
        return
    for version_id, deps in sources:
        click.echo(f"### version {version_id}")
        for key, source in sorted(deps.items()):
            click.echo(f"# {key}" if source is None else source.rstrip("\n"))
        click.echo("")
