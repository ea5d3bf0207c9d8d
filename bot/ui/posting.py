"""Posting a new job's public status message and opening its thread (bot token only)."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Concatenate, Literal, ParamSpec, Protocol, runtime_checkable

import aiohttp
import discord

from bot.domain import Job, JobState, UserError
from bot.i18n import SUPPORTED, t
from bot.ports import StatusUpdate

from .context import Services
from .embeds import job_title, status_embed, thumbnail_name
from .permissions import missing, missing_permission_text

log = logging.getLogger(__name__)

THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440
# How many of a channel's latest messages are read when looking for a job's status message.
LOOK_BACK_STATUS = 50
P = ParamSpec("P")

StatusView = Callable[[Job, str], discord.ui.View | None]
"""Builds the buttons (labels in the given locale) under a job's status message (the caller
passes ``views.job_view``;
posting sits below the buttons, whose callbacks post jobs)."""


class PostFailed(UserError):
    """The status message could not be posted; ``message`` is safe to show the user."""


class PostUncertain(Exception):
    """The status post failed in a way that may pass (a dropped connection, a 5xx, a 429)
    and no stored copy was found: the worker's publishing step adopts or posts it."""


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


def _where(channel: discord.abc.Messageable, locale: str = "en") -> str:
    mention = getattr(channel, "mention", None)
    return mention if isinstance(mention, str) else t("post.this_channel", locale)


@runtime_checkable
class PostTracker(Protocol):
    """Told while a command posts a job's status message, and how that ended (the delivery
    port, :class:`bot.ui.delivery.DiscordDelivery`, which must not publish it meanwhile)."""

    def posting(self, job_id: int) -> contextlib.AbstractAsyncContextManager[None]:
        """Context of the command's post: a :class:`PostFailed` leaving it means the
        requester was told; any other exception that the post's fate is unknown."""
        ...


