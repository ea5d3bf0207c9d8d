"""The PostgreSQL store: an asyncpg pool, migrations under an advisory lock on connect,
READ COMMITTED transactions (the operations lock what they check, see ``jobs.py``), and
LISTEN/NOTIFY wake-ups between processes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from ...clock import real_timeout
from ..db import Store, StoreError, Wakeup
from .conn import PgConn, Row
from .schema import current_version, migrate, require_version

WAKEUP_CHANNEL = "runway_bot_wakeup"
CONNECT_TIMEOUT_SECONDS = 10.0  # real seconds, also on a virtual-time loop (real_timeout)
RELISTEN_FIRST_DELAY = 0.5  # seconds before listening again after the connection was lost
RELISTEN_MAX_DELAY = 30.0

_QMARK = re.compile(r"'(?:[^']|'')*'|\?")


def numbered(sql: str) -> str:
    """``?`` placeholders (outside string literals) as PostgreSQL's ``$1, $2, ...``."""
    count = 0

    def repl(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) != "?":
            return match.group(0)
        count += 1
        return f"${count}"

    return _QMARK.sub(repl, sql)


class PgStore(Store):
    """A PostgreSQL database shared by any number of bot processes."""

    backend = "postgresql"

    def __init__(self, pool: Any, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn
        self._listeners: list[Any] = []  # asyncpg connections, one per listen()
        self._reconnects: set[asyncio.Task[None]] = set()
        self._closed = False

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        pool_size: int = 10,
        target_version: int | None = None,
        migrate_schema: bool = True,
    ) -> PgStore:
        """Connect to the database at ``dsn`` (``postgresql://...``) and bring its schema up
        to date (or, with ``migrate_schema=False``, refuse a schema other than this code's);
        a failure names the server, never the password."""
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=pool_size,
                timeout=real_timeout(CONNECT_TIMEOUT_SECONDS),
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {redact(dsn)}: {exc}") from None
        try:
            async with pool.acquire() as raw:
                if migrate_schema:
                    await migrate(raw, target_version)
                else:
                    await require_version(raw, redact(dsn))
        except BaseException:
            await pool.close()
            raise
        return cls(pool, dsn)

    async def close(self) -> None:
        """Close the listeners and the pool (waits for connections in use)."""
        self._closed = True
        for task in list(self._reconnects):
            task.cancel()
        for raw in self._listeners:
            await raw.close()
        self._listeners.clear()
        await self._pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConn]:
        """One atomic write transaction (READ COMMITTED); rolled back if the block raises."""
        async with self._pool.acquire() as raw, raw.transaction():
            yield PgConn(raw)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[PgConn]:
        """A pooled connection for reads (each statement sees the latest commits)."""
        async with self._pool.acquire() as raw:
            yield PgConn(raw)

    async def check_writable(self) -> None:
        """Start a write transaction for a moment: raises on a read-only server (a standby)
        or when no connection can be had."""
        async with self.transaction() as conn:
            if await conn.fetchval("SELECT pg_is_in_recovery()"):
                raise StoreError("the PostgreSQL server is a read-only standby")
            await conn.fetchval("SELECT pg_current_xact_id()")

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """Run an ad-hoc read query (``?`` placeholders); every row."""
        async with self.read() as conn:
            return await conn.fetch(numbered(sql), *params)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        """Run an ad-hoc read query (``?`` placeholders); its first row, or None."""
        async with self.read() as conn:
            return await conn.fetchrow(numbered(sql), *params)

    async def user_version(self) -> int:
        """The schema version (``schema_version``)."""
        async with self._pool.acquire() as raw:
            return await current_version(raw)

    async def notify_wakeup(self) -> None:
        """``NOTIFY`` every process listening on this database."""
        async with self._pool.acquire() as raw:
            await raw.execute("SELECT pg_notify($1, '')", WAKEUP_CHANNEL)

    async def listen(self, callback: Wakeup) -> None:
        """Call ``callback`` on every wake-up notification, on a connection of its own (outside
        the pool) kept until :meth:`close`. A lost connection is made again (with back-off),
        then ``callback`` is called once for what may have been missed meanwhile."""
        raw = await asyncpg.connect(self._dsn, timeout=real_timeout(CONNECT_TIMEOUT_SECONDS))
        await raw.add_listener(WAKEUP_CHANNEL, lambda *_: callback())
        raw.add_termination_listener(lambda _: self._listener_lost(raw, callback))
        self._listeners.append(raw)

    def _listener_lost(self, raw: Any, callback: Wakeup) -> None:
        if raw in self._listeners:
            self._listeners.remove(raw)
        if self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._listen_again(callback))
        self._reconnects.add(task)
        task.add_done_callback(self._reconnects.discard)

    async def _listen_again(self, callback: Wakeup) -> None:
        delay = RELISTEN_FIRST_DELAY
        while not self._closed:
            try:
                await self.listen(callback)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, RELISTEN_MAX_DELAY)
            else:
                callback()
                return


def redact(dsn: str) -> str:
    """The DSN without its password (``postgresql://user:***@host/db``, ``password=***``)."""
    parts = urlsplit(dsn)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        parts = parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{hostport}")
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit(parts._replace(query=query))
