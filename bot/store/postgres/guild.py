"""Per-server settings, the channel allow-list and the quota audit log on PostgreSQL: the
operations of ``bot.store.guild_repo``."""

from __future__ import annotations

from collections.abc import Iterable

from ..records import AuditRow, SettingsRow
from .conn import PgConn


async def get_settings(conn: PgConn, guild_id: int) -> SettingsRow | None:
    """The server's row, or None when nothing was ever set."""
    row = await conn.fetchrow(
        "SELECT daily_budget, confirm_above, locale FROM guild_settings WHERE guild_id = $1",
        guild_id,
    )
    return None if row is None else SettingsRow(row[0], row[1], row[2])


async def daily_budget(conn: PgConn, guild_id: int) -> int | None:
    """The server's daily credit budget (None: no cap)."""
    value = await conn.fetchval(
        "SELECT daily_budget FROM guild_settings WHERE guild_id = $1", guild_id
    )
    return None if value is None else int(value)


async def put_settings(conn: PgConn, guild_id: int, row: SettingsRow, now: float) -> None:
    """Create or replace the server's settings row."""
    await conn.execute(
        "INSERT INTO guild_settings (guild_id, daily_budget, confirm_above, locale, updated_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (guild_id) DO UPDATE SET"
        " daily_budget = excluded.daily_budget, confirm_above = excluded.confirm_above,"
        " locale = excluded.locale, updated_at = excluded.updated_at",
        guild_id,
        row.daily_budget,
        row.confirm_above,
        row.locale,
        now,
    )


async def channels(conn: PgConn, guild_id: int) -> frozenset[int]:
    """The allowed channels (empty: all)."""
    rows = await conn.fetch("SELECT channel_id FROM guild_channels WHERE guild_id = $1", guild_id)
    return frozenset(int(r[0]) for r in rows)


async def add_channels(conn: PgConn, guild_id: int, channel_ids: Iterable[int], now: float) -> None:
    """Allow channels (already allowed ones are kept as they are)."""
    await conn.executemany(
        "INSERT INTO guild_channels (guild_id, channel_id, added_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (guild_id, channel_id) DO NOTHING",
        [(guild_id, c, now) for c in channel_ids],
    )


async def remove_channels(conn: PgConn, guild_id: int, channel_ids: Iterable[int]) -> None:
    """Take channels off the allow-list."""
    await conn.execute(
        "DELETE FROM guild_channels WHERE guild_id = $1 AND channel_id = ANY($2::bigint[])",
        guild_id,
        list(channel_ids),
    )


async def add_audit(
    conn: PgConn,
    guild_id: int,
    actor_id: int | None,
    action: str,
    *,
    subject_id: int | None,
    old_value: str | None,
    new_value: str | None,
    now: float,
) -> None:
    """Append one audit entry."""
    await conn.execute(
        "INSERT INTO quota_audit"
        " (guild_id, actor_id, action, subject_id, old_value, new_value, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        guild_id,
        actor_id,
        action,
        subject_id,
        old_value,
        new_value,
        now,
    )


async def audit(
    conn: PgConn,
    guild_id: int,
    *,
    limit: int,
    offset: int = 0,
    subject_id: int | None = None,
) -> list[AuditRow]:
    """The server's newest audit entries after skipping ``offset`` (only about ``subject_id``
    when given)."""
    rows = await conn.fetch(
        "SELECT id, guild_id, actor_id, action, subject_id, old_value, new_value, created_at"
        " FROM quota_audit WHERE guild_id = $1 AND ($2::bigint IS NULL OR subject_id = $2)"
        " ORDER BY id DESC LIMIT $3 OFFSET $4",
        guild_id,
        subject_id,
        limit,
        offset,
    )
    return [AuditRow(*(r[i] for i in range(8))) for r in rows]
