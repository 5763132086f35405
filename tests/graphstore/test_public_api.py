"""The public surface is pinned: adding or removing a name is a deliberate change made here."""

import graphstore
import graphstore.imports
from graphstore import errors


def test_graphstore_all_is_pinned():
    assert sorted(graphstore.__all__) == sorted(
        [
            "AtomRef",
            "Call",
            "ConfigurationError",
            "DictRef",
            "GraphstoreError",
            "HashingError",
            "IntegrityError",
            "ReadOnlyStoreError",
            "Ignore",
            "ListRef",
            "MDict",
            "MList",
            "MSet",
            "MTuple",
            "NewArgDefault",
            "SetRef",
            "TupleRef",
            "NewCallsNotAllowedError",
            "Op",
            "OpCallError",
            "OpDefinitionError",
            "Ref",
            "RefNotLoadedError",
            "SchemaVersionError",
            "SerializationError",
            "Storage",
            "StoreError",
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
            "ForeignWALError",
            "OverflowDirInUseError",
            "OverflowPathError",
            "UntrustedValueError",
            "GraphstoreWarning",
            "InputMutatedWarning",
            "CallNotStoredWarning",
            "UnstableIdWarning",
            "DeletionReport",
            "NotACallError",
            "RefComparisonError",
            "AmbiguousContextError",
            "OpNameConflictError",
            "DependencySkippedWarning",
            "ClusterCallError",
            "CopyReport",
            "copy_store",
            "upgrade_store",
        ]
    )
    for name in graphstore.__all__:
        assert hasattr(graphstore, name), name


def test_star_import_gives_what_the_seed_page_uses():
    namespace: dict = {}
    exec("from graphstore.imports import *", namespace)
    for name in ("op", "Storage", "AtomRef", "Ignore", "NewArgDefault", "ValuePointer", "wrap_atom", "noop"):
        assert name in namespace


def test_every_error_derives_from_the_root():
    classes = [getattr(errors, n) for n in dir(errors) if isinstance(getattr(errors, n), type)]
    classes = [c for c in classes if issubclass(c, Exception) and c.__module__ == errors.__name__]
    assert len(classes) >= 10
    assert all(issubclass(c, errors.GraphstoreError) for c in classes)
