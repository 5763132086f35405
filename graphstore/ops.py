"""The ``@op`` decorator: how a Python function's arguments become named inputs and its result named outputs.

>>> @op
... def inc(x):
...     return x + 1
>>> inc(1)  # outside any storage the op is the plain function
2
>>> inc.name, inc.version
('inc', 0)
"""

from __future__ import annotations

import functools
import inspect
import re
import tokenize
from collections.abc import Callable, Iterable
from typing import Any

from .context import current_frame, shared_frame
from .errors import OpCallError, OpDefinitionError, RefNotLoadedError
from .hashing import derive_source_code_hash, hash_value, op_identity
from .refs import Ignore, NewArgDefault, Ref, ValuePointer
from .structs import STRUCTURAL_OPS, StructType, output_struct_types, resolve_annotation, struct_type

_VAR_POS = inspect.Parameter.VAR_POSITIONAL
_VAR_KW = inspect.Parameter.VAR_KEYWORD


def unwrap_plain(value: Any) -> Any:
    """The value a function receives for an argument outside any storage."""
    if isinstance(value, (Ignore, NewArgDefault)):
        return value.value
    if isinstance(value, ValuePointer):
        return value.obj
    if isinstance(value, Ref):
        if not value.in_memory:
            raise RefNotLoadedError(f"{value!r} is not in memory; load it with storage.unwrap(ref) first")
        return value.obj
    return value


