"""DiscordDelivery: status edits (rate-limited), clip delivery within the upload limit, failure
notices, and permission problems named for the user."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, cast
from unittest.mock import AsyncMock, MagicMock

import av
import discord
import pytest
from PIL import Image

from bot.catalog import default_catalog
from bot.config import Settings
from bot.domain import Job, JobKind, JobParams, JobState
from bot.media import probe_video
from bot.ports import AlreadyTold, DeliveryFailed, StatusUpdate
from bot.ui.delivery import LOOK_BACK_MESSAGES, UPLOAD_HEADROOM_BYTES, DiscordDelivery
from bot.ui.embeds import embed_as_text, failure_embed, result_embed, status_embed
from bot.ui.posting import PostFailed
from bot.ui.views import failure_view, result_view
from tests.discord_doubles import (
    forbidden,
    make_dm_channel,
    make_text_channel,
    make_thread,
    make_user,
    next_id,
    not_found,
    server_error,
)

MIB = 1024 * 1024


class Clock:
    """A monotonic clock moved by hand; ``sleep`` records the delay and moves it forward."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make_job(**changes: Any) -> Job:
    when = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    job = Job(
        id=7,
        kind=JobKind.ANIMATE,
        state=JobState.SUCCEEDED,
        user_id=next_id(),
        guild_id=None,
        channel_id=0,
        prompt="a boat @everyone",
        params=JobParams(model="gen4_turbo", ratio="1280:720", duration=5, seed=42),
        created_at=when,
        updated_at=when,
        estimated_credits=25.0,
        charged_credits=25.0,
        quota_amount=25.0,
    )
    return dataclasses.replace(job, **changes)


class World:
    """A client double that knows one guild channel with one thread, plus a DM channel."""

    def __init__(self, tmp_path: Path) -> None:
        self.channel = make_text_channel()
        self.thread = make_thread(parent=self.channel)
        self.dm = make_dm_channel()
        self.user = make_user()
        self.client = MagicMock(spec_set=discord.Client)
        known = {c.id: c for c in (self.channel, self.thread, self.dm)}
        self.client.get_channel.side_effect = known.get
        self.client.get_guild.return_value = self.channel.guild
        self.client.get_user.return_value = self.user
        self.me = make_user()  # the bot
        self.client.user = self.me
        self.clock = Clock()
        self.settings = Settings(models=default_catalog())
        self.delivery = DiscordDelivery(
            self.client, self.settings, tmp_path / "work", clock=self.clock, sleep=self.clock.sleep
        )

    def job(self, **changes: Any) -> Job:
        base: dict[str, Any] = {
            "guild_id": self.channel.guild.id,
            "channel_id": self.channel.id,
            "thread_id": self.thread.id,
            "status_message_id": next_id(),
        }
        base.update(changes)
        return make_job(**base)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def small_clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000)
    return path


def noisy_video(path: Path, frames: int = 30) -> Path:
    """A real H.264 MP4 of random noise: several megabytes that shrink only by re-encoding."""
    rng = random.Random(1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"crf": "0", "preset": "ultrafast"}
        stream.time_base = Fraction(1, 30)
        for index in range(frames):
            pixels = Image.frombytes("RGB", (320, 240), rng.randbytes(320 * 240 * 3))
            frame = av.VideoFrame.from_image(pixels)
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


# -- status edits ---------------------------------------------------------------------------


def edits(channel: Any) -> list[dict[str, Any]]:
    return [call.kwargs for call in channel.get_partial_message.return_value.edit.await_args_list]


