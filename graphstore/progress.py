"""Progress bars for long work (tqdm): writing a large backlog at a block's end, reading a large history table,
copying a store; and, for work done in one long step (a cleanup, a vacuum, an integrity check, a migration), a line
with the time it has taken so far. Shown in a terminal (when standard error is one) or a notebook, after the work
has taken half a second; silent when output goes to a file or a pipe, or when turned off: ``GRAPHSTORE_PROGRESS=0``
in the environment, or :func:`set_enabled` (``True`` shows them even when the output is not interactive).

>>> set_enabled(False)
>>> with bar(10, "copying") as b:
...     b.update(10)
>>> set_enabled(None)  # back to showing them where someone looks
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

DELAY_S = 0.5
"""Work shorter than this shows no bar."""
REFRESH_S = 0.1
"""The shortest time between two refreshes of a bar."""

_forced: bool | None = None


def set_enabled(flag: bool | None) -> None:
    """Show progress bars always (True), never (False), or where output is interactive (None, the default)."""
    global _forced
    _forced = flag


def enabled() -> bool:
    """Whether a bar would show now."""
    if _forced is not None:
        return _forced
    setting = os.environ.get("GRAPHSTORE_PROGRESS", "").strip().lower()
    if setting in ("0", "off", "false", "no"):
        return False
    if setting in ("1", "on", "true", "yes"):
        return True
    return _in_notebook() or _is_terminal(sys.stderr)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def bar(total: int | None, what: str, unit: str = "it", at_least: int = 0) -> Any:
    """A bar of ``total`` steps (unknown: None) named ``what``, or one that shows nothing (also when ``total`` is
    below ``at_least``); use it as a context and call ``update(n)`` as work is done."""
    if (total is not None and total < at_least) or not enabled():
        return _Silent()
    if _in_notebook():
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(
        total=total,
        desc=what,
        unit=unit,
        unit_scale=True,
        delay=DELAY_S,
        mininterval=REFRESH_S,
        leave=False,
        file=sys.stderr,
    )


@contextlib.contextmanager
def working(what: str) -> Iterator[None]:
    """While the body runs, a line saying ``what`` is being done and for how long (shown after ``DELAY_S``, where
    bars show), for work done in one step that cannot count its progress."""
    if not enabled():
        yield
        return
    shown = bar(None, what)
    shown.bar_format = "{desc}: {elapsed}"
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(max(REFRESH_S, 0.05)):
            shown.refresh()

    ticker = threading.Thread(target=tick, name="graphstore-progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()
        shown.close()
