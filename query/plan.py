"""The planning stage (pattern -> plan): from a :class:`~query.model.Pattern` to plans ``query.sql`` turns into SQL.

Passes, in order:

1. ``compile_members``: which function nodes need their members computed (those not ``full``), from seeds and pull
   edges (a recursive CTE, staged into a temporary table);
2. ``compile_roots``: the row roots of each node (calls none of whose outputs a member consumes; seed refs with no
   member creator that nothing consumes);
3. ``compile_trees`` (acyclic frames, one op per function node): per root node, the history unfolded into a tree of
   joins, one alias per step, split into stages of at most ``STAGE_ALIASES`` tables; or ``compile_long`` (cycles,
   repeated ops): the history closure as a recursive CTE.

Nothing here imports sqlglot or touches the store.

>>> from graphstore.query.model import Pattern, FuncNode, VarNode, Edge, IN, OUT
>>> p = Pattern().add_func(FuncNode("inc", "inc", full=True)).add_var(VarNode("x")).add_var(VarNode("var_0"))
>>> p = p.add_edge(Edge("inc", "x", "x", IN)).add_edge(Edge("inc", "var_0", "output_0", OUT))
>>> [(s.node, s.how) for s in compile_trees(p, None)[0].steps]
[('inc', 'root'), ('x', 'in'), ('var_0', 'out')]
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .model import IN, OUT, Filter, Pattern, is_group

STAGE_ALIASES = 48
"""At most this many tables per SELECT of a history query (SQLite allows 64 in one join)."""


@dataclass(frozen=True)
class CallSource:
    """Where the member calls of a function node come from: all calls of the op, or the members table."""

    node: str
    op: str
    versions: frozenset | None
    members_table: str | None


def call_source(pattern: Pattern, name: str, members_table: str | None) -> CallSource:
    f = pattern.func(name)
    return CallSource(f.name, f.op, f.versions, None if f.full else members_table)


@dataclass(frozen=True)
class Pull:
    """Calls of ``target`` whose ref at (``dir``, ``label``) is a member that the source contributes to the var."""

    target: CallSource
    dir: int
    label: str
    var_seeds: frozenset | None = None
    source: CallSource | None = None
    src_dir: int = 0
    src_label: str = ""


@dataclass
class MemberPlan:
    func_seeds: list = field(default_factory=list)
    pulls: list = field(default_factory=list)


def needs_members(pattern: Pattern) -> bool:
    return any(not f.full for f in pattern.funcs)


def compile_members(pattern: Pattern, table: str) -> MemberPlan:
    plan = MemberPlan()
    for f in pattern.funcs:
        if not f.full and f.seeds:
            plan.func_seeds.append((f.name, f.seeds))
    for e in pattern.edges:
        f = pattern.func(e.func)
        if not e.pull or f.full:
            continue
        target = call_source(pattern, f.name, table)
        v = pattern.var(e.var)
        if v.seeds:
            plan.pulls.append(Pull(target, e.direction, e.label, var_seeds=v.seeds))
        for e2 in pattern.edges:
            if e2.var == e.var:
                src = call_source(pattern, e2.func, table)
                plan.pulls.append(
                    Pull(target, e.direction, e.label, source=src, src_dir=e2.direction, src_label=e2.label)
                )
    return plan


@dataclass
class VarSources:
    """Where a variable's members come from: its seeds and its edges' member calls."""

    seeds: frozenset
    edges: list


def var_sources(pattern: Pattern, name: str, table: str | None, only_inputs: bool = False) -> VarSources:
    """Where ``name``'s members come from; ``only_inputs`` leaves out what its creators make (for discovering
    creators: a ref's creator is unique, so the refs a creator edge makes have that creator already)."""
    v = pattern.var(name)
    edges = [
        (call_source(pattern, e.func, table), e.direction, e.label)
        for e in pattern.edges_of(name)
        if not (only_inputs and e.direction == OUT)
    ]
    return VarSources(v.seeds, edges)


@dataclass
class RootPlan:
    node: str
    kind: str  # "call" | "ref"
    source: CallSource | None = None
    seeds: frozenset = frozenset()
    out_consumers: list = field(default_factory=list)
    creators: list = field(default_factory=list)
    consumers: list = field(default_factory=list)


