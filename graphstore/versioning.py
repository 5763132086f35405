"""Code versioning: which calls are still valid for the code as it is now.

Each call records the components (functions and globals) it actually touched, with their content hashes: its
*version*. Each component has a history of contents; a *breaking* change gives a new semantic hash, a *compatible*
one inherits its parent's. A past call is reused iff every component it touched is now semantically what it was
then, so reverting code makes old results valid again.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

from .backends.base import ComponentCommit, VersionRecord
from .components import current_content, function_source, resolve_function, resolve_global, value_content
from .errors import ConfigurationError, DependencySkippedWarning, VersioningError
from .hashing import hash_text
from .tracking import DepCollector, Scope, active_collector, component_key, unwrap_callable

POLICIES = ("ask", "breaking", "compatible", "error")
ANSWERS = {"y": True, "yes": True, "n": False, "no": False}


@dataclass(frozen=True)
class TracingOptions:
    """mandala's ``Storage`` options for dependency tracking, with mandala's defaults and meaning."""

    strict_tracing: bool = False
    """Refuse tracked functions that read closure variables (changes to them would go unseen)."""
    skip_unhashable_globals: bool = True
    """A data global whose content cannot be hashed is left out of the call's dependencies (else an error)."""
    skip_globals_silently: bool = False
    """Leave such globals out without a warning."""
    skip_missing_deps: bool = True
    """A recorded dependency that no longer exists counts as changed (else an error)."""
    skip_missing_silently: bool = False
    """Count it as changed without a warning."""
    deps_package: str | None = None
    """The package the modules under ``deps_path`` are imported as: recorded components of its modules are imported
    to be compared, when the program has not imported them."""
    track_globals: bool = True
    """Data globals read by tracked code are dependencies."""

    @classmethod
    def checked(cls, tracer_impl: Any = None, deps_path: Any = None, **options: Any) -> TracingOptions:
        if tracer_impl is not None and getattr(tracer_impl, "__name__", None) != "DecTracer":
            name = getattr(tracer_impl, "__name__", repr(tracer_impl))
            raise ConfigurationError(
                f"tracer_impl={name}: graphstore traces dependencies only as mandala's DecTracer does (ops and "
                "@track-ed functions); there is no sys.settrace tracer. Leave tracer_impl out"
            )
        for name, value in options.items():
            if name == "deps_package":
                if value is not None and (not isinstance(value, str) or not value):
                    raise ConfigurationError(f"deps_package must be a package name (a string), got {value!r}")
            elif not isinstance(value, bool):
                raise ConfigurationError(f"{name} must be True or False, got {value!r}")
        if options.get("deps_package") and deps_path is not None and os.fspath(deps_path) == "__main__":
            raise ConfigurationError("deps_package names the package of a deps_path folder; deps_path is '__main__'")
        return cls(**options)


@dataclass(frozen=True)
class VersionInfo:
    """A version of an op as ``storage.versions(f)`` lists it."""

    version_id: str
    semantic_version: str
    deps: dict[str, str]
    is_current: bool
    calls: int
    status: str = ""
    """``"current"``; ``"not current"``; or ``"undecided"`` when a component it depends on changed and the change is
    not classified yet (it is current if the change is marked compatible)."""


