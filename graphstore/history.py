"""Reading and editing the recorded history: creators and consumers of refs, dropping calls, cleaning up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from .backends.sqlite_history import remove_overflow_files
from .errors import IntegrityError, ReadOnlyStoreError
from .refs import Call, Ref


def _hids(items: Any) -> list[str]:
    """History ids from a Ref, a Call, a hid, or an iterable of those."""
    if isinstance(items, (str, Ref, Call)):
        items = [items]
    return [x.hid if isinstance(x, (Ref, Call)) else str(x) for x in items]


@dataclass(frozen=True)
class CheckReport:
    """What ``storage.check()`` found: ``ok`` when ``problems`` is empty."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class History:
    """The history half of a Storage."""

    def get_ref_creator(self, ref: Any) -> Optional[Call]:
        """The call that computed ``ref`` (a Ref or hid), or None for a raw input.

        >>> from graphstore import Storage, op
        >>> @op
        ... def inc(x):
        ...     return x + 1
        >>> s = Storage()
        >>> with s:
        ...     y = inc(1)
        >>> s.get_ref_creator(y).op.name
        'inc'
        """
        creators = self.get_creators(_hids(ref))
        return creators[0] if creators else None

    def get_creators(self, hids: Iterable[Any]) -> list[Call]:
        """The calls that computed the given refs (Refs or hids); raw inputs have none."""
        self.commit()
        found = self.backend.creator_calls(_hids(hids))
        return self._calls_by_hid(list(dict.fromkeys(found.values())))

    def get_consumers(self, hids: Iterable[Any]) -> list[Call]:
        """The calls that took any of the given refs (Refs or hids) as input."""
        self.commit()
        return self._calls_by_hid(self.backend.consumer_calls(_hids(hids)))

    def _calls_by_hid(self, hids: list[str]) -> list[Call]:
        records = self.backend.get_calls(hids)
        return [self._call_from_record(records[h]) for h in hids if h in records]

    def drop_calls(self, calls_or_hids: Any, delete_dependents: bool = True) -> int:
        """Delete calls, and with ``delete_dependents`` every call downstream of their outputs; returns the count.

        Refs and values stay until :meth:`cleanup_refs`. The deletion is one transaction.
        """
        self._refuse_if_read_only("drop_calls")
        self.commit()
        return self.backend.delete_calls(_hids(calls_or_hids), with_dependents=delete_dependents)

    def cleanup_refs(self) -> dict[str, int]:
        """Delete refs that no call references and values that no ref holds (with their overflow files)."""
        self._refuse_if_read_only("cleanup_refs")
        self.commit()
        refs, values, files = self.backend.cleanup_refs()
        self._stored_cids.clear()
        removed = remove_overflow_files(self._values.overflow_dir, files)
        return {"refs": refs, "values": values, "overflow_files": removed}

    def _refuse_if_read_only(self, what: str) -> None:
        if getattr(self.backend, "read_only", False):
            raise ReadOnlyStoreError(f"store {self.db_path} is open read-only: storage.{what}() would change it")

    def check(self, full: bool = True, raise_on_error: bool = False) -> "CheckReport":
        """Verify the store: SQLite's own check, every edge to an existing call and ref, every ref to a value,
        every collection to its elements, every overflow file present with its size and checksum (``full``
        also re-checksums every stored value). Nothing is unpickled.

        >>> from graphstore import Storage
        >>> Storage().check().ok
        True
        """
        self.commit()
        report = CheckReport(self.backend.integrity_problems(self._values.overflow_dir, full=full))
        if raise_on_error and not report.ok:
            raise IntegrityError(f"store {self.db_path} is inconsistent: " + "; ".join(report.problems[:5]))
        return report

    def vacuum(self) -> None:
        """Give the space of deleted records back to the file system."""
        self._refuse_if_read_only("vacuum")
        self.commit()
        self.backend.vacuum()
