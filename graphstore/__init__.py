"""graphstore: memoized Python functions recorded as a queryable computation graph.

>>> from graphstore import op, Storage
>>> @op
... def square(x):
...     return x * x
>>> storage = Storage()
>>> with storage:
...     y = square(3)
>>> storage.unwrap(y)
9
"""

from .backends import upgrade_store
from .context import noop
from .copying import CopyReport, copy_store
from .deletion import DeletionReport
from .errors import (
    AmbiguousContextError,
    CallNotStoredWarning,
    ClusterCallError,
    ConfigurationError,
    DependencySkippedWarning,
    ForeignWALError,
    GraphstoreError,
    GraphstoreWarning,
    HashingError,
    InputMutatedWarning,
    IntegrityError,
    NewCallsNotAllowedError,
    NotACallError,
    OpCallError,
    OpDefinitionError,
    OpNameConflictError,
    OverflowDirInUseError,
    OverflowPathError,
    ReadOnlyStoreError,
    RefComparisonError,
    RefNotLoadedError,
    SchemaVersionError,
    SerializationError,
    StoreError,
    UnstableIdWarning,
    UntrustedValueError,
    ValueTooLargeError,
    VersioningError,
    WriteRefusedError,
)
from .hashing import hash_value
from .ops import Op, op
from .refs import AtomRef, Call, Ignore, NewArgDefault, Ref, ValuePointer, wrap_atom
from .storage import Storage
from .structs import DictRef, ListRef, MDict, MList, MSet, MTuple, SetRef, TupleRef
from .tracking import track
from .versioning import VersionInfo

__version__ = "0.1.0"

__all__ = [
    "AmbiguousContextError",
    "AtomRef",
    "Call",
    "CallNotStoredWarning",
    "ClusterCallError",
    "ConfigurationError",
    "CopyReport",
    "DeletionReport",
    "DependencySkippedWarning",
    "DictRef",
    "ForeignWALError",
    "GraphstoreError",
    "GraphstoreWarning",
    "HashingError",
    "InputMutatedWarning",
    "IntegrityError",
    "Ignore",
    "ListRef",
    "MDict",
    "MList",
    "MSet",
    "MTuple",
    "NewArgDefault",
    "NewCallsNotAllowedError",
    "NotACallError",
    "Op",
    "OpCallError",
    "OpDefinitionError",
    "OpNameConflictError",
    "OverflowDirInUseError",
    "OverflowPathError",
    "Ref",
    "ReadOnlyStoreError",
    "RefComparisonError",
    "RefNotLoadedError",
    "SchemaVersionError",
    "SerializationError",
    "SetRef",
    "Storage",
    "StoreError",
    "TupleRef",
    "UnstableIdWarning",
    "UntrustedValueError",
    "ValuePointer",
    "ValueTooLargeError",
    "VersionInfo",
    "VersioningError",
    "copy_store",
    "hash_value",
    "noop",
    "op",
    "track",
    "upgrade_store",
    "wrap_atom",
    "WriteRefusedError",
]
