"""The ``graphstore`` command: tools for stores from the shell.

Each command group lives in a module of its own (``info.py``, ``calls.py``, ``lineage.py``, ``frames.py``,
``versions.py``, ``upkeep.py``, ``copy.py``, ``db.py``; ``common.py`` holds what they share) and is added to
:data:`main` here; click is imported by this package alone. A graphstore error ends the command with one line on
stderr (``Error: ...``, no traceback) and exit code 1; a command used wrongly exits with 2 and its usage;
``check`` finding problems exits with 3. No command creates a store that is not there, and none unpickles a stored
value unless given ``--load-values``. See docs/cli.md.

Run it as ``graphstore --help`` (or ``python -m graphstore --help``)::

    graphstore copy runs.db postgresql://alice@db.example.org/team --target-overflow-dir /shared/overflow
    graphstore db upgrade runs.db
    graphstore info runs.db
    graphstore calls runs.db train --where lr=0.1 --format csv
"""

from __future__ import annotations

from typing import Any

import click

from ..errors import GraphstoreError
from .calls import calls_command, show_command
from .copy import copy_command
from .db import db_group
from .frames import draw_command, frame_command, sql_command
from .info import info_command, ops_command
from .lineage import lineage_command
from .upkeep import backup_command, check_command, gc_command
from .versions import versions_command


class _Commands(click.Group):
    """A group whose commands report graphstore errors as one line (click prints ``Error: ...``, exit code 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GraphstoreError as exc:
            raise click.ClickException(" ".join(str(exc).split())) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="graphstore", prog_name="graphstore")
def main() -> None:
    """graphstore: memoized Python functions recorded as a queryable computation graph."""


for _command in (
    info_command,
    ops_command,
    calls_command,
    show_command,
    lineage_command,
    frame_command,
    sql_command,
    draw_command,
    versions_command,
    check_command,
    gc_command,
    backup_command,
    copy_command,
    db_group,
):
    main.add_command(_command)

__all__ = ["main"]
