"""A faithful fake of the parts of Discord the bot uses (REST, gateway, CDN), for tests and the
playground. It imports neither discord nor the rest of the bot; point discord.py at it with the
bot's own ``[discord] api_base`` / ``gateway_url`` settings (``bot.app.apply_discord_overrides``).
"""

from bot.fakediscord.client import FakeDiscordClient
from bot.fakediscord.server import FakeDiscord

__all__ = ["FakeDiscord", "FakeDiscordClient"]
