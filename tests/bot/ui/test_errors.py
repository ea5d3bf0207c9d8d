"""The one error handler: expected errors get their message, bugs a reference, never internals."""

from __future__ import annotations

import logging
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.domain import JobError
from bot.ui.context import ServicesUnavailable
from bot.ui.errors import NotAdmin, handle_app_command_error, user_message
from tests.discord_doubles import make_interaction


async def _noop(interaction: discord.Interaction) -> None:
    """A command body."""


COMMAND: app_commands.Command[Any, Any, None] = app_commands.Command(
    name="animate", description="d", callback=_noop
)


def invoke_error(original: Exception) -> app_commands.CommandInvokeError:
    return app_commands.CommandInvokeError(COMMAND, original)


def test_expected_errors_have_specific_messages() -> None:
    assert "Manage Server" in (user_message(NotAdmin()) or "")
    assert "server" in (user_message(app_commands.NoPrivateMessage()) or "")
    assert user_message(invoke_error(JobError("Seed must be between 0 and 9."))) == (
        "Seed must be between 0 and 9."
    )
    assert "starting up" in (user_message(invoke_error(ServicesUnavailable("x"))) or "")
    assert user_message(invoke_error(RuntimeError("secret path /etc/x"))) is None


async def test_a_bug_is_logged_with_the_job_id_and_answered_generically(
    caplog: pytest.LogCaptureFixture,
) -> None:
    interaction, log = make_interaction(None, guild_id=1)
    interaction.extras["job_id"] = 55
    interaction.command = COMMAND
    caplog.set_level(logging.ERROR, logger="bot.errors")

    await handle_app_command_error(interaction, invoke_error(RuntimeError("db path /srv/x")))

    assert "/srv/x" not in log.last
    assert "reference" in log.last
    record = caplog.records[-1]
    assert "job 55" in record.getMessage()
    assert "/animate" in record.getMessage()
    reference = record.getMessage().split("ref ")[1].rstrip(")")
    assert reference in log.last


async def test_answers_with_a_follow_up_after_defer() -> None:
    interaction, log = make_interaction(None, guild_id=1)
    await interaction.response.defer(ephemeral=True)
    await handle_app_command_error(interaction, NotAdmin())
    assert "Manage Server" in log.last
    interaction.followup.send.assert_awaited_once()
