"""Turning application-command errors into short, safe answers (and log lines)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable
from typing import Any

import discord
from discord import app_commands

from bot.domain import JobError, UserError
from bot.i18n import t

from .context import ServicesUnavailable

log = logging.getLogger("bot.errors")


class NotAdmin(app_commands.CheckFailure, UserError):
    """The user lacks Manage Server (and is not a configured owner)."""

    def __init__(self, message: str | None = None) -> None:
        key = "errors.not_admin" if message is None else None
        super().__init__(message or t("errors.not_admin", None), key=key)


class NotOwner(app_commands.CheckFailure, UserError):
    """The user is not one of the bot's configured owners."""

    def __init__(self, message: str | None = None) -> None:
        key = "errors.not_owner" if message is None else None
        super().__init__(message or t("errors.not_owner", None), key=key)


def user_message(error: app_commands.AppCommandError, locale: object = None) -> str | None:
    """The answer for an expected error in ``locale`` (the member's Discord locale), or None
    for a bug (logged, answered generically)."""
    if isinstance(error, UserError):  # NotAdmin, NotOwner
        return error.text(locale)
    if isinstance(error, app_commands.NoPrivateMessage):
        return t("errors.guild_only", locale)
    if isinstance(error, app_commands.CommandOnCooldown):
        return t("errors.cooldown", locale, seconds=f"{error.retry_after:.0f}")
    if isinstance(error, app_commands.TransformerError):
        return t("errors.bad_value", locale)
    if isinstance(error, app_commands.CheckFailure):
        return t("errors.not_here", locale)
    original = getattr(error, "original", None)
    if isinstance(original, JobError):
        return original.text(locale)
    if isinstance(original, ServicesUnavailable):
        return t("errors.starting", locale)
    return None


async def answer(
    interaction: discord.Interaction[Any],
    text: str | None = None,
    *,
    embed: discord.Embed | None = None,
) -> None:
    """An ephemeral answer that mentions nobody, whether or not the interaction was acknowledged."""
    extra: dict[str, Any] = {"embed": embed} if embed is not None else {}
    mentions = discord.AllowedMentions.none()
    try:
        if interaction.response.is_done():
            await interaction.followup.send(
                text or "", ephemeral=True, allowed_mentions=mentions, **extra
            )
        else:
            await interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=mentions, **extra
            )
    except discord.HTTPException as exc:
        log.warning("could not answer an interaction: %s", exc)


async def report_unexpected(
    interaction: discord.Interaction[Any], error: BaseException, *, what: str
) -> None:
    """Log a bug with the job id and a short reference; tell the user only the reference."""
    reference = secrets.token_hex(3)
    log.error(
        "%s failed (job %s, user %s, ref %s)",
        what,
        interaction.extras.get("job_id"),
        interaction.user.id,
        reference,
        exc_info=error,
    )
    await answer(interaction, t("errors.unexpected", interaction.locale, reference=reference))


async def handle_app_command_error(
    interaction: discord.Interaction[Any], error: app_commands.AppCommandError
) -> None:
    """Log the error (with the command and job id) and answer without leaking internals."""
    command = interaction.command.qualified_name if interaction.command else "?"
    text = user_message(error, interaction.locale)
    if text is None:
        await report_unexpected(
            interaction, getattr(error, "original", error), what=f"command /{command}"
        )
        return
    log.info("command /%s refused for user %s: %s", command, interaction.user.id, text)
    await answer(interaction, text)


async def guarded(interaction: discord.Interaction[Any], what: str, action: Awaitable[Any]) -> None:
    """Run a button or modal action; errors are answered like command errors."""
    try:
        await action
    except ServicesUnavailable:
        await answer(interaction, t("errors.starting", interaction.locale))
    except Exception as exc:
        await report_unexpected(interaction, exc, what=what)
