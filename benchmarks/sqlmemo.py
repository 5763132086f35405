"""A hand-written SQLite memoizer: the floor the benchmarks compare graphstore against.

It does the least a persistent memoizer must do and nothing more: hash the function name and the pickled arguments
with XXH3-128 (graphstore's hash; large buffers such as numpy arrays are hashed in place, out of band), look the key
up by primary key in one table, and on a miss run the function and keep the pickled result in memory until the
``with`` block ends, when all new rows go in with one ``executemany`` in one transaction. No history, no graph, no
values stored apart from results, no crash bound.

>>> import tempfile, os
>>> memo = SQLiteMemo(os.path.join(tempfile.mkdtemp(), "m.db"))
>>> inc = memo.cache(lambda x: x + 1, name="inc")
>>> with memo:
...     inc(1)
2
>>> memo.hits, memo.misses
(0, 1)
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Callable
from typing import Any

import xxhash

_digest = xxhash.xxh3_128_digest


class SQLiteMemo:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS memo (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID")
        self.pending: dict[bytes, bytes] = {}
        self.hits = 0
        self.misses = 0

    def cache(self, fn: Callable, name: str = "") -> Callable:
        prefix = (name or f"{fn.__module__}.{fn.__qualname__}").encode() + b"\0"
        lookup = self.conn.execute
        pending = self.pending

        def wrapper(*args: Any) -> Any:
            buffers: list = []
            data = pickle.dumps(args, protocol=5, buffer_callback=buffers.append)
            if buffers:  # large arrays: hash their buffers in place instead of copying them into the pickle
                hasher = xxhash.xxh3_128(prefix + data)
                for buf in buffers:
                    hasher.update(buf.raw())
                key = hasher.digest()
            else:
                key = _digest(prefix + data)
            blob = pending.get(key)
            if blob is None:
                row = lookup("SELECT value FROM memo WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    self.hits += 1
                    return pickle.loads(row[0])
                self.misses += 1
                value = fn(*args)
                pending[key] = pickle.dumps(value, protocol=5)
                return value
            self.hits += 1
            return pickle.loads(blob)

        return wrapper

    def commit(self) -> None:
        if self.pending:
            self.conn.execute("BEGIN")  # one transaction
            self.conn.executemany("INSERT OR IGNORE INTO memo VALUES (?, ?)", self.pending.items())
            self.conn.execute("COMMIT")
            self.pending.clear()

    def close(self) -> None:
        self.commit()
        self.conn.close()

    def __enter__(self) -> SQLiteMemo:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.commit()
