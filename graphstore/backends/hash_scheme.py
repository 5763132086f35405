"""Which hashing scheme a store's ids were made with, checked the same way by both engines when a store opens.

>>> meta = {}
>>> check_scheme(meta.get, meta.setdefault, "store.db", write=True)
>>> meta == {"hash_scheme": str(SCHEME_VERSION)}
True
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import SchemaVersionError
from ..hashing import COMPATIBLE_SCHEMES, SCHEME_VERSION


def check_scheme(
    get: Callable[[str], str | None],
    put: Callable[[str, str], object],
    location: str,
    write: bool = True,
) -> None:
    """Record the hashing scheme in a new store (``put(key, value)`` sets a meta row); refuse a store whose ids were
    made by a scheme this code cannot match (one outside ``COMPATIBLE_SCHEMES``).

    A store of an older compatible scheme opened for writing records that its new calls use ``SCHEME_VERSION``:
    ``hash_scheme`` becomes the current scheme and ``hash_scheme_first`` keeps the scheme it was made with (read-only
    opens change nothing). Its old calls stay where they are, valid for the values their ids were computed from.
    """
    stored = get("hash_scheme")
    if stored is None:
        if write:
            put("hash_scheme", str(SCHEME_VERSION))
        return
    try:
        scheme = int(stored)
    except (TypeError, ValueError):
        raise SchemaVersionError(
            f"store {location} records hashing scheme {stored!r}, which is not a scheme number: the store is damaged"
        ) from None
    if scheme not in COMPATIBLE_SCHEMES:
        known = ", ".join(str(s) for s in sorted(COMPATIBLE_SCHEMES))
        newer = " (a newer graphstore wrote it: upgrade graphstore to use it)" if scheme > SCHEME_VERSION else ""
        raise SchemaVersionError(
            f"store {location} was written with hashing scheme {stored}, but this graphstore uses scheme "
            f"{SCHEME_VERSION} and can match the ids of schemes {known} only: its ids cannot be matched{newer}"
        )
    if scheme < SCHEME_VERSION and write:
        if get("hash_scheme_first") is None:
            put("hash_scheme_first", str(scheme))
        put("hash_scheme", str(SCHEME_VERSION))
