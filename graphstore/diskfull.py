"""Why a write failed, in words a user can act on: a full disk or this process's file size limit (``ulimit -f``),
rather than SQLite's "disk I/O error" (which is what a write refused with ``EFBIG`` becomes).

>>> why_write_failed(["store.db"], "UNIQUE constraint failed")  # not about space
''
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable


def _limit() -> int | None:
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def why_write_failed(files: Iterable[str], message: str = "", err: int | None = None) -> str:
    """A sentence on the likely cause of a failed write to ``files``, or "" if it is not about space."""
    text = message.lower()
    if err not in (errno.EFBIG, errno.ENOSPC) and "disk is full" not in text and "disk i/o error" not in text:
        return ""
    files = [f for f in files if f]
    limit = _limit()
    if limit is not None and (err == errno.EFBIG or "disk" in text):
        sizes = {f: os.path.getsize(f) for f in files if os.path.exists(f)}
        near = [f for f, size in sizes.items() if size + 65536 * 2 >= limit]
        if near or err == errno.EFBIG:
            what = ", ".join(f"{f} ({sizes[f]:,} bytes)" for f in near) or ", ".join(files)
            return (
                f"; the file size limit of this process (ulimit -f: {limit:,} bytes) was reached writing {what}: "
                "raise the limit (or write elsewhere)"
            )
    for f in files:
        try:
            st = os.statvfs(os.path.dirname(os.path.abspath(f)))
        except OSError:
            continue
        if err == errno.ENOSPC or st.f_bavail * st.f_frsize < 64 * 1024 * 1024:
            return (
                f"; the disk holding {f} is full ({st.f_bavail * st.f_frsize:,} bytes free): free some space "
                "and record again"
            )
    if err == errno.ENOSPC or "disk is full" in text:
        return f"; the disk or a file size limit is full writing {', '.join(files)}"
    return ""
