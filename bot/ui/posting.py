"""Posting a new job's public status message and opening its thread (bot token only)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import discord

from bot.domain import Job, UserError
from bot.ports import StatusUpdate

from .context import Services
from .embeds import status_embed
from .permissions import missing, missing_permission_text

log = logging.getLogger(__name__)

THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440

StatusView = Callable[[Job], discord.ui.View | None]
"""Builds the buttons under a job's status message (the caller passes ``views.job_view``;
posting sits below the buttons, whose callbacks post jobs)."""


class PostFailed(UserError):
    """The status message could not be posted; ``message`` is safe to show the user."""


@dataclass
class Posted:
    """Where a job's messages went."""

    status_message: discord.Message
    thread: discord.Thread | None
    notes: list[str] = field(default_factory=list)

    @property
    def link(self) -> str:
        """A jump link to the thread, or to the status message without one."""
        if self.thread is not None:
            return self.thread.jump_url
        return self.status_message.jump_url


def _where(channel: discord.abc.Messageable) -> str:
    mention = getattr(channel, "mention", None)
    return mention if isinstance(mention, str) else "this channel"


async def post_job(
    services: Services,
    channel: discord.abc.Messageable,
    job: Job,
    *,
    status_view: StatusView,
    queue_position: int | None = None,
    open_thread: bool = True,
    notes: list[str] | None = None,
) -> Posted:
    """Send the status message (with ``status_view(job)``'s buttons) with the bot token, open a
    thread on it and record both.

    Raises :class:`PostFailed` naming the missing permission when the bot cannot post.
    """
    model = services.settings.model(job.params.model)
    embed = status_embed(StatusUpdate(job=job, queue_position=queue_position), model=model)
    try:
        message = await channel.send(
            embed=embed,
            view=status_view(job) or discord.utils.MISSING,
            allowed_mentions=discord.AllowedMentions.none(),
        )
    except discord.Forbidden as exc:
        raise PostFailed(_forbidden_text(channel, ("send_messages", "embed_links"))) from exc
    except discord.HTTPException as exc:
        log.warning("job %s: posting the status message failed: %s", job.id, exc.status)
        raise PostFailed("Discord did not accept my status message; please try again.") from exc

    thread: discord.Thread | None = None
    notes = list(notes or [])
    if open_thread and can_hold_threads(channel):
        try:
            thread = await message.create_thread(
                name=f"Job #{job.id} · {model.display_name if model else job.params.model}",
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
        except discord.Forbidden:
            notes.append(
                _forbidden_text(channel, ("create_public_threads",))
                + " Your clip will be posted in the channel instead."
            )
        except discord.HTTPException as exc:
            log.warning("job %s: creating the thread failed: %s", job.id, exc.status)
            notes.append("I could not open a thread; your clip will be posted in the channel.")

    await services.jobs.attach_message(
        job.id,
        channel_id=message.channel.id,
        thread_id=thread.id if thread is not None else None,
        status_message_id=message.id,
    )
    return Posted(status_message=message, thread=thread, notes=notes)


def can_hold_threads(channel: discord.abc.Messageable) -> bool:
    """True for channels where a public thread can be opened on a message."""
    if isinstance(channel, discord.TextChannel):
        return True
    return isinstance(channel, discord.PartialMessageable) and channel.type in (
        discord.ChannelType.text,
        discord.ChannelType.news,
    )


def _forbidden_text(channel: discord.abc.Messageable, needed: tuple[str, ...]) -> str:
    """Name the permission the bot lacks, as precisely as the cache allows."""
    names: list[str] = []
    if isinstance(channel, discord.abc.GuildChannel) and channel.guild.me is not None:
        names = missing(channel.permissions_for(channel.guild.me), needed)
    if not names:
        names = missing(discord.Permissions.none(), needed)
    return missing_permission_text(names, _where(channel))


def confirmation_text(job: Job, posted: Posted) -> str:
    """The ephemeral reply that tells the user where to follow the job."""
    text = f"Job #{job.id} is queued. Follow it here: {posted.link}"
    if posted.notes:
        text += "\n" + "\n".join(posted.notes)
    return text