class Versioner:
    """Decides versions and validity for one Storage."""

    def __init__(self, backend: Any, deps_path: str, on_change: str, options: TracingOptions | None = None) -> None:
        if on_change not in POLICIES:
            raise ConfigurationError(f"on_change must be one of {POLICIES}, got {on_change!r}")
        self.backend = backend
        self.scope = Scope(deps_path)
        self.on_change = on_change
        self.options = options or TracingOptions()
        self._swept = False  # whether every known component was compared with the code in this block (see _sweep)
        self._missing_warned: set[str] = set()
        self._commits: dict[str, list[ComponentCommit]] = {}
        self._versions: dict[tuple[str, int], list[VersionRecord]] = {}
        self._current: dict[tuple[str, str], str | None] = {}
        self._candidates: dict[tuple[str, int], list[str]] = {}
        self._heads: dict[str, str] | None = None
        self._finished: dict[tuple, VersionRecord] = {}
        self._stats: dict[str, tuple[int, int]] = {}  # source files' (mtime, size), looked at once per block

    def refresh(self) -> None:
        """Forget what the code looked like (called on entering the storage); file reads stay cached by mtime."""
        self._current.clear()
        self._candidates.clear()
        self._finished.clear()
        self._stats.clear()
        self._swept = False

    # --- components ---------------------------------------------------------------------------------------------------

    def commits(self, key: str) -> list[ComponentCommit]:
        found = self._commits.get(key)
        if found is None:
            found = self._commits[key] = self.backend.load_commits(key)
        return found

    def semantic_of(
        self,
        kind: str,
        key: str,
        content: str,
        source: str | None,
        is_semantic_change: bool | None = None,
        current: bool = False,
    ) -> str:
        """The semantic hash of a component's content, recording a new commit (classified) when the content is new.

        ``current``: the content is what the code is now, so it becomes the component's head (the parent of its
        next change): after a revert, the next edit is compared with the reverted-to code, not the latest commit."""
        history = self.commits(key)
        for commit in history:
            if commit.content_hash == content:
                if current:
                    self._check_out(key, history, content)
                return commit.semantic_hash
        parent = self._head(key, history)
        if parent is not None and is_semantic_change is None and self.on_change == "ask" and not self._swept:
            # The first change to ask about in this block: ask about every changed component first, in the order
            # mandala does, so that answers given by a script mark the same components as with mandala.
            self._swept = True
            self._sweep()
            known = next((c for c in history if c.content_hash == content), None)
            if known is not None:
                return known.semantic_hash
            parent = self._head(key, history)
        if parent is None:
            semantic = hash_text("gs:semantic", key, content)
        else:
            breaking = self._classify(kind, key, parent, source) if is_semantic_change is None else is_semantic_change
            semantic = hash_text("gs:semantic", key, content) if breaking else parent.semantic_hash
        commit = ComponentCommit(
            key, content, kind, semantic, parent.content_hash if parent else None, source, time.time()
        )
        self.backend.save_commit(commit)
        history.append(commit)
        self._check_out(key, history, content)
        return semantic

    def _head(self, key: str, history: list[ComponentCommit]) -> ComponentCommit | None:
        """The commit the component was at when last seen: a recorded head, else its latest commit."""
        if self._heads is None:
            self._heads = self.backend.component_heads()
        head = self._heads.get(key)
        return next((c for c in history if c.content_hash == head), history[-1] if history else None)

    def _check_out(self, key: str, history: list[ComponentCommit], content: str) -> None:
        """Make ``content`` the head; written only when it differs from what the store would infer."""
        head = self._head(key, history)
        if head is not None and head.content_hash != content:
            assert self._heads is not None
            self._heads[key] = content
            self.backend.set_component_head(key, content)

    def _sweep(self) -> None:
        """Compare every component the store knows with the code as it is now, in the order the components were
        first recorded (mandala's order), classifying (asking about) each one that changed."""
        for kind, key in self.backend.component_keys():
            if (kind, key) in self._current:
                continue
            self._import_package_module(kind, key)
            exists = resolve_function(key) is not None if kind == "function" else resolve_global(key)[0]
            if exists:  # (a missing one is reported only when a lookup needs it)
                self.current_semantic(kind, key)

    def _classify(self, kind: str, key: str, parent: ComponentCommit, source: str | None) -> bool:
        """True for a breaking change: asked through ``input()`` when the policy is "ask", else by policy."""
        policy = self.on_change
        if policy == "ask":
            answer = self._prompt(kind, key, parent, source)
            if answer is not None:
                return answer
        if policy in ("ask", "error"):
            why = (
                "on_change='error' forbids unclassified changes"
                if policy == "error"
                else "graphstore could not ask whether the change is breaking (input() found no answer: no terminal "
                "or notebook to type it)"
            )
            raise VersioningError(
                f"{kind} {key} changed since its calls were recorded, and {why}. Choose with "
                "Storage(..., on_change='breaking' | 'compatible'), or mark it with "
                "storage.sync_component(f, is_semantic_change=True | False)"
            )
        return policy == "breaking"

    def _prompt(self, kind: str, key: str, parent: ComponentCommit, source: str | None) -> bool | None:
        """Show the change and ask whether it is breaking, as mandala does (``input()``: a terminal, a notebook's
        text box, or a script's replacement of ``builtins.input``); None when ``input()`` cannot answer."""
        if kind == "function":
            diff = "".join(
                difflib.unified_diff(
                    (parent.source or "").splitlines(True), (source or "").splitlines(True), "before", "now"
                )
            )
        else:
            diff = f"-{parent.content_hash}\n+(its value now)\n"
        dependents = self.backend.versions_using(key)
        ops = sorted({f"{name} (version {version})" for name, version, _ in dependents})
        module, _, name = key.partition(":") if kind == "function" else key.rpartition(".")
        print(f"The {kind} {key} changed (CHANGE DETECTED in {name} from module {module}).")
        print(f"Dependent ops: {', '.join(ops) if ops else 'none'} ({len(dependents)} versions)")
        print(diff)
        question = (
            "Does this change require recomputation of dependent calls?\nWARNING: if the change created new "
            "dependencies and you choose 'no', you should add them by hand or risk missing changes in them."
            "\nAnswer: [y]es/[n]o/[a]bort "
        )
        while True:
            print(question)
            try:
                answer = input().strip().lower()
            except (EOFError, OSError, RuntimeError):  # end of input, or no stdin at all
                return None
            if answer in ("a", "abort"):
                raise VersioningError(f"aborted: the change of {kind} {key} was not classified, nothing recorded")
            if answer in ANSWERS:
                print(f'You answered: "{answer}"')
                return ANSWERS[answer]
            print(f"Invalid response: {answer}")

    def current_semantic(self, kind: str, key: str) -> str | None:
        """The semantic hash a component has now (None if it no longer exists), cached until the next refresh."""
        cache_key = (kind, key)
        if cache_key not in self._current:
            semantic = None
            source, content = self.current_source(kind, key)
            if content is not None:
                semantic = self.semantic_of(kind, key, content, source, current=True)
            self._current[cache_key] = semantic
        return self._current[cache_key]

    def current_source(self, kind: str, key: str) -> tuple[str | None, str | None]:
        """``(source, content hash)`` of a component as the code is now; ``(None, None)`` when it no longer exists
        (an error with ``skip_missing_deps=False``, else it counts as changed)."""
        self._import_package_module(kind, key)
        if kind == "function":
            func = resolve_function(key)
            found = function_source(func, self._stats) if func is not None else (None, None)
        else:
            found = (None, current_content(kind, key))
        if found[1] is None:
            self._missing(kind, key)
        return found

    def _import_package_module(self, kind: str, key: str) -> None:
        package = self.options.deps_package
        module = key.partition(":")[0] if kind == "function" else key.rpartition(".")[0]
        if package and (module == package or module.startswith(package + ".")) and module not in sys.modules:
            try:
                importlib.import_module(module)
            except ImportError:
                pass  # (then it is missing)

    def _missing(self, kind: str, key: str) -> None:
        message = f"{kind} {key}, a dependency of recorded calls, no longer exists"
        if not self.options.skip_missing_deps:
            raise VersioningError(f"{message} (skip_missing_deps=False); restore it, or drop the versions that use it")
        if not self.options.skip_missing_silently and key not in self._missing_warned:
            self._missing_warned.add(key)
            warnings.warn(
                f"{message}: the calls that used it are computed again", DependencySkippedWarning, stacklevel=2
            )

    # --- versions -----------------------------------------------------------------------------------------------------

    def versions(self, op_name: str, op_version: int) -> list[VersionRecord]:
        key = (op_name, op_version)
        found = self._versions.get(key)
        if found is None:
            found = self._versions[key] = self.backend.load_versions(op_name, op_version)
        return found

    def is_valid(self, version: VersionRecord) -> bool:
        for kind, key, content in version.deps:
            recorded = self.semantic_of(kind, key, content, None)
            if self.current_semantic(kind, key) != recorded:
                return False
        return True

    def candidates(self, op_name: str, op_version: int) -> list[str]:
        """Semantic versions of the op whose every dependency is unchanged in meaning now."""
        key = (op_name, op_version)
        found = self._candidates.get(key)
        if found is None:
            versions = self.versions(op_name, op_version)
            found = list(dict.fromkeys(v.semantic_version for v in reversed(versions) if self.is_valid(v)))
            self._candidates[key] = found
        return found

    def collector(self, op: Any) -> DepCollector:
        collector = DepCollector(self.scope, op.name, self.options)
        collector.add_function(op.func)
        return collector

    def finish(self, op: Any, collector: DepCollector) -> VersionRecord:
        """The version of a call that just ran; checks that no global it read was changed meanwhile.

        Within one ``with storage:`` block the code is taken as fixed (as for lookups), so a call that touched the
        same functions and global values as an earlier one gets that one's version without re-reading anything."""
        global_contents = []
        for key, (_, _name, value) in collector.globals.items():
            content = value_content(value)
            if content != collector.global_hashes[key]:
                raise VersioningError(
                    f"op {op.name}: global {key} was modified while the call ran; "
                    "tracked code must not mutate globals (pass the value as an argument instead)"
                )
            global_contents.append((key, content))
        memo_key = (op.op_id, tuple(collector.functions), tuple(global_contents))
        record = self._finished.get(memo_key)
        if record is None:
            record = self._finished[memo_key] = self._version_of(op, collector, global_contents)
        version_id = record.version_id
        known = self.versions(op.name, op.version)
        if all(v.version_id != version_id for v in known):
            self.backend.save_version(record)
            known.append(record)
            self._candidates.pop((op.name, op.version), None)
        return record

    def _version_of(self, op: Any, collector: DepCollector, global_contents: list) -> VersionRecord:
        deps: list[tuple[str, str, str]] = []
        semantics: list[tuple[str, str]] = []
        contents = dict(global_contents)
        for kind, key in collector.order:  # (the order the call met them: the order components are first recorded)
            if kind == "function":
                source, content = function_source(collector.functions[key], self._stats)
            else:
                source, content = None, contents[key]
            deps.append((kind, key, content))
            semantics.append((key, self.semantic_of(kind, key, content, source, current=True)))
        deps.sort()
        version_id = hash_text("gs:version", *[f"{k}:{key}:{c}" for k, key, c in deps])
        semantic_version = hash_text("gs:semantic-version", *[f"{key}:{s}" for key, s in sorted(semantics)])
        return VersionRecord(version_id, op.name, op.version, semantic_version, tuple(deps), time.time())

    def absorb(self, op: Any, version_id: str | None) -> None:
        """An op called inside a running versioned call: its dependencies become the outer call's too, since the
        outer result depends on the inner one (whether the inner call ran now or was found in the store)."""
        outer = active_collector()
        if outer is None or version_id is None:
            return
        record = next((v for v in self.versions(op.name, op.version) if v.version_id == version_id), None)
        for kind, key, _ in record.deps if record is not None else ():
            if kind == "function":
                func = resolve_function(key)
                if func is not None:
                    outer.add_function(func)
            else:
                exists, value = resolve_global(key)
                if exists:
                    module, _, name = key.rpartition(".")
                    outer.add_global_value(module, name, value)

    # --- user-facing --------------------------------------------------------------------------------------------------

    def sync(self, component: Any, is_semantic_change: bool | None) -> str:
        """Record the current state of a function (op, tracked function or method), or of a global named
        ``"module.NAME"``, classified as given; returns its semantic hash."""
        if isinstance(component, str):
            kind, key, source = "global", component, None
            exists, value = resolve_global(key)
            if not exists:
                raise VersioningError(f"no global {key}: name it as 'module.NAME', in a module already imported")
            content = value_content(value)
        else:
            func = unwrap_callable(component)
            kind, key = "function", component_key(func)
            source, content = function_source(func)
        self._current.pop((kind, key), None)
        self._candidates.clear()
        self._finished.clear()
        return self.semantic_of(kind, key, content, source, is_semantic_change, current=True)

    def version_infos(self, op_name: str, op_version: int) -> list[VersionInfo]:
        """The op's versions with their status now, classifying (and asking about) nothing."""
        counts = self.backend.version_call_counts(op_name, op_version)
        out = []
        for v in self.versions(op_name, op_version):
            status = self.status(v)
            out.append(
                VersionInfo(
                    v.version_id,
                    v.semantic_version,
                    {key: c for _, key, c in v.deps},
                    status == "current",
                    counts.get(v.version_id, 0),
                    status,
                )
            )
        return out

    def status(self, version: VersionRecord) -> str:
        """Whether a version is valid now, without classifying a change: "current", "not current", or "undecided"
        (a component it read changed, and the change is not classified yet)."""
        undecided = False
        for kind, key, content in version.deps:
            history = self.commits(key)
            recorded = next((c.semantic_hash for c in history if c.content_hash == content), None)
            self._import_package_module(kind, key)
            current = current_content(kind, key)  # (the code as it is now, also between blocks)
            if current is None:
                self._missing(kind, key)
                return "not current"
            now = next((c.semantic_hash for c in history if c.content_hash == current), None)
            if now is None:
                undecided = True
                continue
            if now != recorded:
                return "not current"
        return "undecided" if undecided else "current"

    def forget_version(self, op_name: str, op_version: int, version_id: str) -> None:
        """Drop a version the store no longer holds from the caches."""
        self._candidates.pop((op_name, op_version), None)
        self._versions[(op_name, op_version)] = [
            v for v in self.versions(op_name, op_version) if v.version_id != version_id
        ]
