"""A helper process that writes batches, so a program recording many calls is not slowed by its own writes.

Writing a batch is mostly Python and SQLite work that, in a thread, would take turns with the recording thread for
the interpreter lock. A storage that records many calls (see ``graphstore.writer``) starts this helper: a second
Python process, running :func:`main` on the same store file. Each batch is sent to it over a pipe (``marshal``ed:
plain tuples of strings, numbers and bytes), written there in one transaction exactly as the storage would write it,
and acknowledged; the batch stays pending (and visible to lookups) until then. Batches are sent one at a time, in
order.

If the recording process dies, the helper still writes every batch it has received, then exits at the end of its
input. If the helper dies, the storage writes in its own thread again. The helper runs only on POSIX systems.

Messages both ways are an 8-byte length and a ``marshal`` payload. Helper to storage: ``("ready",)`` once the store is
open, then per batch ``("ok", changed)`` (``changed``: another connection committed since its previous batch) or
``("error", kind, message)``.
"""

from __future__ import annotations

import gc
import marshal
import os
import select
import signal
import struct
import subprocess
import sys
import threading
from typing import Any, BinaryIO

from ..errors import MissingValuesError, StoreError
from .base import Batch, OpRecord

_LEN = struct.Struct("<Q")


def _send(out: BinaryIO, message: Any) -> None:
    data = marshal.dumps(message)
    out.write(_LEN.pack(len(data)))
    out.write(data)
    out.flush()


def _receive(inp: BinaryIO) -> Any | None:
    """The next message, or None at the end of the input (a message cut short counts as the end)."""
    head = inp.read(_LEN.size)
    if len(head) < _LEN.size:
        return None
    (size,) = _LEN.unpack(head)
    data = inp.read(size)
    if len(data) < size:
        return None
    return marshal.loads(data)


def batch_message(batch: Batch) -> tuple:
    return (batch.values, batch.refs, batch.calls, [tuple(o) for o in batch.ops], batch.members, batch.deletions)


def message_batch(message: tuple) -> Batch:
    values, refs, calls, ops, members, deletions = message
    return Batch(
        values=values, refs=refs, calls=calls, ops=[OpRecord(*o) for o in ops], members=members, deletions=deletions
    )


_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from graphstore.backends.sqlite_helper import main; sys.exit(main(sys.argv[2:]))"
)
"""How the helper process starts: ``python -c _BOOT ROOT PATH TIMEOUT``, ROOT the folder holding this graphstore."""


class WriterProcess:
    """The storage's side of a helper process writing to the store at ``path``."""

    def __init__(self, path: str, timeout: float) -> None:
        import graphstore

        # the helper imports this very graphstore, first on its path (before the folder it starts in, which may
        # hold another copy)
        root = os.path.dirname(os.path.dirname(os.path.abspath(graphstore.__file__)))
        self.pid = os.getpid()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, root, path, repr(timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        self.ready = False
        self.dead = False
        self.holding = False
        """Whether a batch sent in full awaits its reply (the helper writes what it received, whatever happens here)."""
        self.deletions: int | None = None  # the store's deletion count its last batch was checked against
        self._ready_lock = threading.Lock()  # the recording and writing threads both ask; one reads the message

    def usable(self) -> bool:
        """Whether the helper is up (checked without waiting) and this is the process that started it."""
        if self.dead or os.getpid() != self.pid:
            return False
        if self.ready:
            return True
        with self._ready_lock:
            if self.ready or self.dead:
                return self.ready
            if self.proc.poll() is not None:
                self.dead = True
                return False
            readable, _, _ = select.select([self.proc.stdout], [], [], 0)
            if not readable:
                return False
            if _receive(self.proc.stdout) != ("ready",):  # type: ignore[arg-type]
                self.stop()
                return False
            self.ready = True
        return True

    def write(self, batch: Batch) -> bool | None:
        """Have the helper write ``batch``; returns whether another connection had committed since its previous
        batch, or None if the helper is gone (the batch may or may not be stored: write it again). A write the helper
        could not do raises StoreError."""
        try:
            _send(self.proc.stdin, batch_message(batch))  # type: ignore[arg-type]
            self.holding = True  # the helper has it all: it writes it even if this process dies now
            reply = _receive(self.proc.stdout)  # type: ignore[arg-type]
        except (OSError, ValueError):
            reply = None
        except BaseException:  # interrupted (Ctrl-C) mid-exchange: its reply would come one batch late
            self.retire()
            raise
        finally:
            self.holding = False
        if reply is None:
            self.stop()
            return None
        if reply[0] == "ok":
            self.deletions = reply[2]
            return bool(reply[1])
        if reply[0] == "missing":
            raise MissingValuesError(reply[1], reply[2], reply[3])
        raise StoreError(reply[2])

    def retire(self) -> None:
        """Use this helper no more, without waiting for it: it writes what it received in full, then exits (the
        storage writes its batches itself from then on; ``stop`` reaps it later)."""
        self.dead = True
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
        except (OSError, ValueError):
            pass

    def disown(self) -> None:
        """(In a forked child) Let go of the child's copies of the pipes to the parent's helper, so the helper still
        sees the end of its input when the parent closes it; the file numbers stay taken (by /dev/null)."""
        self.dead = True
        null = os.open(os.devnull, os.O_RDWR)
        try:
            for f in (self.proc.stdin, self.proc.stdout):
                if f is not None:
                    try:
                        os.dup2(null, f.fileno())
                    except (OSError, ValueError):
                        pass
        finally:
            os.close(null)

    def stop(self) -> None:
        """End the helper once it has written what it received."""
        self.dead = True
        if os.getpid() != self.pid:
            return
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def main(argv: list[str]) -> int:
    """The helper: open the store, then write each batch received on stdin, acknowledging it on stdout."""
    from .sqlite import SQLiteBackend

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the recording program; what it sent is still written
    gc.disable()  # batches are plain tuples, freed by reference counting; no cycle collector passes over them
    path, timeout = argv[0], float(argv[1])
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    backend = SQLiteBackend(path, timeout=timeout)
    _send(out, ("ready",))
    backend._seen_version = None
    first = True
    while True:
        message = _receive(inp)
        if message is None:
            break
        before = backend._known_era
        try:
            backend.save_batch(message_batch(message))
        except Exception as exc:  # reported to the recording process, which keeps the batch pending
            try:
                if isinstance(exc, MissingValuesError):
                    _send(out, ("missing", str(exc), exc.cids, exc.deletions))
                else:
                    _send(out, ("error", type(exc).__name__, str(exc)))
            except OSError:
                break
            continue
        del message
        changed = first or backend._known_era != before
        first = False
        try:
            _send(out, ("ok", changed, backend.deletions_seen))
        except OSError:
            pass  # the recording process is gone: go on writing what was received
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
