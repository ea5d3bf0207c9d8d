"""The SQLite connection: WAL mode, migrations on open, one writer transaction at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from .schema import migrate

BUSY_TIMEOUT_MS = 10_000

Row = aiosqlite.Row


class Store:
    """An open database. Writes go through :meth:`transaction` (``BEGIN IMMEDIATE``)."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self.path = path

    @classmethod
    async def open(cls, path: Path, *, target_version: int | None = None) -> Store:
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
        """Take the write lock for a moment (``BEGIN IMMEDIATE``, then roll back), for the
        health check; raises (``sqlite3.Error``, ``ValueError`` once closed) when the database
        cannot be written now."""
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
            row: Row | None = await cur.fetchone()
            return row

    async def user_version(self) -> int:
        """The schema version (``PRAGMA user_version``)."""
        row = await self.fetchone("PRAGMA user_version")
        assert row is not None
        return int(row[0])
