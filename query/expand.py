"""Growing a pattern from the store: ``expand_back`` (creators), ``expand_forward`` (consumers), ``expand_all``.

Each step asks the store one grouped question per direction (which ops, at which labels, create or consume the members
of the target variables) and changes the graph accordingly:

- an op already in the frame is reused (one function node per op), so a value fed back into its own op makes a cycle;
- a new function node brings its inputs (expanding back) or its inputs and outputs (expanding forward) as variables;
- a variable that only feeds functions and whose values turn out to be made by an edge already in the frame is merged
  into that edge's variable, so converging branches share variables;
- a function node whose pulled calls are all the calls of its op becomes ``full`` (no membership to compute later).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterable, Optional

from . import emit
from .compile import call_source, compile_members, needs_members, var_sources
from .extract import temp_name
from .model import IN, OUT, Edge, FuncNode, Pattern, VarNode, output_var_base
from .store import Reader

_DEFAULT_VAR = re.compile(r"^var_\d+$")


def expand(
    reader: Reader, pattern: Pattern, names: Optional[Iterable[str]], direction: int, recursive: bool
) -> Pattern:
    """Expand back (``direction=OUT``: add creators) or forward (``IN``: add consumers), once or to a fixed point."""
    reader.sync()
    targets = None if names is None else list(names)
    for t in targets or ():
        pattern.var(t)
    while True:
        new = _step(reader, pattern, targets, direction)
        if not recursive or _same(new, pattern):
            return new
        pattern, targets = new, None


def expand_all(reader: Reader, pattern: Pattern) -> Pattern:
    while True:
        new = expand(reader, pattern, None, OUT, True)
        new = expand(reader, new, None, IN, True)
        if _same(new, pattern):
            return new
        pattern = new


def _same(a: Pattern, b: Pattern) -> bool:
    return (a.funcs, a.vars, set(a.edges), a.done_back, a.done_fwd) == (b.funcs, b.vars, set(b.edges), b.done_back,
                                                                       b.done_fwd)


def _needs_back(pattern: Pattern, name: str) -> bool:
    """Only a variable's seeds and the inputs of its consumers can have creators the frame does not know."""
    return bool(pattern.var(name).seeds) or bool(pattern.consumers(name))


def _step(reader: Reader, pattern: Pattern, targets: Optional[list], direction: int) -> Pattern:
    done = pattern.done_back if direction == OUT else pattern.done_fwd
    names = [v for v in (targets if targets is not None else pattern.vnames()) if v not in done]
    if direction == OUT:
        skip = [v for v in names if not _needs_back(pattern, v)]
        names = [v for v in names if v not in skip]
        pattern = pattern.with_done(back=skip)
    if not names:
        return pattern
    found = _discover(reader, pattern, names, direction)
    counts = reader.op_counts(op for _, op, _, _, _ in found)
    before = pattern
    merged: dict = {}
    if direction == OUT:  # merges first: a creator edge added in this step must not make a variable unmergeable
        found = sorted(found, key=lambda r: not _has_edge_elsewhere(pattern, r[0], r[1], r[2], OUT))
    created: set = set()
    deferred: set = set()
    fresh: set = set()
    for var, op, label, n, m in found:
        var = merged.get(var, var)
        if not pattern.has(var):
            continue
        if op in created and _has_edge_elsewhere(pattern, var, op, label, direction) and not any(
                e.var in fresh for e in pattern.edges if e.direction == direction and e.label == label
                and pattern.func(e.func).op == op):
            deferred.add(var)  # ``m`` was counted before this step made the op's node: ask again next step
            continue
        if not pattern.funcs_of_op(op):
            created.add(op)
        if direction == IN and m == n and _has_edge_elsewhere(pattern, var, op, label, IN):
            continue  # those calls, and so these refs, are in the frame already (a value shared by two roles)
        known = set(pattern.vnames())
        pattern, renames = _attach(reader, pattern, var, op, label, direction, n == counts.get(op),
                                   frozenset(fresh))
        fresh |= set(pattern.vnames()) - known
        if renames:
            merged = {k: renames.get(v, v) for k, v in merged.items()}
            merged.update({k: v for k, v in renames.items() if k != v})
            if needs_members(pattern):  # a merged variable may pull in more calls: expand it again
                deferred.update(renames.values())
    names = [merged.get(v, v) for v in names if pattern.has(merged.get(v, v)) and merged.get(v, v) not in deferred]
    return _update_done(before, pattern, names, direction)


def _update_done(before: Pattern, after: Pattern, names: list, direction: int) -> Pattern:
    old = {e.key for e in before.edges}
    pulls = {e.key for e in before.edges if e.pull}
    touched = {e.var for e in after.edges if e.key not in old or (e.pull and e.key not in pulls)}
    new_funcs = set(after.fnames()) - set(before.fnames())
    touched |= {e.var for e in after.edges if e.func in new_funcs}
    keep_back = (after.done_back - touched) & set(after.vnames())
    keep_fwd = (after.done_fwd - touched) & set(after.vnames())
    if direction == OUT:
        keep_back |= set(names)
    else:
        keep_fwd |= set(names)
    return replace(after, done_back=frozenset(keep_back), done_fwd=frozenset(keep_fwd))


def _existing(pattern: Pattern, var: str, direction: int, table: Optional[str]) -> list:
    """(members, label) of the function nodes' edges of this direction from other variables."""
    return [(call_source(pattern, e.func, table), e.label) for e in pattern.edges
            if e.direction == direction and e.var != var]


