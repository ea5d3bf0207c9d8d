"""The Discord side of :class:`bot.ports.DeliveryPort`: status edits, clips and failure notices.

Everything goes out with the bot token (channel and thread messages), never through an
interaction webhook, whose token dies after 15 minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import discord

from bot import clock as clocks
from bot.config import Settings
from bot.domain import Job
from bot.i18n import t
from bot.media import MediaError, fit_clip
from bot.ports import AlreadyTold, DeliveryFailed, DeliveryReceipt, Published, StatusUpdate

from .embeds import (
    Outcome,
    embed_as_text,
    failure_embed,
    outcome,
    result_embed,
    status_embed,
)
from .permissions import CLIP_PERMISSIONS, missing, missing_permission_text
from .posting import (
    THREAD_ARCHIVE_MINUTES,
    PostFailed,
    can_hold_threads,
    find_status_message,
    status_nonce,
    thread_of,
)
from .text import amount
from .translator import guild_locale
from .views import failure_view, job_view, result_view

log = logging.getLogger(__name__)

# Room left under the upload limit for the multipart envelope and the embed.
UPLOAD_HEADROOM_BYTES = 64 * 1024
MIB = 1024 * 1024
# How many messages after the job's status message are read (one request) when looking for
# the bot's own earlier clip or notice for the job.
LOOK_BACK_MESSAGES = 100


_Target = discord.TextChannel | discord.Thread | discord.DMChannel | discord.PartialMessageable


def _size(path: Path) -> int:
    return path.stat().st_size


def job_marker(job_id: int) -> str:
    """The line that names the job on every final message: the embed footer, and the last
    line of a text message (the text fallback without Embed Links, the clip-too-large text)."""
    return f"job #{job_id}"


def clip_filename(job_id: int) -> str:
    return f"runway-job-{job_id}.mp4"


def is_final_message(message: discord.Message, job: Job, nonce: str) -> bool:
    """True when ``message`` is the clip or failure notice posted for ``job`` (whoever wrote it:
    the caller checks the author). The job's status message is not one."""
    if message.id == job.status_message_id:
        return False
    if message.nonce is not None and str(message.nonce) == nonce:
        return True  # Discord echoes the nonce only for a while: never the only sign
    marker = job_marker(job.id)
    if any(embed.footer.text == marker for embed in message.embeds):
        return True
    if marker in (line.strip() for line in message.content.splitlines()):
        return True
    if any(a.filename == clip_filename(job.id) for a in message.attachments):
        return True
    buttons = {f"rw:rerun:{job.id}", f"rw:retry:{job.id}"}
    return any(
        getattr(child, "custom_id", None) in buttons
        for row in message.components
        for child in getattr(row, "children", ())
    )


class _ThreadGone(Exception):
    """Discord says the job's thread no longer exists (its channel may still)."""


@dataclass
class _EditState:
    at: float
    key: tuple[object, ...]


def _edit_key(update: StatusUpdate) -> tuple[object, ...]:
    job = update.job
    progress = None if job.progress is None else int(job.progress * 100)
    return (job.state, update.queue_position, update.throttled, job.provider_status, progress)


