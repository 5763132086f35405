"""The pattern model: an immutable graph of variable and function nodes, with what each node holds.

A :class:`Pattern` is what a ComputationFrame *is*; nothing in it touches the store. Its meaning (which calls and refs
it holds, and which rows ``df()`` returns) is defined in ``docs/querying.md`` ("Semantics") and implemented twice: by
the SQL compiler (``plan`` and ``sql``) and by the naive evaluator the tests keep as an oracle.

>>> p = Pattern().add_func(FuncNode("inc", "inc", full=True)).add_var(VarNode("x"))
>>> p = p.add_edge(Edge("inc", "x", "x", IN))
>>> p.names(), p.inputs("inc")
(('inc', 'x'), (Edge(func='inc', var='x', label='x', direction=0, pull=False),))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import FrameStructureError, UnknownNodeError

IN, OUT = 0, 1
"""Edge directions, as in the store's ``edges.direction``: IN is var -> function, OUT is function -> var."""


@dataclass(frozen=True)
class FuncNode:
    """A function node: calls of op ``op`` (at ``versions`` if given).

    Its members are every call of the op when ``full``; otherwise the ``seeds`` plus the calls pulled in through
    edges whose ``pull`` flag is set (see :class:`Edge`).
    """

    name: str
    op: str
    versions: frozenset | None = None
    full: bool = False
    seeds: frozenset = frozenset()


@dataclass(frozen=True)
class VarNode:
    """A variable node: the refs at its edges of its functions' member calls, plus its ``seeds``."""

    name: str
    seeds: frozenset = frozenset()


@dataclass(frozen=True)
class Edge:
    """``var --label--> func`` (IN) or ``func --label--> var`` (OUT).

    Every member call of ``func`` puts its ref at ``label`` into ``var``. With ``pull``, the converse holds as well:
    a call of the op whose ref at ``label`` is a member of ``var`` is a member of ``func`` (expansion sets it).
    """

    func: str
    var: str
    label: str
    direction: int
    pull: bool = False

    @property
    def key(self) -> tuple:
        return (self.func, self.var, self.label, self.direction)


@dataclass(frozen=True)
class Filter:
    """A row filter: keep the rows whose cell at ``node`` holds an element that passes.

    ``kind`` is ``"hid"`` or ``"cid"`` (``values`` a frozenset of ids, compiled into SQL) or ``"pred"`` (``values`` a
    callable on the loaded value, applied after extraction).
    """

    node: str
    kind: str
    values: Any


@dataclass(frozen=True)
class Pattern:
    """Nodes (in insertion order), edges and row filters. Every method returns a new Pattern."""

    funcs: tuple = ()
    vars: tuple = ()
    edges: tuple = ()
    filters: tuple = ()
    done_back: frozenset = frozenset()
    done_fwd: frozenset = frozenset()
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        index = {n.name: n for n in self.funcs}
        index.update({n.name: n for n in self.vars})
        object.__setattr__(self, "_index", index)

    # --- lookups ------------------------------------------------------------------------------------------------------

    def names(self) -> tuple:
        return tuple(sorted(self._index))

    def fnames(self) -> tuple:
        return tuple(n.name for n in self.funcs)

    def vnames(self) -> tuple:
        return tuple(n.name for n in self.vars)

    def has(self, name: str) -> bool:
        return name in self._index

    def node(self, name: str) -> Any:
        try:
            return self._index[name]
        except KeyError:
            raise UnknownNodeError(f"no node named {name!r} in the frame (nodes: {sorted(self._index)})") from None

    def func(self, name: str) -> FuncNode:
        node = self.node(name)
        if not isinstance(node, FuncNode):
            raise FrameStructureError(f"{name!r} is a variable, not a function node")
        return node

    def var(self, name: str) -> VarNode:
        node = self.node(name)
        if not isinstance(node, VarNode):
            raise FrameStructureError(f"{name!r} is a function node, not a variable")
        return node

    def is_func(self, name: str) -> bool:
        return isinstance(self._index.get(name), FuncNode)

    def inputs(self, func: str) -> tuple:
        return tuple(e for e in self.edges if e.func == func and e.direction == IN)

    def outputs(self, func: str) -> tuple:
        return tuple(e for e in self.edges if e.func == func and e.direction == OUT)

    def creators(self, var: str) -> tuple:
        return tuple(e for e in self.edges if e.var == var and e.direction == OUT)

    def consumers(self, var: str) -> tuple:
        return tuple(e for e in self.edges if e.var == var and e.direction == IN)

    def edges_of(self, name: str) -> tuple:
        return tuple(e for e in self.edges if name in (e.func, e.var))

    def funcs_of_op(self, op: str) -> tuple:
        return tuple(f for f in self.funcs if f.op == op)

    # --- building -----------------------------------------------------------------------------------------------------

    def fresh_name(self, base: str) -> str:
        """``base`` if free, else ``base_0``, ``base_1``, ..."""
        if base not in self._index:
            return base
        i = 0
        while f"{base}_{i}" in self._index:
            i += 1
        return f"{base}_{i}"

    def fresh_var_k(self) -> str:
        """The next free ``var_k`` name (for unnamed outputs)."""
        i = 0
        while f"var_{i}" in self._index:
            i += 1
        return f"var_{i}"

    def add_func(self, node: FuncNode) -> Pattern:
        self._check_free(node.name)
        return replace(self, funcs=self.funcs + (node,))

    def add_var(self, node: VarNode) -> Pattern:
        self._check_free(node.name)
        return replace(self, vars=self.vars + (node,))

    def _check_free(self, name: str) -> None:
        if name in self._index:
            raise FrameStructureError(f"the frame already has a node named {name!r}")

    def add_edge(self, edge: Edge) -> Pattern:
        """Add an edge (or set ``pull`` on an existing one with the same ends, label and direction)."""
        self.func(edge.func), self.var(edge.var)
        kept = []
        for e in self.edges:
            if e.key == edge.key:
                edge = replace(edge, pull=edge.pull or e.pull)
            else:
                kept.append(e)
        return replace(self, edges=tuple(kept) + (edge,))

    def replace_node(self, node: Any) -> Pattern:
        if isinstance(node, FuncNode):
            return replace(self, funcs=tuple(node if n.name == node.name else n for n in self.funcs))
        return replace(self, vars=tuple(node if n.name == node.name else n for n in self.vars))

    def with_filter(self, flt: Filter) -> Pattern:
        self.node(flt.node)
        return replace(self, filters=self.filters + (flt,))

    def with_done(self, back: Iterable[str] = (), fwd: Iterable[str] = ()) -> Pattern:
        return replace(self, done_back=self.done_back | frozenset(back), done_fwd=self.done_fwd | frozenset(fwd))

    def drop_nodes(self, names: Iterable[str]) -> Pattern:
        gone = set(names)
        for n in gone:
            self.node(n)
        return Pattern(
            tuple(f for f in self.funcs if f.name not in gone),
            tuple(v for v in self.vars if v.name not in gone),
            tuple(e for e in self.edges if e.func not in gone and e.var not in gone),
            tuple(f for f in self.filters if f.node not in gone),
            self.done_back - gone,
            self.done_fwd - gone,
        )

    def rename(self, mapping: dict) -> Pattern:
        for old in mapping:
            self.node(old)
        names = [mapping.get(n, n) for n in self._index]
        if len(set(names)) != len(names):
            raise FrameStructureError(f"renaming {mapping} would give two nodes the same name")
        m = lambda n: mapping.get(n, n)  # noqa: E731
        return Pattern(
            tuple(replace(f, name=m(f.name)) for f in self.funcs),
            tuple(replace(v, name=m(v.name)) for v in self.vars),
            tuple(replace(e, func=m(e.func), var=m(e.var)) for e in self.edges),
            tuple(replace(f, node=m(f.node)) for f in self.filters),
            frozenset(m(n) for n in self.done_back),
            frozenset(m(n) for n in self.done_fwd),
        )

    def merge_var_into(self, src: str, dst: str) -> Pattern:
        """Move every edge and seed of variable ``src`` to ``dst`` and drop ``src``."""
        a, b = self.var(src), self.var(dst)
        p = self.replace_node(replace(b, seeds=a.seeds | b.seeds))
        moved = [replace(e, var=dst) for e in self.edges if e.var == src]
        p = p.drop_nodes([src])
        p = replace(p, filters=p.filters + tuple(replace(f, node=dst) for f in self.filters if f.node == src))
        for e in moved:
            p = p.add_edge(e)
        return replace(p, done_back=p.done_back - {dst}, done_fwd=p.done_fwd - {dst})

    # --- graph views --------------------------------------------------------------------------------------------------

    def successors(self, name: str) -> list:
        """Nodes downstream by one edge (var -> its consumers, func -> its output vars)."""
        if self.is_func(name):
            return [e.var for e in self.outputs(name)]
        return [e.func for e in self.consumers(name)]

    def predecessors(self, name: str) -> list:
        if self.is_func(name):
            return [e.var for e in self.inputs(name)]
        return [e.func for e in self.creators(name)]

    def reach(self, starts: Iterable[str], step: Callable[[str], list]) -> set:
        seen, todo = set(), list(starts)
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(step(n))
        return seen

    def has_cycle(self) -> bool:
        return any(len(c) > 1 or self._self_loop(next(iter(c))) for c in self.components())

    def _self_loop(self, name: str) -> bool:
        return name in self.successors(name)

    def components(self) -> list:
        """Strongly connected components, in topological order (upstream first); ties broken by insertion order."""
        import networkx as nx

        g = self.to_digraph()
        cond = nx.condensation(g)
        order = {n: i for i, n in enumerate(self._index)}
        key = lambda c: min(order[n] for n in cond.nodes[c]["members"])  # noqa: E731
        topo = list(nx.lexicographical_topological_sort(cond, key=key))
        return [sorted(cond.nodes[c]["members"], key=order.__getitem__) for c in topo]

    def topo_names(self) -> list:
        """All node names in topological order (a cycle's nodes in insertion order)."""
        return [n for comp in self.components() for n in comp]

    def to_digraph(self) -> Any:
        import networkx as nx

        g = nx.MultiDiGraph()
        for f in self.funcs:
            g.add_node(f.name, kind="func", op=f.op)
        for v in self.vars:
            g.add_node(v.name, kind="var")
        for e in self.edges:
            src, dst = (e.var, e.func) if e.direction == IN else (e.func, e.var)
            g.add_edge(src, dst, label=e.label)
        return g


_LABEL_INDEX = re.compile(r"^output_(\d+)$")


def is_group(label: str) -> bool:
    """Whether an edge label stands for a group of stored labels: ``*elts`` for ``elts_0``, ``elts_1``, ...

    >>> is_group("*elts"), label_matches("*elts", "elts_3"), label_matches("x", "x")
    (True, True, True)
    """
    return label.startswith("*")


def label_matches(label: str, stored: str) -> bool:
    return stored.startswith(label[1:] + "_") if is_group(label) else stored == label


def group_prefix(label: str) -> str:
    """The prefix every stored label of a group starts with."""
    return label[1:] + "_"


def output_var_base(label: str) -> str | None:
    """The variable name an output label suggests, or None for a default ``output_<i>`` label (named ``var_k``).

    >>> output_var_base("z"), output_var_base("output_0")
    ('z', None)
    """
    return None if _LABEL_INDEX.match(label) else label
