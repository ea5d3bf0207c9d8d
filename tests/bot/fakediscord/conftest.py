"""Fixtures: a running fake, its control client, a seeded guild, and a real discord.py bot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import discord.gateway
import discord.http
import pytest
from discord.ext import commands

from bot.app import apply_discord_overrides
from bot.config import DiscordSettings
from bot.fakediscord import FakeDiscord, FakeDiscordClient


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
    # Every test fails on a REST body Discord would reject or a route the fake lacks;
    # tests that provoke them on purpose clear the logs.
    assert server.invalid == [], server.invalid
    assert server.errors == [], server.errors


@pytest.fixture
async def ctl(fake: FakeDiscord) -> AsyncIterator[FakeDiscordClient]:
    async with FakeDiscordClient(fake.base_url) as client:
        yield client


@dataclass
class Seed:
    guild_id: int
    channel_id: int
    user_id: int
    owner_id: int


@pytest.fixture
async def seed(ctl: FakeDiscordClient) -> Seed:
    user = await ctl.create_user("alice")
    guild = await ctl.create_guild("Test Guild")
    await ctl.add_member(int(guild["id"]), int(user["id"]))
    channel = await ctl.create_channel(int(guild["id"]), "general")
    return Seed(int(guild["id"]), int(channel["id"]), int(user["id"]), int(guild["owner_id"]))


@contextlib.asynccontextmanager
async def running(bot: commands.Bot, fake: FakeDiscord) -> AsyncIterator[commands.Bot]:
    """Start `bot` against `fake`; yield once it is READY; close it afterwards."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    apply_discord_overrides(DiscordSettings(api_base=fake.api_base, gateway_url=fake.gateway_url))
    ready = asyncio.Event()
    bot.add_listener(_set_on_ready(ready), "on_ready")
    task = asyncio.create_task(bot.start(fake.token))
    try:
        async with asyncio.timeout(10):
            waiter = asyncio.create_task(ready.wait())
            done, _ = await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                waiter.cancel()
                task.result()
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


def _set_on_ready(event: asyncio.Event):  # type: ignore[no-untyped-def]
    async def on_ready() -> None:
        event.set()

    return on_ready