async def test_status_edits_are_rate_limited_per_job(world: World) -> None:
    message = MagicMock(spec_set=discord.PartialMessage)
    message.edit = AsyncMock()
    world.channel.get_partial_message.side_effect = None
    world.channel.get_partial_message.return_value = message
    job = world.job(state=JobState.RUNNING, progress=0.1, provider_status="RUNNING")

    def shown() -> str:
        assert message.edit.await_args is not None
        return str(message.edit.await_args.kwargs["embed"].description)

    await world.delivery.status_changed(StatusUpdate(job=job))
    await world.delivery.status_changed(StatusUpdate(job=job))  # nothing changed
    assert message.edit.await_count == 1
    world.clock.now += 1
    await world.delivery.status_changed(StatusUpdate(job=dataclasses.replace(job, progress=0.2)))
    await world.delivery.status_changed(StatusUpdate(job=dataclasses.replace(job, progress=0.3)))
    assert message.edit.await_count == 1  # same state, too soon: postponed, latest kept
    await world.delivery.flush()
    assert world.clock.slept == [2.0]  # the rest of the 3 s interval
    assert message.edit.await_count == 2
    assert "30%" in shown()

    done = dataclasses.replace(job, state=JobState.SUCCEEDED, progress=1.0)
    await world.delivery.status_changed(StatusUpdate(job=done))  # state change: at once
    assert message.edit.await_count == 3
    last = message.edit.await_args
    assert last is not None
    assert last.kwargs["view"] is None  # the Cancel button goes away when finished
    assert "job #7" in (last.kwargs["embed"].title or "")


async def test_a_state_change_supersedes_a_postponed_edit(world: World) -> None:
    message = MagicMock(spec_set=discord.PartialMessage)
    message.edit = AsyncMock()
    world.channel.get_partial_message.side_effect = None
    world.channel.get_partial_message.return_value = message
    job = world.job(state=JobState.QUEUED)
    await world.delivery.status_changed(StatusUpdate(job=job, queue_position=3))
    await world.delivery.status_changed(StatusUpdate(job=job, queue_position=2))  # postponed
    running = dataclasses.replace(job, state=JobState.RUNNING, provider_status="RUNNING")
    await world.delivery.status_changed(StatusUpdate(job=running))
    await world.delivery.flush()
    assert message.edit.await_count == 2
    assert message.edit.await_args is not None
    assert "Rendering" in message.edit.await_args.kwargs["embed"].description


async def test_an_edit_retried_after_a_429_never_lands_after_the_final_state(
    world: World, tmp_path: Path
) -> None:
    message = MagicMock(spec_set=discord.PartialMessage)
    views: list[discord.ui.View | None] = []
    retrying = asyncio.Event()
    retry_over = asyncio.Event()

    async def edit(**kwargs: Any) -> None:
        if not views and not retry_over.is_set():
            retrying.set()  # discord.py sleeps inside this call until the 429 is over
            await retry_over.wait()
        views.append(kwargs["view"])

    message.edit = AsyncMock(side_effect=edit)
    world.channel.get_partial_message.side_effect = None
    world.channel.get_partial_message.return_value = message
    history_of(world.thread)
    clip_posted = asyncio.Event()
    record = world.thread.send.side_effect

    async def send(*args: Any, **kwargs: Any) -> Any:
        message = await record(*args, **kwargs)
        clip_posted.set()
        return message

    world.thread.send.side_effect = send
    running = world.job(state=JobState.RUNNING, provider_status="RUNNING")
    late = asyncio.create_task(world.delivery.status_changed(StatusUpdate(job=running)))
    await retrying.wait()

    done = dataclasses.replace(running, state=JobState.SUCCEEDED, progress=1.0)
    delivering = asyncio.create_task(
        world.delivery.deliver_clip(done, small_clip(tmp_path), done.nonce)
    )
    await clip_posted.wait()  # the clip is posted while the old edit still waits
    retry_over.set()
    await asyncio.gather(late, delivering)
    # An active update that arrives after the end is stale and skipped.
    await world.delivery.status_changed(StatusUpdate(job=running, queue_position=1))

    assert len(views) == 2
    assert views[0] is not None, "the retried edit still had its Cancel button"
    assert views[-1] is None, "the final state shows no live Cancel button"


