"""Showing a frame: Python-like text of its graph, a summary, and SVG through graphviz ``dot``.

>>> from query.model import Pattern, FuncNode, VarNode, Edge, IN, OUT
>>> p = Pattern().add_func(FuncNode("inc", "inc")).add_var(VarNode("x")).add_var(VarNode("y"))
>>> p = p.add_edge(Edge("inc", "x", "x", IN)).add_edge(Edge("inc", "y", "output_0", OUT))
>>> print(graph_text(p))
y@output_0 = inc(x=x)
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Optional

from .errors import MissingProgramError
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


def dot_source(pattern: Pattern) -> str:
    q = lambda s: '"' + s.replace('"', '\\"') + '"'  # noqa: E731
    lines = ["digraph frame {", "  rankdir=TB;"]
    for f in pattern.funcs:
        lines.append(f"  {q(f.name)} [shape=box, style=filled, fillcolor=lightblue];")
    for v in pattern.vars:
        lines.append(f"  {q(v.name)} [shape=ellipse];")
    for e in pattern.edges:
        src, dst = (e.var, e.func) if e.direction == 0 else (e.func, e.var)
        lines.append(f"  {q(src)} -> {q(dst)} [label={q(e.label)}];")
    lines.append("}")
    return "\n".join(lines)


def draw_svg(pattern: Pattern, path: Optional[str] = None, program: str = "dot") -> str:
    exe = shutil.which(program)
    if exe is None:
        raise MissingProgramError(
            f"drawing a frame needs the graphviz program {program!r}, which is not on PATH; install graphviz "
            "(e.g. apt-get install graphviz) or use cf.to_networkx() / print(cf)"
        )
    svg = subprocess.run([exe, "-Tsvg"], input=dot_source(pattern), capture_output=True, text=True, check=True).stdout
    if path is not None:
        with open(path, "w") as fh:
            fh.write(svg)
    return svg
