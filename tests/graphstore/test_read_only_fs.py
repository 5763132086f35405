"""``read_only=True`` opens a store in a folder this process cannot write (a read-only file system, a colleague's
folder) and creates nothing there. The folder is made unwritable for real: a read-only bind mount in a user and mount
namespace of its own where the system allows one, else a process running as user ``nobody`` against a folder owned
by root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from graphstore import Storage, op

_READER = textwrap.dedent("""
    import errno, os, sys
    folder, path = sys.argv[1], sys.argv[2]
    try:
        open(os.path.join(folder, "probe"), "w")
    except OSError as exc:
        assert exc.errno in (errno.EROFS, errno.EACCES), exc
    else:
        raise SystemExit("the folder can be written: the test would prove nothing")
    from graphstore import GraphstoreError, Storage, op

    @op
    def sq(x):
        return x * x

    s = Storage(path, read_only=True)
    with s.allow_new_calls(False):
        with s:
            refs = [sq(i) for i in range(50)]
    assert [s.unwrap(r) for r in refs] == [i * i for i in range(50)]
    assert len(s.cf(sq).df()) == 50
    assert s.check().ok
    s.close()
    if len(sys.argv) > 3:  # a store with a log left next to it: a clear refusal
        try:
            Storage(sys.argv[3], read_only=True)
        except GraphstoreError as exc:
            assert "write-ahead log" in str(exc) and sys.argv[3] in str(exc), exc
        else:
            raise SystemExit("opened a store whose log could not be read")
    print("read", flush=True)
""")


def _unwritable_runner(folder: str) -> list[str]:
    """A command prefix that runs a program with ``folder`` unwritable to it."""
    namespace = [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"',
        folder,
    ]
    if shutil.which("unshare") and subprocess.run(namespace + ["true"], capture_output=True).returncode == 0:
        return namespace
    assert os.geteuid() == 0 and shutil.which("setpriv"), "no way to make a folder unwritable here"
    os.chmod(folder, 0o755)  # owned by root: user nobody cannot write it
    for f in os.listdir(folder):
        os.chmod(os.path.join(folder, f), 0o644)
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@op
def sq(x):
    return x * x


@pytest.fixture
def shared():
    """A folder any user can reach (pytest's own are private to their owner)."""
    folder = tempfile.mkdtemp(prefix="graphstore-shared-")
    os.chmod(folder, 0o755)
    yield Path(folder)
    shutil.rmtree(folder)


def test_read_only_store_in_an_unwritable_folder(shared):
    folder = shared
    path = str(folder / "store.db")
    s = Storage(path)
    with s:
        for i in range(50):
            sq(i)
    s.close()
    crashed = str(folder / "crashed.db")  # a store whose writer is still (or was last) writing: it has a log
    subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import os
        from graphstore import Storage, op
        s = Storage({crashed!r})
        with s:
            op(lambda x: x)(1)
        os._exit(0)
    """),
        ],
        check=True,
        env=dict(os.environ, GRAPHSTORE_WRITER_PROCESS="0"),
    )
    assert os.path.getsize(crashed + "-wal") > 0
    before = sorted(os.listdir(folder))
    proc = subprocess.run(
        _unwritable_runner(str(folder)) + [sys.executable, "-c", _READER, str(folder), path, crashed],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "read", proc.stderr
    assert sorted(os.listdir(folder)) == before  # no -wal, -shm or journal made
