"""The channel allow-list at the door: refusals name the allowed channels; admin commands,
threads of allowed channels, DMs and autocomplete pass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.ui.channels import channel_gate
from cogs.quota_admin import QuotaAdminCog
from tests.cogs.conftest import Harness, make_harness
from tests.discord_doubles import make_dm_channel, make_text_channel, make_thread


async def _animate(interaction: discord.Interaction[Any]) -> None:
    return None


ANIMATE = app_commands.Command(name="animate", description="Animate.", callback=_animate)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await make_harness(tmp_path)
    try:
        yield h
    finally:
        await h.store.close()


def used(harness: Harness, channel: Any, command: Any = ANIMATE, **kwargs: Any) -> tuple[Any, Any]:
    interaction, log = harness.interaction(channel=channel, **kwargs)
    interaction.type = discord.InteractionType.application_command
    interaction.command = command
    return interaction, log


async def test_every_channel_is_allowed_until_a_list_exists(harness: Harness) -> None:
    interaction, log = used(harness, harness.channel)
    assert await channel_gate(interaction)
    assert not log.messages


async def test_a_command_elsewhere_is_refused_naming_the_channels(harness: Harness) -> None:
    allowed = make_text_channel(guild_id=harness.guild_id)
    await harness.quota.guilds.allow_channels(harness.guild_id, 1, [allowed.id])
    interaction, log = used(harness, harness.channel)
    assert not await channel_gate(interaction)
    assert log.last == (
        "The bot is not used in this channel here. Please use one of these: " + allowed.mention
    )
    assert log.messages[0][1]["ephemeral"] is True
    ok, log = used(harness, allowed)
    assert await channel_gate(ok) and not log.messages
    thread = make_thread(parent=allowed)
    thread.parent_id = allowed.id
    in_thread, _ = used(harness, thread)
    assert await channel_gate(in_thread)


async def test_the_refusal_is_in_the_members_language(harness: Harness) -> None:
    await harness.quota.guilds.allow_channels(harness.guild_id, 1, [123])
    interaction, log = used(harness, harness.channel)
    interaction.locale = discord.Locale.japanese
    assert not await channel_gate(interaction)
    assert (
        log.last.startswith("このサーバーでは、このチャンネルでボットを使えません")
        and "<#123>" in log.last
    )


async def test_admin_commands_dms_and_autocomplete_pass(harness: Harness) -> None:
    await harness.quota.guilds.allow_channels(harness.guild_id, 1, [123])
    quota_set = QuotaAdminCog(harness.bot).app_command.get_command("set")
    admin, log = used(harness, harness.channel, quota_set)
    assert await channel_gate(admin) and not log.messages
    dm, _ = used(harness, make_dm_channel(), guild_id=None)
    assert await channel_gate(dm)
    typing, log = used(harness, harness.channel)
    typing.type = discord.InteractionType.autocomplete
    assert await channel_gate(typing) and not log.messages


async def test_a_long_list_is_named_in_part(harness: Harness) -> None:
    await harness.quota.guilds.allow_channels(harness.guild_id, 1, range(1, 14))
    interaction, log = used(harness, harness.channel)
    assert not await channel_gate(interaction)
    assert "<#10>" in log.last and "<#11>" not in log.last and "and 3 more" in log.last