def _tracked(
    post: Callable[Concatenate[Services, discord.abc.Messageable, Job, P], Awaitable[Posted]],
) -> Callable[Concatenate[Services, discord.abc.Messageable, Job, P], Awaitable[Posted]]:
    @functools.wraps(post)
    async def run(
        services: Services,
        channel: discord.abc.Messageable,
        job: Job,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Posted:
        tracker = services.delivery
        if not isinstance(tracker, PostTracker):
            return await post(services, channel, job, *args, **kwargs)
        async with tracker.posting(job.id):
            return await post(services, channel, job, *args, **kwargs)

    return run


@_tracked
async def post_job(
    services: Services,
    channel: discord.abc.Messageable,
    job: Job,
    *,
    status_view: StatusView,
    queue_position: int | None = None,
    open_thread: bool = True,
    notes: list[str] | None = None,
    thumbnail: bytes | None = None,
    locale: str = "en",
    reader: str = "en",
) -> Posted:
    """Send the status message (with ``status_view(job)``'s buttons) with the bot token, open a
    thread on it and record both.

    Raises :class:`PostFailed` naming the missing permission when the bot cannot post.
    ``locale`` is the server's language (the public message), ``reader`` the requester's
    (the notes and refusals they are told).
    """
    model = services.settings.model(job.params.model)
    shown = dataclasses.replace(job, thumbnail=thumbnail is not None)
    embed = status_embed(
        StatusUpdate(job=shown, queue_position=queue_position),
        model=model,
        unit=services.settings.quota.unit.value,
        locale=locale,
    )
    preview = (
        discord.File(io.BytesIO(thumbnail), filename=thumbnail_name(job.id))
        if thumbnail is not None
        else discord.utils.MISSING
    )
    try:
        message = await channel.send(
            embed=embed,
            file=preview,
            view=status_view(job, locale) or discord.utils.MISSING,
            nonce=status_nonce(job),
            allowed_mentions=discord.AllowedMentions.none(),
        )
    except discord.Forbidden as exc:
        raise PostFailed(
            _forbidden_text(channel, ("send_messages", "embed_links"), reader)
        ) from exc
    except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
        status = getattr(exc, "status", type(exc).__name__)
        log.warning("job %s: posting the status message failed: %s", job.id, status)
        stored = await _stored_anyway(channel, job, exc)
        if stored is None and _transient(exc):
            raise PostUncertain(f"status post of job {job.id}: {status}") from exc
        if stored is None:
            raise PostFailed(t("post.refused", reader), key="post.refused") from exc
        log.info("job %s: Discord stored the status message anyway: adopting it", job.id)
        message = stored

    thread: discord.Thread | None = None
    notes = list(notes or [])
    if open_thread and can_hold_threads(channel):
        try:
            thread = await message.create_thread(
                name=t(
                    "post.thread_name",
                    locale,
                    job=job.id,
                    model=model.display_name if model else job.params.model,
                ),
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
        except discord.Forbidden:
            notes.append(
                _forbidden_text(channel, ("create_public_threads",), reader)
                + " "
                + t("post.in_channel", reader)
            )
        except discord.HTTPException as exc:
            log.warning("job %s: creating the thread failed: %s", job.id, exc.status)
            thread = await _thread_anyway(message)
            if thread is None:
                notes.append(t("post.no_thread", reader))

    await services.jobs.attach_message(
        job.id,
        channel_id=message.channel.id,
        thread_id=thread.id if thread is not None else None,
        status_message_id=message.id,
        thumbnail=thumbnail is not None,
    )
    return Posted(status_message=message, thread=thread, notes=notes)


def _transient(exc: BaseException) -> bool:
    """True when a failed post may have reached Discord or may succeed when repeated."""
    if not isinstance(exc, discord.HTTPException):
        return True  # the connection dropped or timed out: the outcome is unknown
    return exc.status >= 500 or exc.status in (408, 429)


def can_hold_threads(channel: discord.abc.Messageable) -> bool:
    """True for channels where a public thread can be opened on a message."""
    if isinstance(channel, discord.TextChannel):
        return True
    return isinstance(channel, discord.PartialMessageable) and channel.type in (
        discord.ChannelType.text,
        discord.ChannelType.news,
    )


def _forbidden_text(
    channel: discord.abc.Messageable, needed: tuple[str, ...], locale: str = "en"
) -> str:
    """Name the permission the bot lacks, as precisely as the cache allows."""
    names: list[str] = []
    if isinstance(channel, discord.abc.GuildChannel) and channel.guild.me is not None:
        names = missing(channel.permissions_for(channel.guild.me), needed)
    if not names:
        names = missing(discord.Permissions.none(), needed)
    return missing_permission_text(names, _where(channel, locale), locale=locale)


def confirmation_text(
    job: Job, posted: Posted, extra: Sequence[str] = (), *, locale: str = "en"
) -> str:
    """The ephemeral reply that tells the user where the job stands (queued, or already
    submitted to Runway), where to follow it, and ``extra`` lines (cost, changes)."""
    key = "post.queued"
    if job.state in (JobState.SUBMITTING, JobState.RUNNING):
        key = "post.submitted"
    elif not job.state.active:
        key = "post.finished"
    lines = [t(key, locale, job=job.id, link=posted.link), *extra, *posted.notes]
    return "\n".join(lines)


def status_nonce(job: Job) -> str:
    """The nonce of the job's status post: Discord drops a repeat (discord.py's own retry
    after a 5xx, or the worker's) within a few minutes."""
    return f"rwstatus-{job.id}"


def status_title(job: Job, locale: str = "en") -> str:
    """The title of the job's status embed (also the first line of its text fallback)."""
    return job_title(job, locale)


def is_status_message(message: discord.Message, job: Job) -> bool:
    """True when ``message`` is the status message of ``job`` (the caller checks the author):
    its embed title (in any language) or text's first line, or its Cancel button, names it."""
    titles = {status_title(job, locale) for locale in SUPPORTED}
    if any(embed.title in titles for embed in message.embeds):
        return True
    lines = message.content.splitlines()
    if lines and lines[0].strip() in {f"**{title}**" for title in titles}:
        return True
    cancel = f"rw:cancel:{job.id}"
    return any(
        getattr(child, "custom_id", None) == cancel
        for row in message.components
        for child in getattr(row, "children", ())
    )


async def find_status_message(
    channel: discord.abc.Messageable, job: Job, me_id: int | None
) -> discord.Message | None:
    """The bot's own status message for ``job`` among the channel's latest messages (Discord
    may have stored a post whose answer never came). ``me_id`` None: any bot author.
    Discord's errors propagate."""
    async for message in channel.history(limit=LOOK_BACK_STATUS):
        mine = message.author.id == me_id if me_id is not None else message.author.bot
        if mine and message.webhook_id is None and is_status_message(message, job):
            return message
    return None


async def thread_of(message: discord.Message) -> discord.Thread | None:
    """The thread Discord opened on ``message`` (it carries the message's id), if any.
    Discord's errors other than NotFound propagate."""
    if message.thread is not None:
        return message.thread
    guild = message.guild
    if guild is None:
        return None
    cached = guild.get_thread(message.id)
    if cached is not None:
        return cached
    try:
        found = await guild.fetch_channel(message.id)
    except discord.NotFound:
        return None
    return found if isinstance(found, discord.Thread) else None


async def _stored_anyway(
    channel: discord.abc.Messageable, job: Job, exc: Exception
) -> discord.Message | None:
    """After a failed status post that Discord may have stored (5xx, connection lost, no
    answer in time): the message if it is there."""
    if isinstance(exc, discord.HTTPException) and exc.status < 500:
        return None
    guild = getattr(channel, "guild", None)
    me = getattr(guild, "me", None)
    try:
        return await find_status_message(channel, job, me.id if me is not None else None)
    except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as again:
        log.warning("job %s: could not look for the status message: %s", job.id, again)
        return None


async def _thread_anyway(message: discord.Message) -> discord.Thread | None:
    """After a failed thread creation: the thread, if Discord created it anyway (a 5xx after
    creating it, then the retry's 400 "a thread has already been created")."""
    try:
        return await thread_of(message)
    except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as again:
        log.warning("could not look for the thread of message %s: %s", message.id, again)
        return None
