"""Tools for the reliability tests: a raw view of a store file, damaging overflow files, and stores as older
graphstore versions left them (for the migration tests).

``make_store_at_version(path, v)`` builds the schema of version ``v`` with the first ``v`` migrations, then writes the
data of a small program into it with raw SQL, filling only the columns that existed at that version (later columns,
such as ``calls.outputs`` or ``values.checksum``, do not exist there). The rows themselves come from recording the
program in a current scratch store, so ids, edges and values are exactly what graphstore derives.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import sqlite_utils

from graphstore import MList, Storage, op
from graphstore.backends.schema import migrations


def snapshot(path: str) -> dict[str, list[tuple]]:
    """Every row of every table of the store at ``path`` (a SQLite file, read without touching it, or the URL of a
    PostgreSQL database, read through a read-only Storage)."""
    if path.startswith(("postgresql://", "postgres://")):
        from graphstore import Storage

        store = Storage(path, read_only=True)
        try:
            names = store_rows(store, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            return {t: sorted(store_rows(store, f'SELECT * FROM "{t}"'), key=repr) for (t,) in names}
        finally:
            store.close()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    finally:
        conn.close()


def dump(path: str) -> dict:
    """The store's calls, refs, values, edges and members by hid (times left out)."""
    conn = sqlite3.connect(path)
    try:
        q = conn.execute
        return {
            "calls": sorted(q("SELECT hid, cid, op_name, op_version, tuple_out, version_id, outputs FROM calls")),
            "refs": sorted(q("SELECT hid, cid, kind FROM refs")),
            "values": sorted(q('SELECT cid, codec, size, data, path, checksum FROM "values"')),
            "edges": sorted(
                q(
                    "SELECT c.hid, e.direction, e.label, e.pos, r.hid FROM edges AS e "
                    "JOIN calls AS c ON c.id = e.call_id JOIN refs AS r ON r.id = e.ref_id"
                )
            ),
            "members": sorted(
                q(
                    "SELECT c.hid, m.pos, m.key, r.hid FROM members AS m "
                    "JOIN refs AS c ON c.id = m.coll_id JOIN refs AS r ON r.id = m.elt_id"
                )
            ),
        }
    finally:
        conn.close()


def damage_file(file: str, how: str) -> None:
    """Damage an overflow file: remove it, make it a directory, cut its end or flip bytes in place."""
    data = open(file, "rb").read()
    if how == "missing":
        os.remove(file)
    elif how == "directory":
        os.remove(file)
        os.mkdir(file)  # cannot be read (tests run as root, so permissions would not stop a read)
    elif how == "truncated":
        open(file, "wb").write(data[:-100])
    elif how == "corrupted":
        open(file, "wb").write(data[:2000] + bytes(b ^ 0xFF for b in data[2000:2010]) + data[2010:])


MIGRATION_NAMES = [m.name for m in migrations()._migrations]
TABLES = ["ops", "values", "refs", "calls", "edges", "members"]
RAN: list[str] = []


@op
def m_inc(x):
    RAN.append("m_inc")
    return x + 1


@op(output_names=["total", "count"])
def m_stats(a, b):
    RAN.append("m_stats")
    return a + b, 2


@op
def m_range(n) -> MList[int]:
    RAN.append("m_range")
    return list(range(n))


@op
def m_sum(xs: MList[int]) -> int:
    RAN.append("m_sum")
    return sum(xs)


def program(version: int) -> dict[str, Any]:
    """Record (or retrace) the program a store of schema ``version`` holds; returns its results by name."""
    a = m_inc(1)
    b = m_inc(a)
    total, count = m_stats(a, b)
    out = {"a": a, "b": b, "total": total, "count": count}
    if version >= 2:  # collections are stored element by element since migration 0002_members
        xs = m_range(4)
        out["xs"] = xs
        out["sum_xs"] = m_sum(xs)
        out["sum_ab"] = m_sum([a, b])
    return out


EXPECTED = {"a": 2, "b": 3, "total": 5, "count": 2, "xs": [0, 1, 2, 3], "sum_xs": 6, "sum_ab": 5}


def columns(conn: sqlite3.Connection, table: str, schema: str = "main") -> list[str]:
    return [row[1] for row in conn.execute(f'PRAGMA {schema}.table_info("{table}")')]


BY_HID = {
    "edges": "(SELECT c.hid AS call_hid, e.direction, e.label, e.pos, r.hid AS ref_hid FROM src.edges AS e "
    "JOIN src.calls AS c ON c.id = e.call_id JOIN src.refs AS r ON r.id = e.ref_id)",
    "members": "(SELECT c.hid AS coll_hid, m.pos, m.key, r.hid AS elt_hid FROM src.members AS m "
    "JOIN src.refs AS c ON c.id = m.coll_id JOIN src.refs AS r ON r.id = m.elt_id)",
}
"""Edges and members as schemas before 7 held them (by text id), from a store of the current schema."""


