"""The launcher points discord.py at the fake before handing over to the bot's CLI."""

from __future__ import annotations

import discord.gateway
import discord.http
import pytest

from bot.fakediscord import launch


def test_launch_points_discord_py_then_runs_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        code = launch.main(
            ["--fake", "http://127.0.0.1:9/", "--", "check-config", "--config", "/nonexistent.toml"]
        )
        assert code != 0
        assert "/nonexistent.toml" in capsys.readouterr().err  # the CLI ran and reported it
        assert discord.http.Route.BASE == "http://127.0.0.1:9/api/v10"
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:9/gateway"
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
