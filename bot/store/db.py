"""The store: one database behind one interface, SQLite (one file, the default) or
PostgreSQL (``storage.url``, shared by several bot processes).

Writes go through :meth:`Store.transaction`, reads through :meth:`Store.read`; both yield a
:data:`Conn` that ``jobs_repo`` / ``quota_repo`` operations take, whichever backend it is.
``connect.open_store`` opens the one the settings name.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

import aiosqlite

from .backend import Conn
from .postgres.conn import Row
from .schema import migrate

__all__ = ["BUSY_TIMEOUT_MS", "Conn", "Row", "SqliteStore", "Store", "StoreError"]

BUSY_TIMEOUT_MS = 10_000

Wakeup = Callable[[], None]
"""Called when another process (or this one) says there is new work."""


class StoreError(Exception):
    """The store cannot do what was asked; the message says why, for the operator."""


class Store(ABC):
    """An open database of either backend."""

    backend: ClassVar[str]
    """``sqlite`` or ``postgresql``."""

    @staticmethod
    async def open(path: Path, *, target_version: int | None = None) -> SqliteStore:
        """Open (creating if needed) the SQLite database at ``path``, schema brought up to date."""
        return await SqliteStore.open_file(path, target_version=target_version)

    @abstractmethod
    async def close(self) -> None:
        """Close the connections (waits for running transactions)."""

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Conn]:
        """One atomic write transaction; rolled back if the block raises."""

    @abstractmethod
    def read(self) -> AbstractAsyncContextManager[Conn]:
        """A connection for reads outside a write transaction."""

    @abstractmethod
    async def check_writable(self) -> None:
        """Raise when the database cannot be written now (for the health check)."""

    @abstractmethod
    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """Run an ad-hoc read query (``?`` placeholders on both backends); every row."""

    @abstractmethod
    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        """Run an ad-hoc read query (``?`` placeholders); its first row, or None."""

    @abstractmethod
    async def user_version(self) -> int:
        """The schema version."""

    @abstractmethod
    async def notify_wakeup(self) -> None:
        """Tell every listener (in every process on this database) that there is new work."""

    @abstractmethod
    async def listen(self, callback: Wakeup) -> None:
        """Call ``callback`` on every :meth:`notify_wakeup`, until the store is closed."""


class SqliteStore(Store):
    """The SQLite file: WAL mode, migrations on open, one writer transaction at a time
    (``BEGIN IMMEDIATE``)."""

    backend = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._listeners: list[Wakeup] = []
        self.path = path

    @classmethod
    async def open_file(cls, path: Path, *, target_version: int | None = None) -> SqliteStore:
        """Open (creating if needed) the database at ``path`` and bring its schema up to date."""
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await migrate(conn, target_version)
        except BaseException:
            await conn.close()
            raise
        return cls(conn, path)

    async def close(self) -> None:
        """Close the connection (waits for a running transaction)."""
        self._listeners.clear()
        async with self._lock:
            await self._conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One atomic write transaction; rolled back if the block raises."""
        async with self._lock:
            # aiosqlite runs calls in order on one thread, so a rollback queued here runs
            # after the BEGIN even when this task was cancelled while BEGIN was pending.
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
            except BaseException:
                await self._conn.rollback()
                raise
            else:
                await self._conn.commit()

    async def check_writable(self) -> None:
        """Take the write lock for a moment (``BEGIN IMMEDIATE``, then roll back); raises
        (``sqlite3.Error``, ``ValueError`` once closed) when the database cannot be written."""
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
            finally:
                await self._conn.rollback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection for reads outside a write transaction (one caller at a time)."""
        async with self._lock:
            yield self._conn

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """Run a read query and return every row."""
        async with self._lock, self._conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        """Run a read query and return its first row, or None."""
        async with self._lock, self._conn.execute(sql, tuple(params)) as cur:
            row: aiosqlite.Row | None = await cur.fetchone()
            return row

    async def user_version(self) -> int:
        """The schema version (``PRAGMA user_version``)."""
        row = await self.fetchone("PRAGMA user_version")
        assert row is not None
        return int(row[0])

    async def notify_wakeup(self) -> None:
        """Call this store's listeners (a SQLite file has one bot process)."""
        for callback in list(self._listeners):
            callback()

    async def listen(self, callback: Wakeup) -> None:
        """Call ``callback`` on every :meth:`notify_wakeup` of this store."""
        self._listeners.append(callback)
