"""A helper process that writes batches, so a program recording many calls is not slowed by its own writes.

Writing a batch is mostly Python and SQLite work that, in a thread, would take turns with the recording thread for
the interpreter lock. A storage that records many calls (see ``graphstore.writer``) starts this helper: a second
Python process, running ``sqlite_helper_main`` on the same store file (this module is the storage's side). Batches
are sent to it over a pipe (``marshal``ed: plain tuples of strings, numbers and bytes), read ahead into its memory
as they arrive, written there one transaction each, in the order sent, exactly as the storage would write them, and
acknowledged in that order. Several batches may be on their way at once (:meth:`WriterProcess.send` returns a
ticket, :meth:`WriterProcess.result` waits for its reply); each stays pending (and visible to lookups) until its
reply.

If the recording process dies, the helper still writes every batch it has received, then exits at the end of its
input. If the helper dies, the storage writes in its own thread again. The helper runs only on POSIX systems.

Messages both ways are an 8-byte length and a ``marshal`` payload. Storage to helper: a batch (see
:func:`batch_message`), or ``("resume",)``. Helper to storage: ``("ready",)`` once the store is open, then per batch
``("ok", changed, deletions)`` (``changed``: another connection committed since its previous batch), ``("missing",
message, cids, deletions)``, ``("error", kind, message)``, or ``("skipped",)``: after a batch fails, the helper
writes none of the batches after it until it receives ``("resume",)`` (they were sent before the storage knew, and
may use what failed; the storage sends them again).
"""

from __future__ import annotations

import marshal
import os
import select
import struct
import subprocess
import sys
import threading
from typing import Any, BinaryIO, cast

from ..errors import MissingValuesError, StoreError
from .base import Batch, HandoverSkipped, OpRecord

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
    "import os, sys, types; sys.path.insert(0, sys.argv[1]); "
    "package = types.ModuleType('graphstore'); package.__path__ = [os.path.join(sys.argv[1], 'graphstore')]; "
    "sys.modules['graphstore'] = package; "
    "from graphstore.backends.sqlite_helper_main import main; sys.exit(main(sys.argv[2:]))"
)
"""How the helper process starts: ``python -c _BOOT ROOT PATH TIMEOUT``, ROOT the folder holding this graphstore. The
package is entered without running its ``__init__`` (which loads the recording and query machinery): the helper
needs only the SQLite store, and is up about a third sooner."""


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
        self.retired = False  # let go on purpose (see ``retire``)
        self.sent = 0  # batches sent, and replies read (a batch's ticket is its number)
        self.received = 0
        self._replies: dict[int, tuple] = {}
        self._send_lock = threading.Lock()
        self._reply_lock = threading.Lock()
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
            stdout = cast(BinaryIO, self.proc.stdout)
            readable, _, _ = select.select([stdout], [], [], 0)
            if not readable:
                return False
            if _receive(stdout) != ("ready",):
                self.stop()
                return False
            self.ready = True
        return True

    def send(self, batch: Batch) -> int | None:
        """Hand ``batch`` to the helper without waiting for it to be written: its ticket for :meth:`result`, or None
        if the helper is gone (nothing was handed over). Once this returns, the helper writes the batch even if this
        process dies."""
        data = marshal.dumps(batch_message(batch))
        with self._send_lock:
            if self.dead:
                return None
            try:
                self.proc.stdin.write(_LEN.pack(len(data)))  # type: ignore[union-attr]
                self.proc.stdin.write(data)  # type: ignore[union-attr]
                self.proc.stdin.flush()  # type: ignore[union-attr]
            except (OSError, ValueError):
                self.dead = True
                return None
            except BaseException:  # interrupted mid-message: the helper sees the end of its input there
                self.retire()
                raise
            self.sent += 1
            return self.sent

    def result(self, ticket: int) -> tuple | None:
        """The helper's reply to the batch with this ticket (waiting for it; replies come in the order sent), or
        None if the helper is gone (the batch may or may not be stored: write it again)."""
        with self._reply_lock:
            while ticket not in self._replies:
                if self.received >= self.sent and self.dead:
                    return None
                try:
                    reply = _receive(self.proc.stdout)  # type: ignore[arg-type]
                except (OSError, ValueError):
                    reply = None
                except BaseException:  # interrupted mid-reply: the reply stream cannot be trusted any more
                    self.retire()
                    raise
                if reply is None:
                    self.dead = True
                    return None
                self.received += 1
                self._replies[self.received] = reply
            return self._replies.pop(ticket)

    def resume(self) -> None:
        """After a failed batch (and the replies to the batches sent after it): write batches again."""
        data = marshal.dumps(("resume",))
        with self._send_lock:
            try:
                self.proc.stdin.write(_LEN.pack(len(data)) + data)  # type: ignore[union-attr]
                self.proc.stdin.flush()  # type: ignore[union-attr]
            except (OSError, ValueError):
                self.dead = True

    def write(self, batch: Batch) -> bool | None:
        """Have the helper write ``batch`` (no batch of this storage may be on its way meanwhile); returns whether
        another connection had committed since its previous batch, or None if the helper is gone (the batch may or
        may not be stored: write it again). A write the helper could not do raises StoreError."""
        self.holding = False
        ticket = self.send(batch)
        if ticket is None:
            self.stop()
            return None
        self.holding = True  # the helper has it all: it writes it even if this process dies now
        try:
            reply = self.result(ticket)
        finally:
            self.holding = False
        if reply is None:
            self.stop()
            return None
        if reply[0] != "ok":
            self.resume()
        return reply_outcome(reply, self)

    def retire(self) -> None:
        """Use this helper no more, without waiting for it: it writes what it received in full, then exits (the
        storage writes its batches itself from then on; ``stop`` reaps it later)."""
        self.dead = self.retired = True
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


def reply_outcome(reply: tuple, helper: WriterProcess) -> bool:
    """What a reply to a batch means: whether another connection had committed since the helper's previous batch;
    a failure raises (MissingValuesError, HandoverSkipped, or StoreError)."""
    if reply[0] == "ok":
        helper.deletions = reply[2]
        return bool(reply[1])
    if reply[0] == "missing":
        raise MissingValuesError(reply[1], reply[2], reply[3])
    if reply[0] == "skipped":
        raise HandoverSkipped("the batch was not written: an earlier batch failed")
    kind, message = reply[1], reply[2]
    raise StoreError(message if kind == "StoreError" else f"{message} ({kind})")
