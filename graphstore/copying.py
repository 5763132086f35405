"""Copying every record of one store into another: between a SQLite file and a PostgreSQL server, either way, or
between two stores of one engine.

``copy_store(source, target)`` reads the source (opened read-only, never changed) in one snapshot, in batches, and
writes each batch into the target as the engine writes recorded calls: records keep their ids, and a record the
target holds already is kept as it is, so copying into a store that has some of the calls merges, and copying twice
changes nothing. Large values kept in overflow files are copied file by file, each checked against its recorded size
and checksum. Code-versioning records (component commits, op versions) and the store settings a store is opened by
(versioning on or off, hashing scheme) come along. Both stores must have the current schema version.

>>> import os, tempfile
>>> from graphstore import Storage, op, copy_store
>>> @op
... def inc(x):
...     return x + 1
>>> folder = tempfile.mkdtemp()
>>> s = Storage(os.path.join(folder, "a.db"))
>>> with s:
...     _ = inc(inc(1))
>>> s.close()
>>> report = copy_store(os.path.join(folder, "a.db"), os.path.join(folder, "b.db"))
>>> report.read["calls"], report.added["calls"]
(2, 2)
>>> copy_store(os.path.join(folder, "a.db"), os.path.join(folder, "b.db")).added["calls"]  # merging: nothing new
0
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from . import progress
from .backends import Backend, open_backend, schema_versions, shown_location
from .errors import ConfigurationError, SchemaVersionError, StoreError
from .overflow import check_owner, claim, confined_path, copy_checked, file_checksum

BATCH_SIZE = 5_000
"""Records per batch written into the target."""
VALUE_BYTES = 64 << 20
"""Inline value bytes per batch (at most about this much is held in memory, besides one larger value)."""
_COPIED_META = ("versioning", "hash_scheme", "hash_scheme_first")
"""Store settings a copy takes from its source when the target has none."""


@dataclass
class CopyReport:
    """What :func:`copy_store` did: ``read`` counts the records read from the source by kind (ops, values, refs,
    calls, members, commits, versions, overflow files), ``added`` the records the target did not hold before (ops,
    values, refs, calls, edges, members, overflow files copied)."""

    source: str
    target: str
    read: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (for JSON)."""
        return {"source": self.source, "target": self.target, "read": dict(self.read), "added": dict(self.added)}

    def __str__(self) -> str:
        kinds = ("calls", "refs", "values", "members", "ops", "commits", "versions", "overflow_files")
        read = ", ".join(f"{self.read.get(k, 0)} {k.replace('_', ' ')}" for k in kinds)
        added = ", ".join(f"{self.added.get(k, 0)} {k.replace('_', ' ')}" for k in ("calls", "refs", "values"))
        return f"copied {self.source} into {self.target}: read {read}; new in the target: {added}"


class _Side:
    """One end of a copy: its store and overflow folder."""

    def __init__(self, location: str, backend: Backend, overflow_dir: str | None) -> None:
        self.location = location
        self.backend = backend
        self.overflow_dir = overflow_dir


def _default_overflow_dir(location: str, given: str | os.PathLike[str] | None) -> str | None:
    if given is not None:
        return os.fspath(given)
    if "://" in location:
        return None  # a server's store has no folder of its own
    from .storage import default_overflow_dir

    return default_overflow_dir(location)


def _check_version(role: str, shown: str, other: str, found: int | None, current: int) -> None:
    if found is None or found == current:
        return
    if found > current:
        fix = "upgrade graphstore to copy it"
    else:
        fix = f"upgrade the store first with `graphstore db upgrade {shown}` (or graphstore.upgrade_store)"
    direction, partner = ("from", "target") if role == "source" else ("into", "source")
    raise SchemaVersionError(
        f"cannot copy {direction} store {shown} (the {partner} is {other}): it has schema version {found}, and this "
        f"graphstore copies stores of schema version {current} only: {fix}"
    )


def _open(source: str, target: str) -> tuple[Backend, Backend]:
    """Both stores, after checking their schema versions (the target is created if there is none)."""
    if ":memory:" in (source, target):
        raise ConfigurationError("copy_store copies stores in files or on a server, not in-memory stores (':memory:')")
    src_shown, dst_shown = shown_location(source), shown_location(target)
    src_found, src_current = schema_versions(source)
    if src_found is None:
        raise StoreError(f"cannot copy from {src_shown}: there is no graphstore store there")
    _check_version("source", src_shown, dst_shown, src_found, src_current)
    dst_found, dst_current = schema_versions(target)
    _check_version("target", dst_shown, src_shown, dst_found, dst_current)
    backend = open_backend(source, read_only=True)
    try:
        out = open_backend(target)
    except BaseException:
        backend.close()
        raise
    return backend, out


