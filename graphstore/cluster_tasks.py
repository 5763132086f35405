"""What a worker of a cluster runs for :class:`graphstore.cluster.ClusterExecutor`: a group of calls, each computed,
its outputs hashed and serialized, and returned to the client, which records them. A worker needs no store.

A call is described by a :class:`CallSpec`; each input is a value sent along, or an output of a call run before
(in another task, given as an argument of this one, or earlier in this group). A call that raises is reported, not
raised: the other calls of the group still run, and the task itself always succeeds (only a worker's death makes the
scheduler run it again).

>>> from graphstore import op
>>> @op
... def inc(x):
...     return x + 1
>>> spec = CallSpec(inc, "h1", ["output_0"], [("x", VALUE, 1)])
>>> [result] = run_group([spec])
>>> result[0], result[1][0][0] == hash_value(2)
('ok', True)
>>> run_group([spec, CallSpec(inc, "h2", ["output_0"], [("x", LOCAL, (0, 0))])])[1][0]
'ok'
"""

from __future__ import annotations

import time
import traceback
from typing import Any, NamedTuple

from .codecs import decode_value, encode_value
from .hashing import hash_value
from .tracking import DepCollector, collecting, stop_collecting

VALUE = "value"
"""An input sent along with the call."""
LOCAL = "local"
"""An input that is an output of a call earlier in the same group: ``(position in the group, output index)``."""
UPSTREAM = "upstream"
"""An input that is an output of a call in another task: ``(argument index, position in its group, output index)``."""

OK, FAILED, NOT_RUN = "ok", "failed", "not run"


class CallSpec(NamedTuple):
    """One call for a worker: the op, the call's history id, the output names the client expects, and the inputs as
    ``(name, VALUE | LOCAL | UPSTREAM, payload)``. ``tracing``: for a storage that tracks code versions, the
    ``(scope, options)`` of its versioner: the worker notes the tracked functions the call ran."""

    op: Any
    hid: str
    output_names: list[str]
    inputs: list[tuple[str, str, Any]]
    tracing: tuple[Any, Any] | None = None


def run_group(specs: list[CallSpec], *upstream: list[tuple]) -> list[tuple]:
    """Run the calls in order; one result per call (see :func:`run_call`). ``upstream``: the results of the tasks
    the calls take inputs from."""
    results: list[tuple] = []
    for spec in specs:
        results.append(run_call(spec, results, upstream))
    return results


def run_call(spec: CallSpec, local: list[tuple], upstream: tuple[list[tuple], ...]) -> tuple:
    """``("ok", [(cid, codec, data) per output], started, duration)`` (and, when tracing, the ``(kind, key)`` of the
    code the call met), ``("failed", error type, message, traceback)`` or ``("not run", input name)`` when an input's
    call failed."""
    kwargs: dict[str, Any] = {}
    for name, kind, payload in spec.inputs:
        if kind == VALUE:
            kwargs[name] = payload
            continue
        if kind == LOCAL:
            position, index = payload
            source = local[position]
        else:
            arg, position, index = payload
            source = upstream[arg][position]
        if source[0] != OK:
            return (NOT_RUN, name)
        _, codec, data = source[1][index]
        kwargs[name] = decode_value(codec, data)
    op = spec.op
    started = time.time()
    t0 = time.perf_counter()
    collector = None
    try:
        if spec.tracing is None:
            result = op.func(**kwargs)
        else:
            collector = DepCollector(spec.tracing[0], op.name, spec.tracing[1])
            collector.add_function(op.func)
            token = collecting(collector)
            try:
                result = op.func(**kwargs)
            finally:
                stop_collecting(token)
    except Exception as exc:  # noqa: BLE001  (reported to the client, which raises it where the result is needed)
        return (FAILED, type(exc).__qualname__, str(exc), traceback.format_exc())
    duration = time.perf_counter() - t0
    try:
        outputs = _outputs(op, result, spec.output_names)
    except Exception as exc:  # noqa: BLE001  (a value that cannot be hashed or serialized: reported the same way)
        return (FAILED, type(exc).__qualname__, str(exc), traceback.format_exc())
    if collector is None:
        return (OK, outputs, started, duration)
    return (OK, outputs, started, duration, list(collector.order))


def _outputs(op: Any, result: Any, expected: list[str]) -> list[tuple[str, str, bytes]]:
    named, _ = op.split_outputs(result)
    names = [n for n, _ in named]
    if names != expected:
        raise TypeError(
            f"op {op.name} returned the outputs {names}, not {expected}: under an executor an op's outputs must be "
            "known before it runs; declare them with @op(nout=...) or @op(output_names=...)"
        )
    out = []
    for _, value in named:
        codec, data = encode_value(value)
        out.append((hash_value(value), codec, data))
    return out