def _consumers(pattern: Pattern, var: str, table: str | None) -> list:
    return [(call_source(pattern, e.func, table), e.label) for e in pattern.consumers(var)]


def compile_roots(pattern: Pattern, table: str | None) -> list:
    roots = []
    for name in pattern.topo_names():
        if pattern.is_func(name):
            outs = [(e.label, _consumers(pattern, e.var, table)) for e in pattern.outputs(name)]
            roots.append(RootPlan(name, "call", source=call_source(pattern, name, table), out_consumers=outs))
        elif pattern.var(name).seeds:
            creators = [(call_source(pattern, e.func, table), e.label) for e in pattern.creators(name)]
            roots.append(
                RootPlan(
                    name,
                    "ref",
                    seeds=pattern.var(name).seeds,
                    creators=creators,
                    consumers=_consumers(pattern, name, table),
                )
            )
    return roots


@dataclass(frozen=True)
class Step:
    """One alias of a history query: the element of ``node`` reached from step ``parent``."""

    id: int
    node: str
    kind: str  # "call" | "ref"
    parent: int | None
    how: str  # "root" | "in" | "out" | "creator"
    label: str = ""
    source: CallSource | None = None
    dup: int | None = None  # an earlier step of the same node whose subtree this one repeats when equal

    @property
    def aliases(self) -> int:
        return 2 if self.how == "creator" else 1


@dataclass
class TreePlan:
    root: RootPlan
    steps: list
    filters: list

    def stages(self, budget: int = STAGE_ALIASES) -> list:
        """The steps cut into consecutive stages of at most ``budget`` aliases (parents always come first)."""
        out: list = []
        cur: list = []
        used = 4
        for s in self.steps:
            if cur and used + s.aliases > budget:
                out.append(cur)
                cur, used = [], 1
            cur.append(s)
            used += s.aliases
        out.append(cur)
        return out


def is_simple(pattern: Pattern) -> bool:
    """Acyclic, and no two function nodes of one op: histories then unfold into finite trees of joins."""
    ops = [f.op for f in pattern.funcs]
    return len(ops) == len(set(ops)) and not pattern.has_cycle()


def one_row_per_root(pattern: Pattern) -> bool:
    """Whether a history query returns one SQL row per root: no group edge (``*elts``) multiplies them."""
    return not any(is_group(e.label) for e in pattern.edges)


def sql_filters(pattern: Pattern) -> list:
    """Id filters pushed into the history query (only when a row there is a whole history)."""
    if not one_row_per_root(pattern):
        return []
    return [f for f in pattern.filters if f.kind in ("hid", "cid")]


def compile_trees(pattern: Pattern, table: str | None) -> list:
    """Per root node, the breadth-first unfolding of its histories (for simple patterns)."""
    trees = []
    for root in compile_roots(pattern, table):
        steps = [Step(0, root.node, root.kind, None, "root")]
        queue = [(steps[0], frozenset([root.node]))]
        first: dict = {}  # node -> first step that expands it fully (its subtree does not depend on the path)
        while queue:
            step, path = queue.pop(0)
            parent_node = steps[step.parent].node if step.parent is not None else None
            for child in _children(pattern, step, path, len(steps), table, parent_node):
                if child.kind == "ref" and child.how == "in":
                    if child.node in first:
                        child = replace(child, dup=first[child.node])
                    else:
                        first[child.node] = child.id
                steps.append(child)
                queue.append((child, path | {child.node}))
        trees.append(TreePlan(root, steps, sql_filters(pattern)))
    return trees


def _children(
    pattern: Pattern, step: Step, path: frozenset, next_id: int, table: str | None, parent_node: str | None = None
) -> list:
    out: list = []
    if step.kind == "call":
        for e in pattern.inputs(step.node):
            if e.var not in path:
                out.append(Step(next_id + len(out), e.var, "ref", step.id, "in", e.label))
        for e in pattern.outputs(step.node):  # leaves; only the output the step came from is already there
            if not (step.how == "creator" and e.var == parent_node and e.label == step.label):
                out.append(Step(next_id + len(out), e.var, "ref", step.id, "out", e.label))
    elif step.how != "out":
        for e in pattern.creators(step.node):
            if e.func not in path:
                src = call_source(pattern, e.func, table)
                out.append(Step(next_id + len(out), e.func, "call", step.id, "creator", e.label, src))
    return out


