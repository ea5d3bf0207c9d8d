"""SQL for quota limits, per-period counters and the usage ledger."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from .backend import on_postgres
from .postgres import quota as pg
from .records import LimitRow as LimitRow
from .records import Usage as Usage

BOT_GUILD = -1  # quota_usage row holding the bot-wide daily credit counter
BOT_USER = 0


@on_postgres(pg.limits_for)
async def limits_for(
    conn: aiosqlite.Connection, guild_id: int, user_id: int, role_ids: Sequence[int]
) -> list[LimitRow]:
    """The user override, the role limits of the given roles and the guild default."""
    roles = list(role_ids)
    marks = ", ".join("?" for _ in roles) or "NULL"
    async with conn.execute(
        "SELECT scope, subject_id, mode, amount FROM quota_limits WHERE guild_id = ? AND ("
        " (scope = 'user' AND subject_id = ?)"
        f" OR (scope = 'role' AND subject_id IN ({marks}))"
        " OR scope = 'guild')",
        (guild_id, user_id, *roles),
    ) as cur:
        return [LimitRow(r[0], r[1], r[2], r[3]) for r in await cur.fetchall()]


@on_postgres(pg.put_limit)
async def put_limit(
    conn: aiosqlite.Connection,
    guild_id: int,
    scope: str,
    subject_id: int,
    mode: str,
    amount: int | None,
    now: float,
) -> None:
    """Create or replace one limit."""
    await conn.execute(
        "INSERT INTO quota_limits (guild_id, scope, subject_id, mode, amount, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, scope, subject_id)"
        " DO UPDATE SET mode = excluded.mode, amount = excluded.amount,"
        " updated_at = excluded.updated_at",
        (guild_id, scope, subject_id, mode, amount, now),
    )


@on_postgres(pg.get_limit)
async def get_limit(
    conn: aiosqlite.Connection, guild_id: int, scope: str, subject_id: int
) -> LimitRow | None:
    """One stored limit, or None."""
    async with conn.execute(
        "SELECT scope, subject_id, mode, amount FROM quota_limits"
        " WHERE guild_id = ? AND scope = ? AND subject_id = ?",
        (guild_id, scope, subject_id),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else LimitRow(row[0], row[1], row[2], row[3])


@on_postgres(pg.guild_limits)
async def guild_limits(conn: aiosqlite.Connection, guild_id: int) -> list[LimitRow]:
    """Every limit stored for a guild: the default, role limits, user overrides."""
    async with conn.execute(
        "SELECT scope, subject_id, mode, amount FROM quota_limits WHERE guild_id = ?"
        " ORDER BY scope, subject_id",
        (guild_id,),
    ) as cur:
        return [LimitRow(r[0], r[1], r[2], r[3]) for r in await cur.fetchall()]


@on_postgres(pg.delete_limit)
async def delete_limit(
    conn: aiosqlite.Connection, guild_id: int, scope: str, subject_id: int
) -> None:
    """Remove one limit (no error when absent)."""
    await conn.execute(
        "DELETE FROM quota_limits WHERE guild_id = ? AND scope = ? AND subject_id = ?",
        (guild_id, scope, subject_id),
    )


@on_postgres(pg.usage)
async def usage(conn: aiosqlite.Connection, guild_id: int, user_id: int, key: str) -> Usage:
    """The counters (zero when the row does not exist yet)."""
    async with conn.execute(
        "SELECT used, reserved, bonus FROM quota_usage"
        " WHERE guild_id = ? AND quota_key = ? AND user_id = ?",
        (guild_id, key, user_id),
    ) as cur:
        row = await cur.fetchone()
    return Usage() if row is None else Usage(row[0], row[1], row[2])


@on_postgres(pg.add)
async def add(
    conn: aiosqlite.Connection,
    guild_id: int,
    user_id: int,
    key: str,
    *,
    entry: str,
    now: float,
    used: float = 0.0,
    reserved: float = 0.0,
    bonus: float = 0.0,
    ledger_amount: float,
    job_id: int | None = None,
) -> None:
    """Adjust the counters by the given deltas and write one ledger entry."""
    await conn.execute(
        "INSERT INTO quota_usage (guild_id, user_id, quota_key, used, reserved, bonus)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, quota_key, user_id) DO UPDATE SET"
        " used = MAX(0, used + excluded.used), reserved = MAX(0, reserved + excluded.reserved),"
        " bonus = bonus + excluded.bonus",
        (guild_id, user_id, key, used, reserved, bonus),
    )
    await conn.execute(
        "INSERT INTO usage_ledger (guild_id, user_id, quota_key, entry, amount, job_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (guild_id, user_id, key, entry, ledger_amount, job_id, now),
    )


@on_postgres(pg.bump)
async def bump(
    conn: aiosqlite.Connection,
    guild_id: int,
    user_id: int,
    key: str,
    *,
    used: float = 0.0,
    reserved: float = 0.0,
) -> None:
    """Adjust a derived counter (a server's daily credits) without a ledger entry: the
    members' own entries already record each change."""
    cur = await conn.execute(
        "UPDATE quota_usage SET used = MAX(0, used + ?), reserved = MAX(0, reserved + ?)"
        " WHERE guild_id = ? AND quota_key = ? AND user_id = ?",
        (used, reserved, guild_id, key, user_id),
    )
    if cur.rowcount == 0:
        await conn.execute(
            "INSERT INTO quota_usage (guild_id, user_id, quota_key, used, reserved, bonus)"
            " VALUES (?, ?, ?, ?, ?, 0)",
            (guild_id, user_id, key, max(0.0, used), max(0.0, reserved)),
        )


@on_postgres(pg.reset_used)
async def reset_used(
    conn: aiosqlite.Connection,
    guild_id: int,
    user_id: int,
    key: str,
    now: float,
    *,
    clear_bonus: bool = True,
) -> Usage:
    """Zero ``used`` (and ``bonus`` unless told not to) for the period; reservations of active
    jobs stay. Returns the counters as they were."""
    current = await usage(conn, guild_id, user_id, key)
    await conn.execute(
        "UPDATE quota_usage SET used = 0, bonus = CASE WHEN ? THEN 0 ELSE bonus END"
        " WHERE guild_id = ? AND quota_key = ? AND user_id = ?",
        (clear_bonus, guild_id, key, user_id),
    )
    await conn.execute(
        "INSERT INTO usage_ledger (guild_id, user_id, quota_key, entry, amount, job_id, created_at)"
        " VALUES (?, ?, ?, 'reset', ?, NULL, ?)",
        (guild_id, user_id, key, -current.used, now),
    )
    return current


@on_postgres(pg.top)
async def top(
    conn: aiosqlite.Connection, guild_id: int, key: str, limit: int
) -> list[tuple[int, float]]:
    """Users with the highest use this period."""
    async with conn.execute(
        "SELECT user_id, used FROM quota_usage WHERE guild_id = ? AND quota_key = ? AND used > 0"
        " ORDER BY used DESC, user_id LIMIT ?",
        (guild_id, key, limit),
    ) as cur:
        return [(int(r[0]), float(r[1])) for r in await cur.fetchall()]
