"""Copying a SQLite store into a PostgreSQL one (``runway-bot migrate-store``): the tables
both schemas hold, in batches, then the checks that the copy is whole (row counts and the
sums of every credit column) and the identity sequences moved past the copied ids.

Both stores must be at the same schema version (each is migrated when opened), so the column
lists match; columns are matched by name and converted to the PostgreSQL column's type.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from .db import SqliteStore, StoreError
from .postgres.db import PgStore

BATCH_ROWS = 500
FIRST_TABLES = ("jobs", "job_inputs")
"""Copied before the rest (job_inputs and jobs.rerun_of refer to jobs; rerun_of to lower ids)."""
SKIPPED_TABLES = frozenset({"schema_version", "sqlite_sequence"})
SUM_COLUMNS: dict[str, tuple[str, ...]] = {
    "jobs": ("estimated_credits", "charged_credits", "quota_amount"),
    "quota_usage": ("used", "reserved", "bonus"),
    "usage_ledger": ("amount",),
    "quota_limits": ("amount",),
}
"""The credit columns whose totals must be equal on both sides after the copy."""
SUM_TOLERANCE = 1e-6

Progress = Callable[[str, int, int], None]
"""Called as ``(table, rows copied so far, rows in the table)``."""


@dataclass(frozen=True)
class TableCheck:
    """One table on both sides after the copy."""

    table: str
    source_rows: int
    target_rows: int
    sums: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Credit column -> (source total, target total)."""

    @property
    def ok(self) -> bool:
        """Same row count and the same totals (to a millionth of a credit)."""
        return self.source_rows == self.target_rows and all(
            math.isclose(a, b, rel_tol=0.0, abs_tol=SUM_TOLERANCE) for a, b in self.sums.values()
        )


def _conn(store: SqliteStore) -> aiosqlite.Connection:
    return store._conn  # the copy reads the file's one connection directly


async def source_tables(source: SqliteStore) -> list[str]:
    """The SQLite store's data tables, jobs first."""
    async with _conn(source).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ) as cur:
        names = [str(r[0]) for r in await cur.fetchall()]
    names = [n for n in names if n not in SKIPPED_TABLES]
    first = [t for t in FIRST_TABLES if t in names]
    return first + sorted(n for n in names if n not in first)


async def _source_columns(source: SqliteStore, table: str) -> list[str]:
    async with _conn(source).execute(f'PRAGMA table_info("{table}")') as cur:
        return [str(r[1]) for r in await cur.fetchall()]


async def _target_columns(target: PgStore, table: str) -> dict[str, str]:
    rows = await target.fetchall(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )
    return {str(r[0]): str(r[1]) for r in rows}


async def _order_key(source: SqliteStore, table: str) -> str:
    async with _conn(source).execute(f'PRAGMA table_info("{table}")') as cur:
        pk = sorted((int(r[5]), str(r[1])) for r in await cur.fetchall() if int(r[5]) > 0)
    return ", ".join(f'"{name}"' for _, name in pk) if pk else "rowid"


async def count_rows(store: SqliteStore | PgStore, table: str) -> int:
    """How many rows ``table`` has."""
    row = await store.fetchone(f'SELECT COUNT(*) FROM "{table}"')
    return 0 if row is None else int(row[0])


async def missing_tables(target: PgStore, tables: Sequence[str]) -> list[str]:
    """Those of ``tables`` the target's schema lacks (the two schemas disagree)."""
    rows = await target.fetchall(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    present = {str(r[0]) for r in rows}
    return [t for t in tables if t not in present]


async def non_empty_tables(target: PgStore, tables: Sequence[str]) -> list[str]:
    """Those of ``tables`` that already hold rows in the target."""
    return [t for t in tables if await count_rows(target, t) > 0]


async def empty_target(target: PgStore, tables: Sequence[str]) -> None:
    """Delete every row of ``tables`` in the target and restart their identities."""
    if tables:
        names = ", ".join(f'"{t}"' for t in tables)
        async with target.transaction() as conn:
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


def _convert(value: Any, pg_type: str) -> Any:
    if value is None:
        return None
    if pg_type in ("bigint", "integer", "smallint"):
        return int(value)
    if pg_type in ("double precision", "real", "numeric"):
        return float(value)
    if pg_type == "bytea":
        return bytes(value)
    if pg_type == "boolean":
        return bool(value)
    return str(value)


async def copy_table(
    source: SqliteStore,
    target: PgStore,
    table: str,
    *,
    progress: Progress | None = None,
    batch: int = BATCH_ROWS,
) -> int:
    """Copy every row of ``table`` (one transaction per batch, PostgreSQL's COPY); returns
    how many rows were copied. A column the target lacks is refused, never dropped."""
    columns = await _source_columns(source, table)
    types = await _target_columns(target, table)
    if not types:
        raise StoreError(f"the PostgreSQL database has no table {table}")
    missing = [c for c in columns if c not in types]
    if missing:
        raise StoreError(f"the PostgreSQL table {table} has no column {', '.join(missing)}")
    total = await count_rows(source, table)
    order = await _order_key(source, table)
    cols = ", ".join(f'"{c}"' for c in columns)
    copied = 0
    if progress is not None:
        progress(table, 0, total)
    async with _conn(source).execute(f'SELECT {cols} FROM "{table}" ORDER BY {order}') as cur:
        while rows := await cur.fetchmany(batch):
            records = [
                tuple(_convert(v, types[c]) for v, c in zip(row, columns, strict=True))
                for row in rows
            ]
            async with target.transaction() as conn:
                await conn.raw.copy_records_to_table(table, records=records, columns=columns)
            copied += len(records)
            if progress is not None:
                progress(table, copied, total)
    return copied


async def advance_identities(target: PgStore, tables: Sequence[str]) -> dict[str, int]:
    """Move each identity sequence past the largest copied id; returns table -> next id."""
    rows = await target.fetchall(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES'"
    )
    advanced: dict[str, int] = {}
    async with target.transaction() as conn:
        for table, column in ((str(r[0]), str(r[1])) for r in rows):
            if table not in tables:
                continue
            top = await conn.fetchval(f'SELECT MAX("{column}") FROM "{table}"')
            if top is None:
                continue
            await conn.fetchval(
                "SELECT setval(pg_get_serial_sequence($1, $2), $3)", table, column, int(top)
            )
            advanced[table] = int(top) + 1
    return advanced


async def _sums(store: SqliteStore | PgStore, table: str, columns: Sequence[str]) -> list[float]:
    exprs = ", ".join(f'COALESCE(SUM("{c}"), 0)' for c in columns)
    row = await store.fetchone(f'SELECT {exprs} FROM "{table}"')
    assert row is not None
    return [float(row[i]) for i in range(len(columns))]


async def verify(source: SqliteStore, target: PgStore, tables: Sequence[str]) -> list[TableCheck]:
    """Row counts of every table and the totals of its credit columns, on both sides."""
    checks: list[TableCheck] = []
    for table in tables:
        sums: dict[str, tuple[float, float]] = {}
        present = set(await _source_columns(source, table))
        columns = [c for c in SUM_COLUMNS.get(table, ()) if c in present]
        if columns:
            before = await _sums(source, table, columns)
            after = await _sums(target, table, columns)
            sums = {c: (a, b) for c, a, b in zip(columns, before, after, strict=True)}
        checks.append(
            TableCheck(
                table, await count_rows(source, table), await count_rows(target, table), sums
            )
        )
    return checks
