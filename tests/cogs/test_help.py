"""/help (commands, models and prices, the member's quota) and the welcome on joining."""

from __future__ import annotations

from typing import Any
from unittest.mock import MagicMock

import discord

from bot.i18n import t
from cogs.help import HelpCog, model_line
from tests.cogs.conftest import OWNER_ID, Harness
from tests.discord_doubles import forbidden, make_member, make_text_channel


def fields(embed: discord.Embed) -> dict[str, str]:
    return {f.name or "": f.value or "" for f in embed.fields}


async def test_help_lists_commands_models_prices_and_my_quota(harness: Harness) -> None:
    user = make_member()
    await harness.quota.set_user_limit(harness.guild_id, user.id, 60)
    interaction, log = harness.interaction(user=user)
    await HelpCog.help.callback(HelpCog(harness.bot), interaction)
    assert log.deferred
    (embed,) = log.embeds()
    text = embed.description or ""
    for command in ("/animate", "/restyle", "Animate this image", "/jobs", "/cancel", "/usage"):
        assert f"**{command}**" in text
    assert "**Vary** (new seed)" in text
    f = fields(embed)
    assert "• Gen-4 Turbo: 5 credits/s, 2–10 s" in f["Image to video (/animate)"]
    assert "• Veo 3.1: 20 credits/s (40 with audio), 4, 6 or 8 s" in f["Image to video (/animate)"]
    assert "gen4_turbo" not in f["Image to video (/animate)"]  # labels, not ids
    assert "billed for at most 5 s of input" in f["Video to video (/restyle)"]
    assert f["Your quota here"].startswith("**60** credits left of 60 today (used 0).")
    assert "Confirmations" not in f


async def test_help_names_the_confirmation_threshold(harness: Harness) -> None:
    await harness.quota.guilds.update(harness.guild_id, OWNER_ID, confirm_above=40)
    interaction, log = harness.interaction()
    await HelpCog.help.callback(HelpCog(harness.bot), interaction)
    (embed,) = log.embeds()
    assert fields(embed)["Confirmations"] == (
        "Jobs estimated above 40 credits ask you to confirm first."
    )


async def test_help_in_dms_has_no_quota(harness: Harness) -> None:
    interaction, log = harness.interaction(guild_id=None)
    await HelpCog.help.callback(HelpCog(harness.bot), interaction)
    (embed,) = log.embeds()
    assert "Your quota here" not in fields(embed)


def test_model_line_with_audio() -> None:
    spec = MagicMock()
    spec.display_name, spec.credits_per_second = "Veo", 40.0
    spec.supports_audio, spec.audio_credits_per_second = True, 60.0
    spec.durations, spec.billed_input_seconds = (8,), None
    assert model_line(spec) == "Veo: 40 credits/s (60 with audio), 8 s"


def guild_with(channel: Any, locale: str = "en-US") -> Any:
    guild = MagicMock(spec_set=discord.Guild)
    guild.id = 5
    guild.system_channel = channel
    guild.preferred_locale = discord.Locale(locale)
    return guild


async def test_welcome_goes_to_the_system_channel(harness: Harness) -> None:
    channel = make_text_channel()
    await HelpCog(harness.bot).on_guild_join(guild_with(channel))
    ((args, kwargs, _),) = channel.sent
    assert args[0] == t("help.welcome", "en") and "`/help`" in args[0]
    assert kwargs["allowed_mentions"].to_dict()["parse"] == []


async def test_the_welcome_speaks_the_servers_language(harness: Harness) -> None:
    channel = make_text_channel()
    await HelpCog(harness.bot).on_guild_join(guild_with(channel, "ja"))
    ((args, _, _),) = channel.sent
    assert args[0] == t("help.welcome", "ja") != t("help.welcome", "en")


async def test_help_in_the_members_language(harness: Harness) -> None:
    interaction, log = harness.interaction()
    interaction.locale = discord.Locale("es-ES")
    await HelpCog.help.callback(HelpCog(harness.bot), interaction)
    (embed,) = log.embeds()
    assert embed.title == "Cómo usar el bot de Runway"
    assert "Gen-4 Turbo: 5 créditos/s, 2–10 s" in fields(embed)["De imagen a vídeo (/animate)"]


async def test_no_welcome_without_a_system_channel_or_permission(harness: Harness) -> None:
    cog = HelpCog(harness.bot)
    await cog.on_guild_join(guild_with(None))  # nothing to post in, nothing raised
    muted = make_text_channel(bot_permissions=discord.Permissions(view_channel=True))
    await cog.on_guild_join(guild_with(muted))
    assert muted.sent == []
    refusing = make_text_channel()
    refusing.send.side_effect = forbidden()
    await cog.on_guild_join(guild_with(refusing))  # logged, not raised
