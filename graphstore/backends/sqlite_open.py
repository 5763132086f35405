"""Checks made before SQLite opens a store file: is it a graphstore store, and is the log next to it its own?

SQLite applies whatever write-ahead log (``<store>-wal``) it finds next to a database, provided the log is
consistent with itself: the log of another database, copied or left there, would silently replace the store's pages
(and a refused open of someone else's SQLite file would already have folded that file's log into it). So these checks
read the files directly, without SQLite, and refuse before anything is opened; a refused file, its log and its
shared-memory index are left exactly as they were.

Every store carries an identity in its database header (page 1): ``application_id`` (offset 68) is
:data:`STORE_MAGIC`, and ``user_version`` (offset 60) a random number drawn when the store was created. SQLite writes
page 1 into the log with every transaction that grows the file or changes its schema, so a log of another store
carries the other store's page 1, with another identity (and a log of a database with other page sizes is refused as
well). A store made by an older graphstore gets its identity the first time it is opened for writing.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import struct
import time
import urllib.parse

from ..errors import ForeignWALError, StoreError
from .hash_scheme import check_scheme

STORE_MAGIC = 0x47535431
"""``application_id`` of graphstore stores ("GST1")."""

_WAL_MAGICS = (0x377F0682, 0x377F0683)
_WAL_HEADER = 32
_FRAME_HEADER = 24


def read_db_header(path: str) -> tuple[int, int, int] | None:
    """``(page size, application_id, user_version)`` from the header of the database file, or None if it has none
    yet (a new or empty file)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read store {path}: {exc.strerror or exc}") from exc
    if len(head) < 100 or not head.startswith(b"SQLite format 3\0"):
        return None
    return _page_size(struct.unpack(">H", head[16:18])[0]), _u32(head, 68), _u32(head, 60)


def _u32(data: bytes, offset: int) -> int:
    return struct.unpack(">I", data[offset : offset + 4])[0]


def _page_size(raw: int) -> int:
    return 65536 if raw == 1 else raw


def _wal_checksum(data: bytes, big_endian: bool) -> tuple[int, int]:
    """SQLite's log checksum over ``data`` (a multiple of 8 bytes), from zero."""
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    s0 = s1 = 0
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def wal_page_ones(wal: str) -> tuple[int, list[bytes]] | None:
    """``(page size, [first 100 bytes of each copy of page 1])`` of the log's current frames, or None if SQLite
    would not use the log (missing, empty, or with an invalid header)."""
    try:
        fh = open(wal, "rb")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read the write-ahead log {wal}: {exc.strerror or exc}") from exc
    with fh:
        head = fh.read(_WAL_HEADER)
        if len(head) < _WAL_HEADER or _u32(head, 0) not in _WAL_MAGICS:
            return None
        if _wal_checksum(head[:24], bool(_u32(head, 0) & 1)) != (_u32(head, 24), _u32(head, 28)):
            return None  # SQLite ignores a log whose header is damaged
        page_size = _page_size(_u32(head, 8))
        salts = head[16:24]
        size = os.fstat(fh.fileno()).st_size
        ones: list[bytes] = []
        offset = _WAL_HEADER
        while offset + _FRAME_HEADER + page_size <= size:
            fh.seek(offset)
            frame = fh.read(_FRAME_HEADER + 100)
            if frame[8:16] != salts:  # the end of the current frames (SQLite stops here too)
                break
            if _u32(frame, 0) == 1:
                ones.append(frame[_FRAME_HEADER:])
            offset += _FRAME_HEADER + page_size
        if offset == _WAL_HEADER:
            return None  # no frames: nothing would be applied
        return page_size, ones


def refuse_foreign_wal(path: str) -> None:
    """Raise :class:`ForeignWALError` if the log next to store ``path`` was written by another database."""
    if path == ":memory:":
        return
    wal = path + "-wal"
    found = wal_page_ones(wal)
    header = read_db_header(path)
    if found is None or header is None:
        return
    wal_page_size, ones = found
    page_size, app_id, store_id = header

    def refuse(why: str) -> None:
        raise ForeignWALError(
            f"the write-ahead log {wal} does not belong to store {path}: {why}. SQLite would apply it and replace "
            f"the store's contents, so the store was not opened and neither file was changed; move {wal} away "
            "(it belongs with the database that wrote it) and open the store again"
        )

    if wal_page_size != page_size:
        refuse(f"its pages are {wal_page_size} bytes, the store's {page_size}")
    if app_id != STORE_MAGIC:
        return  # a store from before identities: nothing to compare with
    for page in ones:
        other_app, other_id = _u32(page, 68), _u32(page, 60)
        if other_app != STORE_MAGIC:
            refuse("it holds page 1 of a database that is not a graphstore store")
        if other_id != store_id:
            refuse(f"it holds page 1 of another store (identity {other_id}, this store's is {store_id})")


