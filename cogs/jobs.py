"""/jobs, /cancel and /usage: what every member can see and do about their own jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.ui.actions import cancel_job
from bot.ui.context import services_of
from bot.ui.embeds import jobs_embed, quota_embed
from bot.ui.errors import answer
from bot.ui.permissions import role_ids
from bot.ui.text import truncate

if TYPE_CHECKING:
    from bot.app import RunwayBot

JOBS_SHOWN = 10


class JobsCog(commands.Cog):
    """Listing, cancelling, and quota usage for the calling user."""

    def __init__(self, bot: RunwayBot) -> None:
        self.bot = bot

    @app_commands.command(name="jobs", description="Your recent jobs, newest first.")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    async def jobs(self, interaction: discord.Interaction[Any]) -> None:
        """/jobs: the caller's jobs here (in a server) or everywhere (in DMs)."""
        services = services_of(self.bot)
        await interaction.response.defer(ephemeral=True)  # before any database read
        listed = await services.jobs.list_user_jobs(
            interaction.user.id, guild_id=interaction.guild_id, limit=JOBS_SHOWN
        )
        title = "Your jobs in this server" if interaction.guild_id else "Your jobs"
        await answer(interaction, embed=jobs_embed(listed, title=title))

    async def active_job_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[int]]:
        """The caller's jobs that can still be cancelled."""
        services = services_of(self.bot)
        active = await services.jobs.active_jobs(interaction.user.id)
        needle = current.strip().lstrip("#")
        return [
            app_commands.Choice(
                name=truncate(
                    f"#{job.id} {job.kind.value} · {job.params.model} · {job.state.value}"
                    + (f" · {job.prompt}" if job.prompt else ""),
                    100,
                ),
                value=job.id,
            )
            for job in active
            if not needle or needle in str(job.id)
        ][:25]

    @app_commands.command(
        name="cancel", description="Cancel one of your jobs that has not finished."
    )
    @app_commands.describe(job="The job to cancel")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.autocomplete(job=active_job_autocomplete)
    async def cancel(self, interaction: discord.Interaction[Any], job: int) -> None:
        """/cancel: the requester (or an admin) stops a job; its quota is refunded."""
        await cancel_job(interaction, job)

    @app_commands.command(name="usage", description="Your video quota in this server.")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    async def usage(self, interaction: discord.Interaction[Any]) -> None:
        """/usage: used, limit, left and reset time for the caller."""
        services = services_of(self.bot)
        await interaction.response.defer(ephemeral=True)  # before any database read
        status = await services.quota.status(
            interaction.guild_id, interaction.user.id, role_ids(interaction.user)
        )
        title = "Your quota in this server" if interaction.guild_id else "Your quota in DMs"
        await answer(interaction, embed=quota_embed(status, title=title))


async def setup(bot: RunwayBot) -> None:
    """Extension entry point."""
    await bot.add_cog(JobsCog(bot))
