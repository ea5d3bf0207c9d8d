"""A faithful fake of the parts of Discord the bot uses (REST, gateway, CDN), for tests."""

from bot.fakediscord.client import FakeDiscordClient, point_discord_py_at
from bot.fakediscord.server import FakeDiscord

__all__ = ["FakeDiscord", "FakeDiscordClient", "point_discord_py_at"]