async def test_close_drops_postponed_edits(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.delivery = DiscordDelivery(
        world.client, world.settings, tmp_path, clock=world.clock, sleep=asyncio.sleep
    )
    message = MagicMock(spec_set=discord.PartialMessage)
    message.edit = AsyncMock()
    world.channel.get_partial_message.side_effect = None
    world.channel.get_partial_message.return_value = message
    job = world.job(state=JobState.QUEUED)
    await world.delivery.status_changed(StatusUpdate(job=job, queue_position=3))
    await world.delivery.status_changed(StatusUpdate(job=job, queue_position=2))
    await world.delivery.close()
    await world.delivery.flush()
    assert message.edit.await_count == 1


async def test_throttled_status_says_waiting_for_capacity(world: World) -> None:
    message = MagicMock(spec_set=discord.PartialMessage)
    message.edit = AsyncMock()
    world.channel.get_partial_message.side_effect = None
    world.channel.get_partial_message.return_value = message
    job = world.job(state=JobState.RUNNING, provider_status="THROTTLED")

    await world.delivery.status_changed(StatusUpdate(job=job, throttled=True))

    embed = message.edit.await_args.kwargs["embed"]
    assert "Waiting for Runway capacity" in embed.description
    view = message.edit.await_args.kwargs["view"]
    assert [c.custom_id for c in view.children] == ["rw:cancel:7"]


async def test_status_message_gone_stops_edits(world: World) -> None:
    message = MagicMock(spec_set=discord.PartialMessage)
    message.edit = AsyncMock(side_effect=not_found(10008, "Unknown Message"))
    world.channel.get_partial_message.side_effect = None
    world.channel.get_partial_message.return_value = message
    job = world.job(state=JobState.QUEUED)
    await world.delivery.status_changed(StatusUpdate(job=job, queue_position=2))
    await world.delivery.refresh(dataclasses.replace(job, state=JobState.CANCELLED))
    assert message.edit.await_count == 1


async def test_status_without_a_message_yet_is_skipped(world: World) -> None:
    job = world.job(state=JobState.QUEUED, status_message_id=None)
    await world.delivery.status_changed(StatusUpdate(job=job))
    world.channel.get_partial_message.assert_not_called()


# -- clips ----------------------------------------------------------------------------------


async def test_clip_is_posted_in_the_thread_pinging_only_the_requester(
    world: World, tmp_path: Path
) -> None:
    job = world.job()
    receipt = await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)

    ((args, kwargs, message),) = world.thread.sent
    assert receipt.message_id == message.id
    assert args[0] == f"<@{job.user_id}> your clip is ready."
    assert kwargs["nonce"] == "rwjob-7"
    mentions = kwargs["allowed_mentions"].to_dict()
    assert mentions["users"] == [job.user_id]
    assert mentions["parse"] == []
    assert kwargs["file"].filename == "runway-job-7.mp4"
    embed = kwargs["embed"]
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Credits charged"] == "25"
    assert fields["Seed"] == "42"
    assert "@everyone" not in (embed.description or "")
    assert [c.custom_id for c in kwargs["view"].children] == [
        "rw:rerun:7",
        "rw:edit:7",
        "rw:continue:7",
        "rw:restyle:7",
    ]
    assert world.channel.sent == []


async def test_after_delivery_the_status_message_shows_finished(
    world: World, tmp_path: Path
) -> None:
    status = MagicMock(spec_set=discord.PartialMessage)
    status.edit = AsyncMock()
    world.channel.get_partial_message.side_effect = None
    world.channel.get_partial_message.return_value = status
    job = world.job()

    await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)

    world.channel.get_partial_message.assert_called_with(job.status_message_id)
    assert status.edit.await_args is not None
    embed = status.edit.await_args.kwargs["embed"]
    assert embed.description.startswith("Finished\n")
    assert status.edit.await_args.kwargs["view"] is None


async def test_clip_in_a_dm_channel(world: World, tmp_path: Path) -> None:
    job = world.job(guild_id=None, channel_id=world.dm.id, thread_id=None)
    await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)
    assert len(world.dm.sent) == 1


