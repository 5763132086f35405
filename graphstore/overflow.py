"""Overflow files: where a value's row may point, and which store an overflow folder belongs to.

A row of the ``values`` table names its overflow file by a bare file name (``<cid>.bin``) inside the storage's
``overflow_dir``. A store file can be written by anyone, so every name is checked before the file is read, checked
or deleted: it must be a plain name (no folder, no ``..``, not absolute) and, symbolic links resolved, stay inside
the folder. A folder is also claimed by one store (a marker file holding the store's id), so that two stores never
delete each other's files.

>>> confined_path("/data/ovf", "abc.bin", "abc")
'/data/ovf/abc.bin'
>>> confined_path("/data/ovf", "../etc/passwd", "abc")
Traceback (most recent call last):
...
graphstore.errors.OverflowPathError: value abc names overflow file '../etc/passwd', which is outside the overflow ...
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import xxhash

from . import progress
from .errors import IntegrityError, OverflowDirInUseError, OverflowPathError, StoreError

OWNER_FILE = ".graphstore-owner"
"""The marker file naming the store an overflow folder belongs to."""


def confined_path(folder: str, name: str, cid: str) -> str:
    """The path of overflow file ``name`` of value ``cid`` in ``folder``; raises :class:`OverflowPathError` if the
    name leads anywhere else."""
    if not _plain_name(name):
        raise _outside(folder, name, cid)
    path = os.path.join(folder, name)
    real_folder = os.path.realpath(folder)
    real = os.path.realpath(path)
    if os.path.dirname(real) != real_folder:  # a symbolic link out of the folder (or to a subfolder)
        raise _outside(folder, name, cid, f" (it leads to {real})")
    return path


def _plain_name(name: object) -> bool:
    if not isinstance(name, str) or name in ("", ".", "..") or "\0" in name:
        return False
    seps = [os.sep] + ([os.altsep] if os.altsep else [])
    return not any(sep in name for sep in seps) and not os.path.isabs(name) and not os.path.splitdrive(name)[0]


def _outside(folder: str, name: object, cid: str, detail: str = "") -> OverflowPathError:
    return OverflowPathError(
        f"value {cid} names overflow file {name!r}, which is outside the overflow folder {folder}{detail}: "
        "the store is damaged or was tampered with; the file is not used"
    )


def read_owner(folder: str) -> str | None:
    """The id of the store that claimed ``folder``, or None if none did."""
    try:
        with open(os.path.join(folder, OWNER_FILE), encoding="utf-8") as fh:
            return fh.read().strip() or None
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {os.path.join(folder, OWNER_FILE)}: {exc.strerror or exc}") from exc


def check_owner(folder: str, store_id: str | None, store: str) -> None:
    """Refuse ``folder`` if another store claimed it."""
    owner = read_owner(folder)
    if owner is not None and store_id is not None and owner != store_id:
        raise OverflowDirInUseError(
            f"overflow folder {folder} belongs to another store (id {owner}, in {os.path.join(folder, OWNER_FILE)}), "
            f"not to store {store} (id {store_id}): two stores sharing a folder would delete each other's files "
            "in cleanup_refs(); give each store its own overflow_dir"
        )


def claim(folder: str, store_id: str | None, store: str) -> None:
    """Mark ``folder`` (which exists) as belonging to store ``store_id``, unless it already is; refuses a folder
    another store claimed."""
    if store_id is None:
        return
    check_owner(folder, store_id, store)
    marker = os.path.join(folder, OWNER_FILE)
    if os.path.exists(marker):
        return
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:  # another process claimed it meanwhile: for this store, or not
        check_owner(folder, store_id, store)
        return
    except OSError as exc:
        raise StoreError(f"cannot write {marker}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(store_id + "\n")


def copy_overflow_files(source: str | None, names: list[str], target: str, store_id: str, store: str) -> None:
    """Copy overflow files ``names`` from folder ``source`` to folder ``target``, claimed for store ``store_id``
    (a backup's folder)."""
    import shutil

    if source is None:
        raise StoreError(f"cannot copy the overflow files of the backup {store}: the store has no overflow folder")
    try:
        os.makedirs(target, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create overflow folder {target}: {exc.strerror or exc}") from exc
    claim(target, store_id, store)
    for name in names:
        src = confined_path(source, name, name)
        try:
            shutil.copyfile(src, os.path.join(target, name))
        except OSError as exc:
            raise StoreError(f"cannot copy overflow file {src} to {target}: {exc.strerror or exc}") from exc


def remove_overflow_files(folder: str | None, names: list[str]) -> int:
    """Delete the overflow files of deleted values; returns how many were removed."""
    removed = 0
    for name in names if folder else ():
        try:
            os.remove(confined_path(folder, name, name))  # type: ignore[arg-type]
            removed += 1
        except FileNotFoundError:
            pass
        except OverflowPathError:  # a row naming a file outside the folder: never deleted (check() reports it)
            pass
    return removed


def overflow_file_problems(rows: Iterable[tuple], overflow_dir: str | None, full: bool) -> list[str]:
    """What is wrong with the overflow files of values stored as ``(cid, size, path, checksum)`` rows: a file outside
    the folder (reported, never followed), missing, of the wrong size, or (with ``full``) not matching its checksum.

    >>> overflow_file_problems([("c1", 3, "c1.bin", None)], None, full=False)
    ['value c1 is in overflow file c1.bin, but no overflow_dir was given to check it']
    """
    out: list[str] = []
    rows = list(rows)
    with progress.bar(len(rows), "checking overflow files", unit="files", at_least=PROGRESS_FILES) as shown:
        for row in rows:
            out.extend(_file_problems(row, overflow_dir, full))
            shown.update(1)
    return out


PROGRESS_FILES = 100
"""A check of at least this many overflow files shows a progress bar."""


def _file_problems(row: tuple, overflow_dir: str | None, full: bool) -> list[str]:
    cid, size, path, checksum = row
    if overflow_dir is None:
        return [f"value {cid} is in overflow file {path}, but no overflow_dir was given to check it"]
    try:
        file = confined_path(overflow_dir, path, cid)
    except OverflowPathError as exc:
        return [str(exc)]
    if not os.path.isfile(file):
        return [f"overflow file {file} of value {cid} is missing"]
    if os.path.getsize(file) != size:
        return [f"overflow file {file} of value {cid} has {os.path.getsize(file)} bytes, expected {size}"]
    if full and checksum is not None and file_checksum(file) != checksum:
        return [f"overflow file {file} of value {cid} does not match its checksum"]
    return []


def file_checksum(path: str) -> str:
    """XXH3-64 of a file's bytes, as values record it."""
    h = xxhash.xxh3_64()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def copy_checked(source: str, target: str, cid: str, size: int, checksum: str | None) -> None:
    """Copy overflow file ``source`` of value ``cid`` to ``target``, written under a temporary name and renamed into
    place only once its bytes are found to match the value's recorded size and checksum (XXH3-64; None: size only);
    raises :class:`IntegrityError` otherwise, leaving nothing at ``target``."""
    h = xxhash.xxh3_64()
    copied = 0
    part = f"{target}.part{os.getpid()}"
    try:
        try:
            with open(source, "rb") as src, open(part, "wb") as dst:
                for block in iter(lambda: src.read(1 << 22), b""):
                    h.update(block)
                    copied += len(block)
                    dst.write(block)
        except OSError as exc:
            raise StoreError(f"cannot copy overflow file {source} to {target}: {exc.strerror or exc}") from exc
        if copied != size or (checksum is not None and h.hexdigest() != checksum):
            raise IntegrityError(
                f"overflow file {source} of value {cid} does not match the size and checksum its store records "
                f"({copied} bytes, expected {size}): it is damaged and was not copied"
            )
        os.replace(part, target)
    finally:
        if os.path.exists(part):
            os.remove(part)
