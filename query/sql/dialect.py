"""The SQL dialects of the stores: everything that differs between SQLite and PostgreSQL, behind one object.

Statements are sqlglot trees; a :class:`Dialect` builds the pieces whose form depends on the engine (id lists, JSON
aggregation, temporary tables, range scans, upserts, recursive queries) and renders whole statements, with the
engine's parameter style (``:p0`` for SQLite, ``%(p0)s`` for PostgreSQL's drivers). A store names its dialect
(``Backend.sql_dialect``); :func:`dialect_for` maps the name to the object.

>>> from sqlglot import exp
>>> d = dialect_for("postgres")
>>> p = d.params()
>>> d.render(exp.select(exp.column("a")).from_("t").where(exp.column("a").eq(p.add(1))), p)
('SELECT a FROM t WHERE a = %(p0)s', {'p0': 1})
>>> d.drop_temp("_gs_m0")
'DROP TABLE IF EXISTS pg_temp."_gs_m0"'
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import sqlglot
from sqlglot import exp


def ident(name: str) -> exp.Identifier:
    """A quoted identifier."""
    return exp.to_identifier(name, quoted=True)


class Params:
    """Named parameters collected while building one statement, for one dialect."""

    def __init__(self, dialect: Dialect | None = None) -> None:
        self.values: dict[str, Any] = {}
        self.dialect = dialect if dialect is not None else SQLITE

    def add(self, value: Any) -> exp.Placeholder:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return exp.Placeholder(this=name)


class Dialect(ABC):
    """What a store's SQL engine needs said its own way. Subclasses set the class attributes and implement the
    abstract pieces (id lists, JSON aggregation, upserts)."""

    name = ""
    """The store's name for its dialect (``Backend.sql_dialect``)."""
    sqlglot_name = ""
    """sqlglot's name for the dialect that renders the trees."""
    max_params = 0
    """The most parameters one statement may hold."""
    temp_schema = ""
    """The schema that names a temporary table unambiguously."""
    scan_key = ""
    """The integer column a table of values is scanned by, in ranges (see :meth:`range_scan`)."""
    integer = "INTEGER"
    """The type of integer columns and casts wide enough for nanosecond times."""
    chunk_rows = 25_000
    """Histories per chunk when a history table is read by column in chunks of roots (a server whose chunks are
    read side by side on several connections gains from smaller ones)."""
    split_stages = False
    """Whether a history query's staged tables hold one stage's ids each, joined back in its last statement, because
    a table's row is bounded (PostgreSQL: one 8 kB page); else each carries every column so far (SQLite: rows of any
    width, and at most 64 tables in one join)."""

    def params(self) -> Params:
        """Parameters for a new statement in this dialect."""
        return Params(self)

    def render(self, tree: exp.Expression, params: Params | None = None) -> tuple[str, dict]:
        """SQL text and parameters of a statement; the tree is generated in place (each is built for one statement,
        and a copy of a large tree costs more than making the text)."""
        values = dict(params.values) if params is not None else {}
        if len(values) > self.max_params:
            from ..errors import QueryError

            raise QueryError(f"a statement of {len(values)} parameters is over {self.name}'s {self.max_params}")
        return tree.sql(dialect=self.sqlglot_name, copy=False), values

    def pretty(self, sql: str) -> str:
        """Reformat SQL text of this dialect for reading."""
        return ";\n".join(
            s.sql(dialect=self.sqlglot_name, pretty=True) for s in sqlglot.parse(sql, read=self.sqlglot_name) if s
        )

    # --- id lists -----------------------------------------------------------------------------------------------------

    @abstractmethod
    def id_list(self, ids: Iterable[str], p: Params, column: str = "hid") -> exp.Subquery:
        """A subquery of the ids (sorted, one parameter) with one column, ``column``."""

    # --- aggregation --------------------------------------------------------------------------------------------------

    @abstractmethod
    def json_array(self, value: exp.Expression) -> exp.Expression:
        """The aggregate of a column's values as one JSON array, as text."""

    def nanoseconds(self, seconds: exp.Expression) -> exp.Expression:
        """A time in seconds (a real) as integer nanoseconds."""
        return exp.Cast(
            this=exp.Mul(this=seconds, expression=exp.Literal.number(1_000_000_000)),
            to=exp.DataType.build(self.integer, dialect=self.sqlglot_name),
        )

    # --- temporary tables ---------------------------------------------------------------------------------------------

    def create_temp(self, name: str, columns: list, key: list) -> str:
        """``CREATE`` a temporary table of ``columns`` (``(name, "text" or "integer")``), keyed by ``key``."""
        types = {"text": "TEXT", "integer": self.integer}
        defs: list[exp.Expression] = [
            exp.ColumnDef(this=ident(c), kind=exp.DataType.build(types[kind], dialect=self.sqlglot_name))
            for c, kind in columns
        ]
        defs.append(exp.PrimaryKey(expressions=[ident(c) for c in key]))
        schema = exp.Schema(this=exp.Table(this=ident(name)), expressions=defs)
        return self._create(schema, None)

    def create_temp_as(self, name: str, query: exp.Expression) -> str:
        """``CREATE`` a temporary table holding the rows of ``query``."""
        return self._create(exp.Table(this=ident(name)), query)

    def _create(self, this: exp.Expression, query: exp.Expression | None) -> str:
        create = exp.Create(
            this=this,
            kind="TABLE",
            expression=query,
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        )
        return create.sql(dialect=self.sqlglot_name, copy=False)

    def drop_temp(self, name: str) -> str:
        """``DROP`` a temporary table, if it exists."""
        table = exp.Table(this=ident(name), db=exp.to_identifier(self.temp_schema))
        return exp.Drop(tables=[table], kind="TABLE", exists=True).sql(dialect=self.sqlglot_name)

    # --- range scans, upserts, recursion ------------------------------------------------------------------------------

    def range_scan(self, alias: str) -> exp.Column:
        """The integer column that orders a table's rows for scans in ranges of keys."""
        return exp.Column(this=exp.to_identifier(self.scan_key), table=ident(alias))

    def keyed(self, query: exp.Select) -> exp.Select:
        """``query`` as a table to stage with :attr:`split_stages`: numbered in the column :meth:`range_scan` names,
        which keys its rows once stored."""
        key = exp.alias_(exp.Window(this=exp.RowNumber()), self.scan_key, quoted=True, copy=False)
        return query.select(key, append=True, copy=False)

    @abstractmethod
    def insert_ignore(self, target: str, query: exp.Expression) -> exp.Insert:
        """``INSERT`` the rows of ``query`` into ``target``, skipping those whose key is there already."""

    def with_recursive(self, query: exp.Select, name: str, columns: list, body: exp.Expression) -> exp.Select:
        """``query`` under ``WITH RECURSIVE name(columns) AS (body)``."""
        query = query.with_(exp.to_identifier(name), as_=body, recursive=True, copy=False)
        query.args["with_"].expressions[0].set(
            "alias", exp.TableAlias(this=ident(name), columns=[ident(c) for c in columns])
        )
        return query