async def test_a_large_clip_is_re_encoded_to_fit_the_guild_limit(
    world: World, tmp_path: Path
) -> None:
    clip = noisy_video(tmp_path / "big.mp4")
    limit = int(1.5 * MIB) + UPLOAD_HEADROOM_BYTES
    world.channel.guild.filesize_limit = limit
    assert clip.stat().st_size > limit
    job = world.job()

    await world.delivery.deliver_clip(job, clip, job.nonce)

    ((_, kwargs, _),) = world.thread.sent
    sent: discord.File = kwargs["file"]
    posted = Path(sent.fp.name)  # type: ignore[attr-defined]
    assert posted != clip
    assert not await asyncio.to_thread(posted.exists)  # the re-encoded copy is cleaned up
    assert await asyncio.to_thread(clip.exists)


async def test_fitting_keeps_a_playable_clip(tmp_path: Path) -> None:
    from bot.media import fit_clip

    clip = noisy_video(tmp_path / "big.mp4")
    fitted = fit_clip(clip, int(1.5 * MIB), tmp_path / "work")
    assert fitted.stat().st_size <= 1.5 * MIB
    assert probe_video(fitted).duration_seconds > 0.5


async def test_a_clip_that_cannot_fit_gets_a_clear_message(world: World, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x01" * (2 * MIB))
    world.channel.guild.filesize_limit = MIB + UPLOAD_HEADROOM_BYTES
    job = world.job()

    receipt = await world.delivery.deliver_clip(job, broken, job.nonce)

    ((args, kwargs, message),) = world.thread.sent
    assert receipt.message_id == message.id
    assert "larger than this server's upload limit" in args[0]
    assert args[0].splitlines()[-1] == "job #7", "a later look recognises it"
    assert "file" not in kwargs
    assert kwargs["nonce"] == job.nonce


async def test_missing_attach_files_is_named_in_the_channel(world: World, tmp_path: Path) -> None:
    perms = discord.Permissions.all()
    perms.attach_files = False
    world.thread.permissions_for.return_value = perms
    job = world.job()

    with pytest.raises(DeliveryFailed) as caught:
        await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)

    assert caught.value.permanent
    assert world.thread.sent == []
    ((args, kwargs, _),) = world.channel.sent
    assert "**Attach Files**" in args[0]
    assert f"<@{job.user_id}>" in args[0]
    assert kwargs["allowed_mentions"].to_dict()["users"] == [job.user_id]


async def test_forbidden_from_discord_is_permanent_and_explained(
    world: World, tmp_path: Path
) -> None:
    world.thread.send.side_effect = forbidden()
    job = world.job()
    with pytest.raises(DeliveryFailed) as caught:
        await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)
    assert caught.value.permanent
    ((args, _, _),) = world.channel.sent
    assert "**Attach Files**" in args[0] or "**Send Messages**" in args[0]


async def test_when_the_channel_refuses_too_the_user_gets_a_dm(
    world: World, tmp_path: Path
) -> None:
    world.thread.send.side_effect = forbidden()
    world.channel.send.side_effect = forbidden()
    job = world.job()
    with pytest.raises(DeliveryFailed):
        await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)
    world.user.send.assert_awaited_once()
    assert "job #7" in world.user.send.await_args.args[0]


async def test_a_job_cancelled_for_a_refused_status_post_is_not_announced_again(
    world: World,
) -> None:
    job = world.job(state=JobState.CANCELLED, status_message_id=None, thread_id=None)
    with pytest.raises(PostFailed):
        async with world.delivery.posting(job.id):
            raise PostFailed("Discord refused the status message")
    with pytest.raises(AlreadyTold) as caught:
        await world.delivery.deliver_failure(job, job.nonce)
    assert caught.value.permanent  # the requester read it in their command's answer
    assert world.channel.sent == [] and world.thread.sent == []


async def test_server_errors_are_retryable(world: World, tmp_path: Path) -> None:
    world.thread.send.side_effect = server_error(503)
    job = world.job()
    with pytest.raises(DeliveryFailed) as caught:
        await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)
    assert not caught.value.permanent


