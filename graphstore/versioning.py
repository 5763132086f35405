"""Code versioning: which calls are still valid for the code as it is now.

Each call records the components (functions and globals) it actually touched, with their content hashes: its
*version*. Each component has a history of contents; a *breaking* change gives a new semantic hash, a *compatible*
one inherits its parent's. A past call is reused iff every component it touched is now semantically what it was
then, so reverting code makes old results valid again.
"""

from __future__ import annotations

import difflib
import sys
import time
from dataclasses import dataclass
from typing import Any, Optional

from .backends.sqlite_versions import ComponentCommit, VersionRecord
from .components import current_content, function_source, resolve_function, resolve_global, value_content
from .errors import ConfigurationError, VersioningError
from .hashing import hash_text
from .tracking import DepCollector, Scope, active_collector, component_key, unwrap_callable

POLICIES = ("ask", "breaking", "compatible", "error")


@dataclass(frozen=True)
class VersionInfo:
    """A version of an op as ``storage.versions(f)`` lists it."""

    version_id: str
    semantic_version: str
    deps: dict[str, str]
    is_current: bool
    calls: int


class Versioner:
    """Decides versions and validity for one Storage."""

    def __init__(self, backend: Any, deps_path: str, on_change: str) -> None:
        if on_change not in POLICIES:
            raise ConfigurationError(f"on_change must be one of {POLICIES}, got {on_change!r}")
        self.backend = backend
        self.scope = Scope(deps_path)
        self.on_change = on_change
        self._commits: dict[str, list[ComponentCommit]] = {}
        self._versions: dict[tuple[str, int], list[VersionRecord]] = {}
        self._current: dict[tuple[str, str], Optional[str]] = {}
        self._candidates: dict[tuple[str, int], list[str]] = {}
        self._heads: Optional[dict[str, str]] = None
        self._finished: dict[tuple, VersionRecord] = {}
        self._stats: dict[str, tuple[int, int]] = {}  # source files' (mtime, size), looked at once per block

    def refresh(self) -> None:
        """Forget what the code looked like (called on entering the storage); file reads stay cached by mtime."""
        self._current.clear()
        self._candidates.clear()
        self._finished.clear()
        self._stats.clear()

    # --- components ---------------------------------------------------------------------------------------------------

    def commits(self, key: str) -> list[ComponentCommit]:
        found = self._commits.get(key)
        if found is None:
            found = self._commits[key] = self.backend.load_commits(key)
        return found

    def semantic_of(self, kind: str, key: str, content: str, source: Optional[str],
                    is_semantic_change: Optional[bool] = None, current: bool = False) -> str:
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
        if parent is None:
            semantic = hash_text("gs:semantic", key, content)
        else:
            breaking = self._classify(kind, key, parent, source) if is_semantic_change is None else is_semantic_change
            semantic = hash_text("gs:semantic", key, content) if breaking else parent.semantic_hash
        commit = ComponentCommit(key, content, kind, semantic, parent.content_hash if parent else None, source,
                                 time.time())
        self.backend.save_commit(commit)
        history.append(commit)
        self._check_out(key, history, content)
        return semantic

    def _head(self, key: str, history: list[ComponentCommit]) -> Optional[ComponentCommit]:
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

    def _classify(self, kind: str, key: str, parent: ComponentCommit, source: Optional[str]) -> bool:
        """True for a breaking change: by prompt when there is a terminal and the policy is "ask", else by policy."""
        policy = self.on_change
        if policy == "ask" and sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty():
            return self._prompt(kind, key, parent, source)
        if policy in ("ask", "error"):
            why = "on_change='error' forbids unclassified changes" if policy == "error" else \
                "graphstore cannot ask whether the change is breaking (no terminal)"
            raise VersioningError(
                f"{kind} {key} changed since its calls were recorded, and {why}. Choose with "
                "Storage(..., on_change='breaking' | 'compatible'), or mark it with "
                "storage.sync_component(f, is_semantic_change=True | False)"
            )
        return policy == "breaking"

    @staticmethod
    def _prompt(kind: str, key: str, parent: ComponentCommit, source: Optional[str]) -> bool:
        diff = "".join(difflib.unified_diff((parent.source or "").splitlines(True), (source or "").splitlines(True),
                                            "before", "now"))
        print(f"The {kind} {key} changed:\n{diff}")
        answer = input("Does the change alter results (breaking)? [y/N] ").strip().lower()
        return answer in ("y", "yes")

    def current_semantic(self, kind: str, key: str) -> Optional[str]:
        """The semantic hash a component has now (None if it no longer exists), cached until the next refresh."""
        cache_key = (kind, key)
        if cache_key not in self._current:
            semantic = None
            if kind == "function":
                func = resolve_function(key)
                if func is not None:
                    source, content = function_source(func, self._stats)
                    semantic = self.semantic_of(kind, key, content, source, current=True)
            else:
                content = current_content(kind, key)
                if content is not None:
                    semantic = self.semantic_of(kind, key, content, None, current=True)
            self._current[cache_key] = semantic
        return self._current[cache_key]

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
        collector = DepCollector(self.scope, op.name)
        collector.add_function(op.func)
        return collector

    def finish(self, op: Any, collector: DepCollector) -> VersionRecord:
        """The version of a call that just ran; checks that no global it read was changed meanwhile.

        Within one ``with storage:`` block the code is taken as fixed (as for lookups), so a call that touched the
        same functions and global values as an earlier one gets that one's version without re-reading anything."""
        global_contents = []
        for key, (_, name, value) in collector.globals.items():
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
        for key, func in collector.functions.items():
            source, content = function_source(func, self._stats)
            deps.append(("function", key, content))
            semantics.append((key, self.semantic_of("function", key, content, source, current=True)))
        for key, content in global_contents:
            deps.append(("global", key, content))
            semantics.append((key, self.semantic_of("global", key, content, None, current=True)))
        deps.sort()
        version_id = hash_text("gs:version", *[f"{k}:{key}:{c}" for k, key, c in deps])
        semantic_version = hash_text("gs:semantic-version", *[f"{key}:{s}" for key, s in sorted(semantics)])
        return VersionRecord(version_id, op.name, op.version, semantic_version, tuple(deps), time.time())

    def absorb(self, op: Any, version_id: Optional[str]) -> None:
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

    def sync(self, component: Any, is_semantic_change: Optional[bool]) -> str:
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
        counts = self.backend.version_call_counts(op_name, op_version)
        return [
            VersionInfo(v.version_id, v.semantic_version, {key: c for _, key, c in v.deps}, self.is_valid(v),
                        counts.get(v.version_id, 0))
            for v in self.versions(op_name, op_version)
        ]

    def forget_version(self, op_name: str, op_version: int, version_id: str) -> None:
        """Drop a version the store no longer holds from the caches."""
        self._candidates.pop((op_name, op_version), None)
        self._versions[(op_name, op_version)] = [
            v for v in self.versions(op_name, op_version) if v.version_id != version_id
        ]