class SQLiteDialect(Dialect):
    """SQLite: id lists through ``json_each``, ``json_group_array``, ``temp`` tables, ``rowid`` scans, ``:name``
    parameters (32,766 per statement), ``INSERT OR IGNORE``.

    >>> d = SQLiteDialect()
    >>> p = d.params()
    >>> d.render(d.id_list(["b", "a"], p), p)
    ('(SELECT value AS "hid" FROM JSON_EACH(:p0))', {'p0': '["a", "b"]'})
    """

    name = sqlglot_name = "sqlite"
    max_params = 32_766
    temp_schema = "temp"
    scan_key = "rowid"

    def id_list(self, ids: Iterable[str], p: Params, column: str = "hid") -> exp.Subquery:
        src = exp.select(exp.alias_(exp.column("value"), column, quoted=True, copy=False)).from_(
            exp.Anonymous(this="json_each", expressions=[p.add(json.dumps(sorted(ids)))]), copy=False
        )
        return src.subquery(copy=False)

    def json_array(self, value: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this="json_group_array", expressions=[value])

    def insert_ignore(self, target: str, query: exp.Expression) -> exp.Insert:
        return exp.Insert(this=exp.Table(this=ident(target)), expression=query, alternative="IGNORE")


_ID_COLUMN = re.compile(r"(root|[sc]\d+)\Z")
"""Columns of the query layer's long tables that hold ids: a history's root, each step's hid (``s``) and cid (``c``)."""


