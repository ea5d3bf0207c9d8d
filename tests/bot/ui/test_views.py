"""Persistent buttons: custom ids survive restarts (parsed back by template) and do their job."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest

from bot.domain import Job, JobKind, JobParams, JobState
from bot.ui.context import Services
from bot.ui.delivery import DiscordDelivery
from bot.ui.views import (
    DYNAMIC_ITEMS,
    CancelButton,
    RerunButton,
    RetryButton,
    failure_view,
    job_view,
    result_view,
)
from cogs.generate import GenerateCog
from tests.cogs.conftest import Harness, make_harness, png_bytes
from tests.discord_doubles import make_attachment, make_member


def job(state: JobState, **changes: Any) -> Job:
    when = datetime(2026, 11, 20, tzinfo=UTC)
    base = Job(
        id=31,
        kind=JobKind.ANIMATE,
        state=state,
        user_id=1,
        guild_id=2,
        channel_id=3,
        prompt="p",
        params=JobParams(model="gen4_turbo"),
        created_at=when,
        updated_at=when,
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize("cls", DYNAMIC_ITEMS)
async def test_custom_ids_parse_back_to_the_same_job(cls: Any) -> None:
    button = cls(123456789)
    custom_id = button.item.custom_id
    assert len(custom_id) <= 100
    match = cls.__discord_ui_compiled_template__.fullmatch(custom_id)
    assert match is not None
    restored = await cls.from_custom_id(MagicMock(spec_set=discord.Interaction), button, match)
    assert restored.job_id == 123456789
    assert restored.item.custom_id == custom_id


def test_templates_do_not_overlap() -> None:
    ids = [CancelButton(1).item.custom_id, RerunButton(1).item.custom_id]
    ids.append(RetryButton(1).item.custom_id)
    for cls in DYNAMIC_ITEMS:
        matching = [i for i in ids if cls.__discord_ui_compiled_template__.fullmatch(i)]
        assert len(matching) == 1


def test_views_by_state() -> None:
    queued = job_view(job(JobState.QUEUED))
    assert queued is not None and queued.timeout is None
    assert [c.custom_id for c in queued.children] == ["rw:cancel:31"]  # type: ignore[attr-defined]
    assert job_view(job(JobState.SUCCEEDED)) is None
    assert [c.custom_id for c in result_view(job(JobState.SUCCEEDED)).children] == [  # type: ignore[attr-defined]
        "rw:rerun:31"
    ]
    assert failure_view(job(JobState.CANCELLED, error_code="cancelled")) is None
    failed = failure_view(job(JobState.FAILED, error_code="INTERNAL"))
    assert failed is not None
    assert [c.custom_id for c in failed.children] == ["rw:retry:31"]  # type: ignore[attr-defined]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await make_harness(tmp_path)
    try:
        yield h
    finally:
        await h.store.close()


async def start_job(h: Harness, user: Any) -> Job:
    interaction, _ = h.interaction(user=user)
    await GenerateCog.animate.callback(
        GenerateCog(h.bot), interaction, make_attachment(png_bytes()), "rain", seed=7
    )
    found = await h.jobs.get(int(interaction.extras["job_id"]))
    assert found is not None
    return found


async def test_cancel_button_cancels_and_redraws_the_status(harness: Harness) -> None:
    user = make_member()
    started = await start_job(harness, user)
    client = MagicMock(spec_set=discord.Client)
    client.get_channel.side_effect = {harness.channel.id: harness.channel}.get
    message = MagicMock(spec_set=discord.PartialMessage)
    message.edit = AsyncMock()
    harness.channel.get_partial_message.side_effect = None
    harness.channel.get_partial_message.return_value = message
    assert harness.bot.services is not None
    harness.bot.services = Services(
        settings=harness.settings,
        jobs=harness.jobs,
        quota=harness.quota,
        delivery=DiscordDelivery(client, harness.settings, Path("unused")),
    )
    interaction, log = harness.interaction(user=user)

    await CancelButton(started.id).callback(interaction)

    assert f"Job #{started.id} is cancelled" in log.last
    harness.channel.get_partial_message.assert_called_once_with(started.status_message_id)
    assert message.edit.await_args is not None
    assert message.edit.await_args.kwargs["view"] is None
    assert "Cancelled" in message.edit.await_args.kwargs["embed"].description
    after = await harness.jobs.get(started.id)
    assert after is not None and after.state is JobState.CANCELLED


async def test_cancel_button_refuses_other_members(harness: Harness) -> None:
    started = await start_job(harness, make_member())
    interaction, log = harness.interaction(user=make_member())
    await CancelButton(started.id).callback(interaction)
    assert "Only the person who started this job" in log.last


async def test_rerun_button_in_the_thread_starts_a_new_job_in_the_channel(
    harness: Harness,
) -> None:
    user = make_member()
    first = await start_job(harness, user)
    thread = harness.channel.threads_created[0]
    interaction, log = harness.interaction(user=user, channel=thread)

    await RerunButton(first.id).callback(interaction)

    jobs = await harness.jobs.list_user_jobs(user.id)
    second = jobs[0]
    assert second.id != first.id
    assert second.rerun_of == first.id
    assert second.params.seed != 7
    assert second.prompt == "rain"
    assert len(harness.channel.sent) == 2  # the new status message went to the parent channel
    assert thread.sent == []
    new_thread = harness.channel.threads_created[1]
    assert new_thread.jump_url in log.last
    assert log.deferred


async def test_retry_button_keeps_the_seed(harness: Harness) -> None:
    user = make_member()
    first = await start_job(harness, user)
    interaction, _ = harness.interaction(user=user)
    await RetryButton(first.id).callback(interaction)
    newest = (await harness.jobs.list_user_jobs(user.id))[0]
    assert newest.rerun_of == first.id
    assert newest.params.seed == 7


async def test_rerun_by_someone_else_is_refused(harness: Harness) -> None:
    first = await start_job(harness, make_member())
    stranger = make_member()
    interaction, log = harness.interaction(user=stranger)
    await RerunButton(first.id).callback(interaction)
    assert "Only the person who started this job can rerun it" in log.last
    assert await harness.jobs.list_user_jobs(stranger.id) == []


async def test_rerun_over_quota_says_so(harness: Harness) -> None:
    user = make_member()
    first = await start_job(harness, user)
    await harness.quota.set_user_limit(harness.guild_id, user.id, 30)
    interaction, log = harness.interaction(user=user)
    await RerunButton(first.id).callback(interaction)
    assert "Not enough quota" in log.last
    assert "needs **25**" in log.last


async def test_rerun_of_a_missing_job(harness: Harness) -> None:
    interaction, log = harness.interaction()
    await RerunButton(999).callback(interaction)
    assert "no longer exists" in log.last


async def test_a_button_pressed_before_the_bot_is_ready(harness: Harness) -> None:
    harness.bot.services = None
    interaction, log = harness.interaction()
    await CancelButton(1).callback(interaction)
    assert "still starting up" in log.last


async def test_a_bug_behind_a_button_is_answered_with_a_reference(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Job:
        raise RuntimeError("disk I/O error at /srv/data")

    monkeypatch.setattr(harness.jobs, "cancel", broken)
    interaction, log = harness.interaction()
    await CancelButton(5).callback(interaction)
    assert "reference" in log.last
    assert "/srv/data" not in log.last
    assert "Cancel button failed" in caplog.text