def _discover(reader: Reader, pattern: Pattern, names: list, direction: int) -> list:
    table = temp_name("m") if needs_members(pattern) else None
    try:
        if table is not None:
            reader.run(emit.emit_create_members(table), {})
            p = emit.Params()
            reader.query(emit.emit_members_insert(compile_members(pattern, table), table, p), p)
        targets = [(v, var_sources(pattern, v, table, only_inputs=direction == OUT),
                    _existing(pattern, v, direction, table)) for v in names]
        if table is None:  # statements per variable, which the store may run side by side
            rows = _discover_apart(reader, targets, direction)
        else:  # (the members table exists on the main connection only)
            p = emit.Params()
            rows = reader.query(emit.emit_discovery(targets, direction, p), p)
    finally:
        if table is not None:
            reader.run(emit.emit_drop_temp(table), {})
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
    sampled = reader.query_many([(emit.emit_discovery([t], direction, p, SAMPLE), p)
                                 for t in targets for p in [emit.Params()]])
    rows: list = []
    big = []
    for t, part in zip(targets, sampled):
        looked = next(n for _, op, _, n, _ in part if op is None)
        found = [r for r in part if r[1] is not None]
        if looked < SAMPLE:
            rows.extend(found)
        else:
            big.append((t, [(op, label) for _, op, label, _, _ in found]))
    counted = reader.query_many([(emit.emit_discovery_counts(t, direction, g, p), p)
                                 for t, g in big for p in [emit.Params()]])
    again = []
    for (t, g), part in zip(big, counted):
        total, *sums = part[0]
        if total != sum(sums[0::2]):
            again.append(t)
            continue
        rows.extend((t[0], op, label, n, m) for (op, label), n, m in zip(g, sums[0::2], sums[1::2]) if n)
    if again:
        rows.extend(row for part in reader.query_many(
            [(emit.emit_discovery([t], direction, p), p) for t in again for p in [emit.Params()]]) for row in part)
    return rows


def _has_edge_elsewhere(pattern: Pattern, var: str, op: str, label: str, direction: int) -> bool:
    return any(e.direction == direction and e.label == label and e.var != var and pattern.func(e.func).op == op
               for e in pattern.edges)


def _mergeable(pattern: Pattern, var: str) -> bool:
    """A variable expansion made that only feeds functions (or is only made by them): it may join another."""
    v = pattern.var(var)
    return not v.seeds and (not pattern.creators(var) or not pattern.consumers(var))


def _merge(pattern: Pattern, src: str, dst: str) -> tuple[Pattern, str]:
    """Merge ``src`` into ``dst``, keeping the more telling name (an input name over ``var_k``)."""
    keep = src if _DEFAULT_VAR.match(dst) and not _DEFAULT_VAR.match(src) else dst
    pattern = pattern.merge_var_into(src, dst)
    if keep != dst:
        pattern = pattern.rename({dst: keep})
    return pattern, keep


def _attach(reader: Reader, pattern: Pattern, var: str, op: str, label: str, direction: int, is_all: bool,
            fresh: frozenset = frozenset()):
    """Connect ``var`` to a function node of ``op`` at (``direction``, ``label``), with ``pull`` set.

    Returns ``(pattern, renames)``: old -> new names of the variables a merge renamed.
    A function node has at most one edge per (direction, label): if the op's node already has one to another
    variable, the two variables are merged when one of them may be, else a new node of the op is made.
    """
    same = [e for e in pattern.edges if e.direction == direction and e.label == label
            and pattern.func(e.func).op == op]
    for e in same:
        if e.var == var:
            f = pattern.func(e.func)
            if is_all and not f.full and f.versions is None:
                pattern = pattern.replace_node(replace(f, full=True))
            if f.full or is_all or e.pull:
                return pattern, {}  # nothing to pull: every call of the op is a member already
            return pattern.add_edge(replace(e, pull=True)), {}
    for e in same if direction == IN else ():
        if e.var in fresh and _mergeable(pattern, e.var):  # a placeholder this step made for the same input
            pattern, kept = _merge(pattern, e.var, var)
            edge = next(x for x in pattern.edges if x.direction == IN and x.label == label and x.func == e.func
                        and x.var == kept)
            return pattern.add_edge(replace(edge, pull=True)), {e.var: kept, var: kept}
    for e in same if direction == OUT else ():
        for src, dst in ((var, e.var), (e.var, var)):
            if _mergeable(pattern, src):
                pattern, kept = _merge(pattern, src, dst)
                edge = next(x for x in pattern.edges if x.direction == direction and x.label == label
                            and x.func == e.func and x.var == kept)
                return pattern.add_edge(replace(edge, pull=True)), {src: kept, dst: kept}
    taken = {e.func for e in same}
    free = [f for f in pattern.funcs_of_op(op) if f.name not in taken]
    if free:
        f = free[0]
        if is_all and not f.full and f.versions is None:
            pattern = pattern.replace_node(replace(f, full=True))
        fname, created = f.name, False
    else:
        fname, created = pattern.fresh_name(op), True
        pattern = pattern.add_func(FuncNode(fname, op, full=is_all))
    pattern = pattern.add_edge(Edge(fname, var, label, direction, pull=True))
    if created:
        pattern = _add_inputs(reader, pattern, fname, op, skip=label if direction == IN else "")
        if direction == IN:
            pattern = _add_outputs(reader, pattern, fname, op)
    return pattern, {}


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


def op_pattern(reader: Reader, op: str, version: Optional[int]) -> Pattern:
    """The pattern of ``storage.cf(op)``: the op's calls, its inputs and its outputs."""
    versions = None if version is None else frozenset([version])
    pattern = Pattern().add_func(FuncNode(op, op, versions=versions, full=True))
    pattern = _add_inputs(reader, pattern, op, op)
    return _add_outputs(reader, pattern, op, op)
