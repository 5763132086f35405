"""Showing a frame as text: Python-like text of its graph, its summary (what ``print(cf)`` shows), and ``info()``.

Pictures (graphviz) are in ``query/picture.py``.

>>> from graphstore.query.model import Pattern, FuncNode, VarNode, Edge, IN, OUT
>>> p = Pattern().add_func(FuncNode("inc", "inc")).add_var(VarNode("x")).add_var(VarNode("y"))
>>> p = p.add_edge(Edge("inc", "x", "x", IN)).add_edge(Edge("inc", "y", "output_0", OUT))
>>> print(graph_text(p))
y@output_0 = inc(x=x)
"""

from __future__ import annotations

import html

from .model import Pattern


def graph_text(pattern: Pattern) -> str:
    lines = []
    for name in pattern.topo_names():
        if pattern.is_func(name):
            outs = ", ".join(e.var if e.var == e.label else f"{e.var}@{e.label}" for e in pattern.outputs(name))
            f = pattern.func(name)
            call = name if f.op == name else f"{name}:{f.op}"
            args = ", ".join(f"{e.label}={e.var}" for e in pattern.inputs(name))
            lines.append(f"{outs} = {call}({args})" if outs else f"{call}({args})")
        elif not pattern.edges_of(name):
            lines.append(name)
    return "\n".join(lines)


def frame_repr(pattern: Pattern) -> str:
    text = graph_text(pattern)
    if not text:
        return "ComputationFrame()"
    if "\n" not in text:
        return f"ComputationFrame({text})"
    body = "\n".join("    " + line for line in text.splitlines())
    return f"ComputationFrame(\n{body}\n)"


def summary_text(pattern: Pattern, contents: dict) -> str:
    """mandala's summary of a frame: its variables (and unique refs), operations (and unique calls), then the graph.

    ``contents`` maps each node to the ids it holds; a ref in two variables (or a call in two function nodes) counts
    once.
    """
    refs = set().union(*(contents[v] for v in pattern.vnames())) if pattern.vars else set()
    calls = set().union(*(contents[f] for f in pattern.fnames())) if pattern.funcs else set()
    lines = [
        "ComputationFrame with:",
        f"    {len(pattern.vars)} variable(s) ({len(refs)} unique refs)",
        f"    {len(pattern.funcs)} operation(s) ({len(calls)} unique calls)",
        "Computational graph:",
    ]
    lines.extend("    " + line for line in graph_text(pattern).splitlines())
    return "\n".join(lines)


def summary_html(text: str, svg: str = "") -> str:
    """The summary as HTML for notebooks, followed by the picture when there is one."""
    return f"<pre>{html.escape(text)}</pre>" + (f"\n<div>{svg}</div>" if svg else "")


def info_text(pattern: Pattern, contents: dict) -> str:
    nv, nf = len(pattern.vars), len(pattern.funcs)
    refs = sum(len(contents[v]) for v in pattern.vnames())
    calls = sum(len(contents[f]) for f in pattern.fnames())
    lines = [f"ComputationFrame with {nv} variable(s) ({refs} refs) and {nf} function(s) ({calls} calls)"]
    for name in pattern.topo_names():
        kind = "calls" if pattern.is_func(name) else "refs"
        lines.append(f"    {name}: {len(contents[name])} {kind}")
    lines.append("Computational graph:")
    lines.extend("    " + line for line in graph_text(pattern).splitlines())
    return "\n".join(lines)
