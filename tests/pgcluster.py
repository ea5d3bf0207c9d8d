"""A throwaway PostgreSQL server for the tests: ``initdb`` into a temporary directory, started
with ``pg_ctl`` on 127.0.0.1 only (a free port, its unix socket inside that directory, trust
authentication), stopped and deleted afterwards. Databases for tests are copied from a
migrated template, which takes milliseconds.

``RUNWAY_TEST_POSTGRES_URL`` (a role that may create databases) uses an existing server
instead. As root, the server runs as the ``postgres`` user (or ``nobody``): PostgreSQL refuses
to run as root.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

ENV_URL = "RUNWAY_TEST_POSTGRES_URL"
T = TypeVar("T")


class Unavailable(Exception):
    """No PostgreSQL server can be had; the message says why (a test skip reason)."""


def find_bindir() -> Path | None:
    """The directory holding ``pg_ctl`` and ``initdb``: PATH, else the newest Debian one."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _server_user() -> pwd.struct_passwd | None:
    """The account to run the server as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise Unavailable("running as root and there is no postgres or nobody user to run as")


class Cluster:
    """One running server; :meth:`url` names a database on it."""

    def __init__(
        self,
        admin_url: str,
        base: Path | None = None,
        bindir: Path | None = None,
        as_user: dict[str, int] | None = None,
    ) -> None:
        self.admin_url = admin_url
        self._base = base  # set when this object started the server (and must stop it)
        self._bindir = bindir
        self._as_user = as_user or {}
        self._names = itertools.count(1)

    @classmethod
    def start(cls) -> Cluster:
        """Use ``RUNWAY_TEST_POSTGRES_URL``, or start a fresh server (raises Unavailable)."""
        if os.environ.get(ENV_URL):
            return cls(os.environ[ENV_URL])
        bindir = find_bindir()
        if bindir is None:
            raise Unavailable(
                "PostgreSQL is not installed (no pg_ctl on PATH or in /usr/lib/postgresql/*/bin;"
                f" install postgresql, or set {ENV_URL})"
            )
        user = _server_user()
        base = Path(tempfile.mkdtemp(prefix="runway-pg-"))
        data, sockets, log = base / "data", base / "sockets", base / "server.log"
        sockets.mkdir()
        if user is not None:
            for p in (base, sockets):
                os.chown(p, user.pw_uid, user.pw_gid)
        port = _free_port()
        as_user: dict[str, int] = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
        env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
        try:
            subprocess.run(
                [bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust",
                 "--no-sync", "-E", "UTF8", "--locale=C"],
                check=True, capture_output=True, cwd=base, env=env, timeout=120, **as_user,
            )  # fmt: skip
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off"
                " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
            )
            subprocess.run(
                [bindir / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60",
                 "start"],
                check=True, capture_output=True, cwd=base, env=env, timeout=90, **as_user,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            tail = log.read_text(errors="replace")[-400:] if log.exists() else ""
            shutil.rmtree(base, ignore_errors=True)
            raise Unavailable(
                f"could not start PostgreSQL from {bindir}: {exc}; "
                f"{detail.decode(errors='replace').strip()[-300:]} {tail}".strip()
            ) from None
        return cls(f"postgresql://postgres@127.0.0.1:{port}/postgres", base, bindir, as_user)

    def url(self, database: str) -> str:
        """The URL of ``database`` on this server."""
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path="/" + database))

    def new_name(self, prefix: str = "t") -> str:
        """A database name not used before in this session."""
        return f"runway_{prefix}_{os.getpid()}_{next(self._names)}"

    def stop(self) -> None:
        """Stop the server this object started and delete its directory."""
        if self._base is None or self._bindir is None:
            return
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [self._bindir / "pg_ctl", "-D", self._base / "data", "-m", "immediate", "-w",
                 "stop"],
                check=False, capture_output=True, timeout=60,
                **self._as_user,
            )  # fmt: skip
        shutil.rmtree(self._base, ignore_errors=True)


@contextlib.contextmanager
def running() -> Iterator[Cluster]:
    """A server for the duration of the block."""
    cluster = Cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def run_apart(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on an event loop of its own in another thread (for sync
    fixtures, whatever loop the test has)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def create_database(cluster: Cluster, template: str | None = None) -> str:
    """A new database (a copy of ``template`` when given); returns its URL."""
    import asyncpg  # type: ignore[import-untyped]

    name = cluster.new_name()
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await admin.close()
    return cluster.url(name)


async def drop_database(cluster: Cluster, url: str) -> None:
    """Drop the database at ``url`` (disconnecting whoever is still on it)."""
    import asyncpg

    name = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def create_template(cluster: Cluster) -> str:
    """A database migrated to the latest schema, to copy for each test; returns its name."""
    from bot.store.postgres.db import PgStore

    url = await create_database(cluster)
    store = await PgStore.connect(url)
    await store.close()
    return urlsplit(url).path.lstrip("/")