async def test_a_deleted_thread_sends_the_clip_to_the_channel_once(
    world: World, tmp_path: Path
) -> None:
    world.thread.send.side_effect = not_found()
    history_of(world.channel)
    job = world.job()

    receipt = await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)

    ((args, kwargs, message),) = world.channel.sent
    assert receipt.message_id == message.id
    assert kwargs["nonce"] == job.nonce
    assert f"<@{job.user_id}>" in args[0]
    assert [o.id for o in kwargs["allowed_mentions"].users] == [job.user_id]
    assert kwargs["file"].filename == "runway-job-7.mp4"
    # The failure notice of a later step goes straight to the channel too.
    failed = world.job(
        id=job.id, state=JobState.FAILED, error_code="x", error_text="broke", refunded=True
    )
    await world.delivery.deliver_failure(failed, failed.nonce)
    assert world.thread.send.await_count == 1
    assert len(world.channel.sent) == 2


async def test_a_deleted_thread_finds_the_clip_already_in_the_channel(
    world: World, tmp_path: Path
) -> None:
    world.thread.send.side_effect = not_found()
    job = world.job()
    clip = posted(world.me, embeds=[result_embed(job)], filenames=("runway-job-7.mp4",))
    history_of(world.channel, clip)

    receipt = await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)

    assert receipt.message_id == clip.id
    assert world.channel.sent == [], "posted once, before the restart"


async def test_deleted_thread_and_channel_is_permanent(world: World, tmp_path: Path) -> None:
    world.thread.send.side_effect = not_found()
    world.channel.send.side_effect = not_found()
    history_of(world.channel)
    job = world.job()
    with pytest.raises(DeliveryFailed) as caught:
        await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)
    assert caught.value.permanent
    assert "channel" in str(caught.value)


# -- failures -------------------------------------------------------------------------------


async def test_failure_notice_explains_and_states_the_refund(world: World) -> None:
    job = world.job(
        state=JobState.FAILED,
        error_code="SAFETY.INPUT.TEXT",
        error_text="Runway's safety filter refused the prompt. Please rephrase it.",
        refunded=True,
        charged_credits=None,
    )
    receipt = await world.delivery.deliver_failure(job, job.nonce)

    ((args, kwargs, message),) = world.thread.sent
    assert receipt.message_id == message.id
    assert args[0] == f"<@{job.user_id}>"
    embed = kwargs["embed"]
    assert embed.title == "Job #7 failed"
    assert "safety filter refused the prompt" in embed.description
    assert "25 credits reserved for it went back to your quota" in embed.description
    # After a safety refusal Retry would fail the same way: Edit prompt instead.
    assert [c.custom_id for c in kwargs["view"].children] == ["rw:edit:7"]


async def test_cancelled_notice_has_no_retry(world: World) -> None:
    job = world.job(state=JobState.CANCELLED, error_code="cancelled", refunded=True)
    await world.delivery.deliver_failure(job, job.nonce)
    ((_, kwargs, _),) = world.thread.sent
    assert kwargs["embed"].title == "Job #7 was cancelled"
    assert "view" not in kwargs


# -- without Embed Links --------------------------------------------------------------------


def without_embed_links(*channels: Any) -> None:
    perms = discord.Permissions.all()
    perms.embed_links = False
    for channel in channels:
        channel.permissions_for.return_value = perms


async def test_without_embed_links_the_clip_still_arrives_with_its_details_as_text(
    world: World, tmp_path: Path
) -> None:
    without_embed_links(world.channel, world.thread)
    job = world.job()
    await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)

    ((args, kwargs, _),) = world.thread.sent
    assert "embed" not in kwargs, "Discord would drop it without a word"
    text = args[0]
    assert text.startswith(f"<@{job.user_id}> your clip is ready.")
    assert "**Credits charged:** 25" in text and "**Seed:** 42" in text
    assert "@everyone" not in text  # the prompt stays defused in the text too
    assert kwargs["file"].filename == "runway-job-7.mp4"
    assert world.channel.sent == [], "nothing to complain about: the clip was posted"


