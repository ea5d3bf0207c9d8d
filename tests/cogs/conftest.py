"""A real job engine (SQLite in tmp_path) behind a real RunwayBot, driven through doubles."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
from PIL import Image

from bot.app import RunwayBot
from bot.catalog import default_catalog
from bot.config import DiscordSettings, QuotaSettings, Settings
from bot.jobs import JobService
from bot.quota import QuotaService
from bot.store.db import Store
from bot.ui.context import Services
from tests.discord_doubles import make_interaction, make_member, make_text_channel, next_id

OWNER_ID = 42


def png_bytes(width: int = 1280, height: int = 720) -> bytes:
    """A real PNG made with Pillow."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class Harness:
    """Settings, store, services and a bot, plus one guild text channel."""

    settings: Settings
    store: Store
    quota: QuotaService
    jobs: JobService
    bot: RunwayBot
    guild_id: int
    channel: Any

    def interaction(self, **kwargs: Any) -> tuple[Any, Any]:
        """An interaction in the harness channel (override anything make_interaction takes)."""
        kwargs.setdefault("guild_id", self.guild_id)
        kwargs.setdefault("channel", self.channel)
        return make_interaction(self.bot, **kwargs)


def build_settings(**discord_fields: Any) -> Settings:
    return Settings(
        models=default_catalog(),
        quota=QuotaSettings(default_limit=100, max_active_jobs_per_user=3),
        discord=DiscordSettings(owner_ids=(OWNER_ID,), **discord_fields),
    )


async def make_harness(tmp_path: Path, **discord_fields: Any) -> Harness:
    settings = build_settings(**discord_fields)
    store = await Store.open(tmp_path / "bot.sqlite3")
    quota = QuotaService(store, settings.quota, settings.models)
    jobs = JobService(settings, store, quota)
    bot = RunwayBot(settings, mode="sync")
    bot.services = Services(settings=settings, jobs=jobs, quota=quota)
    guild_id = next_id()
    channel = make_text_channel(guild_id=guild_id)
    return Harness(settings, store, quota, jobs, bot, guild_id, channel)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await make_harness(tmp_path)
    try:
        yield h
    finally:
        await h.store.close()


@pytest.fixture
def member() -> Any:
    return make_member()


ADMIN_PERMISSIONS = discord.Permissions(manage_guild=True)
