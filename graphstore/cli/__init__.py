"""The ``graphstore`` command: tools for stores from the shell.

Each command group lives in a module of its own (``copy.py``, ``db.py``) and is added to :data:`main` here; click is
imported by this package alone. A graphstore error ends the command with one line on stderr (``Error: ...``, no
traceback) and exit code 1; a command used wrongly exits with 2 and its usage. No command ever unpickles a stored
value.

Run it as ``graphstore --help`` (or ``python -m graphstore --help``)::

    graphstore copy runs.db postgresql://alice@db.example.org/team --target-overflow-dir /shared/overflow
    graphstore db upgrade runs.db
"""

from __future__ import annotations

from typing import Any

import click

from ..errors import GraphstoreError
from .copy import copy_command
from .db import db_group


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


main.add_command(copy_command)
main.add_command(db_group)

__all__ = ["main"]