async def test_without_embed_links_a_failure_notice_says_why_in_words(world: World) -> None:
    without_embed_links(world.channel, world.thread)
    job = world.job(
        state=JobState.FAILED,
        error_code="SAFETY.INPUT.TEXT",
        error_text="Runway's safety filter refused the prompt. Please rephrase it.",
        refunded=True,
        charged_credits=None,
    )
    await world.delivery.deliver_failure(job, job.nonce)
    ((args, kwargs, _),) = world.thread.sent
    assert "embed" not in kwargs
    assert "**Job #7 failed**" in args[0]
    assert "safety filter refused the prompt" in args[0]
    assert "went back to your quota" in args[0]


async def test_without_embed_links_status_edits_are_text_and_embeds_return_with_it(
    world: World,
) -> None:
    message = MagicMock(spec_set=discord.PartialMessage)
    message.edit = AsyncMock()
    world.channel.get_partial_message.side_effect = None
    world.channel.get_partial_message.return_value = message
    job = world.job(state=JobState.RUNNING, progress=0.4, provider_status="RUNNING")

    without_embed_links(world.channel)
    await world.delivery.refresh(job)
    assert message.edit.await_args is not None
    shown = message.edit.await_args.kwargs
    assert shown["embed"] is None and "40%" in shown["content"]

    world.channel.permissions_for.return_value = discord.Permissions.all()
    await world.delivery.refresh(job)
    shown = message.edit.await_args.kwargs
    assert shown["content"] is None, "the text fallback is cleared"
    assert "40%" in str(shown["embed"].description)


# -- exactly once after an outage: the earlier post is found, not repeated ---------------------


def posted(
    author: Any,
    *,
    message_id: int | None = None,
    content: str = "",
    embeds: list[discord.Embed] | None = None,
    view: discord.ui.View | None = None,
    filenames: tuple[str, ...] = (),
) -> MagicMock:
    """A :class:`discord.Message` read back from the history (no nonce: Discord forgets it)."""
    message = MagicMock(spec_set=discord.Message)
    message.id = message_id if message_id is not None else next_id()
    message.author = author
    message.nonce = None
    message.content = content
    message.embeds = embeds or []
    message.components = (
        [discord.ActionRow(cast(Any, row)) for row in view.to_components()]
        if view is not None
        else []
    )
    attachments = []
    for name in filenames:
        attachment = MagicMock(spec_set=discord.Attachment)
        attachment.filename = name
        attachments.append(attachment)
    message.attachments = attachments
    return message


def history_of(channel: Any, *messages: MagicMock) -> MagicMock:
    """Make ``channel.history(...)`` yield ``messages``; returns the mock to inspect calls."""

    async def history(**_: Any) -> Any:
        for message in messages:
            yield message

    mock = MagicMock(side_effect=history)
    channel.history = mock
    return mock


async def test_an_earlier_clip_found_in_the_thread_is_not_posted_again(
    world: World, tmp_path: Path
) -> None:
    status = MagicMock(spec_set=discord.PartialMessage)
    status.edit = AsyncMock()
    world.channel.get_partial_message.side_effect = None
    world.channel.get_partial_message.return_value = status
    job = world.job()
    someone = make_user()
    clip = posted(
        world.me,
        content=f"<@{job.user_id}> your clip is ready.",
        embeds=[result_embed(job)],
        view=result_view(job),
        filenames=("runway-job-7.mp4",),
    )
    history = history_of(
        world.thread,
        posted(someone, content="job #7", embeds=[result_embed(job)]),  # not the bot's
        posted(
            world.me, embeds=[status_embed(StatusUpdate(job=job))], message_id=job.status_message_id
        ),
        clip,
    )

    receipt = await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)

    assert receipt.message_id == clip.id
    assert world.thread.sent == [], "posted once, before the outage"
    (call,) = history.call_args_list
    assert call.kwargs["after"].id == job.status_message_id
    assert call.kwargs["limit"] == LOOK_BACK_MESSAGES
    assert call.kwargs["oldest_first"] is True
    assert status.edit.await_args is not None, "the status message still shows Finished"
    assert status.edit.await_args.kwargs["embed"].description.startswith("Finished\n")


