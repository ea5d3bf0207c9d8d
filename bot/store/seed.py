"""Bulk loads and whole-database copies, for benchmarks and fixtures that need large tables.

Not used by the bot itself: rows are written as given (no fairness, quota or ledger rules),
one ``executemany`` per table inside the caller's transaction; a copy replaces a database
with another through SQLite's backup API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import aiosqlite

Table = Literal["jobs", "job_inputs", "quota_usage", "usage_ledger"]
_TABLES: frozenset[str] = frozenset({"jobs", "job_inputs", "quota_usage", "usage_ledger"})


async def insert_rows(
    conn: aiosqlite.Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> int:
    """Insert ``rows`` (values in ``columns`` order) into ``table``; returns how many."""
    if table not in _TABLES:
        raise ValueError(f"unknown table {table!r}")
    names = [c for c in columns if c.isidentifier()]
    if len(names) != len(columns) or not names:
        raise ValueError(f"bad column names {list(columns)!r}")
    marks = ", ".join("?" for _ in names)
    await conn.executemany(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", [tuple(r) for r in rows]
    )
    return len(rows)


async def checkpoint(conn: aiosqlite.Connection) -> None:
    """Move the write-ahead log into the database file and empty it (after a bulk load)."""
    await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def copy_database(source: aiosqlite.Connection, target: aiosqlite.Connection) -> None:
    """Replace ``target``'s whole database with ``source``'s (SQLite backup API), then
    checkpoint it, so the copy's first writes do not pay for checkpointing the copy."""
    await source.backup(target)
    await checkpoint(target)


async def set_page_cache(conn: aiosqlite.Connection, kib: int) -> None:
    """Let this connection's page cache grow to ``kib`` KiB (the default is 2,000)."""
    await conn.execute(f"PRAGMA cache_size = {-int(kib)}")


async def drop_page_cache(conn: aiosqlite.Connection) -> None:
    """Empty this connection's page cache (``PRAGMA shrink_memory``): the next reads go to
    the file (the operating system's cache), as after opening the database."""
    await conn.execute("PRAGMA shrink_memory")
