"""A playground points discord.py (process-wide) at its fake Discord: put it back afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import discord.gateway
import discord.http
import pytest


@pytest.fixture(autouse=True)
def _restore_discord_py_urls() -> Iterator[None]:
    base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
