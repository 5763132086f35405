"""A throwaway PostgreSQL server for the tests, and a fresh database per test.

``GRAPHSTORE_TEST_POSTGRES=postgresql://user@host:port/db`` uses an existing server instead (each test still gets a
database of its own, created on it). With no server at all, the PostgreSQL tests fail when ``CI`` is set and are
skipped (with the reason) otherwise.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from urllib.parse import urlsplit, urlunsplit


class ServerUnavailable(Exception):
    """No PostgreSQL server could be started or reached (the message says why)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    """``initdb`` and ``pg_ctl`` refuse to run as root: run them as the ``postgres`` user then."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class LocalServer:
    """A PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 at a free port."""

    def __init__(self) -> None:
        for tool in ("initdb", "pg_ctl"):
            if shutil.which(tool) is None:
                raise ServerUnavailable(f"{tool} is not on PATH (install the PostgreSQL server binaries)")
        self.root = tempfile.mkdtemp(prefix="graphstore-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = _free_port()
        try:
            if os.geteuid() == 0:
                shutil.chown(self.root, "postgres", "postgres")
            self._run(["initdb", "-U", "postgres", "--auth=trust", "-E", "UTF8", "-D", self.data])
            opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=200"
            log = os.path.join(self.root, "server.log")
            self._run(["pg_ctl", "-D", self.data, "-l", log, "-o", opts, "-w", "start"])
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(_as_postgres(cmd), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise ServerUnavailable(f"{' '.join(cmd[:1])} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def stop(self) -> None:
        try:
            subprocess.run(
                _as_postgres(["pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                timeout=60,
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class Databases:
    """Fresh databases on one server: :meth:`create` returns the URL of a new, empty one."""

    def __init__(self, admin_url: str) -> None:
        import psycopg

        self.admin_url = admin_url
        try:
            self.conn = psycopg.connect(admin_url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise ServerUnavailable(f"cannot connect to {_without_password(admin_url)}: {exc}") from exc
        self.created: list[str] = []

    def create(self) -> str:
        name = "gs_test_" + uuid.uuid4().hex[:16]
        self.conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        self.created.append(name)
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path="/" + name))

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self.conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.conn.close()


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def start() -> tuple[Databases, LocalServer | None]:
    """Databases on the server named by ``GRAPHSTORE_TEST_POSTGRES``, else on a new local server (returned too, to be
    stopped). Raises :class:`ServerUnavailable` when neither works."""
    url = os.environ.get("GRAPHSTORE_TEST_POSTGRES")
    if url:
        return Databases(url), None
    server = LocalServer()
    try:
        return Databases(server.url), server
    except BaseException:
        server.stop()
        raise
