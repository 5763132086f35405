"""What the commands that look into a store share: opening it without creating or unpickling anything, checking
ids, and printing tables (aligned, CSV, JSON or parquet) and JSON objects.

>>> plain({"n": 1, "when": __import__("datetime").date(2024, 1, 2), "raw": b"\\x01"})
{'n': 1, 'when': '2024-01-02', 'raw': '01'}
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import click
import numpy as np

from ..backends import open_backend, schema_versions, shown_location
from ..errors import StoreError
from ..refs import Call, Ref
from ..storage import Storage

FORMATS = ("table", "csv", "json", "parquet")
_BY_EXTENSION = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".txt": "table"}
_ID = re.compile(r"[0-9a-f]{32}\Z")

store_argument = click.argument("store", metavar="STORE")
load_values_option = click.option(
    "--load-values",
    is_flag=True,
    help="Load and show stored values. This unpickles them, which can run code: only for stores you trust.",
)
overflow_option = click.option(
    "--overflow-dir",
    type=click.Path(file_okay=False),
    help="Where the store keeps large values (default: FILE-overflow beside a SQLite file; a server's store has none).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")


@contextlib.contextmanager
def opened(
    location: str, *, write: bool = False, load_values: bool = False, overflow_dir: str | None = None
) -> Iterator[Storage]:
    """The Storage of the store at ``location``, read-only unless ``write``, closed afterwards. A missing store is an
    error (none is created). Values decode only with ``load_values`` (otherwise reading one raises rather than
    unpickles). A store made with versioning is opened with an empty code folder: its records are read, no code is
    compared. ``overflow_dir``: where the store keeps large values, if not in the default place."""
    found, _ = schema_versions(location)
    if found is None:
        raise StoreError(f"there is no graphstore store at {shown_location(location)}")
    backend = open_backend(location, read_only=True)
    try:
        versioned = backend.get_meta("versioning") == "on"
    finally:
        backend.close()
    with tempfile.TemporaryDirectory(prefix="graphstore-cli-") as empty:
        storage = Storage(
            location,
            overflow_dir=overflow_dir,
            read_only=not write,
            trusted=load_values,
            deps_path=empty if versioned else None,
        )
        try:
            yield storage
        finally:
            storage.close()


def checked_id(text: str) -> str:
    """``text`` as a history id (32 hex digits, any case), or a clear error."""
    hid = text.strip().lower()
    if not _ID.match(hid):
        raise StoreError(f"{text!r} is not a graphstore id (32 hexadecimal digits, as the commands print them)")
    return hid


def table_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--format``, ``-o/--output`` and ``--json`` to a command that prints a table (see :func:`emit_table`)."""
    command = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(command)
    command = click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False),
        help="Write the table to this file; its extension picks the format (.csv, .json, .parquet, .txt).",
    )(command)
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), help="table (aligned, the default), csv, json or parquet."
    )(command)


def emit_table(table: Any, fmt: str | None, output: str | None, as_json: bool) -> None:
    """Print ``table`` (a DataFrame) or write it to ``output``: calls and refs as their ids, plain values as they
    are, anything else as text (``graphstore.query.export.portable``)."""
    from ..query.export import portable, to_csv, to_parquet

    if fmt is None:
        fmt = "json" if as_json else _BY_EXTENSION.get(os.path.splitext(output or "")[1].lower(), "table")
    table = _collections_as_lists(table)
    if fmt == "parquet":
        if output is None:
            raise click.UsageError("--format parquet writes a file: give one with -o FILE")
        to_parquet(table, output)
        return
    if fmt == "csv" and output is not None:
        to_csv(table, output)
        return
    flat = portable(table)
    if fmt == "csv":
        text = flat.to_csv(index=False)
    elif fmt == "json":
        text = json.dumps([{str(k): plain(v) for k, v in row.items()} for row in table.to_dict("records")]) + "\n"
    elif flat.empty:
        text = "  ".join(str(c) for c in flat.columns) + "\n"
    else:
        text = flat.map(lambda v: "" if v is None else v).to_string(index=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)


def _collections_as_lists(table: Any) -> Any:
    """``table`` with each cell that holds several elements (a history that saw several refs or calls at a node)
    as a plain list of their ids (or values)."""
    from ..query.cells import Collection

    def cell(value: Any) -> Any:
        if isinstance(value, Collection):
            return [item.hid if isinstance(item, (Ref, Call)) else item for item in value]
        return value

    out = table.copy()
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = out[name].map(cell)
    return out


def plain(value: Any) -> Any:
    """``value`` as JSON holds it: numbers, text, lists and objects as they are; calls and refs as their ids; times
    as ISO text; bytes as hex; numpy scalars as Python numbers; NaN and NaT as null; anything else as its text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (Ref, Call)):
        return value.hid
    pandas = sys.modules.get("pandas")  # (a NaT exists only once pandas is imported; not imported here for it)
    if pandas is not None and value is pandas.NaT:
        return None
    if isinstance(value, float):
        return None if value != value else value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, np.generic):
        return plain(value.item())
    return str(value)


def emit_json(obj: Any) -> None:
    """Print ``obj`` as one line of JSON, keys sorted."""
    click.echo(json.dumps(plain(obj), sort_keys=True))


def when(seconds: float | None) -> str:
    """A time stamp (seconds since the epoch) as UTC text, to the second."""
    if not seconds:
        return ""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def human_bytes(n: int | None) -> str:
    """``n`` bytes in a unit a reader takes in at once.

    >>> human_bytes(1536), human_bytes(None)
    ('1.5 kB', 'unknown')
    """
    if n is None:
        return "unknown"
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # (not reached)


def folder_bytes(path: str | None) -> int:
    """The bytes of the files in a folder (0 when there is none)."""
    if not path or not os.path.isdir(path):
        return 0
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
