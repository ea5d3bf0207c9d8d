"""/runway status and /runway sync: for the bot's configured owners only."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain import JobState, QueueStats
from bot.runway.errors import RunwayError
from bot.runway.models import Organization
from bot.ui.context import services_of
from bot.ui.errors import NotOwner
from bot.ui.errors import answer as reply
from bot.ui.text import amount, truncate

if TYPE_CHECKING:
    from bot.app import RunwayBot

log = logging.getLogger(__name__)


def queue_lines(stats: QueueStats) -> list[str]:
    """Jobs per state, then per model in flight and queued."""
    lines = [
        f"{state.value.replace('_', ' ')}: **{stats.by_state.get(state, 0)}**" for state in JobState
    ]
    if stats.undelivered:
        lines.append(f"finished but not yet posted: **{stats.undelivered}**")
    problem = stats.account_problem
    if problem is not None:
        what = "the balance is used up" if problem.code == "balance" else "the API key is refused"
        lines.insert(
            0,
            f"**Runway account problem: {what}** (job #{problem.job_id}, "
            f"{discord.utils.format_dt(problem.at, 'R')}); no job has succeeded since.",
        )
    models = sorted(set(stats.in_flight_by_model) | set(stats.queued_by_model))
    for model in models:
        lines.append(
            f"`{model}`: {stats.in_flight_by_model.get(model, 0)} at Runway, "
            f"{stats.queued_by_model.get(model, 0)} queued"
        )
    return lines


def organization_lines(org: Organization) -> list[str]:
    """Credit balance and tier limits from ``GET /v1/organization``."""
    lines = []
    if org.credit_balance is not None:
        lines.append(f"credit balance: **{amount(org.credit_balance)}**")
    tier = org.tier or {}
    spend = tier.get("maxMonthlyCreditSpend")
    if spend is not None:
        lines.append(f"monthly credit spend limit: {spend}")
    models = tier.get("models")
    if isinstance(models, dict):
        for model, limits in sorted(models.items()):
            if isinstance(limits, dict):
                concurrent = limits.get("maxConcurrentGenerations", "?")
                daily = limits.get("maxDailyGenerations", "?")
                lines.append(f"`{model}`: {concurrent} at once, {daily} a day")
    return lines or ["no organization details returned"]


@app_commands.default_permissions(administrator=True)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
@app_commands.allowed_installs(guilds=True, users=False)
class OwnerCog(commands.GroupCog, group_name="runway", group_description="Bot operator tools."):
    """Operator commands, checked against ``discord.owner_ids`` on every call."""

    def __init__(self, bot: RunwayBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Only the configured owners."""
        if interaction.user.id not in self.bot.settings.discord.owner_ids:
            raise NotOwner()
        return True

    @app_commands.command(name="status", description="Queue depth, jobs in flight, Runway credits.")
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        """/runway status."""
        services = services_of(self.bot)
        await interaction.response.defer(ephemeral=True, thinking=True)
        stats = await services.jobs.queue_stats()
        embed = discord.Embed(title="Runway bot status", colour=discord.Colour.blurple())
        embed.add_field(
            name="Queue", value=truncate("\n".join(queue_lines(stats)), 1024), inline=False
        )
        provider = self.bot.settings.runway.provider
        if provider in ("runway", "simulator") and services.runway is not None:
            try:
                org = await services.runway.organization()
                text = "\n".join(organization_lines(org))
            except RunwayError as exc:
                log.warning("organization lookup failed: %s", type(exc).__name__)
                text = f"could not ask Runway ({type(exc).__name__})"
            embed.add_field(name=f"Runway ({provider})", value=truncate(text, 1024), inline=False)
        else:
            embed.add_field(name=f"Runway ({provider})", value="balance not available")
        await interaction.followup.send(embed=embed, ephemeral=True)

    @app_commands.command(name="sync", description="Register the slash commands with Discord.")
    @app_commands.describe(
        scope="'here' for this server only (instant), 'global' for everywhere, "
        "'clear-here' to remove this server's copies"
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
            await reply(interaction, "Use `global` outside a server.")
            return
        if scope == "clear-here":
            assert guild is not None
            tree.clear_commands(guild=guild)
            await tree.sync(guild=guild)
            await reply(
                interaction, "Removed this server's copies; members here see the global commands."
            )
            return
        if scope == "here":
            assert guild is not None
            tree.copy_global_to(guild=guild)
            synced = await tree.sync(guild=guild)
            others = await tree.fetch_commands()  # the global ones
        else:
            synced = await tree.sync()
            others = await tree.fetch_commands(guild=guild) if guild is not None else []
        text = f"Synced {len(synced)} commands ({scope})."
        doubled = sorted({c.name for c in synced} & {c.name for c in others})
        if doubled:
            names = ", ".join(f"`/{name}`" for name in doubled)
            fix = (
                "Use `/runway sync clear-here` to keep only the global ones"
                if scope == "global"
                else "Run `/runway sync clear-here` once the global ones have reached this server"
            )
            text += (
                f"\n**Members here will see {names} twice**: they are registered both for this "
                f"server and globally. {fix}."
            )
        await reply(interaction, text)


async def setup(bot: RunwayBot) -> None:
    """Extension entry point."""
    bot_cog = OwnerCog(bot)
    await bot.add_cog(bot_cog)
