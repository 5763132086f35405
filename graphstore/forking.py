"""Storages in a process forked from the one that opened them (``multiprocessing`` with ``fork``, ``os.fork``).

A forked child inherits the parent's open storages: their SQLite connections (which must not be used across a fork),
their locks (held, if another thread of the parent held them at the fork), their waiting calls and the pipe to the
parent's helper process. Before a fork, every open storage's writing is paused (so no write is half done in the
copy); in the child, each storage starts afresh:

- the parent's connections, helper pipe and waiting calls are left alone (the parent writes its own calls), and new
  locks, a new connection and an empty queue are made;
- calls recorded in the child are written **before the op call returns** (write-through): a child may end at any
  moment (a pool terminates its workers), and a Ref it hands back must be loadable by the parent at once;
- an in-memory store cannot be shared with a child: recording or reading there raises
  :class:`~graphstore.errors.StoreError` at once.

>>> import os
>>> callable(_after_fork_in_child)
True
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

_ABANDONED: list[Any] = []
"""Objects inherited through a fork that must never be closed or freed in the child (closing an inherited SQLite
connection or pipe could disturb the parent's): kept alive here until the child exits."""

PAUSE_TIMEOUT_S = 10.0
"""How long a fork waits for a write in progress to finish (the child starts afresh in any case)."""

_held: list[Any] = []


def abandon(*objects: Any) -> None:
    """Keep inherited objects alive for good: one extra reference each that nothing releases, so not even the
    interpreter's shutdown closes them in the child."""
    for obj in objects:
        if obj is not None:
            _ABANDONED.append(obj)
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))


def _open_storages() -> list[Any]:
    from .storage import _OPEN

    pid = os.getpid()
    return [s for s in list(_OPEN) if s._pid == pid]


def _before_fork() -> None:
    for storage in _open_storages():
        for lock in storage._fork_locks():
            if lock.acquire(timeout=PAUSE_TIMEOUT_S):
                _held.append(lock)


def _after_fork_in_parent() -> None:
    while _held:
        _held.pop().release()


def _after_fork_in_child() -> None:
    _held.clear()  # (the child's copies are replaced, not released)
    from .storage import _OPEN

    for storage in list(_OPEN):
        if storage._pid != os.getpid():
            storage._start_afresh_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)
