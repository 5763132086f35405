"""Which storage (and mode) ops record into: a stack held in a context variable, and a process-wide view of the
contexts every thread has entered.

Each thread and each asyncio task sees its own stack, so contexts nest and two different storages can be active one
inside the other without interfering.

A thread does not inherit its creator's stack (a thread pool's workers outlive the block that started them), so a
thread that has entered no context of its own goes by the contexts other threads are in (see :func:`shared_frame`):
an op called from a pool inside ``with storage:`` records into that storage.

>>> with noop():
...     current_frame().mode
'noop'
>>> current_frame() is None
True
"""

from __future__ import annotations

import os
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from .errors import AmbiguousContextError, ConfigurationError

MODES = ("run", "noop")


@dataclass(frozen=True)
class Frame:
    storage: Any
    mode: str


_STACK: ContextVar[tuple[Frame, ...]] = ContextVar("graphstore_stack", default=())

_ACTIVE: dict[int, list[Frame]] = {}
"""Thread id -> the frames entered in that thread and not left yet, innermost last."""
_ACTIVE_LOCK = threading.Lock()
_TOPS: tuple[Frame, ...] = ()
"""The innermost frame of every thread in ``_ACTIVE``: rebuilt (under the lock) whenever a context is entered or
left, and read without a lock by threads that have no context of their own."""


def current_frame() -> Frame | None:
    """The innermost active frame of this thread or task, or None outside any context."""
    stack = _STACK.get()
    return stack[-1] if stack else None


def shared_frame() -> Frame | None:
    """The frame for an op called where no context was entered (a thread started inside ``with storage:``): the
    context the other threads are in, when they agree on one; None (run as plain Python) when no thread is in a
    context or every innermost context is noop.

    Raises :class:`AmbiguousContextError` when threads are in different contexts (several storages, or a storage
    and noop): the call cannot tell which one it belongs to.
    """
    tops = _TOPS
    if not tops:
        return None
    first = tops[0]
    if all(f == first for f in tops):  # the usual case: one thread (or several) in one context
        return None if first.mode == "noop" or first.storage is None else first
    kinds = {("noop", None) if f.mode == "noop" else ("run", id(f.storage)): f for f in tops}
    if len(kinds) == 1:
        frame = next(iter(kinds.values()))
        return None if frame.mode == "noop" else frame
    return _ambiguous(kinds.values())


def _ambiguous(frames: Any) -> Frame | None:
    names = sorted(
        "noop (ops run as plain functions)" if f.mode == "noop" else f"{f.storage!r} (recording)" for f in frames
    )
    raise AmbiguousContextError(
        f"an op was called in thread {threading.current_thread().name!r}, which has entered no storage context, "
        f"while other threads are in different ones: {', '.join(names)}. graphstore cannot tell which one the call "
        "belongs to: enter the storage in the thread itself (`with storage:` around the thread's work, or "
        "`with noop():` to run ops as plain functions)"
    )


def _entered(frame: Frame) -> None:
    global _TOPS
    with _ACTIVE_LOCK:
        _ACTIVE.setdefault(threading.get_ident(), []).append(frame)
        _TOPS = tuple(frames[-1] for frames in _ACTIVE.values())


def _left(frame: Frame) -> None:
    """Forget one entry of ``frame``: this thread's latest, else (a context left in another thread than the one
    that entered it, as a generator may be) any thread's."""
    global _TOPS
    with _ACTIVE_LOCK:
        ident = threading.get_ident()
        for key in [ident] + [k for k in _ACTIVE if k != ident]:
            frames = _ACTIVE.get(key)
            if frames is None or frame not in frames:
                continue
            del frames[len(frames) - 1 - frames[::-1].index(frame)]
            if not frames:
                del _ACTIVE[key]
            break
        _TOPS = tuple(frames[-1] for frames in _ACTIVE.values())


def _after_fork_in_child() -> None:
    """A forked child has one thread. If the thread that forked was in a context, that is the child's; if it was in
    none (a pool forking a new worker from its own thread while the program's thread is in ``with storage:``), the
    child works for the contexts the parent's threads were in, as that thread would have: they are kept."""
    global _ACTIVE_LOCK, _TOPS
    _ACTIVE_LOCK = threading.Lock()
    own = _ACTIVE.get(threading.get_ident())
    if own:
        _ACTIVE.clear()
        _ACTIVE[threading.get_ident()] = own
    _TOPS = tuple(frames[-1] for frames in _ACTIVE.values())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class ModeContext:
    """A context manager that pushes one frame on enter and pops it on exit."""

    def __init__(self, storage: Any, mode: str) -> None:
        if mode not in MODES:
            raise ConfigurationError(f"unknown storage mode {mode!r}; choose one of {MODES}")
        self.storage = storage
        self.mode = mode

    def __enter__(self) -> Any:
        stack = _STACK.get()
        storage = self.storage
        if storage is None and stack:  # `with noop():` inside a context: that context's storage is now in noop mode
            storage = stack[-1].storage
        frame = Frame(storage, self.mode)
        _STACK.set(stack + (frame,))
        _entered(frame)
        return self.storage

    def __exit__(self, *exc: Any) -> None:
        # Pop from the stack of the current thread/task. One ModeContext (a Storage's own) may be entered in several
        # threads or tasks at once, so it must not keep per-entry state such as ContextVar tokens.
        stack = _STACK.get()
        if stack:
            _STACK.set(stack[:-1])
            _left(stack[-1])


def noop() -> ModeContext:
    """A context in which ops run as plain functions, recording nothing: inside ``with storage:`` it puts that storage
    in ``"noop"`` mode (lazy Refs passed to ops are loaded from it); outside any context ops are plain functions.

    >>> from graphstore import op
    >>> with noop():
    ...     op(lambda x: x * 2)(21)
    42
    """
    return ModeContext(None, "noop")