_NULL_TYPES = {"id": "BIGINT"}
"""Types of the row-id columns that an empty query of the query layer selects as NULL (``SELECT NULL AS id WHERE
FALSE``): PostgreSQL would read an untyped NULL as text, and a recursive query or a table it fills then has a text
column where the other parts have integers."""


def _typed_nulls(tree: exp.Expression) -> exp.Expression:
    """``NULL AS id`` becomes ``CAST(NULL AS BIGINT) AS id``, and a ``COALESCE`` of a ref's kind (text) and a call's
    op version (an integer), which SQLite's columns of any type take, a ``COALESCE`` of the two as JSON values (the
    driver reads them back as text or integer) (in place)."""
    for coalesce in list(tree.find_all(exp.Coalesce)):
        args = [coalesce.this, *coalesce.expressions]
        names = {a.name for a in args if isinstance(a, exp.Column)}
        if {"kind", "op_version"} <= names:
            for a in args:
                a.replace(exp.Anonymous(this="to_jsonb", expressions=[a.copy()]))
    for alias in list(tree.find_all(exp.Alias)):
        kind = _NULL_TYPES.get(alias.alias)
        if kind is not None and isinstance(alias.this, exp.Null):
            alias.set("this", exp.Cast(this=exp.Null(), to=exp.DataType.build(kind)))
    return tree


def _union_terms(body: exp.Expression, distinct: bool) -> list[exp.Expression]:
    if isinstance(body, exp.Union) and bool(body.args.get("distinct")) == distinct:
        return _union_terms(body.this, distinct) + _union_terms(body.expression, distinct)
    return [body]


def _one_recursive_term(body: exp.Expression, name: str, columns: list) -> exp.Expression:
    """A recursive query's body as PostgreSQL takes it: the terms that do not read ``name`` first, then one term
    that reads it once. Several terms reading it (SQLite takes those) become one: each row of ``name`` joined
    ``LATERAL`` to the union of the terms, each reading that row alone.

    >>> sql = "SELECT 1 AS n UNION SELECT h.n + 1 FROM h WHERE h.n < 3 UNION SELECT h.n + 2 FROM h WHERE h.n < 3"
    >>> _one_recursive_term(sqlglot.parse_one(sql), "h", ["n"]).sql("postgres")
    'SELECT 1 AS n UNION SELECT "x".* FROM "h" AS "_gs_row" CROSS JOIN LATERAL (SELECT h.n + 1 FROM (SELECT \
"_gs_row"."n") AS h WHERE h.n < 3 UNION SELECT h.n + 2 FROM (SELECT "_gs_row"."n") AS h WHERE h.n < 3) AS "x"'
    """
    if not isinstance(body, exp.Union):
        return body
    distinct = bool(body.args.get("distinct"))
    terms = _union_terms(body, distinct)

    def reads(term: exp.Expression) -> bool:
        return any(t.name == name for t in term.find_all(exp.Table))

    recursive = [t for t in terms if reads(t)]
    base = [t for t in terms if not reads(t)]
    if not recursive or not base:
        return body
    if len(recursive) > 1:
        for term in recursive:
            for t in [t for t in term.find_all(exp.Table) if t.name == name]:
                row = exp.select(*[exp.column(c, table="_gs_row", quoted=True) for c in columns])
                t.replace(row.subquery(t.alias or name, copy=False))
        joined: Any = sqlglot.parse_one(
            f'SELECT "x".* FROM "{name}" AS "_gs_row" CROSS JOIN LATERAL (SELECT 1) AS "x"', read="postgres"
        )
        lateral = joined.find(exp.Subquery)
        assert lateral is not None
        lateral.set("this", _union_of(recursive, distinct))
        recursive = [joined]
    return _union_of(base + recursive, distinct)


