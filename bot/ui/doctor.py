"""``runway-bot doctor``'s Discord check: the token over REST (no gateway) and the permissions
the bot needs in each guild's text channels. The rest of the report is bot/operator/doctor.py."""

from __future__ import annotations

import time
from collections.abc import Sequence

import aiohttp
import discord
import discord.http

from bot.config import Settings
from bot.operator.doctor import MAX_CHANNELS_NAMED, MAX_GUILDS, Check, Status, elapsed_ms

from .permissions import CLIP_PERMISSIONS, STATUS_PERMISSIONS, THREAD_PERMISSIONS, missing


def needed_permissions() -> tuple[str, ...]:
    """What the bot needs in a channel it serves: status, thread, clip and history."""
    names = (*STATUS_PERMISSIONS, *THREAD_PERMISSIONS, *CLIP_PERMISSIONS, "read_message_history")
    return tuple(dict.fromkeys(names))


def _name_list(items: Sequence[str], limit: int = MAX_CHANNELS_NAMED) -> str:
    shown = ", ".join(items[:limit])
    more = len(items) - limit
    return shown + (f" and {more} more" if more > 0 else "")


async def _guild_check(client: discord.Client, partial: discord.Guild, bot_id: int) -> Check:
    needed = needed_permissions()
    label = f"guild {partial.name!r} ({partial.id})"
    try:
        guild = await client.fetch_guild(partial.id, with_counts=False)  # with its roles
        member = await guild.fetch_member(bot_id)
        channels = await guild.fetch_channels()
    except discord.HTTPException as exc:
        return Check(
            "discord",
            Status.WARN,
            f"{label}: cannot look at it ({exc.status} {exc.text or ''}".rstrip() + ")",
        )
    texts = [c for c in channels if isinstance(c, discord.TextChannel)]
    texts.sort(key=lambda c: (c.position, c.id))
    if not texts:
        lacking = missing(member.guild_permissions, needed)
        if lacking:
            return Check(
                "discord",
                Status.WARN,
                f"{label}: no text channel; the bot's role lacks {', '.join(lacking)}",
            )
        return Check("discord", Status.WARN, f"{label}: no text channel to serve")
    by_missing: dict[tuple[str, ...], list[str]] = {}
    for channel in texts:
        gaps = tuple(missing(channel.permissions_for(member), needed))
        if gaps:
            by_missing.setdefault(gaps, []).append(f"#{channel.name}")
    if not by_missing:
        return Check(
            "discord",
            Status.OK,
            f"{label}: every needed permission in its {len(texts)} text channels",
        )
    parts = [
        f"{_name_list(names)} lack{'s' if len(names) == 1 else ''} {', '.join(gaps)}"
        for gaps, names in by_missing.items()
    ]
    count = sum(len(names) for names in by_missing.values())
    return Check(
        "discord",
        Status.WARN,
        f"{label}: {count} of {len(texts)} text channels miss permissions: " + "; ".join(parts),
    )


async def check_discord(settings: Settings) -> list[Check]:
    """Log in over REST (no gateway), then look at the permissions in the first guilds."""
    token = settings.discord.token
    if token is None:
        return [
            Check(
                "discord",
                Status.FAIL,
                "discord.token is not set (DISCORD_TOKEN, DISCORD_TOKEN_FILE or discord.token)",
            )
        ]
    base = discord.http.Route.BASE
    if settings.discord.api_base:
        discord.http.Route.BASE = settings.discord.api_base.rstrip("/")
    client = discord.Client(intents=discord.Intents.none())
    started = time.monotonic()
    try:
        try:
            await client.login(token.get_secret_value())
        except discord.LoginFailure:
            return [
                Check(
                    "discord",
                    Status.FAIL,
                    "the token was refused (401 Unauthorized): check DISCORD_TOKEN, "
                    "DISCORD_TOKEN_FILE or discord.token (the Developer Portal's Bot page)",
                    elapsed_ms(started),
                )
            ]
        except discord.HTTPException as exc:
            return [
                Check(
                    "discord",
                    Status.FAIL,
                    f"logging in failed: HTTP {exc.status} {exc.text}".rstrip(),
                    elapsed_ms(started),
                )
            ]
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return [
                Check(
                    "discord",
                    Status.FAIL,
                    f"cannot reach Discord at {discord.http.Route.BASE}: {type(exc).__name__}",
                    elapsed_ms(started),
                )
            ]
        latency = elapsed_ms(started)
        user = client.user
        assert user is not None
        checks = [
            Check(
                "discord",
                Status.OK,
                f"the token is accepted: logged in as {user} (user id {user.id}), application "
                f"id {client.application_id}, in {latency} ms",
                latency,
            )
        ]
        try:
            guilds = [g async for g in client.fetch_guilds(limit=MAX_GUILDS + 1)]
        except discord.HTTPException as exc:
            checks.append(
                Check("discord", Status.WARN, f"cannot list the guilds: HTTP {exc.status}")
            )
            return checks
        if not guilds:
            checks.append(
                Check(
                    "discord",
                    Status.WARN,
                    "the bot is in no guild: invite it with the bot and applications.commands "
                    "scopes",
                )
            )
        for partial in guilds[:MAX_GUILDS]:
            checks.append(await _guild_check(client, partial, user.id))
        if len(guilds) > MAX_GUILDS:
            checks.append(
                Check(
                    "discord",
                    Status.WARN,
                    f"the bot is in more than {MAX_GUILDS} guilds: only the first {MAX_GUILDS} "
                    "were checked",
                )
            )
        return checks
    finally:
        await client.close()
        discord.http.Route.BASE = base
