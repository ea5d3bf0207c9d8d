"""Turning application-command errors into short, safe answers (and log lines)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord
from discord import app_commands

from bot.domain import JobError

from .context import ServicesUnavailable

log = logging.getLogger("bot.errors")


class NotAdmin(app_commands.CheckFailure):
    """The user lacks Manage Server (and is not a configured owner)."""

    def __init__(
        self, message: str = "You need the **Manage Server** permission for this."
    ) -> None:
        super().__init__(message)
        self.message = message


class NotOwner(app_commands.CheckFailure):
    """The user is not one of the bot's configured owners."""

    def __init__(self, message: str = "Only the bot's owners can use this command.") -> None:
        super().__init__(message)
        self.message = message


def user_message(error: app_commands.AppCommandError) -> str | None:
    """The answer for an expected error, or None for a bug (logged, answered generically)."""
    if isinstance(error, NotAdmin | NotOwner):
        return error.message
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.TransformerError):
        return "One of the values you gave is not valid for this command."
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use this command here."
    original = getattr(error, "original", None)
    if isinstance(original, JobError):
        return original.message
    if isinstance(original, ServicesUnavailable):
        return "The bot is still starting up. Please try again in a moment."
    return None


async def handle_app_command_error(
    interaction: discord.Interaction[Any], error: app_commands.AppCommandError
) -> None:
    """Log the error (with the command and job id) and answer without leaking internals."""
    text = user_message(error)
    command = interaction.command.qualified_name if interaction.command else "?"
    job_id = interaction.extras.get("job_id")
    if text is None:
        reference = secrets.token_hex(3)
        log.error(
            "command /%s failed (job %s, user %s, ref %s)",
            command,
            job_id,
            interaction.user.id,
            reference,
            exc_info=getattr(error, "original", error),
        )
        text = (
            "Something went wrong on my side and this request did not finish. "
            f"It was logged (reference `{reference}`)."
        )
    else:
        log.info("command /%s refused for user %s: %s", command, interaction.user.id, text)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(
                text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
        else:
            await interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
    except discord.HTTPException as exc:
        log.warning("could not answer /%s after an error: %s", command, exc)
