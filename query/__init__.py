"""graphstore's query layer: ComputationFrames over the recorded graph, compiled to SQL.

It reads the store through graphstore's public model; graphstore never imports it (except lazily in ``Storage.cf``).
"""

__all__: list[str] = []
