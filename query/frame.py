"""``ComputationFrame``: a view of part of a store's computation graph, and its table.

>>> from graphstore import Storage, op
>>> @op
... def inc(x):
...     return x + 1
>>> storage = Storage()
>>> with storage:
...     ys = [inc(i) for i in range(3)]
>>> cf = storage.cf(inc)
>>> cf
ComputationFrame(var_0@output_0 = inc(x=x))
>>> cf.df().shape
(3, 3)
>>> sorted(cf.df()["var_0"])
[1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from . import deletion, export, picture, render, shape
from .errors import FrameStructureError, MissingProgramError
from .expand import expand, expand_all
from .model import IN, OUT, Pattern
from .sql.statements import sql_text
from .store import Reader
from .table import build_table, rows_of


class ComputationFrame:
    """A graph of variables (sets of refs) and functions (sets of calls); see ``docs/querying.md``.

    Every transforming method returns a new frame; those mandala gives an ``inplace`` parameter (expansion,
    ``rename``, ``drop*``, ``merge_vars``, ``merge_into``) change this frame instead and return None when called with
    ``inplace=True``. The store is read by expansion (a few grouped queries per step), by
    extraction (``df``, ``refs``, ``calls``, ...) and by the shaping methods defined by contents (``upstream``,
    ``&``, ``-``, ``select_nodes``, ``merge_vars``); ``rename``, ``drop``, ``|``, ``isin`` and ``where`` only
    change the pattern.
    """

    def __init__(self, storage: Any, pattern: Pattern) -> None:
        self.storage = storage
        self.pattern = pattern

    def _new(self, pattern: Pattern) -> ComputationFrame:
        return ComputationFrame(self.storage, pattern)

    def _result(self, pattern: Pattern, inplace: bool) -> ComputationFrame | None:
        """A new frame with ``pattern``, or (``inplace``) this frame changed to it and None, as in pandas/mandala."""
        if not isinstance(inplace, bool):
            raise TypeError(f"inplace must be True or False, got {inplace!r}")
        if inplace:
            self.pattern = pattern
            return None
        return self._new(pattern)

    @property
    def _reader(self) -> Reader:
        return Reader(self.storage)

    # --- introspection ------------------------------------------------------------------------------------------------

    @property
    def vnames(self) -> set:
        """Names of the variable nodes."""
        return set(self.pattern.vnames())

    @property
    def fnames(self) -> set:
        """Names of the function nodes."""
        return set(self.pattern.fnames())

    @property
    def nodes(self) -> set:
        return self.vnames | self.fnames

    def edges(self) -> list:
        """``(source, target, label)`` for every edge: var -> func for inputs, func -> var for outputs."""
        out = [(e.var, e.func, e.label) if e.direction == IN else (e.func, e.var, e.label) for e in self.pattern.edges]
        return sorted(out)

    @property
    def sources(self) -> set:
        """Variables no function node of the frame creates."""
        return {v for v in self.pattern.vnames() if not self.pattern.creators(v)}

    @property
    def sinks(self) -> set:
        """Variables no function node of the frame consumes."""
        return {v for v in self.pattern.vnames() if not self.pattern.consumers(v)}

    def ops(self) -> dict:
        """Function node name -> op name."""
        return {f.name: f.op for f in self.pattern.funcs}

    def __repr__(self) -> str:
        return render.frame_repr(self.pattern)

    def __str__(self) -> str:
        """mandala's summary: variables (unique refs), operations (unique calls), then the graph (reads the store)."""
        return render.summary_text(self.pattern, self._contents())

    def _repr_html_(self) -> str:
        """Notebooks show the summary and the picture (the summary alone when graphviz is not installed)."""
        try:
            svg = picture.Picture(picture.dot_source(self.pattern)).svg
        except MissingProgramError:
            svg = ""
        return render.summary_html(str(self), picture._inline(svg) if svg else "")

    def info(self) -> None:
        """Print a summary: counts of refs and calls per node, and the graph (as mandala's ``info()``; the text
        itself is ``str(cf)``'s neighbour :meth:`info_text`)."""
        print(self.info_text())

    def info_text(self) -> str:
        """The summary :meth:`info` prints."""
        return render.info_text(self.pattern, self._contents())

    def var_info(self, vname: str) -> dict:
        """What a variable holds and how it connects: ref count, creators, consumers."""
        self.pattern.var(vname)
        refs = self._contents()[vname]
        return {
            "name": vname,
            "num_refs": len(refs),
            "creators": sorted({(e.func, e.label) for e in self.pattern.creators(vname)}),
            "consumers": sorted({(e.func, e.label) for e in self.pattern.consumers(vname)}),
        }

    def _contents(self) -> dict:
        """Node name -> set of ids it holds (the union of the rows' cells)."""
        out: dict = {n: set() for n in self.pattern.names()}
        for r in rows_of(self._reader, self.pattern):
            for n, hids in r.cells.items():
                out[n].update(hids)
        return out

    @property
    def refs(self) -> dict:
        """hid -> Ref of every ref in the frame (values not loaded)."""
        c = self._contents()
        return self._reader.load_refs({h for v in self.pattern.vnames() for h in c[v]}, with_values=False)

    @property
    def calls(self) -> dict:
        """hid -> Call of every call in the frame."""
        c = self._contents()
        return self._reader.load_calls({h for f in self.pattern.fnames() for h in c[f]})

    def refs_by_var(self) -> dict:
        c = self._contents()
        refs = self._reader.load_refs({h for v in self.pattern.vnames() for h in c[v]}, with_values=False)
        return {v: {refs[h] for h in c[v] if h in refs} for v in self.pattern.vnames()}

    def calls_by_func(self) -> dict:
        c = self._contents()
        calls = self._reader.load_calls({h for f in self.pattern.fnames() for h in c[f]})
        return {f: {calls[h] for h in c[f] if h in calls} for f in self.pattern.fnames()}

    def get_var_values(self, vname: str) -> list:
        """The values of a variable (ordered by ref id)."""
        self.pattern.var(vname)
        hids = sorted(self._contents()[vname])
        refs = self._reader.load_refs(hids, with_values=True)
        return [refs[h].obj for h in hids if h in refs]

    def get_func_table(self, fname: str) -> pd.DataFrame:
        """The memoization table of one function node: a column per input and output label, one row per call."""
        self.pattern.func(fname)
        calls = self.calls_by_func()[fname]
        records = []
        for call in sorted(calls, key=lambda c: c.hid):
            rec = {**{k: v for k, v in call.inputs.items()}, **{k: v for k, v in call.outputs.items()}}
            records.append(rec)
        self.storage.attach([list(r.values()) for r in records], inplace=True)
        return pd.DataFrame([{k: v.obj for k, v in r.items()} for r in records])

    # --- growth -------------------------------------------------------------------------------------------------------

    def expand_back(
        self,
        vars: str | Iterable[str] | None = None,
        recursive: bool = False,
        varnames: Any = None,
        inplace: bool = False,
    ) -> ComputationFrame | None:
        """Add the calls that created the refs of ``vars`` (default: all variables), and their inputs."""
        names = _names(varnames if vars is None else vars)
        return self._result(self._join_given(expand(self._reader, self.pattern, names, OUT, recursive)), inplace)

    def expand_forward(
        self,
        vars: str | Iterable[str] | None = None,
        recursive: bool = False,
        varnames: Any = None,
        inplace: bool = False,
    ) -> ComputationFrame | None:
        """Add the calls that consumed the refs of ``vars`` (default: all variables), their inputs and outputs."""
        names = _names(varnames if vars is None else vars)
        return self._result(self._join_given(expand(self._reader, self.pattern, names, IN, recursive)), inplace)

    def _join_given(self, grown: Pattern) -> Pattern:
        """Variables the expansion made whose refs are all among the refs given to a variable of the frame (as
        ``storage.cf({"name": refs})`` gives them) join that variable, as in mandala: expanding ``model`` forward
        puts the results of ``eval_model`` into the frame's ``test_acc`` when they are those refs."""
        given = [v for v in self.pattern.vars if v.seeds]
        new = [v for v in grown.vnames() if not self.pattern.has(v)]
        if not given or not new:
            return grown
        contents = self._new(grown)._contents()
        for name in new:
            held = contents.get(name)
            for v in given:
                if not held or not held <= v.seeds or not grown.has(v.name):
                    continue
                ends = {name, v.name}
                if ends & grown.reach([name], grown.successors) - {name} or ends & grown.reach(
                    [v.name], grown.successors
                ) - {v.name}:
                    continue  # the two are connected already: joining them would close a cycle
                grown = grown.merge_var_into(name, v.name)
                break
        return grown

    def expand_all(self, inplace: bool = False) -> ComputationFrame | None:
        """Expand back and forward until nothing changes."""
        return self._result(expand_all(self._reader, self.pattern), inplace)

    # --- shaping ------------------------------------------------------------------------------------------------------

    def __getitem__(self, key: str | list) -> ComputationFrame:
        if isinstance(key, str):
            return self.select_nodes([key])
        return self.select_nodes(list(key))

    def select_nodes(self, nodes: Iterable[str]) -> ComputationFrame:
        """The frame restricted to these nodes (and the edges among them)."""
        return self._new(shape.select(self._reader, self.pattern, list(nodes)))

    def upstream(self, *nodes: str) -> ComputationFrame:
        """The part of the frame upstream of the given nodes (inclusive): graph and histories."""
        return self._new(shape.upstream(self._reader, self.pattern, nodes))

    def downstream(self, *nodes: str) -> ComputationFrame:
        """The part of the frame downstream of the given nodes (inclusive): graph and dependent calls."""
        return self._new(shape.downstream(self._reader, self.pattern, nodes))

    def midstream(self, *nodes: str) -> ComputationFrame:
        """The nodes on paths between the given nodes (downstream of some and upstream of others)."""
        return self._new(shape.midstream(self._reader, self.pattern, nodes))

    def merge_vars(self, inplace: bool = False) -> ComputationFrame | None:
        """Merge variables that hold the same refs (at least one shared ref), keeping the first name."""
        return self._result(shape.merge_vars(self._reader, self.pattern), inplace)

    def merge_into(self, src: str, dst: str, inplace: bool = False) -> ComputationFrame | None:
        """Merge variable ``src`` into ``dst``."""
        return self._result(self.pattern.merge_var_into(src, dst), inplace)

    def rename(
        self, vars: dict | None = None, funcs: dict | None = None, inplace: bool = False, **kw: str
    ) -> ComputationFrame | None:
        """Rename nodes: ``rename(vars={"var_0": "y"})``, ``rename(funcs={...})`` or ``rename(var_0="y")``.

        A keyword other than ``vars``, ``funcs`` and ``inplace`` must name a node of the frame (else ``TypeError``
        naming it); ``inplace`` is never a node name (rename a node called so through ``vars``/``funcs``).
        """
        unknown = [k for k in kw if k not in self.nodes]
        if unknown:
            raise TypeError(
                f"rename() got an unexpected keyword argument {unknown[0]!r} (not a node of this frame: "
                f"{', '.join(sorted(self.nodes)) or 'none'})"
            )
        mapping = {**(vars or {}), **(funcs or {}), **kw}
        return self._result(self.pattern.rename(mapping), inplace)

    def rename_var(self, old: str, new: str, inplace: bool = False) -> ComputationFrame | None:
        self.pattern.var(old)
        return self.rename({old: new}, inplace=inplace)

    def drop(self, *nodes: str | Iterable[str], inplace: bool = False) -> ComputationFrame | None:
        """Drop nodes (names, or iterables of names) and their edges."""
        return self._result(self.pattern.drop_nodes(_flat(nodes)), inplace)

    def drop_node(self, node: str, inplace: bool = False) -> ComputationFrame | None:
        return self.drop(node, inplace=inplace)

    def drop_var(self, *names: str, inplace: bool = False) -> ComputationFrame | None:
        for n in names:
            self.pattern.var(n)
        return self.drop(*names, inplace=inplace)

    def drop_func(self, *names: str, inplace: bool = False) -> ComputationFrame | None:
        for n in names:
            self.pattern.func(n)
        return self.drop(*names, inplace=inplace)

    def __or__(self, other: ComputationFrame) -> ComputationFrame:
        return self.union(other)

    def __and__(self, other: ComputationFrame) -> ComputationFrame:
        return self.intersection(other)

    def __sub__(self, other: ComputationFrame) -> ComputationFrame:
        return self._new(shape.difference(self._reader, self.pattern, other.pattern))

    def union(self, other: ComputationFrame) -> ComputationFrame:
        """Nodes and edges by name from both; a node in both holds what it holds in either."""
        return self._new(shape.union(self._reader, self.pattern, other.pattern))

    def intersection(self, other: ComputationFrame) -> ComputationFrame:
        """Nodes and edges in both; each node holds what it holds in both."""
        return self._new(shape.intersection(self._reader, self.pattern, other.pattern))

    def isin(self, node: str, values: Iterable[Any], by: str = "val") -> ComputationFrame:
        """Keep the histories whose ``node`` holds one of ``values`` (compared by value, ``hid`` or ``cid``)."""
        return self._new(shape.isin(self.pattern, node, values, by))

    def where(
        self,
        node: str,
        predicate: Callable[[Any], bool] | None = None,
        *,
        hids: Iterable = (),
        cids: Iterable = (),
        version: int | None = None,
    ) -> ComputationFrame:
        """Keep histories by a predicate on ``node``'s value, by ids (pushed into SQL), or an op version (SQL)."""
        return self._new(shape.where(self.pattern, node, predicate, hids, cids, version))

    def copy(self) -> ComputationFrame:
        return self._new(self.pattern)

    # --- extraction ---------------------------------------------------------------------------------------------------

    def df(
        self,
        *nodes: str,
        values: str = "objs",
        lazy_vars: Iterable[str] | None = None,
        include_calls: bool = True,
        join_how: str = "outer",
        verbose: bool = False,
    ) -> pd.DataFrame:
        """The frame's table: one row per history of its sink values, one column per node (topological order)."""
        if verbose:
            print(self.sql())
        return build_table(self._reader, self.pattern, _flat(nodes), values, lazy_vars, include_calls, join_how)

    def to_csv(self, path: Any, *nodes: str, **options: Any) -> str:
        """Write the table (:meth:`df` of ``nodes``, all by default) to a CSV file for other tools: calls and refs
        as their history ids, plain values as they are, other values as text. ``options`` go to pandas'
        ``to_csv``. Returns the path.

        >>> import os, tempfile
        >>> from graphstore import Storage, op
        >>> @op
        ... def half(x):
        ...     return x / 2
        >>> storage = Storage()
        >>> with storage:
        ...     _ = [half(i) for i in range(3)]
        >>> path = storage.cf(half).to_csv(os.path.join(tempfile.mkdtemp(), "half.csv"))
        >>> open(path).readline().strip()
        'x,half,var_0'
        """
        return export.to_csv(self.df(*nodes), path, **options)

    def to_parquet(self, path: Any, *nodes: str, **options: Any) -> str:
        """As :meth:`to_csv`, to a parquet file (needs pyarrow: the ``parquet`` extra)."""
        return export.to_parquet(self.df(*nodes), path, **options)

    def eval(self, *nodes: str, values: str = "objs") -> pd.DataFrame:
        """The table of the variables only (no call columns)."""
        return self.df(*nodes, values=values, include_calls=False)

    def get_history_df(self, vname: str, include_calls: bool = True) -> pd.DataFrame:
        """The histories of one variable's values: the table of the frame upstream of it."""
        return self.upstream(vname).df(include_calls=include_calls)

    def sql(self) -> str:
        """The SQL that extraction runs (staging statements included)."""
        self._reader.sync()
        reader = self._reader
        return sql_text(self.pattern, reader.run, reader.dialect)

    def delete_calls(self, dry_run: bool = False, include_shared_upstream: bool = False) -> Any:
        """Delete the calls of the frame's histories (its rows, after filters) that no other history uses.

        A call of the selected histories stays when a history the filters left out holds it, or when a call that
        stays uses its outputs (an upstream call shared with other histories); ``include_shared_upstream=True``
        deletes those too. Calls that use outputs of deleted calls are deleted with them (they cannot stay without
        their inputs). Returns a ``DeletionReport`` (the deleted calls' ids, per op counts, ``dependents``, and
        ``kept``: the selected calls left for other histories); with ``dry_run`` nothing is deleted and the report
        says what would be.
        """
        doomed, kept = deletion.plan(self._reader, self.pattern, include_shared_upstream)
        report = _drop_calls(self.storage, doomed, dry_run)
        report.kept = {h: op for h, op in kept.items() if h not in report.ops}
        return report

    def delete_calls_from_df(self, df: pd.DataFrame, dry_run: bool = False) -> Any:
        """Delete the calls found in the function columns of ``df`` (a table from this frame), and the calls that
        use their outputs; returns a ``DeletionReport`` (``dry_run``: what would be deleted)."""
        hids = set()
        for f in self.pattern.fnames():
            if f in df.columns:
                for cell in df[f]:
                    for c in cell if isinstance(cell, list) else [cell]:
                        if c is not None and hasattr(c, "hid"):
                            hids.add(c.hid)
        return _drop_calls(self.storage, sorted(hids), dry_run)

    def to_networkx(self) -> Any:
        """The frame's graph as a ``networkx.MultiDiGraph`` (node attribute ``kind``: "var" or "func")."""
        return self.pattern.to_digraph()

    def draw(
        self, verbose: bool = False, orientation: str = "TB", path: Any | None = None, *, print_dot: bool = False
    ) -> picture.Picture:
        """A picture of the graph, drawn by graphviz ``dot``: shown in a notebook (``_repr_svg_``), its SVG text in
        ``.svg``. ``verbose`` adds each node's count of refs or calls; ``orientation`` is ``TB``, ``LR``, ``BT`` or
        ``RL``; ``path`` also writes it as SVG, PNG, PDF or JPG by its extension. Without graphviz installed this
        raises ``MissingProgramError`` (and writes nothing).
        """
        if not isinstance(verbose, bool):
            raise TypeError(f"draw(verbose=...) takes True or False, got {verbose!r}; pass a file as path=...")
        fmt = picture.format_of(path) if path is not None else None  # a bad extension fails before any drawing
        counts = None
        if verbose:
            counts = {n: len(h) for n, h in self._contents().items()}
        source = picture.dot_source(self.pattern, orientation, counts)
        if print_dot:
            print(source)
        pic = picture.Picture(source)
        if fmt is not None:
            pic.save(path)
        return pic

    def print_graph(self) -> None:
        print(render.graph_text(self.pattern))


def _names(x: Any) -> list | None:
    if x is None:
        return None
    return [x] if isinstance(x, str) else list(x)


def _flat(items: Iterable[Any]) -> tuple:
    out: list = []
    for it in items:
        if isinstance(it, str):
            out.append(it)
        else:
            out.extend(it)
    return tuple(out)


def _drop_calls(storage: Any, hids: list, dry_run: bool) -> Any:
    drop = getattr(storage, "drop_calls", None)
    if drop is None:
        raise FrameStructureError("this storage cannot delete calls (it has no drop_calls)")
    return drop(hids, delete_dependents=True, dry_run=dry_run)


__all__ = ["ComputationFrame"]
