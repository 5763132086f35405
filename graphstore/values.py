"""Turning values into stored records and back, including overflow files for large values."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import threading
from collections.abc import Iterable
from typing import Any

import xxhash

from .backends import ValueRecord
from .codecs import decode_value, encode_value, untrusted_loads
from .diskfull import why_write_failed
from .errors import IntegrityError, RefNotLoadedError, SerializationError, StoreError, ValueTooLargeError
from .overflow import claim, confined_path

POINTER_CODEC = "pointer"
MAX_INLINE_BYTES = 999_000_000
"""The largest value kept in the store file itself: SQLite refuses a row over 1,000,000,000 bytes, whatever the
threshold, so a larger value goes to the overflow folder (or is refused before anything of its call is queued)."""
_SQL_TYPES = {str: "TEXT", int: "INTEGER", float: "REAL"}


class ValueCodec:
    """Serializes values for one storage, sending those over the threshold to files in ``overflow_dir``."""

    def __init__(
        self,
        overflow_dir: str | None,
        threshold_bytes: int,
        trusted: bool = True,
        store_id: str | None = None,
        store: str = "",
    ) -> None:
        self.overflow_dir = os.fspath(overflow_dir) if overflow_dir is not None else None
        self.threshold_bytes = threshold_bytes
        self.trusted = trusted
        self.store_id, self.store = store_id, store
        self._claimed = False
        self.in_memory = store in ("", ":memory:")
        self.temporary_dir = False
        """Whether ``overflow_dir`` is a private folder of an in-memory store (removed by ``discard_temporary``)."""

    def discard_temporary(self) -> None:
        """Remove the private folder of an in-memory store's largest values, if it made one."""
        if self.temporary_dir and self.overflow_dir is not None:
            shutil.rmtree(self.overflow_dir, ignore_errors=True)
            self.temporary_dir = False

    def record(self, cid: str, obj: Any, what: str) -> ValueRecord:
        """The stored form of ``obj``; ``what`` names it in errors (for example "op train, output model")."""
        try:
            codec, data = encode_value(obj)
        except SerializationError as exc:
            raise SerializationError(f"{what}: {exc}") from exc
        return self.record_encoded(cid, codec, data, what)

    def record_encoded(self, cid: str, codec: str, data: bytes, what: str) -> ValueRecord:
        """The stored form of a value already serialized by :func:`~graphstore.codecs.encode_value` (as a worker of
        an executor does): inline, or in an overflow file over the threshold."""
        size = len(data)
        checksum = xxhash.xxh3_64_hexdigest(data)
        limit = self.threshold_bytes if self.threshold_bytes < MAX_INLINE_BYTES else MAX_INLINE_BYTES
        if self.in_memory and self.overflow_dir is None:
            limit = MAX_INLINE_BYTES  # an in-memory store keeps large values in memory too
            if size > limit:  # (larger than a row: a private folder, removed when the storage is closed)
                self.overflow_dir = tempfile.mkdtemp(prefix="graphstore-memory-values-")
                self.temporary_dir = True
        if size <= limit:
            return ValueRecord(cid, codec, size, data, None, checksum)
        if self.overflow_dir is None:
            which = "the storage's threshold" if limit == self.threshold_bytes else "the most a SQLite row can hold"
            raise ValueTooLargeError(
                f"{what}: the value is {_size(size)}, over {which} ({_size(limit)}); "
                "pass Storage(overflow_dir=...) to keep large values in files"
            )
        name = f"{cid}.bin"
        self._write_file(name, data)
        return ValueRecord(cid, codec, size, None, name, checksum)

    def _write_file(self, name: str, data: bytes) -> None:
        assert self.overflow_dir is not None
        if not self._claimed:
            try:
                os.makedirs(self.overflow_dir, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create overflow folder {self.overflow_dir}: {exc.strerror or exc}") from exc
            claim(self.overflow_dir, self.store_id, self.store)
            self._claimed = True
        final = os.path.join(self.overflow_dir, name)
        if os.path.exists(final) and os.path.getsize(final) == len(data):
            return
        tmp = f"{final}.{os.getpid()}.{threading.get_ident()}.tmp"  # one per writer: threads may write one value
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            try:
                os.remove(tmp)
            except OSError:
                pass
            why = why_write_failed([final], str(exc), exc.errno)
            raise StoreError(f"cannot write overflow file {final}: {exc.strerror or exc}{why}") from exc

    @staticmethod
    def pointer_record(cid: str, pointer_id: str) -> ValueRecord:
        data = pointer_id.encode("utf-8")
        return ValueRecord(cid, POINTER_CODEC, len(data), data, None, xxhash.xxh3_64_hexdigest(data))

    def load(self, rec: ValueRecord) -> Any:
        """The value a record stands for."""
        if rec.codec == POINTER_CODEC:
            pid = (rec.data or b"").decode("utf-8")
            raise RefNotLoadedError(
                f"value pointer {pid!r} was never stored (only its id is); pass ValuePointer({pid!r}, obj) again"
            )
        data = rec.data
        if data is not None and type(data) is not bytes:
            raise IntegrityError(
                f"value {rec.cid} is stored as {type(data).__name__} ({_SQL_TYPES.get(type(data), '?')}), not as "
                f"bytes: store {self.store} is damaged"
            )
        if rec.path is not None:
            data = self._read_file(rec)
        elif rec.checksum is not None and xxhash.xxh3_64_hexdigest(data or b"") != rec.checksum:
            raise IntegrityError(f"stored bytes of value {rec.cid} do not match their checksum: the store is damaged")
        try:
            return decode_value(rec.codec, data or b"", self.trusted)
        except SerializationError as exc:
            raise SerializationError(f"value {rec.cid} in store {self.store}: {exc}") from exc

    def load_many(self, records: Iterable[tuple], failed: list | None = None) -> dict[str, Any]:
        """The values of many records (tuples in ``ValueRecord`` order), by cid, each checked as :meth:`load` checks
        it: plain pickles kept in their row whose bytes match their checksum are decoded in one loop, the others by
        :meth:`load`. With ``failed``, records that do not decode are put there instead of raising."""
        loads = pickle.loads if self.trusted else untrusted_loads
        digest = xxhash.xxh3_64_hexdigest
        out: dict[str, Any] = {}
        rest = []
        for row in records:
            cid, codec, _, data, path, checksum = row
            if codec == "pickle" and path is None and type(data) is bytes and checksum == digest(data):
                try:
                    out[cid] = loads(data)
                    continue
                except Exception:  # (load raises the storage's error for it)
                    pass
            rest.append(row)
        for row in rest:
            try:
                out[row[0]] = self.load(ValueRecord(*row))
            except Exception:
                if failed is None:
                    raise
                failed.append(row)
        return out

    def _read_file(self, rec: ValueRecord) -> bytes:
        if self.overflow_dir is None:
            raise StoreError(
                f"value {rec.cid} is kept in overflow file {rec.path}, but this Storage has no overflow_dir"
            )
        path = confined_path(self.overflow_dir, rec.path, rec.cid)  # (a crafted row may point anywhere)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            hint = ""
            if isinstance(exc, FileNotFoundError):
                hint = (
                    "; if this store keeps its large values in another folder, open it with "
                    "Storage(..., overflow_dir=<that folder>)"
                )
            raise StoreError(f"cannot read overflow file {path} of value {rec.cid}: {exc.strerror}{hint}") from exc
        if len(data) != rec.size:
            raise IntegrityError(f"overflow file {path} of value {rec.cid} has {len(data)} bytes, expected {rec.size}")
        if rec.checksum is not None and xxhash.xxh3_64_hexdigest(data) != rec.checksum:
            raise IntegrityError(f"overflow file {path} of value {rec.cid} does not match its checksum")
        return data


def _size(n: int) -> str:
    """A byte count for messages: exact when small, in MB when large."""
    return f"{n:,} bytes" if n < 100_000 else f"{n / 1e6:.1f} MB"


def decode_values(storage: Any, records: Iterable[tuple], failed: list | None = None) -> dict[str, Any]:
    """The public decoding path of stored values: ``storage``'s records (tuples in ``ValueRecord`` order: cid, codec,
    size, data, path, checksum) decoded by cid, each checked against its checksum, with the storage's trust setting
    and overflow folder (see :meth:`ValueCodec.load_many`).

    >>> from graphstore import Storage
    >>> codec = ValueCodec(None, 1000)
    >>> decode_values(Storage(), [codec.record("c1", [1, 2], "a list")])
    {'c1': [1, 2]}
    """
    return storage._values.load_many(records, failed)