@dataclass(frozen=True)
class Move:
    src: str
    dst: str
    how: str
    label: str
    source: CallSource | None = None


@dataclass
class LongPlan:
    roots: list
    moves: list


def compile_long(pattern: Pattern, table: str | None) -> LongPlan:
    roots = [TreePlan(r, [], []) for r in compile_roots(pattern, table)]
    moves = []
    for e in pattern.edges:
        if e.direction == IN:
            moves.append(Move(e.func, e.var, "in", e.label))
        else:
            moves.append(Move(e.func, e.var, "out", e.label))
            moves.append(Move(e.var, e.func, "creator", e.label, call_source(pattern, e.func, table)))
    return LongPlan(roots, moves)


def python_filters(pattern: Pattern, simple: bool) -> list:
    """Filters applied after extraction: value predicates always; id filters too when the plan is a closure or a
    history spans several SQL rows."""
    pushed = simple and one_row_per_root(pattern)
    return [f for f in pattern.filters if f.kind == "pred" or (not pushed and f.kind in ("hid", "cid"))]


def explain(pattern: Pattern, table: str = "members") -> str:
    """The plan of ``pattern`` as text, one line per item: the members pulls (when some node is not full), then
    per root node its tree of steps (``id node how label <- parent``; a creator read from the members table is marked
    ``[members]``, a repeated element ``dup <step>``), or the closure's roots and moves when the frame is not a tree.

    >>> from graphstore.query.model import Pattern, FuncNode, VarNode, Edge, IN, OUT
    >>> p = Pattern().add_func(FuncNode("inc", "inc", full=True)).add_var(VarNode("x")).add_var(VarNode("y"))
    >>> print(explain(p.add_edge(Edge("inc", "x", "x", IN)).add_edge(Edge("inc", "y", "output_0", OUT))))
    tree inc (call)
      0 inc root
      1 x in x <- 0
      2 y out output_0 <- 0
    """
    lines = []
    members = table if needs_members(pattern) else None
    if members is not None:
        plan = compile_members(pattern, members)
        lines += [f"seed {node}: {', '.join(sorted(hids))}" for node, hids in plan.func_seeds]
        for pull in plan.pulls:
            start = f"seeds {', '.join(sorted(pull.var_seeds))}" if pull.var_seeds is not None else _src(pull.source)
            lines.append(f"pull {pull.target.node} at {_dir(pull.dir)} {pull.label} from {start}")
            if pull.var_seeds is None:
                lines[-1] += f" at {_dir(pull.src_dir)} {pull.src_label}"
    if is_simple(pattern):
        for tree in compile_trees(pattern, members):
            lines.append(f"tree {tree.root.node} ({tree.root.kind})")
            for s in tree.steps:
                line = f"  {s.id} {s.node} {s.how}" + ("" if s.parent is None else f" {s.label} <- {s.parent}")
                if s.source is not None and s.source.members_table is not None:
                    line += " [members]"
                lines.append(line + ("" if s.dup is None else f" dup {s.dup}"))
            lines += [f"  filter {f.node} {f.kind} {', '.join(sorted(f.values))}" for f in tree.filters]
    else:
        long = compile_long(pattern, members)
        lines.append("closure")
        lines += [f"  root {tree.root.node} ({tree.root.kind})" for tree in long.roots]
        lines += [f"  move {m.src} -> {m.dst} {m.how} {m.label}" for m in long.moves]
    return "\n".join(lines)


def _src(source: CallSource | None) -> str:
    assert source is not None
    return source.node + (" [members]" if source.members_table is not None else "")


def _dir(direction: int) -> str:
    return "in" if direction == IN else "out"


__all__ = [
    "CallSource",
    "Filter",
    "LongPlan",
    "MemberPlan",
    "Move",
    "Pull",
    "RootPlan",
    "Step",
    "TreePlan",
    "VarSources",
    "compile_long",
    "compile_members",
    "compile_roots",
    "compile_trees",
    "explain",
    "is_simple",
    "needs_members",
    "python_filters",
    "var_sources",
]
