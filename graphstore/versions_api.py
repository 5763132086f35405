"""The versioning methods of a Storage: inspecting, comparing and dropping versions of ops and their code.

``VersionsAPI`` is a part of :class:`graphstore.Storage`, built over the storage's
:class:`~graphstore.store_state.StoreState`.
"""

from __future__ import annotations

import difflib
from typing import Any

from .backends import Backend
from .errors import ConfigurationError, VersioningError
from .store_state import StoreState
from .tracking import component_key, unwrap_callable
from .versioning import Versioner, VersionInfo


def check_store_mode(backend: Backend, versioned: bool) -> None:
    """A store remembers whether it was made with versioning; opening it the other way is refused."""
    mode = backend.get_meta("versioning")
    wanted = "on" if versioned else "off"
    if mode is None:
        mode = "off" if backend.has_calls() else wanted
        if not backend.read_only:
            backend.set_meta("versioning", mode)
    if mode != wanted:
        made = "with versioning on (Storage(deps_path=...))" if mode == "on" else "without versioning"
        raise ConfigurationError(
            f"store {backend.location} was made {made}; open it the same way "
            f"({'pass deps_path' if mode == 'on' else 'leave out deps_path'}), or use another store"
        )


class VersionsAPI:
    """The versioning part of a Storage (every method needs ``Storage(deps_path=...)``)."""

    def __init__(self, state: StoreState) -> None:
        self._versioner = state.versioner
        self._backend = state.backend
        self._db_path = state.db_path
        self._ops_by_name = state.ops.by_name
        self.commit = state.commit

    def _need_versioner(self, what: str) -> Versioner:
        if self._versioner is None:
            raise VersioningError(f"storage.{what}() needs a versioned storage: Storage(..., deps_path=...)")
        return self._versioner

    def versions(self, f: Any, show: bool = True) -> list[VersionInfo]:
        """The recorded versions of op ``f``: their dependencies, status now and how many calls each has; printed
        (each version's code and status, as mandala shows them) unless ``show=False``. Asks about no change."""
        versioner = self._need_versioner("versions")
        self.commit()
        infos = versioner.version_infos(f.name, f.version)
        if show:
            print(self._present_versions(versioner, f, infos))
        return infos

    def _present_versions(self, versioner: Versioner, f: Any, infos: list[VersionInfo]) -> str:
        rule = "#" * 80
        blocks = []
        for info in infos:
            lines = [
                f"### Dependencies for version of op {f.name} (version {f.version})",
                f"### content_version_id={info.version_id}",
                f"### semantic_version_id={info.semantic_version}",
                f"### status: {info.status}",
                f"### calls: {info.calls}",
                "",
            ]
            by_module: dict[str, list[str]] = {}
            for key, content in sorted(info.deps.items()):
                commit = next((c for c in versioner.commits(key) if c.content_hash == content), None)
                if commit is not None and commit.kind == "function":
                    module = key.partition(":")[0]
                    by_module.setdefault(module, []).append((commit.source or "").rstrip("\n") + "\n")
                else:
                    module, _, name = key.rpartition(".")
                    by_module.setdefault(module, []).append(f"{name} = <global, content {content[:16]}>\n")
            for module, chunks in by_module.items():
                lines += [rule, f'### IN MODULE "{module}"', rule, ""] + chunks
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) if blocks else f"op {f.name} (version {f.version}) has no recorded versions"

    def sync_component(self, f: Any, is_semantic_change: bool | None = None) -> str:
        """Record the current code of ``f`` (an op or tracked function; or a global, named ``"module.NAME"``),
        marked as breaking or not; returns its semantic hash. With ``is_semantic_change=None`` the storage's
        ``on_change`` policy decides."""
        return self._need_versioner("sync_component").sync(f, is_semantic_change)

    def source_history(self, f: Any) -> list[dict[str, Any]]:
        """Every recorded content of ``f``'s code (or of a global named ``"module.NAME"``: source None), oldest
        first, with its semantic hash and source."""
        versioner = self._need_versioner("source_history")
        key = f if isinstance(f, str) else component_key(unwrap_callable(f))
        return [
            {
                "content_hash": c.content_hash,
                "semantic_hash": c.semantic_hash,
                "parent_hash": c.parent_hash,
                "created_at": c.created_at,
                "source": c.source,
            }
            for c in versioner.commits(key)
        ]

    def code(self, version_id: Any) -> dict[str, str | None]:
        """The source of every function a version (an id or a VersionInfo) depends on (globals map to None), by
        component name."""
        versioner = self._need_versioner("code")
        version = self._find_version(versioner, getattr(version_id, "version_id", version_id))
        out: dict[str, str | None] = {}
        for kind, key, content in version.deps:
            commit = next((c for c in versioner.commits(key) if c.content_hash == content), None)
            out[key] = commit.source if commit is not None and kind == "function" else None
        return out

    def diff(self, a: Any, b: Any) -> str:
        """A unified diff of the code of two versions (ids or VersionInfos); a global whose value differs is one
        line ``global <module.name>: <content hash> -> <content hash>`` (``-`` where a version did not read it)."""
        versioner = self._need_versioner("diff")
        a, b = getattr(a, "version_id", a), getattr(b, "version_id", b)
        code_a, code_b = self.code(a), self.code(b)
        deps_a, deps_b = ({key: (kind, c) for kind, key, c in self._find_version(versioner, v).deps} for v in (a, b))
        chunks = []
        for key in sorted(set(code_a) | set(code_b)):
            before, after = code_a.get(key) or "", code_b.get(key) or ""
            (kind_a, ca), (kind_b, cb) = deps_a.get(key, ("", "-")), deps_b.get(key, ("", "-"))
            if "global" in (kind_a, kind_b) and ca != cb:
                chunks.append(f"global {key}: {ca[:12]} -> {cb[:12]}\n")
            elif before != after:
                chunks.extend(
                    difflib.unified_diff(
                        before.splitlines(True), after.splitlines(True), f"{key} ({a[:8]})", f"{key} ({b[:8]})"
                    )
                )
        return "".join(chunks)

    def drop_version(self, version: Any, delete_dependents: bool = True) -> int:
        """Delete a version's calls (and their dependents) and forget the version, in one transaction; returns the
        number of calls deleted."""
        versioner = self._need_versioner("drop_version")
        version_id = getattr(version, "version_id", version)
        record = self._find_version(versioner, version_id)
        self.commit()
        count = self._backend.delete_version(version_id, with_dependents=delete_dependents)
        versioner.forget_version(record.op_name, record.op_version, version_id)
        return count

    def _find_version(self, versioner: Versioner, version_id: str) -> Any:
        for name, ver in {(n, v) for (n, v) in self._ops_by_name}:
            for record in versioner.versions(name, ver):
                if record.version_id == version_id:
                    return record
        op = self._backend.version_op(version_id)
        if op is not None:
            for record in versioner.versions(*op):
                if record.version_id == version_id:
                    return record
        raise VersioningError(f"no version {version_id} in store {self._db_path}")
