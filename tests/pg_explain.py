"""A tracer for PostgreSQL stores that has the server ``EXPLAIN`` every statement of the query layer just before the
store runs it, on the same connection: statements that read or fill the query layer's temporary tables are
explained in the session where those tables exist, after the statements that made them have run.

For example (``url`` a PostgreSQL database)::

    storage = Storage(url)
    explainer = Explainer().attach(storage)
    storage.cf(inc).df()          # each statement: EXPLAIN, then run
    explainer.explained           # the statements the server explained
"""

from __future__ import annotations

import re
import threading
from typing import Any

_EXPLAINABLE = re.compile(r"\s*(SELECT|WITH|INSERT|CREATE\s+TEMPORARY\s+TABLE\s+\S+\s+AS)\b", re.IGNORECASE)
"""Statements ``EXPLAIN`` takes: queries, inserts, and ``CREATE TABLE ... AS`` (not a plain ``CREATE TABLE`` of
columns or a ``DROP``, which are run as they are)."""


def is_query_layer(params: tuple) -> bool:
    """Whether a traced statement comes from the query layer: it passes its parameters as one dict (or none); the
    store's own statements (writes, statistics, bookkeeping) pass tuples or counts."""
    return len(params) == 1 and (params[0] is None or isinstance(params[0], dict))


class Explainer:
    """Explains each statement of the query layer before it runs; keeps what it explained (``explained``) and
    what it let through without (``unexplained``: DDL of columns, drops). A failure of ``EXPLAIN`` propagates into
    the query that was about to run it, naming the statement."""

    def __init__(self) -> None:
        self.backend: Any = None
        self.explained: list[str] = []
        self.unexplained: list[str] = []
        self._busy = threading.local()

    def attach(self, storage: Any) -> Explainer:
        """Trace ``storage``'s statements (a PostgreSQL store)."""
        assert storage.backend.sql_dialect == "postgres"
        self.backend = storage.backend
        storage.backend.tracer = self
        return self

    def __call__(self, sql: str, params: tuple) -> None:
        if self.backend is None or getattr(self._busy, "on", False) or not is_query_layer(params):
            return
        if not _EXPLAINABLE.match(sql):
            self.unexplained.append(sql)
            return
        self._busy.on = True
        try:
            plan = self.backend.execute("EXPLAIN " + sql, params[0])
        finally:
            self._busy.on = False
        assert plan, sql
        self.explained.append(sql)

    def temp_statements(self) -> list[str]:
        """The statements explained that read or fill a temporary table of the query layer."""
        return [s for s in self.explained if '"_gs_' in s]
