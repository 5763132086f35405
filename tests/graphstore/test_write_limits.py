"""A write refused by the file size limit (``ulimit -f``) says so, naming the file, in a real process running under
that limit (with SIGXFSZ ignored, as a shell's ``ulimit -f`` leaves a program seeing ``EFBIG``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

_CHILD = textwrap.dedent("""
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    from graphstore import GraphstoreError, Storage, op

    @op
    def blob(i, n):
        return bytes([i % 256]) * n

    path, ovf, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    s = Storage(path, overflow_dir=ovf, overflow_threshold_MB=1)
    with s:
        blob(0, 10)  # the store exists before the limit
    resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))
    try:
        with s:
            for i in range(1, 200):
                blob(i, n)
                s.commit()
    except GraphstoreError as exc:
        print(type(exc).__name__, exc, sep="\\n")
    else:
        print("no error")
""")


@pytest.mark.parametrize("where,size", [("store", 300_000), ("overflow file", 3_000_000)])
def test_the_file_size_limit_is_named(tmp_path, where, size):
    path, ovf = str(tmp_path / "store.db"), str(tmp_path / "ovf")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, path, ovf, str(size)],
        capture_output=True,
        text=True,
        env=dict(os.environ, GRAPHSTORE_WRITER_PROCESS="0"),
    )
    assert proc.returncode == 0, proc.stderr
    kind, message = proc.stdout.split("\n", 1)
    assert kind == "StoreError", proc.stdout
    assert "file size limit" in message and "2,000,000 bytes" in message, message
    assert (path if where == "store" else ovf) in message
