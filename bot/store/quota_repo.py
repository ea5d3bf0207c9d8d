"""SQL for quota limits, per-period counters and the usage ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

BOT_GUILD = -1  # quota_usage row holding the bot-wide daily credit counter
BOT_USER = 0


@dataclass(frozen=True, slots=True)
class LimitRow:
    """One stored limit: ``mode`` is limit, unlimited or blocked."""

    scope: str
    subject_id: int
    mode: str
    amount: int | None


@dataclass(frozen=True, slots=True)
class Usage:
    """Counters for one user, guild and period."""

    used: float = 0.0
    reserved: float = 0.0
    bonus: float = 0.0


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


async def delete_limit(
    conn: aiosqlite.Connection, guild_id: int, scope: str, subject_id: int
) -> None:
    """Remove one limit (no error when absent)."""
    await conn.execute(
        "DELETE FROM quota_limits WHERE guild_id = ? AND scope = ? AND subject_id = ?",
        (guild_id, scope, subject_id),
    )


async def usage(conn: aiosqlite.Connection, guild_id: int, user_id: int, key: str) -> Usage:
    """The counters (zero when the row does not exist yet)."""
    async with conn.execute(
        "SELECT used, reserved, bonus FROM quota_usage"
        " WHERE guild_id = ? AND quota_key = ? AND user_id = ?",
        (guild_id, key, user_id),
    ) as cur:
        row = await cur.fetchone()
    return Usage() if row is None else Usage(row[0], row[1], row[2])


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


async def reset_used(
    conn: aiosqlite.Connection, guild_id: int, user_id: int, key: str, now: float
) -> None:
    """Zero ``used`` and ``bonus`` for the period (reservations of active jobs stay)."""
    current = await usage(conn, guild_id, user_id, key)
    await conn.execute(
        "UPDATE quota_usage SET used = 0, bonus = 0"
        " WHERE guild_id = ? AND quota_key = ? AND user_id = ?",
        (guild_id, key, user_id),
    )
    await conn.execute(
        "INSERT INTO usage_ledger (guild_id, user_id, quota_key, entry, amount, job_id, created_at)"
        " VALUES (?, ?, ?, 'reset', ?, NULL, ?)",
        (guild_id, user_id, key, -current.used, now),
    )


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