def refuse_copy_without_log(path: str, wait: float = 2.0) -> None:
    """Refuse a store file that is an empty shell of a store: it carries a store's identity and is in WAL mode, but
    holds a single page (no tables) and has no log beside it. Such a file is a copy of the store file taken while the
    store was open (everything was still in its log, which was not copied), or a store whose log was removed: opening
    it would make a new, empty store in its place. A store being created by another process looks the same for a
    moment (its creator writes the identity, switches to WAL mode, then makes its tables), so the file is looked at
    again for up to ``wait`` seconds before it is refused."""
    if path == ":memory:":
        return
    deadline = time.monotonic() + wait
    while _empty_shell(path):
        if time.monotonic() >= deadline:
            raise StoreError(
                f"store {path} holds nothing but a store's identity, and no write-ahead log ({path}-wal) is beside "
                "it: it looks like a copy of a store file taken while the store was open (its contents were still "
                "in the log, which was not copied along). Nothing was changed. Copy a store with "
                "storage.backup(path), or copy it with its -wal file, or once every program using it has closed it"
            )
        time.sleep(0.02)


def _empty_shell(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError:
        return False
    if len(head) < 100 or not head.startswith(b"SQLite format 3\0") or _u32(head, 68) != STORE_MAGIC:
        return False
    in_wal_mode = head[18] == 2 and head[19] == 2
    return in_wal_mode and _u32(head, 28) <= 1 and not os.path.exists(path + "-wal")


def refuse_foreign_file(path: str) -> None:
    """Refuse a SQLite file that is not a graphstore store, reading only its main file (``immutable``: SQLite then
    neither reads nor changes its log, shared-memory index or journal)."""
    header = read_db_header(path)
    if header is None or header[1] == STORE_MAGIC:
        return
    from .schema import refuse_foreign

    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open store {path}: {exc}") from exc
    try:
        refuse_foreign(conn, path)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open store {path}: {exc} (is it a graphstore SQLite file?)") from exc
    finally:
        conn.close()


def stamp_identity(conn: sqlite3.Connection) -> None:
    """Give the store open on ``conn`` its identity, if it has none yet (a new store, or one made by an older
    graphstore). For a new store this is its first write, so the identity is in the file before any log exists."""
    if conn.execute("PRAGMA application_id").fetchone()[0] == STORE_MAGIC:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA application_id").fetchone()[0] != STORE_MAGIC:
            conn.execute(f"PRAGMA user_version = {secrets.randbelow(2**31 - 1) + 1}")
            conn.execute(f"PRAGMA application_id = {STORE_MAGIC}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def store_uuid(conn: sqlite3.Connection, create: bool) -> str | None:
    """The store's unique id (``meta.store_id``), made on first use when ``create``; None for a read-only store
    made by an older graphstore, which has none."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
    if row is None and create:
        import uuid

        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)", (uuid.uuid4().hex,))
        row = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
    return None if row is None else str(row[0])


def read_only_mode(path: str) -> str:
    """The URI parameters of a read-only connection to ``path``.

    SQLite reads a store in WAL mode through a shared-memory index (``-shm``), which it creates next to the store
    file. In a folder this process cannot write (a read-only file system, a colleague's folder), that is impossible:
    a store without a log (closed by every writer) is then opened ``immutable``, so SQLite creates, locks and changes
    nothing there, on the promise that nobody changes the store while it is open. A store with a log there (a writer
    has it open, or crashed) cannot be read consistently without the index and is refused.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if os.access(folder, os.W_OK):
        return "?mode=ro"
    wal = path + "-wal"
    if os.path.exists(wal) and os.path.getsize(wal) > 0:
        raise StoreError(
            f"cannot open store {path} read-only: it has a write-ahead log {wal} (a process is writing it, or one "
            f"was stopped while writing) and folder {folder} cannot be written here, so SQLite cannot make the "
            "index it needs to read the log; open it from an account that can write the folder, or once the "
            "writer has closed it"
        )
    return "?mode=ro&immutable=1"


def check_hash_scheme(conn: sqlite3.Connection, path: str, write: bool = True) -> None:
    """:func:`~graphstore.backends.hash_scheme.check_scheme` on the store file's ``meta`` table."""

    def get(key: str) -> str | None:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def put(key: str, value: str) -> None:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    check_scheme(get, put, path, write)
