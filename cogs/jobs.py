"""/jobs, /cancel and /usage: what every member can see and do about their own jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain import Job
from bot.i18n import t
from bot.ui.actions import cancel_job
from bot.ui.context import services_of
from bot.ui.errors import answer
from bot.ui.listings import jobs_page_embed, quota_status_embed, role_namer
from bot.ui.permissions import is_admin, role_ids
from bot.ui.text import safe, truncate
from bot.ui.translator import member_locale

if TYPE_CHECKING:
    from bot.app import RunwayBot

JOBS_PAGE = 10
MAX_PAGE = 1000


class JobsCog(commands.Cog):
    """Listing, cancelling, and quota usage for the calling user."""

    def __init__(self, bot: RunwayBot) -> None:
        self.bot = bot

    @app_commands.command(name="jobs", description="Your recent jobs, newest first.")
    @app_commands.describe(
        member="Admins: list this member's jobs instead of yours",
        page="Page number, 1 is the newest",
    )
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    async def jobs(
        self,
        interaction: discord.Interaction[Any],
        member: discord.User | None = None,
        page: app_commands.Range[int, 1, MAX_PAGE] = 1,
    ) -> None:
        """/jobs: the caller's jobs here (in a server) or everywhere (in DMs), with prompts,
        one page at a time; server admins may list another member's jobs in this server."""
        services = services_of(self.bot)
        locale = member_locale(interaction)
        who = member if member is not None and member.id != interaction.user.id else None
        if who is not None and (
            interaction.guild_id is None
            or not is_admin(interaction, self.bot.settings.discord.owner_ids)
        ):
            await answer(interaction, t("jobs.member_admin_only", locale))
            return
        await interaction.response.defer(ephemeral=True)  # before any database read
        target = who.id if who is not None else interaction.user.id
        listed = await services.jobs.list_user_jobs(
            target,
            guild_id=interaction.guild_id,
            limit=JOBS_PAGE + 1,
            offset=(page - 1) * JOBS_PAGE,
        )
        if who is not None:
            title = t("jobs.title_member", locale, user=safe(who.display_name))
            empty = "jobs.empty_member"
        elif interaction.guild_id:
            title, empty = t("jobs.title_guild", locale), "jobs.empty"
        else:
            title, empty = t("jobs.title", locale), "jobs.empty"
        embed = jobs_page_embed(
            listed[:JOBS_PAGE],
            locale,
            title=title,
            page=page,
            more=len(listed) > JOBS_PAGE,
            settings=self.bot.settings,
            empty_key=empty,
        )
        await answer(interaction, embed=embed)

    async def active_job_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[int]]:
        """The caller's jobs that can still be cancelled."""
        services = services_of(self.bot)
        active = await services.jobs.active_jobs(interaction.user.id)
        needle = current.strip().lstrip("#")
        locale = member_locale(interaction)

        def label(job: Job) -> str:
            spec = self.bot.settings.model(job.params.model)
            model = (spec.label or spec.id) if spec is not None else job.params.model
            head = (
                f"#{job.id} {t(f'kind.{job.kind.value}', locale)} · {model} · "
                f"{t(f'state.{job.state.value}', locale)}"
            )
            return truncate(head + (f" · {job.prompt}" if job.prompt else ""), 100)

        return [
            app_commands.Choice(name=label(job), value=job.id)
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
        locale = member_locale(interaction)
        title = t(
            "quota.usage_title_guild" if interaction.guild_id else "quota.usage_title_dm", locale
        )
        embed = quota_status_embed(
            status, locale, title=title, role_name=role_namer(interaction.guild)
        )
        await answer(interaction, embed=embed)


async def setup(bot: RunwayBot) -> None:
    """Extension entry point."""
    await bot.add_cog(JobsCog(bot))
