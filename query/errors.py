"""The exceptions the query layer raises, all under :class:`QueryError` (itself a ``GraphstoreError``).

>>> from graphstore import GraphstoreError
>>> issubclass(UnknownNodeError, (QueryError, KeyError)) and issubclass(QueryError, GraphstoreError)
True
"""

from __future__ import annotations

from graphstore.errors import GraphstoreError


class QueryError(GraphstoreError):
    """Root of every error raised by the query layer."""


class UnknownNodeError(QueryError, KeyError):
    """A frame was asked for a variable or function node it does not have."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class FrameStructureError(QueryError, ValueError):
    """A frame operation does not fit the frame's graph (name clash, wrong node kind, bad argument)."""


class MissingProgramError(QueryError, RuntimeError):
    """An external program a method needs (such as graphviz ``dot``) is not installed."""
