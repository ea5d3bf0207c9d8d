"""DiscordDelivery.publish: a job's status message and thread, adopted when Discord already has
them (a post stored before a crash or a 5xx), posted otherwise, never doubled; and the command's
own post, which publish leaves alone until it ends."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest

from bot.domain import Job, JobState
from bot.ports import DeliveryFailed, Published
from bot.ui.posting import PostFailed, PostTracker, is_status_message, status_nonce
from tests.bot.ui.test_delivery import World
from tests.discord_doubles import (
    forbidden,
    make_message,
    make_thread,
    make_user,
    not_found,
    server_error,
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    w.channel.history = MagicMock(side_effect=lambda limit: _messages(w.history))
    w.history: list[Any] = []  # newest first, as Discord returns them
    w.client.fetch_channel = AsyncMock(side_effect=not_found())
    send = w.channel.send.side_effect

    async def fresh(*args: Any, **kwargs: Any) -> Any:
        message = await send(*args, **kwargs)
        message.thread = None  # a message just posted has no thread yet
        message.guild = w.channel.guild
        return message

    w.channel.send = AsyncMock(side_effect=fresh)
    guild = w.channel.guild
    guild.get_thread.return_value = None
    guild.fetch_channel = AsyncMock(side_effect=not_found())
    return w


async def _messages(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


def unposted(world: World, **changes: Any) -> Job:
    base: dict[str, Any] = {"state": JobState.RUNNING, "status_message_id": None, "thread_id": None}
    base.update(changes)
    return world.job(**base)


def message_in(
    world: World, *, author: Any, title: str | None = None, cancel: int | None = None
) -> Any:
    message = make_message(world.channel)
    message.author = author
    message.embeds = [discord.Embed(title=title)] if title else []
    message.content = ""
    message.webhook_id = None
    message.thread = None
    message.guild = world.channel.guild
    buttons = [] if cancel is None else [SimpleNamespace(custom_id=f"rw:cancel:{cancel}")]
    message.components = [SimpleNamespace(children=buttons)]
    return message


async def test_an_orphan_with_nothing_in_the_channel_gets_its_status_and_thread(
    world: World,
) -> None:
    job = unposted(world)
    published = await world.delivery.publish(job, orphan=True)

    ((_, kwargs, message),) = world.channel.sent
    assert kwargs["embed"].title == "Animate · job #7"
    assert kwargs["nonce"] == status_nonce(job)  # Discord drops a repeated post
    assert [c.custom_id for c in kwargs["view"].children] == ["rw:cancel:7"]
    (thread,) = world.channel.threads_created
    assert published == Published(message.id, thread.id)


async def test_a_status_message_discord_already_stored_is_adopted_not_doubled(world: World) -> None:
    job = unposted(world)
    lookalike = message_in(world, author=make_user(), title="Animate · job #7")  # not the bot's
    stored = message_in(world, author=world.client.user, title="Animate · job #7", cancel=7)
    other_job = message_in(world, author=world.client.user, title="Animate · job #8", cancel=8)
    world.history = [lookalike, other_job, stored]
    thread = make_thread(parent=world.channel, thread_id=stored.id)

    async def fetch(channel_id: int) -> Any:
        if channel_id != stored.id:
            raise not_found()
        return thread

    world.client.fetch_channel.side_effect = fetch

    published = await world.delivery.publish(job, orphan=True)

    assert published == Published(stored.id, thread.id)
    assert world.channel.sent == [] and world.channel.threads_created == []
    stored.create_thread.assert_not_awaited()


async def test_a_stored_status_without_its_thread_gets_the_thread(world: World) -> None:
    job = unposted(world)
    stored = message_in(world, author=world.client.user, title="Animate · job #7")
    world.history = [stored]
    published = await world.delivery.publish(job, orphan=True)
    assert world.channel.sent == []
    (thread,) = world.channel.threads_created
    assert published == Published(stored.id, thread.id)


async def test_a_thread_discord_created_before_a_5xx_is_found(world: World) -> None:
    job = unposted(world)
    stored = message_in(world, author=world.client.user, title="Animate · job #7")
    world.history = [stored]
    thread = make_thread(parent=world.channel, thread_id=stored.id)
    calls: list[int] = []

    async def fetch(channel_id: int) -> Any:
        calls.append(channel_id)
        if len(calls) == 1:
            raise not_found()  # before the attempt: no thread yet
        return thread

    world.client.fetch_channel.side_effect = fetch
    stored.create_thread = AsyncMock(side_effect=server_error(503))
    published = await world.delivery.publish(job, orphan=True)
    assert published == Published(stored.id, thread.id)
    assert calls == [stored.id, stored.id]


async def test_a_job_its_command_is_posting_is_left_to_it(world: World) -> None:
    job = unposted(world)
    assert isinstance(world.delivery, PostTracker)
    assert await world.delivery.publish(job, orphan=False) is None
    assert world.channel.sent == []
    with pytest.raises(RuntimeError):
        async with world.delivery.posting(job.id):
            raise RuntimeError("the command died mid-post")
    published = await world.delivery.publish(job, orphan=False)  # its fate unknown: publish
    assert published is not None and published.status_message_id is not None
    assert len(world.channel.sent) == 1


async def test_a_job_whose_command_could_not_post_has_no_status_and_no_notice(
    world: World,
) -> None:
    job = unposted(world, state=JobState.CANCELLED, error_code="cancelled", refunded=True)
    with pytest.raises(PostFailed):
        async with world.delivery.posting(job.id):
            raise PostFailed("I am missing the Send Messages permission.")
    assert await world.delivery.publish(job, orphan=True) == Published(None)
    with pytest.raises(DeliveryFailed) as caught:  # the requester was told in their reply
        await world.delivery.deliver_failure(job, job.nonce)
    assert caught.value.permanent
    assert world.channel.sent == [] and world.thread.sent == []


async def test_a_job_cancelled_elsewhere_before_it_was_recorded_is_told(world: World) -> None:
    """Cancelled at Runway while its command was still posting: once published, the notice
    goes to the job's thread like any other."""
    job = unposted(world, state=JobState.CANCELLED, error_code="cancelled", refunded=True)
    published = await world.delivery.publish(job, orphan=True)
    assert published is not None and published.thread_id is not None
    (thread,) = world.channel.threads_created
    status = world.channel.sent[0][1]
    assert status["view"] is discord.utils.MISSING  # a finished job's status: no Cancel
    told = dataclasses.replace(
        job, status_message_id=published.status_message_id, thread_id=thread.id
    )
    world.client.get_channel.side_effect = {world.channel.id: world.channel, thread.id: thread}.get
    await world.delivery.deliver_failure(told, told.nonce)
    ((_, kwargs, _),) = thread.sent
    assert kwargs["embed"].title == "Job #7 was cancelled"


