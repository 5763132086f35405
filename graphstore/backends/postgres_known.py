"""What a PostgreSQL store keeps in memory to spare round trips to the server while recording.

A lookup is a round trip (a tenth of a millisecond or more, against a few microseconds on SQLite). Two things save
most of them, as on SQLite:

- a call found by its history id has the op's calls recorded after it read too (a program retracing meets its calls
  in the order it recorded them), in a window that grows while the calls read ahead are used; and an op whose stored
  calls keep being found in another order has all its calls read in one statement; either way, they are looked up
  in memory from then on;
- once a call of an op is not found, the ids of all the op's stored calls are read (when there are not too many),
  and new calls are known to be new without a statement; calls this process writes are added.

Both are dropped on entering a storage context and before a deletion (``forget``). Another process recording the
same calls meanwhile is not seen until then: a call may be computed once more, and its records converge (every
write is idempotent).
"""

from __future__ import annotations

from collections.abc import Callable

MEMO_MIN_HITS = 20
MEMO_HIT_SHARE = 16
MEMO_MAX_CALLS = 2_000_000
"""An op's calls are read into memory once ``MEMO_MIN_HITS`` of them were found and at least one in
``MEMO_HIT_SHARE`` of its calls, while at most ``MEMO_MAX_CALLS`` calls are held."""
KNOWN_MAX = 200_000
"""The ids of an op's calls are read when it has at most this many."""

_OP_CALLS = (
    "SELECT hid, cid, op_name, op_version, tuple_out, version_id, outputs FROM calls "
    "WHERE op_name = %s AND op_version = %s"
)
_OP_IDS = "SELECT hid, cid FROM calls WHERE op_name = %s AND op_version = %s"
_COUNT_OP = "SELECT count(*) FROM calls WHERE op_name = %s AND op_version = %s"
_OP_AFTER = _OP_CALLS + " AND id > %s ORDER BY id LIMIT %s"

READ_AHEAD_MIN = 64
READ_AHEAD_MAX = 65_536
"""How many of an op's calls recorded after a call found by a round trip are read with it: ``READ_AHEAD_MIN`` at
first, four times more each time at least half of the previous window was used, back to the minimum otherwise
(and after a window none of whose calls was met, the next 1, 2, 4, ... up to 64 round trips read nothing ahead)."""


class KnownCalls:
    """Calls and ids read ahead from the store that ``run`` reads.

    >>> k = KnownCalls(lambda sql, params: [(0,)])
    >>> k.surely_new("h", "c", ("inc", 0)), k.row("h")
    (False, None)
    """

    def __init__(self, run: Callable[[str, tuple], list[tuple]]) -> None:
        self._run = run
        self.forget()

    def forget(self) -> None:
        self.memo: dict[str, tuple] = {}
        self.windows: dict[tuple[str, int], int] = {}
        self.served: dict[tuple[str, int], int] = {}
        self.paused: dict[tuple[str, int], tuple[int, int]] = {}
        self.hits: dict[tuple[str, int], int] = {}
        self.totals: dict[tuple[str, int], int] = {}
        self.memo_ops: set[tuple[str, int]] = set()
        self.known: dict[tuple[str, int], set[str] | None] = {}

    def row(self, hid: str) -> tuple | None:
        """The calls row of ``hid`` if it was read ahead."""
        row = self.memo.get(hid)
        if row is not None:
            key = (row[2], row[3])
            self.served[key] = self.served.get(key, 0) + 1
        return row

    def surely_new(self, hid: str, cid: str, op_key: tuple[str, int] | None) -> bool:
        """Whether the ids of the op's calls were read and neither id is among them."""
        known = self.known.get(op_key) if op_key is not None else None
        return known is not None and hid not in known and cid not in known

    def missed(self, op_key: tuple[str, int] | None) -> None:
        """A call of the op was not found: read the ids of its calls (once), as more new calls are likely."""
        if op_key is None or op_key in self.known:
            return
        count = self._count(op_key)
        if count > KNOWN_MAX:
            self.known[op_key] = None
            return
        ids: set[str] = set()
        for hid, cid in self._run(_OP_IDS, op_key):
            ids.add(hid)
            ids.add(cid)
        self.known[op_key] = ids

    def found(self, op_key: tuple[str, int], row_id: int) -> None:
        """A call of the op (row ``row_id``) was found by its history id: read the op's calls recorded after it, and
        past enough hits, all its calls."""
        if op_key in self.memo_ops:
            return
        self._read_ahead(op_key, row_id)
        hits = self.hits.get(op_key, 0) + 1
        self.hits[op_key] = hits
        if hits < MEMO_MIN_HITS or hits % MEMO_MIN_HITS:
            return
        total = self._count(op_key)
        if hits * MEMO_HIT_SHARE >= total and len(self.memo) + total <= MEMO_MAX_CALLS:
            memo = self.memo
            self.memo_ops.add(op_key)
            memo.update((row[0], row) for row in self._run(_OP_CALLS, op_key) if row[6] is not None)

    def _read_ahead(self, op_key: tuple[str, int], row_id: int) -> None:
        window = self.windows.get(op_key)
        used = self.served.get(op_key, 0)
        if window is not None and used == 0:  # the calls read ahead last time were not met: wait longer each time
            skip, pause = self.paused.get(op_key, (0, 1))
            if skip < pause:
                self.paused[op_key] = (skip + 1, pause)
                return
            self.paused[op_key] = (0, min(2 * pause, 64))
        window = READ_AHEAD_MIN if window is None or used * 2 < window else min(4 * window, READ_AHEAD_MAX)
        if len(self.memo) + window > MEMO_MAX_CALLS:
            return
        self.windows[op_key], self.served[op_key] = window, 0
        memo = self.memo
        memo.update((row[0], row) for row in self._run(_OP_AFTER, (*op_key, row_id, window)) if row[6] is not None)

    def written(self, calls: list[tuple]) -> None:
        """Calls (batch rows) this process stored: their ids are known from now on."""
        for c in calls:
            known = self.known.get((c[2], c[3]))
            if known is not None:
                known.add(c[0])
                known.add(c[1])

    def _count(self, op_key: tuple[str, int]) -> int:
        total = self.totals.get(op_key)
        if total is None:
            total = self.totals[op_key] = int(self._run(_COUNT_OP, op_key)[0][0])
        return total
