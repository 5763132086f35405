"""The helper process that writes batches for a storage (its storage side is ``sqlite_helper``): it opens the store,
then writes each batch received on its standard input, in the order sent, acknowledging each on its standard output.

Started by :class:`~graphstore.backends.sqlite_helper.WriterProcess` as ``python -c _BOOT``, which enters the package
without running its ``__init__``.
"""

from __future__ import annotations

import gc
import queue
import signal
import sys
import threading
from typing import BinaryIO

from ..errors import MissingValuesError
from .sqlite import SQLiteBackend
from .sqlite_helper import _receive, _send, message_batch


def _read_ahead(inp: BinaryIO, inbox: queue.SimpleQueue) -> None:
    """(Helper, in a thread) Take every message off the pipe as it arrives, so a sender never waits for a write."""
    while True:
        message = _receive(inp)
        inbox.put(message)
        if message is None:
            return


def main(argv: list[str]) -> int:
    """The helper: open the store, then write each batch received on stdin, acknowledging it on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the recording program; what it sent is still written
    gc.disable()  # batches are plain tuples, freed by reference counting; no cycle collector passes over them
    path, timeout = argv[0], float(argv[1])
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    backend = SQLiteBackend(path, timeout=timeout)
    _send(out, ("ready",))
    backend.known.seen_version = None
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_read_ahead, args=(inp, inbox), daemon=True).start()
    first, failed = True, False
    while True:
        message = inbox.get()
        if message is None:
            break
        if len(message) == 1:  # ("resume",)
            failed = False
            continue
        if failed:
            reply: tuple = ("skipped",)
        else:
            before = backend.known.era
            try:
                backend.save_batch(message_batch(message))
            except Exception as exc:  # reported to the recording process, which keeps the batch pending
                failed = True
                if isinstance(exc, MissingValuesError):
                    reply = ("missing", str(exc), exc.cids, exc.deletions)
                else:
                    reply = ("error", type(exc).__name__, str(exc))
            else:
                reply = ("ok", first or backend.known.era != before, backend.deletions_seen)
                first = False
        del message
        try:
            _send(out, reply)
        except OSError:
            pass  # the recording process is gone: go on writing what was received
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
