"""A typed handle on one asyncpg connection, as the PostgreSQL store's operations see it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol


class Row(Protocol):
    """A result row, by column name or position (``asyncpg.Record`` and ``aiosqlite.Row``)."""

    def __getitem__(self, key: int | str, /) -> Any: ...


def affected(status: str) -> int:
    """The row count of a command status such as ``UPDATE 3`` or ``INSERT 0 1``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PgConn:
    """One connection inside a store transaction (or a read), with ``$n`` parameters."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw  # an asyncpg.Connection (asyncpg ships no type information)

    @property
    def in_transaction(self) -> bool:
        """Whether this is a store transaction (not a read)."""
        return bool(self.raw.is_in_transaction())

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        """Every row of a query."""
        rows: list[Row] = await self.raw.fetch(sql, *args)
        return rows

    async def fetchrow(self, sql: str, *args: object) -> Row | None:
        """The first row of a query, or None."""
        row: Row | None = await self.raw.fetchrow(sql, *args)
        return row

    async def fetchval(self, sql: str, *args: object) -> Any:
        """The first column of the first row (None when there is no row)."""
        return await self.raw.fetchval(sql, *args)

    async def execute(self, sql: str, *args: object) -> int:
        """Run a command; returns how many rows it changed."""
        status: str = await self.raw.execute(sql, *args)
        return affected(status)

    async def executemany(self, sql: str, args: Iterable[Sequence[object]]) -> None:
        """Run a command once per parameter tuple."""
        await self.raw.executemany(sql, list(args))

    async def lock(self, key: str) -> None:
        """Take a transaction-scoped advisory lock named ``key`` (held until commit or
        rollback; outside a transaction it ends with the statement)."""
        await self.raw.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
