"""Reading and editing the recorded history: creators and consumers of refs, dropping calls, cleaning up.

``History`` is a part of :class:`graphstore.Storage`, built over the storage's
:class:`~graphstore.store_state.StoreState` and its loader (which turns stored calls into Calls).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import progress
from .deletion import DeletionReport, log_deletion
from .errors import IntegrityError, NotACallError, ReadOnlyStoreError
from .loading import Loader
from .overflow import remove_overflow_files
from .refs import Call, Ref
from .store_state import StoreState


def _hids(items: Any) -> list[str]:
    """History ids from a Ref, a Call, a hid, or an iterable of those."""
    if isinstance(items, (str, Ref, Call)):
        items = [items]
    return [x.hid if isinstance(x, (Ref, Call)) else str(x) for x in items]


def _call_hids(items: Any) -> list[str]:
    """History ids from a Call, a call's hid, or an iterable of those; anything else is a ``NotACallError``."""
    if isinstance(items, (str, Call)):
        items = [items]
    elif isinstance(items, (Ref, bytes, dict)) or not _iterable(items):
        raise NotACallError(_not_a_call(items))
    out = []
    for x in items:
        if isinstance(x, Call):
            out.append(x.hid)
        elif isinstance(x, str):
            out.append(x)
        else:
            raise NotACallError(_not_a_call(x, inside=True))
    return out


def _iterable(x: Any) -> bool:
    try:
        iter(x)
    except TypeError:
        return False
    return True


def _not_a_call(x: Any, inside: bool = False) -> str:
    where = "an element " if inside else ""
    text = f"drop_calls takes calls or call history ids (or an iterable of those); {where}{_short(x)} is not one"
    if isinstance(x, Ref):
        text += ": to delete the call that computed a value, pass storage.get_ref_creator(ref)"
    elif isinstance(x, (list, tuple)) or x is None:
        text += " (for the cells of a frame's table, use cf.delete_calls_from_df(df))"
    return text


def _short(x: Any) -> str:
    text = repr(x)
    return f"{text[:60]}... ({type(x).__name__})" if len(text) > 60 else f"{text} ({type(x).__name__})"


@dataclass(frozen=True)
class CheckReport:
    """What ``storage.check()`` found: ``ok`` when ``problems`` is empty."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class History:
    """The history part of a Storage."""

    def __init__(self, state: StoreState, loader: Loader) -> None:
        self._state = state
        self._backend = state.backend
        self._db_path = state.db_path
        self._values = state.values
        self.commit = state.commit
        self._call_from_record = loader.call_from_record

    def get_ref_creator(self, ref: Any) -> Call | None:
        """The call that computed ``ref`` (a Ref or hid), or None for a raw input."""
        creators = self.get_creators(_hids(ref))
        return creators[0] if creators else None

    def get_creators(self, hids: Iterable[Any]) -> list[Call]:
        """The calls that computed the given refs (Refs or hids); raw inputs have none."""
        self.commit()
        found = self._backend.creator_calls(_hids(hids))
        return self._calls_by_hid(list(dict.fromkeys(found.values())))

    def get_consumers(self, hids: Iterable[Any]) -> list[Call]:
        """The calls that took any of the given refs (Refs or hids) as input."""
        self.commit()
        return self._calls_by_hid(self._backend.consumer_calls(_hids(hids)))

    def _calls_by_hid(self, hids: list[str]) -> list[Call]:
        records = self._backend.get_calls(hids)
        return [self._call_from_record(records[h]) for h in hids if h in records]

    def drop_calls(self, calls_or_hids: Any, delete_dependents: bool = True, dry_run: bool = False) -> DeletionReport:
        """Delete calls, and with ``delete_dependents`` every call downstream of their outputs (which cannot stay
        without their inputs); returns a :class:`~graphstore.deletion.DeletionReport` of what was deleted.

        ``calls_or_hids`` is a Call, a call's history id, or an iterable of those; anything else (a Ref, a value)
        raises ``NotACallError``, and so does the id of a ref. Unknown ids are ignored. With ``dry_run`` nothing
        is deleted and the report says what would be. Refs and values stay until :meth:`cleanup_refs`. The
        deletion is one transaction.
        """
        if not dry_run:
            self._refuse_if_read_only("drop_calls")
        hids = list(dict.fromkeys(_call_hids(calls_or_hids)))
        self.commit()
        refs = self._backend.ref_hids_among(hids) if hids else []
        if refs:
            raise NotACallError(
                f"drop_calls takes calls or call history ids; {refs[0]!r} is the id of a value "
                "(a Ref), not of a call: pass storage.get_ref_creator(ref) to delete its creator"
            )
        deleted = self._backend.delete_calls(hids, with_dependents=delete_dependents, dry_run=dry_run) if hids else []
        report = DeletionReport(deleted, requested=hids, dry_run=dry_run)
        log_deletion(report)
        return report

    def cleanup_refs(self, dry_run: bool = False) -> dict[str, int]:
        """Delete refs that no call references and values that no ref holds (with their overflow files); with
        ``dry_run``, count them and delete nothing."""
        self._refuse_if_read_only("cleanup_refs")
        self.commit()
        with progress.working("cleaning up refs and values"):
            refs, values, files = self._backend.cleanup_refs(dry_run)
        if dry_run:
            return {"refs": refs, "values": values, "overflow_files": len(files)}
        self._state.stored_cids.clear()
        removed = remove_overflow_files(self._values.overflow_dir, files)
        return {"refs": refs, "values": values, "overflow_files": removed}

    def _refuse_if_read_only(self, what: str) -> None:
        if self._backend.read_only:
            raise ReadOnlyStoreError(f"store {self._db_path} is open read-only: storage.{what}() would change it")

    def check(self, full: bool = True, raise_on_error: bool = False) -> CheckReport:
        """Verify the store: its own file check, every edge to an existing call and ref, every ref to a value,
        every collection to its elements, every overflow file present with its size and checksum (``full``
        also re-checksums every stored value). Nothing is unpickled.
        """
        self.commit()
        with progress.working("checking the store"):
            report = CheckReport(self._backend.integrity_problems(self._values.overflow_dir, full=full))
        if raise_on_error and not report.ok:
            raise IntegrityError(f"store {self._db_path} is inconsistent: " + "; ".join(report.problems[:5]))
        return report

    def vacuum(self) -> None:
        """Give the space of deleted records back to the file system."""
        self._refuse_if_read_only("vacuum")
        self.commit()
        with progress.working("vacuuming"):
            self._backend.vacuum()
