"""Quota limits, per-period counters and the usage ledger on PostgreSQL: the operations of
``bot.store.quota_repo``. Reading a counter locks it until the transaction ends, so a check
and the reservation written after it are atomic across processes (READ COMMITTED sees the
previous holder's commit once the lock is granted)."""

from __future__ import annotations

from collections.abc import Sequence

from ..records import LimitRow, Usage
from .conn import PgConn


async def limits_for(
    conn: PgConn, guild_id: int, user_id: int, role_ids: Sequence[int]
) -> list[LimitRow]:
    """The user override, the role limits of the given roles and the guild default."""
    rows = await conn.fetch(
        "SELECT scope, subject_id, mode, amount FROM quota_limits WHERE guild_id = $1 AND ("
        " (scope = 'user' AND subject_id = $2)"
        " OR (scope = 'role' AND subject_id = ANY($3::bigint[]))"
        " OR scope = 'guild')",
        guild_id,
        user_id,
        list(role_ids),
    )
    return [LimitRow(r[0], r[1], r[2], r[3]) for r in rows]


async def put_limit(
    conn: PgConn,
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
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (guild_id, scope, subject_id)"
        " DO UPDATE SET mode = excluded.mode, amount = excluded.amount,"
        " updated_at = excluded.updated_at",
        guild_id,
        scope,
        subject_id,
        mode,
        amount,
        now,
    )


async def get_limit(conn: PgConn, guild_id: int, scope: str, subject_id: int) -> LimitRow | None:
    """One stored limit, or None."""
    r = await conn.fetchrow(
        "SELECT scope, subject_id, mode, amount FROM quota_limits"
        " WHERE guild_id = $1 AND scope = $2 AND subject_id = $3",
        guild_id,
        scope,
        subject_id,
    )
    return None if r is None else LimitRow(r[0], r[1], r[2], r[3])


async def guild_limits(conn: PgConn, guild_id: int) -> list[LimitRow]:
    """Every limit stored for a guild: the default, role limits, user overrides."""
    rows = await conn.fetch(
        "SELECT scope, subject_id, mode, amount FROM quota_limits WHERE guild_id = $1"
        " ORDER BY scope, subject_id",
        guild_id,
    )
    return [LimitRow(r[0], r[1], r[2], r[3]) for r in rows]


async def delete_limit(conn: PgConn, guild_id: int, scope: str, subject_id: int) -> None:
    """Remove one limit (no error when absent)."""
    await conn.execute(
        "DELETE FROM quota_limits WHERE guild_id = $1 AND scope = $2 AND subject_id = $3",
        guild_id,
        scope,
        subject_id,
    )


async def usage(conn: PgConn, guild_id: int, user_id: int, key: str) -> Usage:
    """The counters (zero when the row does not exist yet); locked until the transaction ends."""
    await conn.lock(f"runway-bot:quota:{guild_id}:{user_id}:{key}")
    row = await conn.fetchrow(
        "SELECT used, reserved, bonus FROM quota_usage"
        " WHERE guild_id = $1 AND quota_key = $2 AND user_id = $3",
        guild_id,
        key,
        user_id,
    )
    return Usage() if row is None else Usage(row[0], row[1], row[2])


async def add(
    conn: PgConn,
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
        "INSERT INTO quota_usage AS q (guild_id, user_id, quota_key, used, reserved, bonus)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (guild_id, quota_key, user_id) DO UPDATE"
        " SET used = GREATEST(0, q.used + excluded.used),"
        " reserved = GREATEST(0, q.reserved + excluded.reserved), bonus = q.bonus + excluded.bonus",
        guild_id,
        user_id,
        key,
        float(used),
        float(reserved),
        float(bonus),
    )
    await conn.execute(
        "INSERT INTO usage_ledger (guild_id, user_id, quota_key, entry, amount, job_id, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        guild_id,
        user_id,
        key,
        entry,
        float(ledger_amount),
        job_id,
        now,
    )


async def bump(
    conn: PgConn,
    guild_id: int,
    user_id: int,
    key: str,
    *,
    used: float = 0.0,
    reserved: float = 0.0,
) -> None:
    """Adjust a derived counter (a server's daily credits) without a ledger entry."""
    await conn.execute(
        "INSERT INTO quota_usage AS q (guild_id, user_id, quota_key, used, reserved, bonus)"
        " VALUES ($1, $2, $3, GREATEST(0, $4::float8), GREATEST(0, $5::float8), 0)"
        " ON CONFLICT (guild_id, quota_key, user_id) DO UPDATE"
        " SET used = GREATEST(0, q.used + $4::float8),"
        " reserved = GREATEST(0, q.reserved + $5::float8)",
        guild_id,
        user_id,
        key,
        float(used),
        float(reserved),
    )


async def reset_used(
    conn: PgConn,
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
        "UPDATE quota_usage SET used = 0, bonus = CASE WHEN $1 THEN 0 ELSE bonus END"
        " WHERE guild_id = $2 AND quota_key = $3 AND user_id = $4",
        clear_bonus,
        guild_id,
        key,
        user_id,
    )
    await conn.execute(
        "INSERT INTO usage_ledger (guild_id, user_id, quota_key, entry, amount, job_id, created_at)"
        " VALUES ($1, $2, $3, 'reset', $4, NULL, $5)",
        guild_id,
        user_id,
        key,
        -current.used,
        now,
    )
    return current


async def top(conn: PgConn, guild_id: int, key: str, limit: int) -> list[tuple[int, float]]:
    """Users with the highest use this period."""
    rows = await conn.fetch(
        "SELECT user_id, used FROM quota_usage WHERE guild_id = $1 AND quota_key = $2"
        " AND used > 0 ORDER BY used DESC, user_id LIMIT $3",
        guild_id,
        key,
        limit,
    )
    return [(int(r[0]), float(r[1])) for r in rows]
