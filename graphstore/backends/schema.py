"""The SQLite schema of the property graph, as an ordered set of migrations.

The schema version of a store is the number of graphstore migrations applied to it. Opening a store whose version is
newer than this code knows is refused; an older one is migrated forward.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import progress
from ..errors import SchemaVersionError, StoreError

if TYPE_CHECKING:
    import sqlite_utils

_STEPS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = []
"""The migrations in order, as ``(name, function)``. sqlite_utils (which imports pandas, when installed: a quarter of
a second and tens of thousands of objects) is imported only when a store must be created or migrated."""


def _migration(name: str) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        _STEPS.append((name, fn))
        return fn

    return register


_MIGRATIONS: Any = None


def migrations() -> sqlite_utils.Migrations:
    """The schema's migrations as a ``sqlite_utils.Migrations`` set (built on first use)."""
    global _MIGRATIONS
    if _MIGRATIONS is None:
        import sqlite_utils

        m = sqlite_utils.Migrations("graphstore")
        for name, fn in _STEPS:
            m(name=name)(fn)
        _MIGRATIONS = m
    return _MIGRATIONS


_INITIAL = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ops (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    signature TEXT NOT NULL,
    source_hash TEXT NOT NULL,
    output_names TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS "values" (
    cid TEXT PRIMARY KEY,
    codec TEXT NOT NULL,
    size INTEGER NOT NULL,
    data BLOB,
    path TEXT
);
CREATE TABLE IF NOT EXISTS refs (
    hid TEXT PRIMARY KEY,
    cid TEXT NOT NULL,
    kind TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refs_cid ON refs (cid);
CREATE TABLE IF NOT EXISTS calls (
    hid TEXT PRIMARY KEY,
    cid TEXT NOT NULL,
    op_name TEXT NOT NULL,
    op_version INTEGER NOT NULL,
    tuple_out INTEGER NOT NULL,
    created_at REAL NOT NULL,
    duration REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS calls_cid ON calls (cid);
CREATE INDEX IF NOT EXISTS calls_op ON calls (op_name, op_version);
CREATE TABLE IF NOT EXISTS edges (
    call_hid TEXT NOT NULL,
    direction INTEGER NOT NULL,
    label TEXT NOT NULL,
    pos INTEGER NOT NULL,
    ref_hid TEXT NOT NULL,
    PRIMARY KEY (call_hid, direction, label)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_ref ON edges (ref_hid, direction);
"""


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run ``;``-separated statements one by one (inside the migration's transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@_migration("0001_initial")
def _initial(db: sqlite_utils.Database) -> None:
    _run_script(db, _INITIAL)


_MEMBERS = """
CREATE TABLE IF NOT EXISTS members (
    coll_hid TEXT NOT NULL,
    pos INTEGER NOT NULL,
    key TEXT,
    elt_hid TEXT NOT NULL,
    PRIMARY KEY (coll_hid, pos)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_elt ON members (elt_hid)
"""


@_migration("0002_members")
def _members(db: sqlite_utils.Database) -> None:
    """Collections stored element by element: an index of each collection's elements."""
    _run_script(db, _MEMBERS)


_VERSIONING = """
ALTER TABLE calls ADD COLUMN version_id TEXT;
CREATE INDEX IF NOT EXISTS calls_version ON calls (version_id);
CREATE TABLE IF NOT EXISTS components (
    key TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    semantic_hash TEXT NOT NULL,
    parent_hash TEXT,
    source TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (key, content_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    version_id TEXT PRIMARY KEY,
    op_name TEXT NOT NULL,
    op_version INTEGER NOT NULL,
    semantic_version TEXT NOT NULL,
    deps TEXT NOT NULL,
    created_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS versions_op ON versions (op_name, op_version)
"""


@_migration("0003_versioning")
def _versioning(db: sqlite_utils.Database) -> None:
    """Code versioning: each call's version, the versions of each op, and the history of each code component."""
    _run_script(db, _VERSIONING)


@_migration("0004_value_checksums")
def _value_checksums(db: sqlite_utils.Database) -> None:
    """A checksum of each value's stored bytes, so integrity checks never need to unpickle anything."""
    db.execute('ALTER TABLE "values" ADD COLUMN checksum TEXT')


@_migration("0005_call_outputs")
def _call_outputs(db: sqlite_utils.Database) -> None:
    """Each call's outputs also kept in its own row, so a memo lookup is one primary-key read without joins."""
    db.execute("ALTER TABLE calls ADD COLUMN outputs TEXT")


@_migration("0006_leaner_indexes")
def _leaner_indexes(db: sqlite_utils.Database) -> None:
    """Two fewer index entries per recorded call: no index of refs by content id (only cleanup needs that, and it
    reads the table once), and calls indexed by version only when they have one (unversioned stores have none)."""
    _run_script(
        db,
        """
DROP INDEX IF EXISTS refs_cid;
DROP INDEX IF EXISTS calls_version;
CREATE INDEX IF NOT EXISTS calls_version ON calls (version_id) WHERE version_id IS NOT NULL
""",
    )


_INTEGER_IDS = """
CREATE TABLE calls_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hid TEXT NOT NULL UNIQUE,
    cid TEXT NOT NULL,
    op_name TEXT NOT NULL,
    op_version INTEGER NOT NULL,
    tuple_out INTEGER NOT NULL,
    created_at REAL NOT NULL,
    duration REAL NOT NULL,
    version_id TEXT,
    outputs TEXT
);
INSERT INTO calls_new (hid, cid, op_name, op_version, tuple_out, created_at, duration, version_id, outputs)
    SELECT hid, cid, op_name, op_version, tuple_out, created_at, duration, version_id, outputs FROM calls
    ORDER BY created_at, hid;
CREATE TABLE refs_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hid TEXT NOT NULL UNIQUE,
    cid TEXT NOT NULL,
    kind TEXT NOT NULL
);
INSERT INTO refs_new (hid, cid, kind)
    SELECT r.hid, r.cid, r.kind FROM refs AS r
    LEFT JOIN (SELECT e.ref_hid AS hid, min(c.id) AS first FROM edges AS e JOIN calls_new AS c ON c.hid = e.call_hid
               GROUP BY e.ref_hid) AS f ON f.hid = r.hid
    ORDER BY f.first, r.hid;
CREATE TABLE edges_new (
    call_id INTEGER NOT NULL,
    direction INTEGER NOT NULL,
    label TEXT NOT NULL,
    pos INTEGER NOT NULL,
    ref_id INTEGER NOT NULL,
    PRIMARY KEY (call_id, direction, label)
) WITHOUT ROWID;
INSERT INTO edges_new (call_id, direction, label, pos, ref_id)
    SELECT c.id, e.direction, e.label, e.pos, r.id FROM edges AS e
    JOIN calls_new AS c ON c.hid = e.call_hid JOIN refs_new AS r ON r.hid = e.ref_hid;
CREATE TABLE members_new (
    coll_id INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    key TEXT,
    elt_id INTEGER NOT NULL,
    PRIMARY KEY (coll_id, pos)
) WITHOUT ROWID;
INSERT INTO members_new (coll_id, pos, key, elt_id)
    SELECT c.id, m.pos, m.key, r.id FROM members AS m
    JOIN refs_new AS c ON c.hid = m.coll_hid JOIN refs_new AS r ON r.hid = m.elt_hid;
DROP TABLE edges;
DROP TABLE members;
DROP TABLE calls;
DROP TABLE refs;
ALTER TABLE calls_new RENAME TO calls;
ALTER TABLE refs_new RENAME TO refs;
ALTER TABLE edges_new RENAME TO edges;
ALTER TABLE members_new RENAME TO members;
CREATE INDEX calls_cid ON calls (cid);
CREATE INDEX calls_op ON calls (op_name, op_version);
CREATE INDEX calls_version ON calls (version_id) WHERE version_id IS NOT NULL;
CREATE INDEX edges_ref ON edges (ref_id, direction);
CREATE INDEX members_elt ON members (elt_id)
"""


@_migration("0007_integer_ids")
def _integer_ids(db: sqlite_utils.Database) -> None:
    """Calls and refs get integer row ids, assigned in the order they are recorded, and edges and members join
    through them: rows recorded together sit on neighbouring pages, keys are a few bytes instead of 32, and a
    batch appends to the end of each table instead of touching pages all over it. Text ids stay, each in one
    unique index, for lookups from outside. (Ids are never reused: ``AUTOINCREMENT``.) Rows of a damaged store
    that point at missing calls or refs cannot be expressed by id and are left out."""
    _run_script(db, _INTEGER_IDS)


SCHEMA_VERSION = len(_STEPS)
"""The schema version this code writes."""

IN, OUT = 0, 1
"""Values of ``edges.direction``."""


def stored_schema_version(conn: sqlite3.Connection, location: str = "") -> int:
    """The schema version recorded in an open store (0 for a new, empty file)."""
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        return 0
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise SchemaVersionError(
            f"store {location} records schema version {row[0]!r}, which is not a version number"
        ) from None


def refuse_foreign(conn: sqlite3.Connection, location: str) -> None:
    """Refuse a SQLite database that holds tables but is no graphstore store (so none are added to it)."""
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~' ORDER BY name"
        )
    ]
    if tables and stored_schema_version(conn, location) == 0:
        raise StoreError(
            f"cannot open store {location}: it is a SQLite database but not a graphstore store (it has tables "
            f"{', '.join(tables[:5])} and no graphstore schema version); use another file"
        )


def ensure_schema(conn: sqlite3.Connection, location: str) -> int:
    """Create or migrate the schema of an open store; returns the schema version now in force."""
    found = stored_schema_version(conn, location)
    if found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"store {location} has schema version {found}, newer than version {SCHEMA_VERSION} that this "
            "graphstore supports: upgrade graphstore to open it"
        )
    if found == SCHEMA_VERSION:
        return found
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        refuse_foreign(conn, location)
        if stored_schema_version(conn, location) < SCHEMA_VERSION:
            with progress.working(f"migrating store {location} to schema version {SCHEMA_VERSION}"):
                migrations().apply(db)
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION
