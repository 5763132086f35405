"""Growing a pattern from the store: ``expand_back`` (creators), ``expand_forward`` (consumers), ``expand_all``.

Each step asks the store one grouped question per direction (which ops, at which labels, create or consume the members
of the target variables) and changes the graph accordingly:

- a function node of the op that already has an edge of that role (direction and label) is reused when the new
  variable can join that edge's variable without closing a cycle (converging branches share their variables); a free
  node of the op (no edge of that role) is reused when the new edge closes no cycle; else a new node of the op is made,
  so that a cell holds only values that played its column's role;
- a cycle is made only for a loop, an op applied to its own output: when the store holds such a chain of three calls
  at the same labels, or the frame already holds that step between two nodes of the op;
- a new function node brings its inputs (expanding back) or its outputs (expanding forward) as variables;
- a function node whose pulled calls are all the calls of its op becomes ``full`` (no membership to compute later).

Steps repeat until nothing changes (recursive) over the variables whose members may have grown: a variable is marked
done for a direction once asked with no change, and loses the mark whenever its members may grow (a new edge, a node
made full, a pull through a cycle or through another edge of a node). ``expand_all`` also gives every function node
all its outputs, so that it reaches every call connected to the frame through inputs and outputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from .model import IN, OUT, Edge, FuncNode, Pattern, VarNode, is_group, output_var_base
from .plan import call_source, compile_members, needs_members, var_sources
from .sql import members
from .sql.statements import temp_name
from .store import Reader

_DEFAULT_VAR = re.compile(r"^var_\d+$")


def expand(reader: Reader, pattern: Pattern, names: Iterable[str] | None, direction: int, recursive: bool) -> Pattern:
    """Expand back (``direction=OUT``: add creators) or forward (``IN``: add consumers), once or to a fixed point."""
    reader.sync()
    targets = None if names is None else list(names)
    for t in targets or ():
        pattern.var(t)
    while True:
        new, deferred = _step(reader, pattern, targets, direction)
        if recursive:
            if _same(new, pattern):
                return new
            pattern, targets = new, None
        elif deferred:  # asked again within this step, once the nodes this step made are there
            pattern, targets = new, sorted(deferred)
        else:
            return new


def expand_all(reader: Reader, pattern: Pattern) -> Pattern:
    while True:
        new = expand(reader, pattern, None, OUT, True)
        new = expand(reader, new, None, IN, True)
        new = _complete_outputs(reader, new)
        if _same(new, pattern):
            return new
        pattern = new


def _complete_outputs(reader: Reader, pattern: Pattern) -> Pattern:
    """Every function node with a variable at each of its op's outputs (expansion back brings only the output that
    was asked about): the calls of the frame bring all their outputs, whose consumers ``expand_all`` then adds."""
    for f in pattern.funcs:
        pattern = _add_outputs(reader, pattern, f.name, f.op)
    return pattern


def _same(a: Pattern, b: Pattern) -> bool:
    return (a.funcs, a.vars, set(a.edges), a.done_back, a.done_fwd) == (
        b.funcs,
        b.vars,
        set(b.edges),
        b.done_back,
        b.done_fwd,
    )


def _needs_back(pattern: Pattern, name: str) -> bool:
    """Only a variable's seeds and the inputs of its consumers can have creators the frame does not know."""
    return bool(pattern.var(name).seeds) or bool(pattern.consumers(name))


def _step(reader: Reader, pattern: Pattern, targets: list | None, direction: int) -> tuple[Pattern, set]:
    done = pattern.done_back if direction == OUT else pattern.done_fwd
    names = [v for v in (targets if targets is not None else pattern.vnames()) if v not in done]
    if direction == OUT:
        skip = [v for v in names if not _needs_back(pattern, v)]
        names = [v for v in names if v not in skip]
        pattern = pattern.with_done(back=skip)
    if not names:
        return pattern, set()
    found = _discover(reader, pattern, names, direction)
    counts = reader.op_counts(op for _, op, _, _, _ in found)
    before = pattern
    if direction == OUT:  # merges first: a creator edge added in this step must not make a variable unmergeable
        found = sorted(found, key=lambda r: not any(e.var != r[0] for e in _role_edges(pattern, r[1], r[2], OUT)))
    merged: dict = {}
    deferred: set = set()
    quiet: set = set()  # variables that took in one whose refs they held already
    for var, op, label, n, m in found:
        var = merged.get(var, var)
        if not pattern.has(var):
            continue
        same = _role_edges(pattern, op, label, direction)
        if any(e.var != var and not _had_edge(before, e) for e in same) and not any(e.var == var for e in same):
            deferred.add(var)  # ``m`` was counted before this step gave the op's node that role: ask again
            continue
        if direction == IN and m == n and same and all(e.var != var for e in same):
            continue  # those calls, and so these refs, are in the frame already (a value shared by two roles)
        pattern, renames = _attach(reader, pattern, var, op, label, direction, n == counts.get(op), m == n)
        if renames:
            if direction == OUT and m == n:
                quiet = {renames.get(v, v) for v in quiet} | set(renames.values())
            merged = {k: renames.get(v, v) for k, v in merged.items()}
            merged.update({k: v for k, v in renames.items() if k != v})
            deferred = {renames.get(v, v) for v in deferred}
    names = [merged.get(v, v) for v in names]
    names = [v for v in names if pattern.has(v) and v not in deferred]
    return _update_done(before, pattern, names, direction, quiet), deferred


def _had_edge(pattern: Pattern, edge: Edge) -> bool:
    return any(e.key == edge.key for e in pattern.edges)


def _role_edges(pattern: Pattern, op: str, label: str, direction: int) -> list:
    """The edges of that role (direction, label) of the function nodes of ``op``."""
    return [e for e in pattern.edges if e.direction == direction and e.label == label and pattern.func(e.func).op == op]


def _grown(before: Pattern, after: Pattern, quiet: set = frozenset()) -> set:
    """The variables of ``after`` whose members may differ from what they were in ``before``.

    Members flow from a node to the variables at its edges, and from a variable to the nodes that pull through it:
    a new edge, a node made full, or a new pull makes a node (or a variable) grow, which then spreads."""
    old = {e.key: e for e in before.edges}
    old_funcs = {f.name: f for f in before.funcs}
    vars_: set = set()
    funcs: list = []  # (node, key of the edge that brought its new members, or None)
    for e in after.edges:
        prev = old.get(e.key)
        if prev is None:
            if (e.func in old_funcs or not e.pull) and e.var not in quiet:
                vars_.add(e.var)
            if e.pull:
                funcs.append((e.func, e.key))
        elif e.pull and not prev.pull:
            funcs.append((e.func, e.key))
    for f in after.funcs:
        if f.name in old_funcs and f.full and not old_funcs[f.name].full:
            funcs.append((f.name, None))
    seen_f: set = set()
    todo_v = list(vars_)
    while funcs or todo_v:
        while funcs:
            name, via = funcs.pop()
            if (name, via) in seen_f:
                continue
            seen_f.add((name, via))
            for e in after.edges_of(name):  # (a group edge brings the other elements of its calls too)
                if (e.key != via or is_group(e.label)) and e.var not in vars_:
                    vars_.add(e.var)
                    todo_v.append(e.var)
        if todo_v:
            v = todo_v.pop()
            for e in after.edges_of(v):
                if e.pull and not after.func(e.func).full:
                    funcs.append((e.func, e.key))
    return vars_


def _update_done(before: Pattern, after: Pattern, names: list, direction: int, quiet: set) -> Pattern:
    grown = _grown(before, after, quiet)
    alive = set(after.vnames())
    keep_back = (after.done_back - grown) & alive
    keep_fwd = (after.done_fwd - grown) & alive
    asked = set(names) - grown
    if direction == OUT:
        keep_back |= asked
    else:
        keep_fwd |= asked
    return replace(after, done_back=frozenset(keep_back), done_fwd=frozenset(keep_fwd))


def _existing(pattern: Pattern, var: str, direction: int, table: str | None) -> list:
    """(members, label) of the function nodes' edges of this direction from other variables."""
    return [
        (call_source(pattern, e.func, table), e.label)
        for e in pattern.edges
        if e.direction == direction and e.var != var
    ]


def _discover(reader: Reader, pattern: Pattern, names: list, direction: int) -> list:
    table = temp_name("m") if needs_members(pattern) else None
    try:
        if table is not None:
            reader.run(members.emit_create_members(table, reader.dialect), {})
            p = reader.params()
            reader.query(members.emit_members_insert(compile_members(pattern, table), table, p), p)
        targets = [
            (v, var_sources(pattern, v, table, only_inputs=direction == OUT), _existing(pattern, v, direction, table))
            for v in names
        ]
        if table is None:  # statements per variable, which the store may run side by side
            rows = _discover_apart(reader, targets, direction)
        else:  # (the members table exists on the main connection only)
            p = reader.params()
            rows = reader.query(members.emit_discovery(targets, direction, p), p)
    finally:
        if table is not None:
            reader.run(reader.dialect.drop_temp(table), {})
    grouped: dict = {}
    for var, op, label, n, m in rows:  # stored labels of a group (elts_0, elts_1, ...) become one frame label
        key = (var, op, reader.group_label(op, label) if direction == IN else label)
        n0, known = grouped.get(key, (0, True))
        grouped[key] = (max(n0, n), known and m == n)
    order = {v: i for i, v in enumerate(names)}
    out = [(v, op, label, n, n if known else -1) for (v, op, label), (n, known) in grouped.items()]
    return sorted(out, key=lambda r: (order[r[0]], r[1], r[2]))


SAMPLE = 2000
"""Members whose creators (or consumers) tell which groups of ops and labels to count over all of them."""


def _discover_apart(reader: Reader, targets: list, direction: int) -> list:
    """``emit_discovery`` rows for each target, in up to three rounds of one statement per target: the groups
    among its first ``SAMPLE`` members (the answer, when they are all its members); then counts into those groups
    over all members; and, for a target whose total shows other groups, one grouped count."""
    sampled = reader.query_many(
        [(members.emit_discovery([t], direction, p, SAMPLE), p) for t in targets for p in [reader.params()]]
    )
    rows: list = []
    big = []
    for t, part in zip(targets, sampled):
        looked = next(n for _, op, _, n, _ in part if op is None)
        found = [r for r in part if r[1] is not None]
        if looked < SAMPLE:
            rows.extend(found)
        else:
            big.append((t, [(op, label) for _, op, label, _, _ in found]))
    counted = reader.query_many(
        [(members.emit_discovery_counts(t, direction, g, p), p) for t, g in big for p in [reader.params()]]
    )
    again = []
    for (t, g), part in zip(big, counted):
        total, *sums = part[0]
        if total != sum(sums[0::2]):
            again.append(t)
            continue
        rows.extend((t[0], op, label, n, m) for (op, label), n, m in zip(g, sums[0::2], sums[1::2]) if n)
    if again:
        rows.extend(
            row
            for part in reader.query_many(
                [(members.emit_discovery([t], direction, p), p) for t in again for p in [reader.params()]]
            )
            for row in part
        )
    return rows


def _mergeable(pattern: Pattern, var: str) -> bool:
    """A variable expansion made that only feeds functions (or is only made by them): it may join another."""
    v = pattern.var(var)
    return not v.seeds and (not pattern.creators(var) or not pattern.consumers(var))


def _merge(pattern: Pattern, a: str, b: str) -> tuple[Pattern, str]:
    """Merge two variables, keeping the name of the one the frame had first (expansion renames nothing)."""
    order = pattern.vnames()
    keep, gone = (a, b) if order.index(a) < order.index(b) else (b, a)
    return pattern.merge_var_into(gone, keep), keep


def _reaches(pattern: Pattern, src: str, dst: str) -> bool:
    return dst in pattern.reach([src], pattern.successors)


def _is_loop(reader: Reader, pattern: Pattern, var: str, op: str, label: str, direction: int) -> bool:
    """Whether joining ``var`` to ``op`` at (``direction``, ``label``) repeats a step the frame holds already (a
    variable between a node of ``op`` and a node of the op at ``var``'s other end, at the same labels), or follows an
    op applied to its own output, which the store holds three times in a row through those labels."""
    others = pattern.consumers(var) if direction == OUT else pattern.creators(var)
    for e in others:
        other = pattern.func(e.func).op
        for w in pattern.vnames():
            if w == var:
                continue
            near = pattern.creators(w) if direction == OUT else pattern.consumers(w)
            far = pattern.consumers(w) if direction == OUT else pattern.creators(w)
            if any(x.label == label and pattern.func(x.func).op == op for x in near) and any(
                x.label == e.label and pattern.func(x.func).op == other for x in far
            ):
                return True
        if other == op:
            out_label, in_label = (label, e.label) if direction == OUT else (e.label, label)
            if reader.self_applied(op, out_label, in_label):
                return True
    return False


def _attach(
    reader: Reader, pattern: Pattern, var: str, op: str, label: str, direction: int, is_all: bool, held: bool = False
):
    """Connect ``var`` to a function node of ``op`` at (``direction``, ``label``), with ``pull`` set.

    Returns ``(pattern, renames)``: old -> new names of the variables a merge removed. A function node has at most
    one edge per (direction, label). When a node of the op has that edge to another variable, the two variables are
    merged if one of them may be and the merge closes no cycle, or the calls found are members of the op's nodes
    already (``held``: ``var``'s refs are in the other variable already), or it follows a loop (:func:`_is_loop`);
    else a free node of the op (without that edge) is used if the new edge closes no cycle; else a new node is made.
    """
    same = _role_edges(pattern, op, label, direction)
    if any(e.var == var for e in same):
        for e in same:
            if e.var == var:
                pattern = _pull(pattern, e, is_all)
        return pattern, {}
    loop = None
    for e in same:
        if not (_mergeable(pattern, var) or _mergeable(pattern, e.var)):
            continue
        cycle = _reaches(pattern, var, e.var) or _reaches(pattern, e.var, var)
        if direction == IN and not cycle:
            continue  # two variables feeding one op at one label: separate nodes, so that cells keep their roles
        if cycle and not held:
            loop = _is_loop(reader, pattern, var, op, label, direction) if loop is None else loop
            if not loop:
                continue
        pattern, kept = _merge(pattern, var, e.var)
        edge = next(x for x in pattern.edges if x.key == replace(e, var=kept).key)
        return _pull(pattern, edge, is_all), {var: kept, e.var: kept}
    taken = {e.func for e in same}
    for f in pattern.funcs_of_op(op):
        if f.name in taken or f.versions is not None:
            continue
        closes = _reaches(pattern, var, f.name) if direction == OUT else _reaches(pattern, f.name, var)
        if closes and not (loop if loop is not None else _is_loop(reader, pattern, var, op, label, direction)):
            continue
        edge = Edge(f.name, var, label, direction, pull=True)
        return _pull(pattern.add_edge(edge), edge, is_all), {}
    fname = pattern.fresh_name(op)
    pattern = pattern.add_func(FuncNode(fname, op, full=is_all))
    pattern = pattern.add_edge(Edge(fname, var, label, direction, pull=True))
    if direction == OUT:
        return _add_inputs(reader, pattern, fname, op), {}
    return _add_outputs(reader, pattern, fname, op), {}


def _pull(pattern: Pattern, edge: Edge, is_all: bool) -> Pattern:
    """Set ``pull`` on an edge, or make its node full when the calls found are all the calls of its op."""
    f = pattern.func(edge.func)
    if is_all and not f.full and f.versions is None:
        return pattern.replace_node(replace(f, full=True))
    if f.full or edge.pull:
        return pattern
    return pattern.add_edge(replace(edge, pull=True))


def _add_inputs(reader: Reader, pattern: Pattern, fname: str, op: str, skip: str = "") -> Pattern:
    for direction, label in reader.op_labels(op):
        if direction != IN or label == skip:
            continue
        if any(e.label == label for e in pattern.inputs(fname)):
            continue
        vname = pattern.fresh_name(label.lstrip("*"))  # a group's variable: "elts" for the edge "*elts"
        pattern = pattern.add_var(VarNode(vname)).add_edge(Edge(fname, vname, label, IN))
    return pattern


def _add_outputs(reader: Reader, pattern: Pattern, fname: str, op: str) -> Pattern:
    named = set(reader.output_names(op))
    for direction, label in reader.op_labels(op):
        if direction != OUT or any(e.label == label for e in pattern.outputs(fname)):
            continue
        base = label if label in named else output_var_base(label)
        vname = pattern.fresh_name(base) if base else pattern.fresh_var_k()
        pattern = pattern.add_var(VarNode(vname)).add_edge(Edge(fname, vname, label, OUT))
    return pattern


def op_pattern(reader: Reader, op: str, version: int | None) -> Pattern:
    """The pattern of ``storage.cf(op)``: the op's calls, its inputs and its outputs."""
    versions = None if version is None else frozenset([version])
    pattern = Pattern().add_func(FuncNode(op, op, versions=versions, full=True))
    pattern = _add_inputs(reader, pattern, op, op)
    return _add_outputs(reader, pattern, op, op)