def copy_store(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    source_overflow_dir: str | os.PathLike[str] | None = None,
    target_overflow_dir: str | os.PathLike[str] | None = None,
    batch_size: int = BATCH_SIZE,
) -> CopyReport:
    """Copy every record of the store at ``source`` into the store at ``target`` (each a SQLite file path or a
    ``postgresql://`` URL; the target is created when there is none) and return a :class:`CopyReport`.

    The source is opened read-only and read in one snapshot; nothing in it changes. Records keep their ids, and the
    target keeps the records it holds already (copying merges; copying again adds nothing). Large values in
    overflow files are copied from ``source_overflow_dir`` to ``target_overflow_dir`` (for a SQLite file, by default
    the folder ``<file>-overflow`` beside it; a PostgreSQL store has none unless given), each file checked against
    its value's recorded size and checksum. Both stores must have the current schema version (see
    :func:`graphstore.upgrade_store`), and a store made with versioning cannot be merged into one made without.

    Example: ``copy_store("runs.db", "postgresql://alice@db.example.org/team", source_overflow_dir=None,
    target_overflow_dir="/shared/team-overflow")`` moves a history to a team's server; the same call the other way
    round brings it back into a new file.
    """
    src_text, dst_text = os.fspath(source), os.fspath(target)
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be positive, got {batch_size}")
    src_backend, dst_backend = _open(src_text, dst_text)
    src = _Side(src_backend.location, src_backend, _default_overflow_dir(src_text, source_overflow_dir))
    dst = _Side(dst_backend.location, dst_backend, _default_overflow_dir(dst_text, target_overflow_dir))
    try:
        if src.backend.store_id is not None and src.backend.store_id == dst.backend.store_id:
            raise ConfigurationError(f"cannot copy store {src.location} into itself ({dst.location})")
        report = CopyReport(src.location, dst.location)
        before = dst.backend.counts()
        _copy_settings(src, dst)
        report.read.update(_copy_versioning(src, dst))
        files = _copy_records(src, dst, batch_size, report.read)
        after = dst.backend.counts()
        report.added = {k: after[k] - before.get(k, 0) for k in after}
        report.added["overflow_files"] = files
        return report
    finally:
        src.backend.close()
        dst.backend.close()


def _copy_settings(src: _Side, dst: _Side) -> None:
    """The settings a store is opened by: versioning on or off (refused if the two stores differ), hashing scheme."""
    mode = src.backend.get_meta("versioning") or ("off" if src.backend.has_calls() else None)
    theirs = dst.backend.get_meta("versioning") or ("off" if dst.backend.has_calls() else None)
    if mode is not None and theirs is not None and mode != theirs:
        made = {"on": "with versioning (deps_path)", "off": "without versioning"}
        raise ConfigurationError(
            f"cannot copy store {src.location}, made {made[mode]}, into store {dst.location}, made {made[theirs]}: "
            "their calls cannot live in one store; copy into a new store instead"
        )
    for key in _COPIED_META:
        value = src.backend.get_meta(key)
        if value is not None and dst.backend.get_meta(key) is None:
            dst.backend.set_meta(key, value)


def _copy_versioning(src: _Side, dst: _Side) -> dict[str, int]:
    """Component commits (with the heads the target does not set itself) and op versions."""
    commits = versions = 0
    heads = dst.backend.component_heads()
    for _, key in src.backend.component_keys():
        for commit in src.backend.load_commits(key):
            dst.backend.save_commit(commit)
            commits += 1
    for key, content_hash in src.backend.component_heads().items():
        if key not in heads:
            dst.backend.set_component_head(key, content_hash)
    for name, version in src.backend.op_source_hashes():
        for record in src.backend.load_versions(name, version):
            dst.backend.save_version(record)
            versions += 1
    return {"commits": commits, "versions": versions}


def _copy_records(src: _Side, dst: _Side, batch_size: int, read: dict[str, int]) -> int:
    """The graph, batch by batch; returns the number of overflow files copied."""
    for kind in ("ops", "values", "refs", "calls", "members", "overflow_files"):
        read.setdefault(kind, 0)
    copied = 0
    if src.overflow_dir is not None:
        check_owner(src.overflow_dir, src.backend.store_id, src.location)
    counts = src.backend.counts()
    total = sum(counts[kind] for kind in ("ops", "values", "refs", "calls", "members"))
    with progress.bar(total, f"copying to {dst.location}", unit="records") as shown:
        for batch in src.backend.export_batches(batch_size, VALUE_BYTES):
            for value in batch.values:
                if value[4] is not None:
                    read["overflow_files"] += 1
                    copied += _copy_file(src, dst, value)
            for kind in ("ops", "values", "refs", "calls", "members"):
                read[kind] += len(getattr(batch, kind))
            dst.backend.save_batch(batch)
            shown.update(sum(len(getattr(batch, kind)) for kind in ("ops", "values", "refs", "calls", "members")))
    return copied


def _copy_file(src: _Side, dst: _Side, value: tuple) -> int:
    """Copy the overflow file of a value (unless the target's folder has it, intact); returns 1 if copied."""
    cid, _, size, _, name, checksum = value
    if src.overflow_dir is None or dst.overflow_dir is None:
        which, side = ("source", src) if src.overflow_dir is None else ("target", dst)
        raise ConfigurationError(
            f"value {cid} of store {src.location} is kept in overflow file {name}, but store {side.location} has no "
            f"overflow folder: give copy_store {which}_overflow_dir= (graphstore copy --{which}-overflow-dir)"
        )
    source = confined_path(src.overflow_dir, name, cid)
    if not os.path.isdir(dst.overflow_dir):
        try:
            os.makedirs(dst.overflow_dir, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create overflow folder {dst.overflow_dir}: {exc.strerror or exc}") from exc
    claim(dst.overflow_dir, dst.backend.store_id, dst.location)
    target = confined_path(dst.overflow_dir, name, cid)
    if os.path.isfile(target) and os.path.getsize(target) == size:
        if checksum is None or file_checksum(target) == checksum:
            return 0
    copy_checked(source, target, cid, size, checksum)
    return 1
