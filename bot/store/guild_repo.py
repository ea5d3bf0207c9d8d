"""SQL for per-server settings, the channel allow-list and the quota audit log."""

from __future__ import annotations

from collections.abc import Iterable

import aiosqlite

from .backend import on_postgres
from .postgres import guild as pg
from .records import AuditRow as AuditRow
from .records import SettingsRow as SettingsRow


@on_postgres(pg.get_settings)
async def get_settings(conn: aiosqlite.Connection, guild_id: int) -> SettingsRow | None:
    """The server's row, or None when nothing was ever set."""
    async with conn.execute(
        "SELECT daily_budget, confirm_above, locale FROM guild_settings WHERE guild_id = ?",
        (guild_id,),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else SettingsRow(row[0], row[1], row[2])


@on_postgres(pg.daily_budget)
async def daily_budget(conn: aiosqlite.Connection, guild_id: int) -> int | None:
    """The server's daily credit budget (None: no cap)."""
    async with conn.execute(
        "SELECT daily_budget FROM guild_settings WHERE guild_id = ?", (guild_id,)
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else row[0]


@on_postgres(pg.put_settings)
async def put_settings(
    conn: aiosqlite.Connection, guild_id: int, row: SettingsRow, now: float
) -> None:
    """Create or replace the server's settings row."""
    await conn.execute(
        "INSERT INTO guild_settings (guild_id, daily_budget, confirm_above, locale, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET"
        " daily_budget = excluded.daily_budget, confirm_above = excluded.confirm_above,"
        " locale = excluded.locale, updated_at = excluded.updated_at",
        (guild_id, row.daily_budget, row.confirm_above, row.locale, now),
    )


@on_postgres(pg.channels)
async def channels(conn: aiosqlite.Connection, guild_id: int) -> frozenset[int]:
    """The allowed channels (empty: all)."""
    async with conn.execute(
        "SELECT channel_id FROM guild_channels WHERE guild_id = ?", (guild_id,)
    ) as cur:
        return frozenset(int(r[0]) for r in await cur.fetchall())


@on_postgres(pg.add_channels)
async def add_channels(
    conn: aiosqlite.Connection, guild_id: int, channel_ids: Iterable[int], now: float
) -> None:
    """Allow channels (already allowed ones are kept as they are)."""
    await conn.executemany(
        "INSERT INTO guild_channels (guild_id, channel_id, added_at) VALUES (?, ?, ?)"
        " ON CONFLICT (guild_id, channel_id) DO NOTHING",
        [(guild_id, c, now) for c in channel_ids],
    )


@on_postgres(pg.remove_channels)
async def remove_channels(
    conn: aiosqlite.Connection, guild_id: int, channel_ids: Iterable[int]
) -> None:
    """Take channels off the allow-list."""
    await conn.executemany(
        "DELETE FROM guild_channels WHERE guild_id = ? AND channel_id = ?",
        [(guild_id, c) for c in channel_ids],
    )


@on_postgres(pg.add_audit)
async def add_audit(
    conn: aiosqlite.Connection,
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
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (guild_id, actor_id, action, subject_id, old_value, new_value, now),
    )


@on_postgres(pg.audit)
async def audit(
    conn: aiosqlite.Connection,
    guild_id: int,
    *,
    limit: int,
    offset: int = 0,
    subject_id: int | None = None,
) -> list[AuditRow]:
    """The server's newest audit entries after skipping ``offset`` (only about ``subject_id``
    when given)."""
    sql = (
        "SELECT id, guild_id, actor_id, action, subject_id, old_value, new_value, created_at"
        " FROM quota_audit WHERE guild_id = ?"
    )
    params: list[object] = [guild_id]
    if subject_id is not None:
        sql += " AND subject_id = ?"
        params.append(subject_id)
    sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
    params += [limit, offset]
    async with conn.execute(sql, params) as cur:
        return [AuditRow(*r) for r in await cur.fetchall()]