def storable_text(text: str) -> bool:
    """Whether a name can be written to the store: valid Unicode (a lone surrogate cannot be encoded as UTF-8)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class SimpleBound:
    """Bound arguments of a signature made only of plain parameters: a name -> value dict in parameter order."""

    __slots__ = ("arguments",)

    def __init__(self, arguments: dict) -> None:
        self.arguments = arguments


class Op:
    """A memoized function. Create it with :func:`op`."""

    def __init__(
        self,
        func: Callable,
        output_names: Iterable[str] | None = None,
        nout: str | int = "auto",
        ignore_args: Iterable[str] = (),
        version: int = 0,
        name: str | None = None,
    ) -> None:
        if not callable(func):
            raise OpDefinitionError(f"@op needs a function, got {type(func).__qualname__}")
        self.func = func
        self.name = name or func.__name__
        self.explicit_name = name is not None
        """Whether the name was given (``@op(name=...)``) rather than taken from the function: a given name may be
        shared by several functions on purpose (see ``graphstore.claims``)."""
        self.version = int(version)
        self.signature = inspect.signature(func)
        self.output_names = tuple(output_names) if output_names is not None else None
        self.nout = nout
        self.ignore_args = frozenset(ignore_args)
        self.op_id = op_identity(self.name, self.version)
        self._key = (self.name, self.version)
        self._new_defaults = {
            p.name: hash_value(p.default.value)
            for p in self.signature.parameters.values()
            if isinstance(p.default, NewArgDefault)
        }
        self.input_structs: dict[str, StructType] = {}
        for p in self.signature.parameters.values():
            stype = struct_type(resolve_annotation(p.annotation, func))
            if stype is not None:
                self.input_structs[p.name] = stype
        returns = resolve_annotation(self.signature.return_annotation, func)
        self._output_struct = struct_type(returns)
        self._output_structs = output_struct_types(returns)
        self._validate()
        params = list(self.signature.parameters.values())
        simple = all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)
        self._simple_names = tuple(p.name for p in params) if simple else None
        self._simple_set = frozenset(self._simple_names or ())
        self._plain_inputs = not (self.input_structs or self.ignore_args or self._new_defaults)
        self._simple_defaults = tuple((p.name, p.default) for p in params if p.default is not p.empty)
        self._fast_output = self._single_output_name() if self._plain_inputs and simple else None
        functools.update_wrapper(self, func)
        self._source_hash: str | None = None

    def _single_output_name(self) -> str | None:
        """The name of the op's only output when it has exactly one and no collection type, else None."""
        if self._output_struct is not None or self._output_structs is not None:
            return None
        names = self.output_names
        if self.nout == 1 or (self.nout == "auto" and (names is None or len(names) == 1)):
            return names[0] if names else "output_0"
        return None

    def _validate(self) -> None:
        params = self.signature.parameters
        if not isinstance(self.name, str) or not storable_text(self.name):
            raise OpDefinitionError(
                f"op name {self.name!r} cannot be stored: it must be a string of valid Unicode (no lone surrogates)"
            )
        if self.name in STRUCTURAL_OPS:  # its calls would share ids with graphstore's own collection calls
            raise OpDefinitionError(f"op name {self.name!r} is reserved for graphstore's collection calls")
        if not isinstance(self.nout, int) and self.nout not in ("auto", "var"):
            raise OpDefinitionError(f"op {self.name}: nout must be 'auto', 'var' or an int, got {self.nout!r}")
        if isinstance(self.nout, int) and self.nout < 0:
            raise OpDefinitionError(f"op {self.name}: nout must not be negative, got {self.nout}")
        unknown = self.ignore_args - set(params)
        if unknown:
            raise OpDefinitionError(f"op {self.name}: ignore_args names unknown parameters {sorted(unknown)}")
        if self.output_names is None:
            return
        if any(
            not isinstance(n, str) or not n or any(ord(ch) < 32 for ch in n) or not storable_text(n)
            for n in self.output_names
        ):
            raise OpDefinitionError(
                f"op {self.name}: output names must be non-empty strings without control characters or lone "
                f"surrogates, got {list(self.output_names)}"
            )
        if len(set(self.output_names)) != len(self.output_names):
            raise OpDefinitionError(f"op {self.name}: output_names repeat a name: {list(self.output_names)}")
        clash = set(self.output_names) & set(params)
        if clash:
            raise OpDefinitionError(
                f"op {self.name}: output name(s) {sorted(clash)} equal input names; rename the outputs"
            )
        if isinstance(self.nout, int) and self.nout != len(self.output_names):
            raise OpDefinitionError(
                f"op {self.name}: nout={self.nout} but {len(self.output_names)} output_names were given"
            )

    @property
    def source_hash(self) -> str:
        """Hash of the function's source text (of its bytecode when the source is unavailable)."""
        if self._source_hash is None:
            try:
                text = inspect.getsource(self.func)
            except (OSError, TypeError, SyntaxError, tokenize.TokenError):  # (no source, or a file that is not it)
                code = getattr(self.func, "__code__", None)
                text = repr((code.co_code, code.co_consts)) if code is not None else repr(self.func)
            self._source_hash = derive_source_code_hash(text)
        return self._source_hash

    @property
    def signature_text(self) -> str:
        """The signature as the ops table keeps it: storable text, whatever the reprs of the defaults."""
        try:
            text = str(self.signature)
        except Exception:  # a default whose repr raises
            text = "(" + ", ".join(self.signature.parameters) + ")"
        return text if storable_text(text) else text.encode("utf-8", "backslashreplace").decode("utf-8")

    def only_added_new_defaults(self, stored_signature: str) -> bool:
        """Whether this op differs from the stored signature only by new parameters defaulting to NewArgDefault
        (the documented way of extending an op without invalidating its calls)."""
        if not self._new_defaults:
            return False
        stored = set(re.findall(r"[(,]\s*\**(\w+)", stored_signature))
        added = set(self.signature.parameters) - stored
        return bool(added) and added <= set(self._new_defaults)

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:  # `self` positional-only: an op may take a `self`
        frame = current_frame()
        if frame is None:  # no context entered here: a thread may be working for a context another thread is in
            frame = shared_frame()
        if frame is not None and frame.mode == "run":  # (a "run" frame always has a storage)
            return frame.storage._call_op(self, args, kwargs)
        if frame is not None and frame.storage is not None:  # noop mode: plain values, lazy Refs loaded
            return frame.storage._call_noop(self, args, kwargs)
        return self.call_plain(args, kwargs)

    def __repr__(self) -> str:
        return f"Op({self.name}, version={self.version})"

    # --- binding ----------------------------------------------------------------------------------------------------

    def bind(self, args: tuple, kwargs: dict) -> Any:
        """Bind call arguments to the signature, defaults applied; a mismatch is an OpCallError naming the op."""
        names = self._simple_names
        if names is not None and len(args) <= len(names):
            arguments = dict(zip(names, args))
            if not kwargs or (kwargs.keys() <= self._simple_set and not (kwargs.keys() & arguments.keys())):
                arguments.update(kwargs)
                if len(arguments) < len(names):
                    for name, default in self._simple_defaults:
                        arguments.setdefault(name, default)
                if len(arguments) == len(names):
                    return SimpleBound({n: arguments[n] for n in names})
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise OpCallError(f"op {self.name}: {exc}") from None
        bound.apply_defaults()
        return bound

    def iter_inputs(self, bound: inspect.BoundArguments) -> list[tuple[str, Any, StructType | None]]:
        """The call's stored inputs as ``(input name, value, collection type)``, minus ignored arguments."""
        if type(bound) is SimpleBound and self._plain_inputs:
            return [(n, v, None) for n, v in bound.arguments.items() if type(v) not in (Ignore, NewArgDefault)]
        out: list[tuple[str, Any, StructType | None]] = []
        for pname, value in bound.arguments.items():
            kind = self.signature.parameters[pname].kind
            stype = self.input_structs.get(pname)
            if kind is _VAR_POS:
                out.extend((f"{pname}_{i}", v, stype) for i, v in enumerate(value))
            elif kind is _VAR_KW:
                out.extend((k, v, stype) for k, v in value.items())
            elif pname not in self.ignore_args and not self._is_new_default(pname, value):
                out.append((pname, value, stype))
        names = [n for n, _, _ in out]
        if len(set(names)) != len(names):
            raise OpCallError(f"op {self.name}: two inputs share a name among {names}")
        return [(n, v, t) for n, v, t in out if not isinstance(v, Ignore)]

    def output_struct(self, position: int, count: int) -> StructType | None:
        """The collection type the return annotation gives output ``position`` of ``count``, if any."""
        if self._output_structs is not None and len(self._output_structs) == count:
            return self._output_structs[position]
        if count == 1 and self._output_struct is not None:
            return self._output_struct
        return None

    def _is_new_default(self, pname: str, value: Any) -> bool:
        if isinstance(value, NewArgDefault):
            return True
        target = self._new_defaults.get(pname)
        if target is None:
            return False
        cid = value.cid if isinstance(value, Ref) else hash_value(value)
        return cid == target

    @staticmethod
    def call_bound(func: Callable, bound: Any, convert: Callable[[Any], Any]) -> Any:
        """Call ``func`` with the bound arguments, each value passed through ``convert``."""
        if type(bound) is SimpleBound:
            return func(**{k: convert(v) for k, v in bound.arguments.items()})
        sig_params = bound.signature.parameters
        for pname, value in list(bound.arguments.items()):
            kind = sig_params[pname].kind
            if kind is _VAR_POS:
                bound.arguments[pname] = tuple(convert(v) for v in value)
            elif kind is _VAR_KW:
                bound.arguments[pname] = {k: convert(v) for k, v in value.items()}
            else:
                bound.arguments[pname] = convert(value)
        return func(*bound.args, **bound.kwargs)

    def call_plain(self, args: tuple, kwargs: dict) -> Any:
        """Run the function as plain Python: markers unwrapped, nothing recorded."""
        return self.call_bound(self.func, self.bind(args, kwargs), unwrap_plain)

    # --- outputs ----------------------------------------------------------------------------------------------------

    def split_outputs(self, result: Any) -> tuple[list[tuple[str, Any]], bool]:
        """Name the function's result as outputs; returns ``(outputs, returns_tuple)``."""
        nout, names = self.nout, self.output_names
        if nout == "auto":
            if (names is None or len(names) == 1) and self._output_struct is not None:
                return [((names or ("output_0",))[0], result)], False
            if names is not None and len(names) == 1:
                return [(names[0], result)], False
            if names is not None or type(result) is tuple:
                return self._name_tuple(result, None if names is None else len(names)), True
            return [("output_0", result)], False
        if nout == "var":
            return self._name_tuple(result, None), True
        if nout == 1:
            return [((names or ("output_0",))[0], result)], False
        if nout == 0:
            if result is not None:
                raise OpCallError(f"op {self.name}: declared nout=0 but returned a {type(result).__qualname__}")
            return [], False
        return self._name_tuple(result, nout), True

    def _name_tuple(self, result: Any, expected: int | None) -> list[tuple[str, Any]]:
        if not isinstance(result, tuple):
            raise OpCallError(
                f"op {self.name}: expected a tuple of {expected or 'any number of'} outputs, "
                f"got a {type(result).__qualname__}"
            )
        if expected is not None and len(result) != expected:
            raise OpCallError(f"op {self.name}: expected {expected} outputs, got a tuple of {len(result)}")
        names = self.output_names
        if names is not None and len(names) == len(result):
            return list(zip(names, result))
        return [(f"output_{i}", v) for i, v in enumerate(result)]

    @staticmethod
    def package(refs: list[Ref], returns_tuple: bool) -> Any:
        """What a call returns: one Ref, a tuple of Refs, or None for no outputs."""
        if returns_tuple:
            return tuple(refs)
        if len(refs) == 1:
            return refs[0]
        return None


def op(
    func: Callable | None = None,
    *,
    output_names: Iterable[str] | None = None,
    nout: str | int = "auto",
    ignore_args: Iterable[str] = (),
    version: int = 0,
    name: str | None = None,
) -> Any:
    """Make a function memoized: inside ``with storage:`` its calls are recorded and never computed twice.

    Use bare (``@op``) or with options (``@op(output_names=["z"], version=1)``). The op is named after the
    function unless ``name=`` is given; calls are identified by the name and ``version``, so two different functions
    recording under one name into one store raise :class:`~graphstore.errors.OpNameConflictError` (see
    ``graphstore.claims``): give them distinct names.

    >>> @op(output_names=["total"])
    ... def add(x, y=1):
    ...     return x + y
    >>> add(2)
    3
    """

    def wrap(f: Callable) -> Op:
        return Op(f, output_names=output_names, nout=nout, ignore_args=ignore_args, version=version, name=name)

    return wrap if func is None else wrap(func)
