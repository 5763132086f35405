"""Integrity checks of a SQLite store: SQLite's own check, then the graph's references, then overflow files.

Nothing is unpickled: stored bytes are compared with their recorded checksums.
"""

from __future__ import annotations

import xxhash

from ..errors import StoreError
from ..overflow import overflow_file_problems
from .sqlite_conn import Connections

_DANGLING = [
    (
        "edge of call {0} points at a missing call",
        "SELECT DISTINCT 'id ' || e.call_id FROM edges AS e "
        "WHERE NOT EXISTS (SELECT 1 FROM calls AS c WHERE c.id = e.call_id) LIMIT 20",
    ),
    (
        "edge {0} points at a missing ref",
        "SELECT coalesce(c.hid, 'call id ' || e.call_id) || ' -> ref id ' || "
        "e.ref_id FROM edges AS e LEFT JOIN calls AS c ON c.id = e.call_id "
        "WHERE NOT EXISTS (SELECT 1 FROM refs AS r WHERE r.id = e.ref_id) LIMIT 20",
    ),
    (
        "ref {0} has no stored value",
        "SELECT r.hid FROM refs AS r WHERE r.kind = 'atom' "
        'AND NOT EXISTS (SELECT 1 FROM "values" AS v WHERE v.cid = r.cid) LIMIT 20',
    ),
    (
        "ref {0} calls",
        "SELECT r.hid || ' is the output of ' || count(*) FROM edges AS e "
        "JOIN refs AS r ON r.id = e.ref_id WHERE e.direction = 1 GROUP BY e.ref_id HAVING count(*) > 1 LIMIT 20",
    ),
    (
        "ref {0}, which graphstore never writes: the store is damaged",
        "SELECT r.hid || ' has kind ' || "
        "quote(r.kind) FROM refs AS r WHERE r.kind IS NOT 'atom' AND r.kind NOT IN ('list', 'dict', 'set', 'tuple') "
        "LIMIT 20",
    ),
    (
        "value {0}, not as bytes: the store is damaged",
        "SELECT v.cid || ' is stored as ' || typeof(v.data) "
        "FROM \"values\" AS v WHERE v.data IS NOT NULL AND typeof(v.data) != 'blob' LIMIT 20",
    ),
    (
        "call {0} cannot be read: the store is damaged",
        "SELECT c.hid || ' has outputs ' || quote(substr(c.outputs, 1, 40)) "
        "|| ', which' FROM calls AS c WHERE c.outputs IS NOT NULL AND (typeof(c.outputs) != 'text' OR "
        "(length(c.outputs) - length(replace(c.outputs, char(31), ''))) != "
        "3 * (1 + length(c.outputs) - length(replace(c.outputs, char(30), '')))) AND c.outputs != '' LIMIT 20",
    ),
    (
        "collection {0} lists a missing element",
        "SELECT DISTINCT c.hid FROM members AS m "
        "JOIN refs AS c ON c.id = m.coll_id "
        "WHERE NOT EXISTS (SELECT 1 FROM refs AS r WHERE r.id = m.elt_id) LIMIT 20",
    ),
]


class Checker:
    """Integrity checks of the store that ``db`` reaches.

    >>> from graphstore.backends.sqlite_conn import Connections
    >>> Checker(Connections(":memory:")).integrity_problems(None)
    []
    """

    def __init__(self, db: Connections) -> None:
        self._db = db

    def integrity_problems(self, overflow_dir: str | None, full: bool = True) -> list[str]:
        problems: list[str] = []
        try:
            problems.extend(f"sqlite: {row[0]}" for row in self._db.run("PRAGMA quick_check") if row[0] != "ok")
            if problems:
                return problems  # the file itself is damaged: the queries below cannot be trusted
            for message, sql in _DANGLING:
                problems.extend(message.format(row[0]) for row in self._db.run(sql))
            problems.extend(self._value_problems(overflow_dir, full))
        except StoreError as exc:  # so damaged that SQLite cannot even read it: report it rather than raise
            problems.append(f"sqlite: {exc}")
        return problems

    def _value_problems(self, overflow_dir: str | None, full: bool) -> list[str]:
        out: list[str] = []
        rows = self._db.run('SELECT cid, size, path, checksum FROM "values" WHERE path IS NOT NULL')
        out.extend(overflow_file_problems(rows, overflow_dir, full))
        if full:
            for cid, data, checksum in self._db.run(
                "SELECT cid, data, checksum FROM \"values\" WHERE typeof(data) = 'blob' AND checksum IS NOT NULL"
            ):
                if xxhash.xxh3_64_hexdigest(data) != checksum:
                    out.append(f"stored bytes of value {cid} do not match their checksum")
        return out