def make_store_at_version(path: str, version: int) -> dict[str, int]:
    """A store at schema ``version`` (1 .. current-1) holding ``program(version)``; returns its row counts."""
    assert 1 <= version < len(MIGRATION_NAMES)
    scratch = f"{path}.scratch"
    s = Storage(scratch)
    with s:
        program(version)
    s.close()

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        migrations().apply(sqlite_utils.Database(conn), stop_before=MIGRATION_NAMES[version])
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(version),))
        conn.execute("ATTACH DATABASE ? AS src", (scratch,))
        counts = {}
        for table in TABLES:
            old = columns(conn, table)
            if not old:  # the table did not exist yet: the program must not have needed it
                assert conn.execute(f'SELECT count(*) FROM src."{table}"').fetchone()[0] == 0, table
                continue
            cols = ", ".join(f'"{c}"' for c in old)
            source = BY_HID.get(table, f'src."{table}"')
            conn.execute(f'INSERT INTO main."{table}" ({cols}) SELECT {cols} FROM {source}')
            counts[table] = conn.execute(f'SELECT count(*) FROM main."{table}"').fetchone()[0]
        conn.execute("DETACH DATABASE src")
    finally:
        conn.close()
    os.remove(scratch)
    return counts


def value_files(folder) -> list[str]:
    """The overflow files in ``folder`` (without the marker naming the store it belongs to), sorted."""
    from graphstore.overflow import OWNER_FILE

    return sorted(n for n in os.listdir(folder) if n != OWNER_FILE)


AUDIT = """
import json, sys
from graphstore import Storage, hash_value
storage = Storage(sys.argv[1], read_only=True)
cids = [c for (c,) in storage.backend.execute('SELECT cid FROM "values" WHERE codec != \\'pointer\\'')]
records = storage.backend.load_values(cids)
mismatched = [c for c in cids if hash_value(storage._values.load(records[c])) != c]
unloadable, loaded = [], {}
for (hid,) in storage.backend.execute("SELECT hid FROM refs WHERE kind = 'atom'"):
    try:
        loaded[hid] = repr(storage.unwrap(storage.load_ref(hid, in_memory=False)))
    except Exception as exc:
        unloadable.append(f"{hid}: {type(exc).__name__}: {exc}")
problems = storage.check().problems
print(json.dumps({"values": len(cids), "mismatched": mismatched, "unloadable": unloadable, "loaded": loaded,
                  "problems": problems}))
"""


def audit_store(path: str) -> dict:
    """Read a store file in a new process: every stored value checked against its content id, every atom ref
    loaded (``loaded``: hid -> repr of its value), and ``storage.check()``'s problems."""
    import json
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", AUDIT, path], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def wait_for_helper(storage, timeout: float = 60.0) -> bool:
    """Wait until the storage's helper process is up (it starts in the background); returns whether it is."""
    import time

    deadline = time.monotonic() + timeout
    while not storage.backend.helper_ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    return storage.backend.helper_ready()


def temp_tables(storage) -> list[str]:
    """The temporary tables on the store's own connection (where the query layer stages its tables)."""
    if storage.backend.sql_dialect == "postgres":
        sql = "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relkind = 'r'"
    else:
        sql = "SELECT name FROM sqlite_temp_master WHERE type = 'table'"
    return [name for (name,) in storage.backend.execute(sql)]


def store_rows(storage, sql: str, params: tuple = ()) -> list[tuple]:
    """The rows of raw SQL on either store, written with SQLite's ``?`` placeholders (PostgreSQL's driver takes
    ``%s``); ids come back as 32-hex text from both."""
    if storage.backend.sql_dialect == "postgres":
        sql = sql.replace("?", "%s")
    return storage.backend.execute(sql, params)


def rows_elsewhere(location: str, sql: str, params: tuple = ()) -> list[tuple]:
    """The rows of raw SQL (``?`` placeholders) run on a connection of the test's own to the store at ``location``
    (a SQLite file or a PostgreSQL URL), not through graphstore, and committed; ids come back as 32-hex text from
    both."""
    import uuid

    if not location.startswith(("postgresql://", "postgres://")):
        conn = sqlite3.connect(location)
        try:
            with conn:  # (a statement that changes rows is committed)
                return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(location, autocommit=True) as pg:
        cur = pg.execute(sql.replace("?", "%s"), params or None)
        rows = cur.fetchall() if cur.description is not None else []
    return [tuple(v.hex if isinstance(v, uuid.UUID) else v for v in row) for row in rows]
