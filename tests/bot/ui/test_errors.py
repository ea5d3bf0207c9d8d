"""The one error handler: expected errors get their message, bugs a reference, never internals."""

from __future__ import annotations

import logging
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.domain import JobError, JobNotFound, NotAllowed, QuotaExceeded, UserError
from bot.media import ClipTooLarge, MediaError, UnsupportedMedia
from bot.ports import DeliveryFailed
from bot.runway.errors import RunwayError
from bot.ui.context import ServicesUnavailable
from bot.ui.errors import NotAdmin, NotOwner, handle_app_command_error, user_message
from bot.ui.posting import PostFailed
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


@pytest.mark.parametrize(
    "error",
    [
        JobError("Seed must be between 0 and 9."),
        QuotaExceeded("Over quota.", status=None, needed=5.0),
        JobNotFound(),
        NotAllowed("Not yours."),
        MediaError("That file is damaged."),
        UnsupportedMedia("Not an image."),
        ClipTooLarge("Too big.", achieved_bytes=None, max_bytes=10),
        PostFailed("I cannot post here."),
        NotAdmin(),
        NotOwner(),
    ],
)
def test_user_safe_errors_share_one_base(error: UserError) -> None:
    assert isinstance(error, UserError)
    assert error.message == str(error) and error.message


def test_subclasses_keep_their_own_fields() -> None:
    quota = QuotaExceeded("Over.", status=None, needed=5.0, scope="bot")
    assert (quota.code, quota.needed, quota.scope) == ("quota", 5.0, "bot")
    assert JobNotFound().code == "not_found" and NotAllowed("x").code == "forbidden"
    clip = ClipTooLarge("Too big.", achieved_bytes=12, max_bytes=10)
    assert (clip.code, clip.achieved_bytes, clip.max_bytes) == ("clip_too_large", 12, 10)
    assert UnsupportedMedia("x").code == "unsupported"
    owner = NotOwner("Owners only.")
    assert isinstance(owner, app_commands.CheckFailure) and owner.message == "Owners only."
    assert user_message(owner) == "Owners only."


def test_operator_text_is_not_a_user_error() -> None:
    assert not issubclass(RunwayError, UserError)
    assert not issubclass(DeliveryFailed, UserError)


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
