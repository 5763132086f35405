"""Pictures of a frame's graph: graphviz ``dot`` source, rendered by the ``dot`` program to SVG, PNG, PDF or JPG.

>>> from graphstore.query.model import Pattern, FuncNode, VarNode, Edge, IN, OUT
>>> p = Pattern().add_func(FuncNode("inc", "inc")).add_var(VarNode("x")).add_var(VarNode("y"))
>>> p = p.add_edge(Edge("inc", "x", "x", IN)).add_edge(Edge("inc", "y", "output_0", OUT))
>>> src = dot_source(p, orientation="LR", counts={"x": 3, "inc": 3, "y": 3})
>>> "rankdir=LR;" in src and "3 refs" in src and "3 calls" in src
True
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .errors import FrameStructureError, MissingProgramError, QueryError
from .model import IN, Pattern

ORIENTATIONS = ("TB", "LR", "BT", "RL")
FORMATS = {"svg": "svg", "png": "png", "pdf": "pdf", "jpg": "jpg", "jpeg": "jpg"}  # file extension -> dot -T format


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot_source(pattern: Pattern, orientation: str = "TB", counts: dict | None = None) -> str:
    """The graph in the dot language; ``counts`` (node -> number of refs or calls) adds a line to each node."""
    if orientation not in ORIENTATIONS:
        raise FrameStructureError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")

    def label(name: str, *lines: str) -> str:
        return _q("\n".join((name,) + lines))

    def count(name: str, noun: str) -> tuple:
        if counts is None:
            return ()
        n = counts.get(name, 0)
        return (f"{n} {noun if n != 1 else noun[:-1]}",)

    lines = [
        "digraph frame {",
        f"  rankdir={orientation};",
        '  node [fontname="Helvetica", fontsize=12];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for f in pattern.funcs:
        op = () if f.op == f.name else (f"@op:{f.op}",)
        lines.append(
            f'  {_q(f.name)} [shape=box, style="rounded,filled", fillcolor="#fde0dc", '
            f"label={label(f.name, *op, *count(f.name, 'calls'))}];"
        )
    for v in pattern.vars:
        lines.append(
            f'  {_q(v.name)} [shape=box, style=filled, fillcolor="#dbe9f6", '
            f"label={label(v.name, *count(v.name, 'refs'))}];"
        )
    for e in pattern.edges:
        src, dst = (e.var, e.func) if e.direction == IN else (e.func, e.var)
        lines.append(f"  {_q(src)} -> {_q(dst)} [label={_q(e.label)}];")
    lines.append("}")
    return "\n".join(lines)


def render(source: str, fmt: str, program: str = "dot") -> bytes:
    """``source`` rendered by graphviz as ``fmt`` (a ``dot -T`` format), or a clear error naming what to install."""
    exe = shutil.which(program)
    if exe is None:
        raise MissingProgramError(
            f"drawing a frame needs the graphviz program {program!r}, which is not on PATH; install graphviz "
            "(e.g. apt-get install graphviz, brew install graphviz or conda install graphviz) or use "
            "cf.to_networkx() / print(cf)"
        )
    done = subprocess.run([exe, f"-T{fmt}"], input=source.encode(), capture_output=True)
    if done.returncode != 0 or not done.stdout:
        err = done.stderr.decode(errors="replace").strip()
        raise QueryError(f"graphviz {program!r} could not render the frame as {fmt}: {err or 'no output'}")
    return done.stdout


def format_of(path: str) -> str:
    """The ``dot -T`` format for a file name, by its extension (svg, png, pdf, jpg/jpeg)."""
    ext = os.path.splitext(str(path))[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise FrameStructureError(
            f"cannot tell the picture format of {str(path)!r} from its extension; use one of "
            + ", ".join("." + e for e in FORMATS)
        )
    return FORMATS[ext]


class Picture:
    """A drawing of a frame's graph: shown as SVG in a notebook; ``.svg`` is its text, ``.dot`` its source, and
    ``save(path)`` writes SVG, PNG, PDF or JPG by the path's extension."""

    def __init__(self, dot: str, program: str = "dot") -> None:
        self.dot = dot
        self.program = program
        self.svg = render(dot, "svg", program).decode()

    def save(self, path: str | os.PathLike) -> str:
        """Write the picture to ``path`` in the format its extension names; returns the path."""
        path = os.fspath(path)
        fmt = format_of(path)
        data = self.svg.encode() if fmt == "svg" else render(self.dot, fmt, self.program)
        with open(path, "wb") as fh:
            fh.write(data)
        return path

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_html_(self) -> str:
        return _inline(self.svg)

    def __repr__(self) -> str:
        rankdir = next(
            (ln.strip()[len("rankdir=") : -1] for ln in self.dot.splitlines() if ln.strip().startswith("rankdir=")),
            "TB",
        )
        return f"<Picture of a frame's graph ({rankdir}, {len(self.svg)} characters of SVG)>"


def _inline(svg: str) -> str:
    """SVG text as an HTML fragment (the XML prolog and doctype dropped)."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


__all__ = ["FORMATS", "ORIENTATIONS", "Picture", "dot_source", "format_of", "render"]
