"""/runway: operator tools for the bot's configured owners (status, sync) and the server
settings for its admins (daily budget, cost confirmation, language, channel allow-list)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain import JobState, QueueStats, UserError
from bot.guild_settings import GuildSettings, GuildSettingsService
from bot.i18n import LOCALE_NAMES, t
from bot.runway.errors import RunwayError
from bot.runway.models import Organization
from bot.ui.channels import settings_service
from bot.ui.context import services_of
from bot.ui.errors import NotAdmin, NotOwner
from bot.ui.errors import answer as reply
from bot.ui.listings import channels_text
from bot.ui.permissions import is_admin
from bot.ui.text import amount, truncate
from bot.ui.translator import member_locale, tr

if TYPE_CHECKING:
    from bot.app import RunwayBot

log = logging.getLogger(__name__)

MAX_CREDITS = 1_000_000_000
# Sub-commands a server admin (Manage Server) may use; the rest are for the bot's owners.
SERVER_COMMANDS = frozenset({"budget", "cost-confirm", "language", "channels"})


def queue_lines(stats: QueueStats, locale: str = "en") -> list[str]:
    """Jobs per state, then per model in flight and queued."""
    lines = [
        f"{t(f'owner.state.{state.value}', locale)}: **{stats.by_state.get(state, 0)}**"
        for state in JobState
    ]
    if stats.undelivered:
        lines.append(t("owner.undelivered", locale, count=stats.undelivered))
    problem = stats.account_problem
    if problem is not None:
        what = t(
            "owner.problem_balance" if problem.code == "balance" else "owner.problem_key", locale
        )
        lines.insert(
            0,
            t(
                "owner.account_problem",
                locale,
                what=what,
                job=problem.job_id,
                when=discord.utils.format_dt(problem.at, "R"),
            ),
        )
    models = sorted(set(stats.in_flight_by_model) | set(stats.queued_by_model))
    for model in models:
        lines.append(
            t(
                "owner.model_line",
                locale,
                model=model,
                running=stats.in_flight_by_model.get(model, 0),
                queued=stats.queued_by_model.get(model, 0),
            )
        )
    return lines


def organization_lines(org: Organization, locale: str = "en") -> list[str]:
    """Credit balance and tier limits from ``GET /v1/organization``."""
    lines = []
    if org.credit_balance is not None:
        lines.append(t("owner.balance", locale, credits=amount(org.credit_balance)))
    tier = org.tier or {}
    spend = tier.get("maxMonthlyCreditSpend")
    if spend is not None:
        lines.append(t("owner.monthly_limit", locale, credits=spend))
    models = tier.get("models")
    if isinstance(models, dict):
        for model, limits in sorted(models.items()):
            if isinstance(limits, dict):
                concurrent = limits.get("maxConcurrentGenerations", "?")
                daily = limits.get("maxDailyGenerations", "?")
                lines.append(
                    t("owner.tier_line", locale, model=model, concurrent=concurrent, daily=daily)
                )
    return lines or [t("owner.no_organization", locale)]


def _sub_name(interaction: discord.Interaction[Any]) -> str:
    """The /runway sub-command (or sub-group) being used."""
    command = interaction.command
    if command is None:
        return ""
    parent = getattr(command, "parent", None)
    if parent is not None and getattr(parent, "parent", None) is not None:
        return str(parent.name)  # /runway channels add -> channels
    return str(command.name)


@app_commands.default_permissions(manage_guild=True)
@app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
@app_commands.allowed_installs(guilds=True, users=False)
class OwnerCog(
    commands.GroupCog,
    group_name="runway",
    group_description="Server settings and bot operator tools.",
):
    """Operator commands (``discord.owner_ids``) and server settings (Manage Server), both
    checked on every call."""

    channels = app_commands.Group(
        name="channels", description="The channels where members may use the bot."
    )

    def __init__(self, bot: RunwayBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Owners for the operator tools; server admins (or owners) for server settings."""
        owners = self.bot.settings.discord.owner_ids
        if _sub_name(interaction) in SERVER_COMMANDS:
            if interaction.guild_id is None:
                raise app_commands.NoPrivateMessage()
            if not is_admin(interaction, owners):
                raise NotAdmin()
            return True
        if interaction.user.id not in owners:
            raise NotOwner()
        return True

    def _settings(self) -> GuildSettingsService:
        return settings_service(self.bot)

    def _guild(self, interaction: discord.Interaction[Any]) -> int:
        assert interaction.guild_id is not None  # interaction_check guarantees it
        return interaction.guild_id

    @app_commands.command(name="status", description="Queue depth, jobs in flight, Runway credits.")
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        """/runway status."""
        services = services_of(self.bot)
        await interaction.response.defer(ephemeral=True, thinking=True)
        locale = member_locale(interaction)
        stats = await services.jobs.queue_stats()
        embed = discord.Embed(
            title=t("owner.status_title", locale), colour=discord.Colour.blurple()
        )
        embed.add_field(
            name=t("owner.queue", locale),
            value=truncate("\n".join(queue_lines(stats, locale)), 1024),
            inline=False,
        )
        provider = self.bot.settings.runway.provider
        if provider in ("runway", "simulator") and services.runway is not None:
            try:
                org = await services.runway.organization()
                body = "\n".join(organization_lines(org, locale))
            except RunwayError as exc:
                log.warning("organization lookup failed: %s", type(exc).__name__)
                body = t("owner.runway_unreachable", locale, error=type(exc).__name__)
            embed.add_field(name=f"Runway ({provider})", value=truncate(body, 1024), inline=False)
        else:
            embed.add_field(name=f"Runway ({provider})", value=t("owner.no_balance", locale))
        await interaction.followup.send(embed=embed, ephemeral=True)

    @app_commands.command(name="sync", description="Register the slash commands with Discord.")
    @app_commands.describe(
        scope="'here': this server only, at once; 'global': everywhere; "
        "'clear-here': drop this server's copies"
    )
    async def sync(
        self,
        interaction: discord.Interaction[Any],
        scope: Literal["here", "global", "clear-here"] = "here",
    ) -> None:
        """/runway sync: register the commands, and say when members would see them twice."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        tree = self.bot.tree
        guild = interaction.guild
        if scope != "global" and guild is None:
            await reply(interaction, tr(interaction, "owner.sync_global_only"))
            return
        if scope == "clear-here":
            assert guild is not None
            tree.clear_commands(guild=guild)
            await tree.sync(guild=guild)
            await reply(interaction, tr(interaction, "owner.sync_cleared"))
            return
        if scope == "here":
            assert guild is not None
            tree.copy_global_to(guild=guild)
            synced = await tree.sync(guild=guild)
            others = await tree.fetch_commands()  # the global ones
        else:
            synced = await tree.sync()
            others = await tree.fetch_commands(guild=guild) if guild is not None else []
        body = tr(interaction, "owner.synced", count=len(synced), scope=scope)
        doubled = sorted({c.name for c in synced} & {c.name for c in others})
        if doubled:
            names = ", ".join(f"`/{name}`" for name in doubled)
            fix = tr(
                interaction,
                "owner.sync_fix_global" if scope == "global" else "owner.sync_fix_here",
            )
            body += "\n" + tr(interaction, "owner.sync_doubled", names=names, fix=fix)
        await reply(interaction, body)

    async def _change(
        self, interaction: discord.Interaction[Any], **changes: object
    ) -> GuildSettings | None:
        """Apply settings changes as this admin; a bad value is answered and changes nothing."""
        try:
            return await self._settings().update(
                self._guild(interaction), interaction.user.id, **changes
            )
        except UserError as exc:
            await reply(interaction, exc.text(interaction.locale))
            return None

    @app_commands.command(name="budget", description="This server's daily credit budget.")
    @app_commands.describe(
        credits="Credits the whole server may spend per UTC day (empty: just show it)",
        remove="Remove the budget (no daily cap)",
    )
    async def budget(
        self,
        interaction: discord.Interaction[Any],
        credits: app_commands.Range[int, 0, MAX_CREDITS] | None = None,
        remove: bool = False,
    ) -> None:
        """/runway budget: show, set or remove the server's daily credit budget."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        if credits is not None and remove:
            await reply(interaction, tr(interaction, "settings.set_or_remove"))
            return
        changing = credits is not None or remove
        if (
            changing
            and await self._change(interaction, daily_budget=None if remove else credits) is None
        ):
            return
        services = services_of(self.bot)
        settings = await self._settings().get(self._guild(interaction))
        used, reserved = await services.quota.guild_usage_today(self._guild(interaction))
        if settings.daily_budget is None:
            body = tr(interaction, "settings.budget.none", used=amount(used + reserved))
        else:
            body = tr(
                interaction,
                "settings.budget.some",
                used=amount(used + reserved),
                budget=amount(settings.daily_budget),
            )
        await reply(interaction, body)

    @app_commands.command(
        name="cost-confirm", description="Ask members to confirm jobs that cost more than this."
    )
    @app_commands.describe(
        credits="Jobs estimated above this many credits need a confirm click (empty: show it)",
        remove="Never ask for a confirmation",
    )
    async def cost_confirm(
        self,
        interaction: discord.Interaction[Any],
        credits: app_commands.Range[int, 0, MAX_CREDITS] | None = None,
        remove: bool = False,
    ) -> None:
        """/runway cost-confirm: the threshold above which a job asks to be confirmed."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        if credits is not None and remove:
            await reply(interaction, tr(interaction, "settings.set_or_remove"))
            return
        settings: GuildSettings | None
        if credits is not None or remove:
            settings = await self._change(interaction, confirm_above=None if remove else credits)
            if settings is None:
                return
        else:
            settings = await self._settings().get(self._guild(interaction))
        if settings.confirm_above is None:
            await reply(interaction, tr(interaction, "settings.confirm.none"))
        else:
            await reply(
                interaction,
                tr(interaction, "settings.confirm.some", credits=amount(settings.confirm_above)),
            )

    @app_commands.command(
        name="language", description="The language of the bot's public messages in this server."
    )
    @app_commands.describe(language="A language, or the server's own Discord language")
    @app_commands.choices(
        language=[
            app_commands.Choice(name="server default", value="server"),
            *(app_commands.Choice(name=name, value=code) for code, name in LOCALE_NAMES.items()),
        ]
    )
    async def language(
        self, interaction: discord.Interaction[Any], language: str | None = None
    ) -> None:
        """/runway language: public messages (status, clips, notices) in this language."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        if language is not None:
            settings = await self._change(
                interaction, locale=None if language == "server" else language
            )
            if settings is None:
                return
        else:
            settings = await self._settings().get(self._guild(interaction))
        if settings.locale is None:
            await reply(interaction, tr(interaction, "settings.language.is_server"))
        else:
            await reply(
                interaction,
                tr(interaction, "settings.language.is", language=LOCALE_NAMES[settings.locale]),
            )

    @channels.command(name="add", description="Allow members to use the bot in a channel.")
    @app_commands.describe(channel="The channel (threads in it are allowed too)")
    async def channels_add(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel
    ) -> None:
        """/runway channels add."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            settings = await self._settings().allow_channels(
                self._guild(interaction), interaction.user.id, [channel.id]
            )
        except UserError as exc:
            await reply(interaction, exc.text(interaction.locale))
            return
        await reply(
            interaction,
            tr(
                interaction,
                "settings.channels.added",
                channel=channel.mention,
                channels=channels_text(settings.allowed_channels, member_locale(interaction)),
            ),
        )

    @channels.command(name="remove", description="Stop members using the bot in a channel.")
    @app_commands.describe(channel="The channel to take off the list")
    async def channels_remove(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel
    ) -> None:
        """/runway channels remove: an empty list allows every channel again."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        before = await self._settings().get(self._guild(interaction))
        if channel.id not in before.allowed_channels:
            await reply(
                interaction,
                tr(interaction, "settings.channels.not_listed", channel=channel.mention),
            )
            return
        settings = await self._settings().disallow_channels(
            self._guild(interaction), interaction.user.id, [channel.id]
        )
        key = (
            "settings.channels.removed"
            if settings.allowed_channels
            else "settings.channels.removed_all"
        )
        await reply(
            interaction,
            tr(
                interaction,
                key,
                channel=channel.mention,
                channels=channels_text(settings.allowed_channels, member_locale(interaction)),
            ),
        )

    @channels.command(name="list", description="The channels where members may use the bot.")
    async def channels_list(self, interaction: discord.Interaction[Any]) -> None:
        """/runway channels list."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = await self._settings().get(self._guild(interaction))
        await reply(
            interaction,
            tr(
                interaction,
                "settings.channels.list",
                channels=channels_text(settings.allowed_channels, member_locale(interaction)),
            ),
        )


async def setup(bot: RunwayBot) -> None:
    """Extension entry point."""
    bot_cog = OwnerCog(bot)
    await bot.add_cog(bot_cog)
