"""The query layer's source folder is query/, but its one module name is graphstore.query (see pyproject.toml).

pytest imports each file it collects by its path: query/compile.py, collected for its doctests, would be imported a
second time as a top-level ``query.compile``, with classes of its own (two ComputationFrame classes, two error
hierarchies). The names pytest derives for the folder's files are bound here to the installed modules, so every
collected file is the one module graphstore itself uses.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

try:
    import graphstore.query
except ImportError as e:  # pragma: no cover - the project is not installed
    raise ImportError(
        "graphstore.query is not importable: install the project first (pip install -e '.[test]'; "
        "scripts/test.sh does this)"
    ) from e

sys.modules["query"] = graphstore.query
for _info in pkgutil.walk_packages(graphstore.query.__path__, "query."):
    sys.modules[_info.name] = importlib.import_module(f"graphstore.{_info.name}")
