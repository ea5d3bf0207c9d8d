"""What the buttons and commands do to jobs: create, cancel, rerun; shared by cogs and views."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

import discord

from bot.domain import Job, JobError, JobState, NewJob, QuotaExceeded
from bot.logs import job_context

from .context import Services, services_of
from .embeds import over_quota_text, refund_line
from .errors import answer as reply
from .permissions import (
    THREAD_PERMISSIONS,
    is_admin,
    missing,
    missing_permission_text,
    role_ids,
)
from .posting import PostFailed, StatusView, can_hold_threads, confirmation_text, post_job

log = logging.getLogger(__name__)


def target_channel(interaction: discord.Interaction[Any]) -> discord.abc.Messageable | None:
    """Where a job started from this interaction posts its status: a thread's parent channel."""
    channel = interaction.channel
    if isinstance(channel, discord.Thread) and isinstance(channel.parent, discord.TextChannel):
        return channel.parent
    if isinstance(channel, discord.abc.Messageable):
        return channel
    return None


async def publish(
    interaction: discord.Interaction[Any],
    services: Services,
    job: Job,
    channel: discord.abc.Messageable,
    *,
    status_view: StatusView,
) -> None:
    """Post the job's status message (buttons from ``status_view``) and thread, then confirm
    ephemerally with a link.

    If the bot cannot post, the job is cancelled (its quota refunded) and the user is told
    exactly which permission is missing.
    """
    interaction.extras["job_id"] = job.id
    position = await services.jobs.queue_position(job.id)
    notes: list[str] = []
    open_thread = True
    if interaction.guild_id is not None and can_hold_threads(channel):
        lacking = missing(interaction.app_permissions, THREAD_PERMISSIONS)
        if lacking:
            open_thread = False
            notes.append(
                missing_permission_text(lacking, "this channel")
                + " So there is no thread: the clip will be posted in the channel."
            )
    try:
        posted = await post_job(
            services,
            channel,
            job,
            status_view=status_view,
            queue_position=position,
            open_thread=open_thread,
            notes=notes,
        )
    except PostFailed as exc:
        try:
            await services.jobs.cancel(job.id, actor_id=job.user_id, actor_is_admin=True)
            outcome = f"Job #{job.id} was cancelled and not charged."
        except JobError:
            log.warning("job %s: could not cancel after a failed post", job.id)
            outcome = f"Job #{job.id} could not be cancelled; follow it with `/jobs`."
        await reply(interaction, f"{exc.message}\n{outcome}")
        return
    await reply(interaction, confirmation_text(job, posted))


async def submit(
    interaction: discord.Interaction[Any],
    services: Services,
    new: NewJob,
    channel: discord.abc.Messageable,
    *,
    status_view: StatusView,
) -> Job | None:
    """Create the job (quota reserved) and publish it; answer the user on refusal."""
    return await _start(interaction, services, channel, services.jobs.create(new), status_view)


async def _start(
    interaction: discord.Interaction[Any],
    services: Services,
    channel: discord.abc.Messageable,
    creating: Awaitable[Job],
    status_view: StatusView,
) -> Job | None:
    """Await a create or rerun; answer a refusal in plain words, else publish the job."""
    try:
        job = await creating
    except QuotaExceeded as exc:
        await reply(interaction, over_quota_text(exc))
        return None
    except JobError as exc:
        await reply(interaction, exc.message)
        return None
    with job_context(job.id, user_id=job.user_id, guild_id=job.guild_id):
        await publish(interaction, services, job, channel, status_view=status_view)
    return job


def may_moderate(interaction: discord.Interaction[Any], services: Services, job: Job) -> bool:
    """Admin rights over someone else's job: a configured owner anywhere, or Manage Server
    in the job's own server (an admin of one server cannot touch another server's jobs)."""
    owners = services.settings.discord.owner_ids
    if interaction.user.id in owners:
        return True
    same_guild = job.guild_id is not None and job.guild_id == interaction.guild_id
    return same_guild and is_admin(interaction, owners)


async def cancel_job(interaction: discord.Interaction[Any], job_id: int) -> Job | None:
    """Cancel a job for the interaction's user (requester, admin or owner)."""
    services = services_of(interaction.client)
    await interaction.response.defer(ephemeral=True, thinking=True)
    existing = await services.jobs.get(job_id)
    admin = existing is not None and may_moderate(interaction, services, existing)
    try:
        job = await services.jobs.cancel(job_id, actor_id=interaction.user.id, actor_is_admin=admin)
    except JobError as exc:
        await reply(interaction, exc.message)
        return None
    interaction.extras["job_id"] = job.id
    if job.state is JobState.CANCELLED:
        text = f"Job #{job.id} is cancelled. {refund_line(job, services.settings.quota.unit.value)}"
    else:
        text = f"Job #{job.id} is being cancelled; Runway is told to stop."
    with job_context(job.id, user_id=job.user_id, guild_id=job.guild_id):
        await reply(interaction, text)
        if services.delivery is not None:
            await services.delivery.refresh(job)
    return job


async def rerun_job(
    interaction: discord.Interaction[Any],
    job_id: int,
    *,
    keep_seed: bool,
    status_view: StatusView,
) -> Job | None:
    """Start a job again from its stored inputs, with the same or a new random seed."""
    services = services_of(interaction.client)
    channel = target_channel(interaction)
    if channel is None:
        await reply(interaction, "I cannot post in this channel.")
        return None
    await interaction.response.defer(ephemeral=True, thinking=True)  # before any database read
    original = await services.jobs.get(job_id)
    if original is None:
        await reply(interaction, "That job no longer exists.")
        return None
    # Retry keeps the seed; Rerun leaves it to the job service to pick a different one.
    seed = original.params.seed if keep_seed else None
    rerun = services.jobs.rerun(
        job_id,
        actor_id=interaction.user.id,
        new_seed=seed,
        user_role_ids=role_ids(interaction.user),
    )
    return await _start(interaction, services, channel, rerun, status_view)