async def test_a_channel_that_refuses_the_status_is_a_permanent_failure(world: World) -> None:
    job = unposted(world)
    world.channel.send = AsyncMock(side_effect=forbidden())
    with pytest.raises(DeliveryFailed) as caught:
        await world.delivery.publish(job, orphan=True)
    assert caught.value.permanent


async def test_discord_down_while_publishing_is_retried_later(world: World) -> None:
    job = unposted(world)
    world.channel.history = MagicMock(side_effect=server_error(503))
    with pytest.raises(DeliveryFailed) as caught:
        await world.delivery.publish(job, orphan=True)
    assert not caught.value.permanent
    assert world.channel.sent == []  # never posts without having looked


def test_the_status_message_is_recognised_by_title_text_or_cancel_button(tmp_path: Path) -> None:
    world = World(tmp_path)
    job = unposted(world)
    me = world.client.user
    assert is_status_message(message_in(world, author=me, title="Animate · job #7"), job)
    assert is_status_message(message_in(world, author=me, cancel=7), job)
    text = message_in(world, author=me)
    text.content = "**Animate · job #7**\nQueued"
    assert is_status_message(text, job)
    assert not is_status_message(
        message_in(world, author=me, title="Animate · job #7 is ready"), job
    )
    assert not is_status_message(message_in(world, author=me, title="Animate · job #70"), job)
