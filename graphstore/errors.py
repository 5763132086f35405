"""The exceptions graphstore raises.

Every exception derives from :class:`GraphstoreError`, and where one resembles a builtin it derives from that too,
so ``except TypeError`` keeps working for code written against plain Python.

>>> from graphstore.errors import GraphstoreError, NewCallsNotAllowedError
>>> issubclass(NewCallsNotAllowedError, (GraphstoreError, RuntimeError))
True
"""

from __future__ import annotations


class GraphstoreError(Exception):
    """Root of every error raised by graphstore."""


class OpDefinitionError(GraphstoreError, ValueError):
    """An ``@op`` decoration is inconsistent (for example an output named like an input)."""


class OpNameConflictError(OpDefinitionError):
    """Two different functions claim one op name in one store (for example ``process`` in two modules, or two ops
    made by one factory): their calls would share results. Give them distinct names with ``@op(name=...)``."""


class AmbiguousContextError(GraphstoreError, RuntimeError):
    """An op was called in a thread that entered no storage context while other threads are in different ones:
    which storage the call belongs to cannot be told. Enter the storage (``with storage:``) in the thread itself."""


class OpCallError(GraphstoreError, TypeError):
    """An op was called with arguments its signature does not accept, or returned the wrong number of outputs."""


class NotACallError(GraphstoreError, TypeError):
    """Something that is not a call or a call's history id was given where calls are expected (``drop_calls``)."""


class RefComparisonError(GraphstoreError, ValueError):
    """A Ref was compared with a plain value (``ref == 3``): compare ``storage.unwrap(ref)`` instead. (A
    ``ValueError``: pandas answers ``False`` for comparisons that raise ``TypeError``, and would hide it.)"""


class HashingError(GraphstoreError, TypeError):
    """A value could not be given a content id (it cannot be hashed or pickled)."""


class SerializationError(GraphstoreError, TypeError):
    """A value could not be serialized for storage, or stored bytes could not be read back."""


class ValueTooLargeError(GraphstoreError, ValueError):
    """A value exceeds the storage's size threshold and no ``overflow_dir`` was given."""


class NewCallsNotAllowedError(GraphstoreError, RuntimeError):
    """A call missed the memo while ``allow_new_calls(False)`` was in force."""


class RefNotLoadedError(GraphstoreError, ValueError):
    """A Ref's value is needed but is not in memory and cannot be loaded."""


class StoreError(GraphstoreError):
    """The store cannot be opened, read or written."""


class ReadOnlyStoreError(StoreError):
    """A call would have to be recorded in a store opened read-only."""


class WriteRefusedError(StoreError):
    """The store refused the records of some calls (for example a value over its size limit): those calls are not
    memoized, and the other calls written with them are stored."""


class IntegrityError(StoreError):
    """``storage.check()`` found the store inconsistent."""


class SchemaVersionError(StoreError):
    """The store was written by an incompatible schema version."""


class ConfigurationError(GraphstoreError, ValueError):
    """A ``Storage`` was configured with options that do not fit together."""


class VersioningError(GraphstoreError):
    """Code versioning cannot decide or record which code a call depends on."""


class OverflowPathError(IntegrityError):
    """A value's row names an overflow file outside the storage's overflow folder (an absolute path, ``..``, or a
    symbolic link leading out): graphstore never reads, checks or deletes such a file."""


class ForeignWALError(StoreError):
    """The write-ahead log (``-wal`` file) next to a store was written by another database: SQLite would apply it
    and replace the store's contents, so the store is not opened and neither file is touched."""


class UntrustedValueError(StoreError):
    """A store opened with ``trusted=False`` holds a value that only pickle could decode, which could run code."""


class OverflowDirInUseError(ConfigurationError):
    """The ``overflow_dir`` given to a Storage belongs to another store (whose cleanups would delete its files)."""


class MissingValuesError(StoreError):
    """A batch of calls uses values that are not stored any more (another process deleted them after this one last
    saw them): nothing of the batch was written. ``cids`` lists the missing values, ``deletions`` is the store's
    count of deletions when it was refused. The storage recovers from it by itself; it reaches the program only if
    a store keeps refusing."""

    def __init__(self, message: str, cids: list[str], deletions: int) -> None:
        super().__init__(message)
        self.cids = list(cids)
        self.deletions = deletions


class GraphstoreWarning(GraphstoreError, UserWarning):
    """Root of the warnings graphstore issues."""


class InputMutatedWarning(GraphstoreWarning):
    """An op changed one of its arguments in place (the stored argument is the value before the change)."""


class CallNotStoredWarning(GraphstoreWarning):
    """A call could not be stored because a value it uses was deleted from the store meanwhile, and this process
    does not hold the value to store it again: it is left out of the store (and is computed again if needed)."""


class UnstableIdWarning(GraphstoreWarning):
    """An argument of an op holds a part that could only be hashed through its pickle (a lambda, a function defined
    inside another function, an object that refers back to itself or cannot be reduced): its content id may differ in
    another process, and the call may then be computed again there. Issued once per op and argument."""


class DependencySkippedWarning(GraphstoreWarning):
    """Code versioning left a dependency out: a data global that cannot be hashed (``skip_unhashable_globals``), or
    a recorded component that no longer exists, whose calls are computed again (``skip_missing_deps``). Silenced by
    ``skip_globals_silently`` and ``skip_missing_silently``."""


class ClusterCallError(GraphstoreError, RuntimeError):
    """Calls computed on a cluster (``with storage.executor(client):``) failed: they raised on a worker, or killed
    every worker they ran on. Nothing of them is recorded; ``calls`` names each (op, inputs, history id).

    >>> ClusterCallError("1 call failed", ["op f(x=1) (call 12ab)"]).calls
    ['op f(x=1) (call 12ab)']
    """

    def __init__(self, message: str, calls: list[str]) -> None:
        super().__init__(message)
        self.calls = calls
