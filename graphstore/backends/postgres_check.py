"""Integrity checks of a PostgreSQL store: the graph's references, the packed outputs of calls, overflow files and
checksums. (Types, keys and the pages themselves are the server's business.) Nothing is unpickled: stored bytes are
compared with their recorded checksums."""

from __future__ import annotations

import xxhash

from ..errors import StoreError
from ..overflow import overflow_file_problems
from .postgres_conn import PgConnections

_DANGLING = [
    (
        "edge of call {0} points at a missing call",
        "SELECT DISTINCT 'id ' || e.call_id FROM edges AS e "
        "WHERE NOT EXISTS (SELECT 1 FROM calls AS c WHERE c.id = e.call_id) LIMIT 20",
    ),
    (
        "edge {0} points at a missing ref",
        "SELECT coalesce(replace(c.hid::text, '-', ''), 'call id ' || e.call_id) || ' -> ref id ' || e.ref_id "
        "FROM edges AS e LEFT JOIN calls AS c ON c.id = e.call_id "
        "WHERE NOT EXISTS (SELECT 1 FROM refs AS r WHERE r.id = e.ref_id) LIMIT 20",
    ),
    (
        "ref {0} has no stored value",
        "SELECT r.hid FROM refs AS r WHERE r.kind = 'atom' "
        'AND NOT EXISTS (SELECT 1 FROM "values" AS v WHERE v.cid = r.cid) LIMIT 20',
    ),
    (
        "ref {0} calls",
        "SELECT replace(min(r.hid::text), '-', '') || ' is the output of ' || count(*) FROM edges AS e "
        "JOIN refs AS r ON r.id = e.ref_id WHERE e.direction = 1 GROUP BY e.ref_id HAVING count(*) > 1 LIMIT 20",
    ),
    (
        "ref {0}, which graphstore never writes: the store is damaged",
        "SELECT replace(r.hid::text, '-', '') || ' has kind ' || quote_literal(r.kind) FROM refs AS r "
        "WHERE r.kind NOT IN ('atom', 'list', 'dict', 'set', 'tuple') LIMIT 20",
    ),
    (
        "call {0} cannot be read: the store is damaged",
        "SELECT replace(c.hid::text, '-', '') || ' has outputs ' || quote_literal(substr(c.outputs, 1, 40)) "
        "|| ', which' "
        "FROM calls AS c WHERE c.outputs IS NOT NULL AND c.outputs != '' AND "
        "(length(c.outputs) - length(replace(c.outputs, chr(31), ''))) != "
        "3 * (1 + length(c.outputs) - length(replace(c.outputs, chr(30), ''))) LIMIT 20",
    ),
    (
        "collection {0} lists a missing element",
        "SELECT DISTINCT c.hid FROM members AS m JOIN refs AS c ON c.id = m.coll_id "
        "WHERE NOT EXISTS (SELECT 1 FROM refs AS r WHERE r.id = m.elt_id) LIMIT 20",
    ),
]


class PgChecker:
    """Integrity checks of the store that ``db`` reaches."""

    def __init__(self, db: PgConnections) -> None:
        self._db = db

    def integrity_problems(self, overflow_dir: str | None, full: bool = True) -> list[str]:
        problems: list[str] = []
        try:
            for message, sql in _DANGLING:
                problems.extend(message.format(row[0]) for row in self._db.run(sql))
            problems.extend(self._value_problems(overflow_dir, full))
        except StoreError as exc:
            problems.append(f"postgresql: {exc}")
        return problems

    def _value_problems(self, overflow_dir: str | None, full: bool) -> list[str]:
        out: list[str] = []
        rows = self._db.run('SELECT cid, size, path, checksum FROM "values" WHERE path IS NOT NULL ORDER BY cid')
        out.extend(overflow_file_problems(rows, overflow_dir, full))
        if full:
            last = -1
            while True:  # in slices, so the bytes of a large store are never all in memory at once
                rows = self._db.run(
                    'SELECT id, cid, data, checksum FROM "values" WHERE data IS NOT NULL AND checksum IS NOT NULL '
                    "AND id > %s ORDER BY id LIMIT 1000",
                    (last,),
                )
                for _, cid, data, checksum in rows:
                    if xxhash.xxh3_64_hexdigest(data) != checksum:
                        out.append(f"stored bytes of value {cid} do not match their checksum")
                if len(rows) < 1000:
                    break
                last = rows[-1][0]
        return out
