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

from .context import noop
from .errors import (
    CallNotStoredWarning,
    ConfigurationError,
    DependencySkippedWarning,
    ForeignWALError,
    GraphstoreError,
    GraphstoreWarning,
    HashingError,
    InputMutatedWarning,
    IntegrityError,
    NewCallsNotAllowedError,
    OpCallError,
    OpDefinitionError,
    OverflowDirInUseError,
    OverflowPathError,
    ReadOnlyStoreError,
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
from .tracking import track
from .versioning import VersionInfo
from .structs import DictRef, ListRef, MDict, MList, MSet, MTuple, SetRef, TupleRef

__version__ = "0.1.0"

__all__ = [
    "AtomRef",
    "Call",
    "CallNotStoredWarning",
    "ConfigurationError",
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
    "Op",
    "OpCallError",
    "OpDefinitionError",
    "OverflowDirInUseError",
    "OverflowPathError",
    "Ref",
    "ReadOnlyStoreError",
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
    "hash_value",
    "noop",
    "op",
    "track",
    "wrap_atom",
    "WriteRefusedError",
]
