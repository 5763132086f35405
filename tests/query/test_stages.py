"""The compiler's stages checked against fixture files (one file per stage, in ``fixtures/``), read like sqlglot's:
each case is a ``# title:`` line, a small frame in the notation below, a ``----`` line, then what the stage gives for
it: the plan (``plan.txt``), or the statements of an extraction with their parameters (``sql_sqlite.txt``,
``sql_postgres.txt``). Set GRAPHSTORE_WRITE_FIXTURES=1 to rewrite the expected parts from the code (then read them).

Frame notation, one item per line:

- ``y, z@output_1 = name:op(x=x, *elts=v)``: a function node (``name:`` defaults to the op) with its input edges
  (``label=var``) and output edges (``var@label``, the label defaulting to the variable's name); a ``!`` before a
  variable marks a pulled edge; ``seeds c1 c2`` after the call makes the node hold those calls (not the whole op);
- ``var v seeds r1 r2``: a variable with seeds;
- ``where v hid a b``: a row filter on ids (``hid`` or ``cid``).
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import pytest
from graphstore.query.model import IN, OUT, Edge, Filter, FuncNode, Pattern, VarNode
from graphstore.query.plan import explain
from graphstore.query.sql import statements
from graphstore.query.sql.dialect import dialect_for

FIXTURES = Path(__file__).parent / "fixtures"
SEPARATOR = "----"
_CALL = re.compile(r"^(?:(?P<outs>[^=()]+)=)?\s*(?:(?P<name>\w+):)?(?P<op>\w+)\((?P<ins>[^)]*)\)(?P<rest>.*)$")


def parse_frame(text: str) -> Pattern:
    """The pattern a frame description stands for (see the module's docstring)."""
    funcs, vars_, edges, filters = [], {}, [], []

    def var(name: str) -> None:
        vars_.setdefault(name, VarNode(name))

    for line in filter(None, (x.strip() for x in text.splitlines())):
        words = line.split()
        if words[0] == "var":
            vars_[words[1]] = VarNode(words[1], frozenset(words[3:]) if words[2:3] == ["seeds"] else frozenset())
            continue
        if words[0] == "where":
            filters.append(Filter(words[1], words[2], frozenset(words[3:])))
            continue
        m = _CALL.match(line)
        assert m, f"cannot read {line!r}"
        op = m["op"]
        name = m["name"] or op
        rest = m["rest"].split()
        seeds = frozenset(rest[1:]) if rest[:1] == ["seeds"] else frozenset()
        funcs.append(FuncNode(name, op, full=not seeds, seeds=seeds))
        for item in filter(None, (x.strip() for x in m["ins"].split(","))):
            label, v = item.split("=")
            var(v.lstrip("!"))
            edges.append(Edge(name, v.lstrip("!"), label, IN, v.startswith("!")))
        for item in filter(None, (x.strip() for x in (m["outs"] or "").split(","))):
            v, _, label = item.partition("@")
            var(v.lstrip("!"))
            edges.append(Edge(name, v.lstrip("!"), label or v.lstrip("!"), OUT, v.startswith("!")))
    p = Pattern()
    for f in funcs:
        p = p.add_func(f)
    for v in vars_.values():
        p = p.add_var(v)
    for e in edges:
        p = p.add_edge(e)
    for f in filters:
        p = p.with_filter(f)
    return p


def read_cases(path: Path) -> list:
    """``(title, frame text, expected text)`` of each case of a fixture file."""
    cases = []
    for chunk in re.split(r"^# title: ", path.read_text(), flags=re.M)[1:]:
        title, _, body = chunk.partition("\n")
        frame, _, expected = body.partition(f"\n{SEPARATOR}\n")
        cases.append((title.strip(), frame.strip(), expected.strip()))
    return cases


def stage_plan(pattern: Pattern) -> str:
    return explain(pattern)


def stage_sql(dialect_name: str):
    def run(pattern: Pattern, monkeypatch: pytest.MonkeyPatch | None = None) -> str:
        dialect = dialect_for(dialect_name)
        stmts, temps = statements.plan_statements(pattern, dialect)
        stmts = statements.expand_lazy(stmts, temps, None, dialect)
        parts = []
        for s in stmts:
            parts.append(f"{dialect.pretty(s.sql)};\n-- params: {s.params}")
            if s.chunkable:  # and how it is read by column, in chunks of root ids
                chunks = statements.chunks_of(s.tree, s.columns, dialect)
                parts.append(
                    f"-- by column: ranges\n{dialect.pretty(chunks.range_sql)};\n-- params: {chunks.range_params}"
                )
                parts.append(f"-- by column: a chunk\n{dialect.pretty(chunks.sql)};\n-- params: {chunks.params}")
        parts += [f"{dialect.drop_temp(t)};" for t in temps]
        return "\n".join(parts)

    return run


STAGES = {"plan.txt": stage_plan, "sql_sqlite.txt": stage_sql("sqlite"), "sql_postgres.txt": stage_sql("postgres")}


def _cases() -> list:
    return [
        pytest.param(name, title, frame, expected, id=f"{name[:-4]}: {title}")
        for name in STAGES
        for title, frame, expected in read_cases(FIXTURES / name)
    ]


@pytest.mark.parametrize("name, title, frame, expected", _cases())
def test_stage(monkeypatch, name, title, frame, expected):
    monkeypatch.setattr(statements, "_COUNTER", itertools.count())  # temporary tables named _gs_m0, _gs_s1, ...
    got = STAGES[name](parse_frame(frame)).strip()
    if os.environ.get("GRAPHSTORE_WRITE_FIXTURES"):
        path = FIXTURES / name
        old = f"# title: {title}\n{frame}\n{SEPARATOR}\n{expected}\n"
        path.write_text(path.read_text().replace(old, f"# title: {title}\n{frame}\n{SEPARATOR}\n{got}\n", 1))
        return
    assert got == expected


def test_every_stage_has_cases():
    assert all(len(read_cases(FIXTURES / name)) >= 3 for name in STAGES)


def test_the_notation():
    p = parse_frame("y, z@output_1 = g:inc(x=!x) seeds c1\nvar x seeds r1\nwhere y hid h1")
    assert [(f.name, f.op, f.full, sorted(f.seeds)) for f in p.funcs] == [("g", "inc", False, ["c1"])]
    assert {(e.var, e.label, e.direction, e.pull) for e in p.edges} == {
        ("x", "x", IN, True),
        ("y", "y", OUT, False),
        ("z", "output_1", OUT, False),
    }
    assert p.var("x").seeds == {"r1"} and p.filters == (Filter("y", "hid", frozenset({"h1"})),)


DIALECT_PIECES = {
    "sqlite": [
        'CREATE TEMPORARY TABLE "_gs_m0" ("node" TEXT, "id" INTEGER, PRIMARY KEY ("node", "id"))',
        'DROP TABLE IF EXISTS temp."_gs_m0"',
        'INSERT OR IGNORE INTO "t" SELECT value AS "hid" FROM JSON_EACH(:p0)',
        'SELECT JSON_GROUP_ARRAY(CAST("created" * 1000000000 AS INTEGER)) FROM "t"',
        'SELECT MAX("v".rowid) FROM "values" AS v',
    ],
    "postgres": [
        'CREATE TEMPORARY TABLE "_gs_m0" ("node" TEXT, "id" BIGINT, PRIMARY KEY ("node", "id"))',
        'DROP TABLE IF EXISTS pg_temp."_gs_m0"',
        'INSERT INTO "t" SELECT UNNEST(CAST(%(p0)s AS UUID[])) AS "hid" ON CONFLICT DO NOTHING',
        'SELECT COALESCE(CAST(JSON_AGG(CAST("created" * 1000000000 AS BIGINT)) AS TEXT), \'[]\') FROM "t"',
        'SELECT MAX("v".id) FROM "values" AS v',
    ],
}


@pytest.mark.parametrize("name", sorted(DIALECT_PIECES))
def test_dialect_pieces(name):
    from sqlglot import exp

    d = dialect_for(name)
    p = d.params()
    ids = d.id_list(["b", "a"], p).this
    pieces = [
        d.create_temp("_gs_m0", [("node", "text"), ("id", "integer")], ["node", "id"]),
        d.drop_temp("_gs_m0"),
        d.render(d.insert_ignore("t", ids), p)[0],
        d.render(
            exp.select(d.json_array(d.nanoseconds(exp.column("created", quoted=True)))).from_(
                exp.table_("t", quoted=True)
            )
        )[0],
        d.render(exp.select(exp.Max(this=d.range_scan("v"))).from_(exp.table_("values", quoted=True, alias="v")))[0],
    ]
    assert pieces == DIALECT_PIECES[name]
