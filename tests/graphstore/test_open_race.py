"""A reader opening a store while another process creates it gets either a correct store or a clear graphstore
error, never a raw sqlite3 error: real processes, the reader polling each file from before it exists.

SQLite only: a store file being created.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_CREATOR = textwrap.dedent("""
    import sys, time
    from graphstore import Storage, op

    @op
    def inc(x):
        return x + 1

    for path in sys.argv[1:]:
        time.sleep(0.02)
        s = Storage(path)
        with s:
            for i in range(20):
                inc(i)
        s.close()
""")

_READER = textwrap.dedent("""
    import collections, sys, time
    from graphstore import GraphstoreError, Storage

    seen = collections.Counter()
    for path in sys.argv[1:]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                s = Storage(path, read_only=True)
                try:
                    calls = s.cache_info()["calls"]
                    assert calls in (0, 20), calls  # a store is complete or not there yet, never in between
                    seen["opened"] += 1
                    if calls == 20:
                        break
                finally:
                    s.close()
            except GraphstoreError as exc:
                assert path in str(exc), exc
                seen[type(exc).__name__] += 1
            except Exception as exc:
                print("RAW", type(exc).__name__, exc, flush=True)
                sys.exit(1)
        else:
            print("TIMEOUT", path)
            sys.exit(1)
    print(dict(seen))
""")


def test_readers_racing_creation_get_a_store_or_a_clear_error(tmp_path):
    paths = [str(tmp_path / f"store{i}.db") for i in range(15)]
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, *paths], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    creator = subprocess.run([sys.executable, "-c", _CREATOR, *paths], capture_output=True, text=True)
    out, err = reader.communicate(timeout=120)
    assert creator.returncode == 0, creator.stderr
    assert reader.returncode == 0, out + err
    assert "StoreError" in out  # it did look before the stores existed