@pytest.mark.parametrize(
    "how",
    ["footer", "text-fallback", "button-only", "marker-line"],
)
async def test_an_earlier_failure_notice_is_recognised_by_any_of_its_marks(
    world: World, how: str
) -> None:
    job = world.job(state=JobState.FAILED, error_code="x", error_text="broke", refunded=True)
    embed = failure_embed(job)
    kinds: dict[str, dict[str, Any]] = {
        "footer": {"embeds": [embed]},
        "text-fallback": {"content": f"<@{job.user_id}>\n{embed_as_text(embed)}"},
        "button-only": {"content": f"<@{job.user_id}>", "view": failure_view(job)},
        "marker-line": {"content": "too large\njob #7"},
    }
    notice = posted(world.me, **kinds[how])
    history_of(world.thread, notice)

    receipt = await world.delivery.deliver_failure(job, job.nonce)

    assert receipt.message_id == notice.id
    assert world.thread.sent == []


async def test_without_an_earlier_post_the_clip_is_posted(world: World, tmp_path: Path) -> None:
    job = world.job()
    other = dataclasses.replace(job, id=8)
    history_of(
        world.thread,
        posted(world.me, embeds=[result_embed(other)], view=result_view(other)),  # job #8
        posted(world.me, content="I could not post the result of job #7. ..."),
        posted(make_user(), content="job #7"),
    )

    receipt = await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)

    ((_, kwargs, message),) = world.thread.sent
    assert receipt.message_id == message.id
    assert kwargs["nonce"] == job.nonce


async def test_in_the_channel_the_look_starts_after_the_status_message(
    world: World, tmp_path: Path
) -> None:
    job = world.job(thread_id=None)
    clip = posted(world.me, embeds=[result_embed(job)])
    history = history_of(
        world.channel,
        posted(
            world.me, message_id=job.status_message_id, embeds=[status_embed(StatusUpdate(job=job))]
        ),
        clip,
    )
    receipt = await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)
    assert receipt.message_id == clip.id
    assert world.channel.sent == []
    assert history.call_args.kwargs["after"].id == job.status_message_id


async def test_the_status_message_alone_is_no_earlier_post(world: World, tmp_path: Path) -> None:
    job = world.job(thread_id=None)
    history_of(
        world.channel,
        posted(
            world.me, message_id=job.status_message_id, embeds=[status_embed(StatusUpdate(job=job))]
        ),
    )
    await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)
    assert len(world.channel.sent) == 1


async def test_without_read_message_history_it_posts_relying_on_the_nonce(
    world: World, tmp_path: Path
) -> None:
    perms = discord.Permissions.all()
    perms.read_message_history = False
    world.thread.permissions_for.return_value = perms
    history = history_of(world.thread)
    job = world.job()

    await world.delivery.deliver_clip(job, small_clip(tmp_path), job.nonce)

    history.assert_not_called()
    ((_, kwargs, _),) = world.thread.sent
    assert kwargs["nonce"] == job.nonce


@pytest.mark.parametrize("error", [forbidden(50001, "Missing Access"), server_error(503)])
async def test_when_the_history_cannot_be_read_it_posts_relying_on_the_nonce(
    world: World, error: Exception
) -> None:
    async def refused(**_: Any) -> Any:
        raise error
        yield  # an async generator, as discord.py's history is

    world.thread.history = MagicMock(side_effect=refused)
    job = world.job(state=JobState.FAILED, error_code="x", error_text="broke", refunded=True)

    receipt = await world.delivery.deliver_failure(job, job.nonce)

    ((_, kwargs, message),) = world.thread.sent
    assert receipt.message_id == message.id
    assert kwargs["nonce"] == job.nonce
