"""/help (what each command does, this server's models and prices, the member's quota) and a
short welcome in the system channel when the bot joins a server."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import Endpoint, ModelSpec
from bot.config import Settings
from bot.domain import QuotaStatus
from bot.i18n import t
from bot.ui.context import services_of
from bot.ui.embeds import COLOR_QUEUED
from bot.ui.errors import answer
from bot.ui.permissions import role_ids
from bot.ui.text import amount, timestamp
from bot.ui.translator import member_locale, public_locale

if TYPE_CHECKING:
    from bot.app import RunwayBot

log = logging.getLogger(__name__)

COMMANDS: tuple[tuple[str, str], ...] = (
    ("/animate", "help.cmd.animate"),
    ("/restyle", "help.cmd.restyle"),
    ("Animate this image", "help.cmd.menu"),
    ("/jobs", "help.cmd.jobs"),
    ("/cancel", "help.cmd.cancel"),
    ("/usage", "help.cmd.usage"),
    ("/help", "help.cmd.help"),
    ("/quota", "help.cmd.quota"),
    ("/runway", "help.cmd.runway"),
)


def durations_text(durations: tuple[int, ...], locale: object = None) -> str:
    """``, 2–10 s`` for a run of whole seconds, ``, 4, 6 or 8 s`` otherwise."""
    if not durations:
        return ""
    ordered = sorted(durations)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return t("help.model.range", locale, low=ordered[0], high=ordered[-1])
    if len(ordered) == 1:
        return t("help.model.one", locale, seconds=ordered[0])
    head = ", ".join(str(d) for d in ordered[:-1])
    return t("help.model.list", locale, items=head, last=ordered[-1])


def model_line(spec: ModelSpec, locale: object = None) -> str:
    """``Gen-4 Turbo: 5 credits/s, 2–10 s`` (labels, not ids)."""
    price = t("help.model.price", locale, credits=amount(spec.credits_per_second))
    if spec.supports_audio and spec.audio_credits_per_second is not None:
        price += t("help.model.audio", locale, credits=amount(spec.audio_credits_per_second))
    price += durations_text(spec.durations, locale)
    if spec.billed_input_seconds is not None:
        price += t("help.model.billed", locale, seconds=amount(spec.billed_input_seconds))
    return f"{spec.display_name}: {price}"


def models_text(settings: Settings, endpoint: Endpoint, locale: object = None) -> str:
    """The enabled models of one endpoint, one per line, or a plain "none"."""
    lines = [f"• {model_line(m, locale)}" for m in settings.enabled_models(endpoint)]
    return "\n".join(lines) if lines else t("help.model.none", locale)


def quota_text(status: QuotaStatus, locale: object = None) -> str:
    """The member's quota in one or two lines."""
    if status.blocked:
        return t("over.blocked", locale)
    period = t(f"quota.period.{status.period}", locale)
    unit = t(f"unit.{status.unit}", locale)
    if status.limit is None:
        return t("help.quota.unlimited", locale, used=amount(status.used), unit=unit, period=period)
    return t(
        "help.quota.left",
        locale,
        left=amount(status.remaining or 0.0),
        unit=unit,
        limit=amount(status.limit + status.bonus),
        period=period,
        used=amount(status.used),
        when=timestamp(status.resets_at),
    )


def help_embed(
    settings: Settings,
    status: QuotaStatus | None,
    *,
    confirm_above: int | None = None,
    locale: object = None,
) -> discord.Embed:
    """The /help answer: commands, buttons, models and prices, the member's quota."""
    embed = discord.Embed(title=t("help.title", locale), colour=COLOR_QUEUED)
    lines = [f"**{name}**: {t(key, locale)}" for name, key in COMMANDS]
    embed.description = "\n".join(lines) + "\n\n" + t("help.buttons", locale)
    for endpoint, key in (
        (Endpoint.IMAGE_TO_VIDEO, "help.field.animate"),
        (Endpoint.VIDEO_TO_VIDEO, "help.field.restyle"),
    ):
        embed.add_field(
            name=t(key, locale), value=models_text(settings, endpoint, locale), inline=False
        )
    if status is not None:
        embed.add_field(
            name=t("help.field.quota", locale), value=quota_text(status, locale), inline=False
        )
    if confirm_above is not None:
        embed.add_field(
            name=t("help.field.confirm", locale),
            value=t("help.confirm", locale, credits=confirm_above),
            inline=False,
        )
    embed.set_footer(text=t("help.footer", locale))
    return embed


def can_welcome(channel: discord.TextChannel) -> bool:
    """Whether the bot may post the welcome in ``channel`` (view and send)."""
    me = channel.guild.me
    if me is None:
        return False
    perms = channel.permissions_for(me)
    return perms.view_channel and perms.send_messages


class HelpCog(commands.Cog):
    """/help and the welcome on joining a server."""

    def __init__(self, bot: RunwayBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What the bot does, its models and prices.")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        """/help: commands, models and prices, and (in a server) the caller's quota."""
        services = services_of(self.bot)
        await interaction.response.defer(ephemeral=True)  # before any database read
        status = None
        confirm_above = None
        if interaction.guild_id is not None:
            status = await services.quota.status(
                interaction.guild_id, interaction.user.id, role_ids(interaction.user)
            )
            settings = await services.quota.guilds.get(interaction.guild_id)
            confirm_above = settings.confirm_above
        embed = help_embed(
            services.settings,
            status,
            confirm_above=confirm_above,
            locale=member_locale(interaction),
        )
        await answer(interaction, embed=embed)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """A short welcome in the server's system channel, when there is one the bot may use."""
        channel = guild.system_channel
        if channel is None or not can_welcome(channel):
            log.info("joined guild %s; no system channel I may post in, no welcome", guild.id)
            return
        text = t("help.welcome", public_locale(guild.preferred_locale))
        try:
            await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.warning("joined guild %s; the welcome failed: %s", guild.id, exc)


async def setup(bot: RunwayBot) -> None:
    """Extension entry point."""
    await bot.add_cog(HelpCog(bot))