class DiscordDelivery:
    """Implements :class:`bot.ports.DeliveryPort` with discord.py."""

    def __init__(
        self,
        client: discord.Client,
        settings: Settings,
        workdir: Path,
        *,
        clock: Callable[[], float] = clocks.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._settings = settings
        self._workdir = workdir
        self._clock = clock
        self._sleep = sleep
        self._edits: dict[int, _EditState] = {}
        self._gone: set[int] = set()
        self._told: set[int] = set()  # jobs whose requester was told about missing permissions
        self._pending: dict[int, StatusUpdate] = {}
        self._flushers: dict[int, asyncio.Task[None]] = {}
        # Jobs whose command's status post failed: told in the reply (refused), or unknown.
        self._refused: set[int] = set()
        self._lost: set[int] = set()
        self._edit_locks: dict[int, asyncio.Lock] = {}
        self._final: set[int] = set()  # jobs whose status message shows (or is getting) the end
        self._threads_gone: set[int] = set()  # deleted threads: their jobs post in the channel

    # -- publishing -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def posting(self, job_id: int) -> AsyncIterator[None]:
        """Around a command's post of the job's status message (see
        :class:`bot.ui.posting.PostTracker`): until it ends, :meth:`publish` leaves the job to
        it; after a failure it knows whether the requester was told."""
        try:
            yield
        except PostFailed:
            self._refused.add(job_id)
            raise
        except BaseException:
            self._lost.add(job_id)
            raise

    async def publish(self, job: Job, *, orphan: bool) -> Published | None:
        """Find the bot's own status message for the job in its channel and adopt it, or
        post it; then find its thread (Discord gives it the message's id) or open it.

        Looking first makes it safe to repeat: a post Discord stored before a crash or a 5xx
        is used, never doubled. A job still being posted by its command (not ``orphan``)
        returns None; one whose command could not post returns ``Published(None)``.
        """
        if job.status_message_id is not None:
            return Published(job.status_message_id, job.thread_id)
        if job.id in self._refused:
            return Published(None)
        if not orphan and job.id not in self._lost:
            return None
        me = self._client.user
        try:
            channel = await self._resolved(job)
            message = await find_status_message(channel, job, me.id if me else None)
            if message is None:
                message = await self._post_status(job, channel)
            else:
                log.info("job %s: adopting its status message %s", job.id, message.id)
            thread = await self._thread_of(message)
            if thread is None and job.guild_id is not None and can_hold_threads(channel):
                thread = await self._open_thread(job, message)
        except discord.Forbidden as exc:
            text = f"may not post the status message: {exc.text}"
            raise DeliveryFailed(text, permanent=True) from exc
        except discord.NotFound as exc:
            raise DeliveryFailed("the job's channel is gone", permanent=True) from exc
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"could not publish the status message: {exc}") from exc
        self._lost.discard(job.id)
        log.info("job %s: status message %s, thread %s", job.id, message.id, thread and thread.id)
        return Published(message.id, thread.id if thread is not None else None)

    async def _resolved(self, job: Job) -> _Target:
        """The job's channel, fetched when the cache does not know it yet (just after a start,
        before the gateway sent the guilds): a partial one cannot say it holds threads."""
        channel = self._channel(job.channel_id, job.guild_id)
        if not isinstance(channel, discord.PartialMessageable) or job.guild_id is None:
            return channel
        fetched = await self._client.fetch_channel(job.channel_id)
        if isinstance(fetched, discord.TextChannel | discord.Thread):
            return fetched
        return channel

    async def _thread_of(self, message: discord.Message) -> discord.Thread | None:
        """The thread opened on ``message`` (it has the message's id), from the cache, the
        message or Discord."""
        found = await thread_of(message)
        if found is not None:
            return found
        try:
            fetched = await self._client.fetch_channel(message.id)
        except discord.NotFound:
            return None
        return fetched if isinstance(fetched, discord.Thread) else None

    async def _locale(self, job: Job) -> str:
        """The language of the job's public messages: its server's."""
        return await guild_locale(self._client, job.guild_id)

    async def _post_status(self, job: Job, channel: _Target) -> discord.Message:
        model = self._settings.model(job.params.model)
        locale = await self._locale(job)
        embed = status_embed(
            StatusUpdate(job=job),
            model=model,
            unit=self._settings.quota.unit.value,
            locale=locale,
        )
        return await channel.send(
            embed=embed,
            view=job_view(job, locale) or discord.utils.MISSING,
            nonce=status_nonce(job),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def _open_thread(self, job: Job, message: discord.Message) -> discord.Thread | None:
        """Open the job's thread; None when the bot may not (the clip goes to the channel)."""
        model = self._settings.model(job.params.model)
        try:
            return await message.create_thread(
                name=t(
                    "post.thread_name",
                    await self._locale(job),
                    job=job.id,
                    model=model.display_name if model else job.params.model,
                ),
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
        except discord.Forbidden:
            log.info("job %s: may not open a thread; results go to the channel", job.id)
            return None
        except discord.HTTPException as exc:
            # Discord may have opened it before a 5xx (then the retry answers 400 "already").
            log.warning("job %s: opening the thread failed: %s", job.id, exc.status)
            return await self._thread_of(message)

    # -- status message -------------------------------------------------------------------

    async def status_changed(self, update: StatusUpdate) -> None:
        """Edit the job's status message; skips edits that change nothing or come too fast."""
        await self._edit_status(update, force=False)

    async def refresh(self, job: Job) -> None:
        """Redraw the status message now (after a cancel from a button or command)."""
        await self._edit_status(StatusUpdate(job=job), force=True)

    async def flush(self) -> None:
        """Wait until every postponed status edit has been made."""
        while self._flushers:
            await asyncio.gather(*list(self._flushers.values()), return_exceptions=True)
            for job_id, task in list(self._flushers.items()):
                if task.done():
                    del self._flushers[job_id]

    async def close(self) -> None:
        """Drop postponed status edits (at shutdown)."""
        for task in list(self._flushers.values()):
            task.cancel()
        await asyncio.gather(*list(self._flushers.values()), return_exceptions=True)
        self._flushers.clear()
        self._pending.clear()

    async def _edit_status(self, update: StatusUpdate, *, force: bool) -> None:
        job = update.job
        if job.status_message_id is None or job.id in self._gone or self._stale(job):
            return
        key = _edit_key(update)
        now = self._clock()
        last = self._edits.get(job.id)
        if last is not None and not force and job.state.active:
            if last.key == key:
                return
            interval = self._settings.discord.status_edit_interval_seconds
            wait = interval - (now - last.at)
            if last.key[0] == job.state and wait > 0:
                # Too soon for a minor change: show the latest one when the interval is over.
                self._pending[job.id] = update
                if job.id not in self._flushers:
                    self._flushers[job.id] = asyncio.create_task(self._flush_later(job.id, wait))
                return
        self._pending.pop(job.id, None)
        self._edits[job.id] = _EditState(at=now, key=key)
        model = self._settings.model(job.params.model)
        message = self._channel(job.channel_id, job.guild_id).get_partial_message(
            job.status_message_id
        )
        locale = await self._locale(job)
        embed = status_embed(
            update, model=model, unit=self._settings.quota.unit.value, locale=locale
        )
        if self._can_embed(self._channel(job.channel_id, job.guild_id)):
            changes: dict[str, Any] = {"content": None, "embed": embed}  # clears a fallback
        else:
            changes = {"content": embed_as_text(embed), "embed": None}
        if not job.state.active:
            self._final.add(job.id)  # from now on an edit still waiting would be stale
        # One edit at a time per job: one that discord.py retries after a 429 must not land
        # after the final state and bring the Cancel button back.
        lock = self._edit_locks.setdefault(job.id, asyncio.Lock())
        async with lock:
            if self._stale(job) or job.id in self._gone:
                return
            try:
                await message.edit(**changes, view=job_view(job, locale))
            except discord.NotFound:
                self._gone.add(job.id)
                log.info("job %s: status message is gone; no more edits", job.id)
            except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("job %s: status edit failed: %s", job.id, exc)
        if not job.state.active:
            self._edits.pop(job.id, None)
            if not lock.locked():
                self._edit_locks.pop(job.id, None)

    def _stale(self, job: Job) -> bool:
        """True for an edit showing a job as active after its final state was shown."""
        return job.state.active and job.id in self._final

    async def _flush_later(self, job_id: int, delay: float) -> None:
        try:
            await self._sleep(delay)
        finally:
            self._flushers.pop(job_id, None)
        update = self._pending.pop(job_id, None)
        if update is not None:
            await self._edit_status(update, force=True)

    # -- clip and failure -----------------------------------------------------------------

    async def deliver_clip(self, job: Job, clip: Path, nonce: str) -> DeliveryReceipt:
        """Post the clip in the job's thread (or channel/DM), fitted to the upload limit; in
        the channel when the thread was deleted."""
        try:
            return await self._clip_into(job, self._target(job), clip, nonce)
        except _ThreadGone:
            log.info("job %s: its thread is gone; delivering in the channel", job.id)
            return await self._clip_into(job, self._target(job), clip, nonce)

    async def _clip_into(
        self, job: Job, target: _Target, clip: Path, nonce: str
    ) -> DeliveryReceipt:
        earlier = await self._earlier_message(job, target, nonce)
        if earlier is not None:
            return await self._already_posted(job, earlier)
        await self._require(job, target, CLIP_PERMISSIONS)
        limit = await self._upload_limit(job)
        model = self._settings.model(job.params.model)
        try:
            fitted = await asyncio.to_thread(
                fit_clip, clip, max(MIB, limit - UPLOAD_HEADROOM_BYTES), self._workdir
            )
        except MediaError as exc:
            log.warning("job %s: clip does not fit %d bytes: %s", job.id, limit, exc.message)
            size_mb = (await asyncio.to_thread(_size, clip)) / MIB
            text = t(
                "clip.too_large",
                await self._locale(job),
                user=f"<@{job.user_id}>",
                job=job.id,
                size=f"{size_mb:.1f}",
                limit=f"{limit / MIB:.0f}",
                credits=amount(job.charged_credits or job.estimated_credits),
            )
            return await self._send(job, target, nonce, content=text, embed=None, file=None)
        resized = None
        if fitted != clip:  # re-encoded to fit: say so, with the sizes
            resized = (await asyncio.to_thread(_size, clip), await asyncio.to_thread(_size, fitted))
        file = discord.File(fitted, filename=clip_filename(job.id))
        locale = await self._locale(job)
        try:
            return await self._send(
                job,
                target,
                nonce,
                content=t("clip.ready", locale, user=f"<@{job.user_id}>"),
                embed=result_embed(job, model=model, resized=resized, locale=locale),
                file=file,
                view=result_view(job, locale),
            )
        finally:
            file.close()
            if fitted != clip:
                await asyncio.to_thread(fitted.unlink, missing_ok=True)

    async def deliver_failure(self, job: Job, nonce: str) -> DeliveryReceipt:
        """Explain in the thread why the job produced no clip, and what happened to the quota."""
        if job.id in self._refused and outcome(job) is Outcome.CANCELLED:
            # Cancelled because its status message could not be posted: the requester was
            # already told in their ephemeral reply, and the channel refuses messages.
            raise AlreadyTold("cancelled before it was ever posted; told in the command's answer")
        try:
            return await self._failure_into(job, self._target(job), nonce)
        except _ThreadGone:
            log.info("job %s: its thread is gone; posting the notice in the channel", job.id)
            return await self._failure_into(job, self._target(job), nonce)

    async def _failure_into(self, job: Job, target: _Target, nonce: str) -> DeliveryReceipt:
        earlier = await self._earlier_message(job, target, nonce)
        if earlier is not None:
            return await self._already_posted(job, earlier)
        await self._require(job, target, ())
        unit = self._settings.quota.unit.value
        locale = await self._locale(job)
        return await self._send(
            job,
            target,
            nonce,
            content=f"<@{job.user_id}>",
            embed=failure_embed(job, unit=unit, locale=locale),
            file=None,
            view=failure_view(job, locale),
        )

    # -- helpers --------------------------------------------------------------------------

    def _target(self, job: Job) -> _Target:
        """Where the job's clip or notice goes: its thread, unless Discord said it is gone."""
        if job.thread_id is not None and job.thread_id not in self._threads_gone:
            return self._channel(job.thread_id, job.guild_id)
        return self._channel(job.channel_id, job.guild_id)

    def _channel(self, channel_id: int, guild_id: int | None) -> _Target:
        channel = self._client.get_channel(channel_id)
        if isinstance(channel, discord.TextChannel | discord.Thread | discord.DMChannel):
            return channel
        return self._client.get_partial_messageable(channel_id, guild_id=guild_id)

    async def _upload_limit(self, job: Job) -> int:
        if job.guild_id is None:
            return discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
        guild = self._client.get_guild(job.guild_id)
        if guild is None:
            try:
                guild = await self._client.fetch_guild(job.guild_id)
            except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
                log.warning("job %s: could not fetch guild for its upload limit: %s", job.id, exc)
                return discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
        return guild.filesize_limit

    def _missing_in(self, target: object, extra: Sequence[str]) -> list[str]:
        """Missing permissions for posting in ``target`` when the cache can tell, else []."""
        if isinstance(target, discord.Thread):
            needed: tuple[str, ...] = ("view_channel", "send_messages_in_threads")
        elif isinstance(target, discord.TextChannel):
            needed = ("view_channel", "send_messages")
        else:
            return []
        me = target.guild.me
        if me is None:
            return []
        perms = target.permissions_for(me)
        # Without View Channel or the right to send, Discord denies the rest implicitly:
        # name only the permission that unlocks them, not ones the admin already granted.
        for gate in needed[:2]:
            if not getattr(perms, gate):
                return missing(perms, (gate,))
        return missing(perms, (*needed, *extra))

    def _can_embed(self, target: object) -> bool:
        """False when the cache knows the bot lacks Embed Links in ``target`` (Discord would
        drop the embeds, or refuse a message that has nothing else)."""
        if not isinstance(target, discord.Thread | discord.TextChannel):
            return True
        me = target.guild.me
        return me is None or target.permissions_for(me).embed_links

    async def _require(
        self, job: Job, target: discord.abc.Messageable, extra: Sequence[str]
    ) -> None:
        names = self._missing_in(target, extra)
        if names:
            await self._tell_missing(job, target, names)
            raise DeliveryFailed(f"missing permissions: {', '.join(names)}", permanent=True)

    def _may_read_history(self, target: object) -> bool:
        """False when the cache knows the bot cannot read ``target``'s history."""
        if not isinstance(target, discord.Thread | discord.TextChannel):
            return True
        me = target.guild.me
        if me is None:
            return True
        perms = target.permissions_for(me)
        return perms.view_channel and perms.read_message_history

    async def _earlier_message(
        self, job: Job, target: _Target, nonce: str
    ) -> discord.Message | None:
        """The bot's own clip or notice for ``job`` already in ``target``, if any.

        A post that reached Discord just before a crash, but was not recorded, is attempted
        again on restart; Discord's nonce drops the repeat only within a few minutes, so the
        bot reads the messages posted after the job's status message (its thread holds only
        the job's messages) and looks for one that names the job. Without Read Message
        History (or on any error) it does not look and relies on the nonce.
        """
        me = self._client.user
        if me is None:
            return None
        if not self._may_read_history(target):
            log.info(
                "job %s: cannot read the history of %s; relying on the nonce", job.id, target.id
            )
            return None
        after: discord.abc.Snowflake | datetime
        if job.status_message_id is not None:
            after = discord.Object(id=job.status_message_id)
        else:
            after = job.created_at if job.created_at.tzinfo else job.created_at.replace(tzinfo=UTC)
        try:
            async for message in target.history(
                limit=LOOK_BACK_MESSAGES, after=after, oldest_first=True
            ):
                if message.author.id == me.id and is_final_message(message, job, nonce):
                    return message
        except discord.Forbidden:
            log.info(
                "job %s: may not read the history of %s; relying on the nonce", job.id, target.id
            )
        except discord.NotFound:
            pass  # the post that follows says the channel is gone
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("job %s: could not look for an earlier post: %s", job.id, exc)
        return None

    async def _already_posted(self, job: Job, message: discord.Message) -> DeliveryReceipt:
        log.info("job %s: already posted as message %s; not posting again", job.id, message.id)
        await self._finish_status(job)
        return DeliveryReceipt(message_id=message.id)

    async def _finish_status(self, job: Job) -> None:
        """Show the final state on the status message once the result is posted."""
        delivered = dataclasses.replace(job, delivered_at=clocks.utcnow())
        await self._edit_status(StatusUpdate(job=delivered), force=True)

    async def _send(
        self,
        job: Job,
        target: discord.abc.Messageable,
        nonce: str,
        *,
        content: str,
        embed: discord.Embed | None,
        file: discord.File | None,
        view: discord.ui.View | None = None,
    ) -> DeliveryReceipt:
        mentions = discord.AllowedMentions(
            everyone=False, roles=False, users=[discord.Object(job.user_id)], replied_user=False
        )
        extra: dict[str, Any] = {}
        if embed is not None and not self._can_embed(target):
            content = f"{content}\n{embed_as_text(embed)}"
        elif embed is not None:
            extra["embed"] = embed
        marker = job_marker(job.id)
        if "embed" not in extra and marker not in content.splitlines():
            content = f"{content}\n{marker}"  # how a later look recognises the message
        if file is not None:
            extra["file"] = file
        if view is not None:
            extra["view"] = view
        try:
            message = await target.send(content, nonce=nonce, allowed_mentions=mentions, **extra)
        except discord.Forbidden as exc:
            names = self._missing_in(target, CLIP_PERMISSIONS if file else ()) or [
                "Send Messages",
                "Attach Files" if file else "Embed Links",
            ]
            await self._tell_missing(job, target, names)
            raise DeliveryFailed(f"forbidden ({exc.code})", permanent=True) from exc
        except discord.NotFound as exc:
            thread = job.thread_id
            if (
                thread is not None
                and thread != job.channel_id
                and getattr(target, "id", None) == thread
            ):
                self._threads_gone.add(thread)
                raise _ThreadGone() from exc
            raise DeliveryFailed("the channel no longer exists", permanent=True) from exc
        except discord.HTTPException as exc:
            permanent = exc.status < 500 and exc.status != 429 and exc.status != 408
            log.warning("job %s: delivery failed with HTTP %s (%s)", job.id, exc.status, exc.code)
            raise DeliveryFailed(
                f"Discord answered HTTP {exc.status}", permanent=permanent
            ) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"network error: {type(exc).__name__}") from exc
        await self._finish_status(job)
        return DeliveryReceipt(message_id=message.id)

    async def _tell_missing(
        self, job: Job, target: discord.abc.Messageable, names: Sequence[str]
    ) -> None:
        """Tell the requester which permission is missing: in the channel, else by DM.

        Once per job: the failure notice that follows a refused clip would hit the same wall.
        """
        if job.id in self._told:
            return
        self._told.add(job.id)
        locale = await self._locale(job)
        where = getattr(target, "mention", None) or t("clip.the_thread", locale)
        text = (
            t("clip.cannot_post", locale, user=f"<@{job.user_id}>", job=job.id)
            + " "
            + missing_permission_text(names, where, locale=locale)
        )
        mentions = discord.AllowedMentions(
            everyone=False, roles=False, users=[discord.Object(job.user_id)]
        )
        candidates: list[discord.abc.Messageable] = []
        if job.thread_id is not None and getattr(target, "id", None) == job.thread_id:
            candidates.append(self._channel(job.channel_id, job.guild_id))
        for channel in candidates:
            try:
                await channel.send(text, allowed_mentions=mentions)
                return
            except (discord.HTTPException, aiohttp.ClientError, OSError):
                continue
        try:
            user = self._client.get_user(job.user_id) or await self._client.fetch_user(job.user_id)
            await user.send(text, allowed_mentions=mentions)
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            log.warning(
                "job %s: could not tell the user about missing permissions: %s", job.id, exc
            )
