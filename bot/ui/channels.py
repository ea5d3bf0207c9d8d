"""The channel allow-list at the door: commands used outside a server's allowed channels get
an ephemeral refusal naming the channels to use. Admin and help commands work everywhere, so
an admin can always fix the list."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.guild_settings import GuildSettingsService

from .context import ServicesUnavailable, services_of
from .errors import answer
from .translator import tr

log = logging.getLogger(__name__)

# Command groups that work in every channel (admins must be able to change the list).
EVERYWHERE = frozenset({"quota", "runway", "help"})
NAMED = 10  # channels named in a refusal; the rest are counted


def root_name(interaction: discord.Interaction[Any]) -> str | None:
    """The top-level name of the command being used (None: not a command)."""
    command = interaction.command
    if command is None:
        return None
    parent = getattr(command, "root_parent", None)
    return str((parent or command).name)


def settings_service(client: discord.Client) -> GuildSettingsService:
    """The bot's guild settings service (it lives beside the quotas it budgets)."""
    return services_of(client).quota.guilds


async def channel_gate(interaction: discord.Interaction[Any]) -> bool:
    """True when the command may run here; otherwise answers with the allowed channels."""
    if (
        interaction.guild_id is None
        or interaction.type is not discord.InteractionType.application_command
    ):
        return True
    if root_name(interaction) in EVERYWHERE:
        return True
    try:
        settings = await settings_service(interaction.client).get(interaction.guild_id)
    except ServicesUnavailable:
        return True  # the command answers "still starting" itself
    parent_id = getattr(interaction.channel, "parent_id", None)
    if settings.channel_allowed(interaction.channel_id, parent_id):
        return True
    allowed = sorted(settings.allowed_channels)
    names = " ".join(f"<#{c}>" for c in allowed[:NAMED])
    if len(allowed) > NAMED:
        names += " " + tr(interaction, "list.more", count=len(allowed) - NAMED)
    log.info(
        "command /%s refused in channel %s of guild %s (not allowed)",
        root_name(interaction),
        interaction.channel_id,
        interaction.guild_id,
    )
    await answer(interaction, tr(interaction, "channels.refused", channels=names))
    return False
