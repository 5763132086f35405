"""``StoreState``: what the parts of a :class:`graphstore.Storage` share.

A storage is a facade over parts (the recorder, the loader, the history tools, the versioning methods), each an
object given what it needs. What they share lives here, in one object: the store and its value codec, the calls
waiting to be written, what is remembered about the store (values known stored, the deletion count that memory is
valid for), the ops seen in this session, the code versioner, the op name claims and the mode flags.

The state is replaced as a whole, never patched attribute by attribute: a forked child gets a fresh one
(:meth:`StoreState.afresh`), and the storage builds its parts again over it.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any

from .backends import Backend
from .claims import OpClaims
from .errors import CallNotStoredWarning, MissingValuesError
from .ops import Op
from .resupply import complete_batch
from .values import ValueCodec
from .versioning import Versioner
from .writer import PendingWrites


class OpRegistry:
    """The ops a storage has seen in this session, and what its store knows of ops: kept across a fork."""

    __slots__ = ("known", "by_name", "source_hashes", "warned")

    def __init__(self, source_hashes: dict[tuple[str, int], tuple[str, str]]) -> None:
        self.known: set[str] = set()
        """Op ids registered in this session (structural ones included)."""
        self.by_name: dict[tuple[str, int], Op] = {}
        """The op recorded under each name and version in this session."""
        self.source_hashes = source_hashes
        """``(name, version) -> (source hash, signature)`` of the ops the store knows, and of those registered since."""
        self.warned: set[str] = set()
        """Keys of the warnings given once."""


class StoreState:
    """The state the parts of one storage share (see the module docstring)."""

    def __init__(
        self,
        backend: Backend,
        db_path: str,
        values: ValueCodec,
        versioner: Versioner | None,
        claims: OpClaims,
        claims_key: Any,
        ops: OpRegistry,
        deletions: int | None,
        allow_new: bool = True,
        write_through: bool = False,
    ) -> None:
        self.backend = backend
        self.db_path = db_path
        self.values = values
        self.versioner = versioner
        """The code versioning of a store opened with ``deps_path``, else None."""
        self.claims = claims
        """Which function each op name belongs to (in this process)."""
        self.claims_key = claims_key
        """What releases the claims when the storage is closed (None once it is)."""
        self.ops = ops
        self.deletions = deletions
        """The store's deletion count that what this storage remembers about the store (stored values, calls read
        ahead) is valid for; batches carry it, and the store checks them when a deletion came after it."""
        self.allow_new = allow_new
        """Whether calls not in the store may be computed."""
        self.pid = os.getpid()
        self.stored_cids: set[str] = set()
        """Content ids of values known stored (their records are left out of later batches)."""
        pending = PendingWrites(backend)
        pending.resupply = self._resupply
        pending.on_deletions = self._deletions_seen
        pending.on_refused = self.stored_cids.difference_update  # a refused call's values are not stored
        pending.write_through = write_through
        self.pending = pending

    def afresh(self) -> StoreState:
        """(In a forked child) A new state over the same store, codec, versioner and ops, with its own queue
        (writing through), its own claims lock, and nothing remembered about stored values; the parent writes its
        own waiting calls."""
        self.claims._lock = threading.Lock()  # (another thread of the parent may have held it)
        return StoreState(
            self.backend,
            self.db_path,
            self.values,
            self.versioner,
            self.claims,
            self.claims_key,
            self.ops,
            self.deletions,
            self.allow_new,
            write_through=True,
        )

    def fork_locks(self) -> list[Any]:
        """The locks a fork takes first, so no write is half done in the child's copy (see ``forking``)."""
        pending = self.pending
        return [pending._flush_lock, pending._send_lock, pending.lock, *self.backend.fork_locks()]

    def commit(self) -> None:
        """Write every pending call now."""
        self.pending.flush()

    def _deletions_seen(self, count: int | None) -> None:
        """Another process (or this one) deleted from the store: forget what is remembered about it."""
        if count is None or self.deletions is None or count <= self.deletions:
            return
        self.stored_cids.clear()  # (cleared first, the count moved on after: a call records the count before
        self.backend.forget_cached_calls()  # it consults these)
        self.deletions = count

    def _resupply(self, batch: Any, held: dict, exc: MissingValuesError) -> None:
        left_out = complete_batch(batch, held, exc.cids, self.values)
        if left_out:
            warnings.warn(
                f"store {self.db_path}: calls of op {', '.join(left_out)} were not stored: values they use were "
                "deleted from the store by another process while they were recorded, and this process does not hold "
                "them any more (they are computed again when called)",
                CallNotStoredWarning,
                stacklevel=2,
            )