def _union_of(terms: list[exp.Expression], distinct: bool) -> exp.Expression:
    out = terms[0]
    for term in terms[1:]:
        out = exp.union(out, term, distinct=distinct, copy=False)
    return out


class PostgresDialect(Dialect):
    """PostgreSQL: id lists through ``unnest`` of a uuid array (the store keeps ids as ``uuid``), ``json_agg`` (ids
    in it as 32-hex text, as everywhere else), ``pg_temp`` tables, scans by an ``id`` column, ``%(name)s`` parameters
    (65,535 per statement), ``ON CONFLICT DO NOTHING``.

    >>> d = PostgresDialect()
    >>> p = d.params()
    >>> d.render(d.id_list(["b", "a"], p), p)
    ('(SELECT UNNEST(CAST(%(p0)s AS UUID[])) AS "hid")', {'p0': ['a', 'b']})
    """

    name = sqlglot_name = "postgres"
    max_params = 65_535
    chunk_rows = 5_000
    temp_schema = "pg_temp"
    scan_key = "id"
    integer = "BIGINT"
    split_stages = True

    def id_list(self, ids: Iterable[str], p: Params, column: str = "hid") -> exp.Subquery:
        array = exp.Cast(this=p.add(sorted(ids)), to=exp.DataType.build("UUID[]", dialect="postgres"))
        return exp.select(exp.alias_(exp.func("unnest", array), column, quoted=True, copy=False)).subquery(copy=False)

    def render(self, tree: exp.Expression, params: Params | None = None) -> tuple[str, dict]:
        return super().render(_typed_nulls(tree), params)

    def _create(self, this: exp.Expression, query: exp.Expression | None) -> str:
        return super()._create(this, None if query is None else _typed_nulls(query))

    def with_recursive(self, query: exp.Select, name: str, columns: list, body: exp.Expression) -> exp.Select:
        return super().with_recursive(query, name, columns, _one_recursive_term(body, name, columns))

    def json_array(self, value: exp.Expression) -> exp.Expression:
        if isinstance(value, exp.Column) and _ID_COLUMN.match(value.name):  # a uuid: 32-hex text in the JSON
            # (the 16 bytes in hex: about a third cheaper for the server than the text form without its dashes)
            raw = exp.Anonymous(this="uuid_send", expressions=[value])
            value = exp.Anonymous(this="encode", expressions=[raw, exp.Literal.string("hex")])
        text = exp.Cast(this=exp.Anonymous(this="json_agg", expressions=[value]), to=exp.DataType.build("TEXT"))
        return exp.Coalesce(this=text, expressions=[exp.Literal.string("[]")])  # (json_agg of no rows is NULL)

    def insert_ignore(self, target: str, query: exp.Expression) -> exp.Insert:
        return exp.Insert(
            this=exp.Table(this=ident(target)), expression=query, conflict=exp.OnConflict(action=exp.var("DO NOTHING"))
        )


SQLITE = SQLiteDialect()
POSTGRES = PostgresDialect()
DIALECTS = {d.name: d for d in (SQLITE, POSTGRES)}


def dialect_for(name: str) -> Dialect:
    """The dialect object of a store's ``sql_dialect`` name."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"no SQL dialect {name!r} (known: {', '.join(sorted(DIALECTS))})") from None
