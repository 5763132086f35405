"""Which storage (and mode) ops record into: a stack held in a context variable.

Each thread and each asyncio task sees its own stack, so contexts nest and two different storages can be active one
inside the other without interfering.

>>> with noop():
...     current_frame().mode
'noop'
>>> current_frame() is None
True
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Optional

from .errors import ConfigurationError

MODES = ("run", "noop")


@dataclass(frozen=True)
class Frame:
    storage: Any
    mode: str


_STACK: ContextVar[tuple[Frame, ...]] = ContextVar("graphstore_stack", default=())


def current_frame() -> Optional[Frame]:
    """The innermost active frame, or None outside any context."""
    stack = _STACK.get()
    return stack[-1] if stack else None


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
        _STACK.set(stack + (Frame(storage, self.mode),))
        return self.storage

    def __exit__(self, *exc: Any) -> None:
        # Pop from the stack of the current thread/task. One ModeContext (a Storage's own) may be entered in several
        # threads or tasks at once, so it must not keep per-entry state such as ContextVar tokens.
        stack = _STACK.get()
        if stack:
            _STACK.set(stack[:-1])


def noop() -> ModeContext:
    """A context in which ops run as plain functions, recording nothing: inside ``with storage:`` it puts that storage
    in ``"noop"`` mode (lazy Refs passed to ops are loaded from it); outside any context ops are plain functions.

    >>> from graphstore import op
    >>> with noop():
    ...     op(lambda x: x * 2)(21)
    42
    """
    return ModeContext(None, "noop")
