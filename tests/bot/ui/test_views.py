"""Persistent buttons: custom ids survive restarts (parsed back by template) and do their job."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import av
import discord
import pytest
from PIL import Image

from bot.domain import InputRole, Job, JobKind, JobParams, JobState, Origin
from bot.store import jobs_repo
from bot.ui.context import Services
from bot.ui.delivery import DiscordDelivery
from bot.ui.views import (
    DYNAMIC_ITEMS,
    CancelButton,
    ConfirmView,
    ContinueButton,
    EditPromptButton,
    IterateModal,
    RerunButton,
    RestyleClipButton,
    RetryButton,
    failure_view,
    iterate_modal_submitted,
    job_view,
    result_view,
)
from cogs.generate import GenerateCog
from tests.cogs.conftest import OWNER_ID, Harness, make_harness, png_bytes
from tests.discord_doubles import make_attachment, make_member


def mp4_clip(seconds: float, width: int = 160, height: int = 120, fps: int = 12) -> bytes:
    """A real H.264 MP4 made with PyAV."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(round(seconds * fps)):
            image = Image.new("RGB", (width, height), ((i * 9) % 256, 90, 150))
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


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
    ids = [cls(1).item.custom_id for cls in DYNAMIC_ITEMS]
    assert len(set(ids)) == len(DYNAMIC_ITEMS)
    for cls in DYNAMIC_ITEMS:
        matching = [i for i in ids if cls.__discord_ui_compiled_template__.fullmatch(i)]
        assert len(matching) == 1


def test_views_by_state() -> None:
    queued = job_view(job(JobState.QUEUED))
    assert queued is not None and queued.timeout is None
    assert [c.custom_id for c in queued.children] == ["rw:cancel:31"]  # type: ignore[attr-defined]
    assert job_view(job(JobState.SUCCEEDED)) is None
    assert [c.custom_id for c in result_view(job(JobState.SUCCEEDED)).children] == [  # type: ignore[attr-defined]
        "rw:rerun:31",
        "rw:edit:31",
        "rw:continue:31",
        "rw:restyle:31",
    ]
    assert [c.item.label for c in result_view(job(JobState.SUCCEEDED)).children] == [  # type: ignore[attr-defined]
        "Vary (new seed)",
        "Edit prompt",
        "Continue from last frame",
        "Restyle this clip",
    ]
    assert failure_view(job(JobState.CANCELLED, error_code="cancelled")) is None
    failed = failure_view(job(JobState.FAILED, error_code="INTERNAL"))
    assert failed is not None
    assert [c.custom_id for c in failed.children] == ["rw:retry:31"]  # type: ignore[attr-defined]
    # Retry would be refused the same way after a safety refusal: Edit prompt instead.
    refused = failure_view(job(JobState.FAILED, error_code="SAFETY.INPUT.TEXT"))
    assert refused is not None
    assert [c.custom_id for c in refused.children] == ["rw:edit:31"]  # type: ignore[attr-defined]
    doubt = failure_view(job(JobState.IN_DOUBT, error_code="in_doubt"))
    assert doubt is not None
    assert [c.custom_id for c in doubt.children] == ["rw:retry:31"]  # type: ignore[attr-defined]


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


# -- iterating on a result ------------------------------------------------------------------


async def succeed(h: Harness, job_id: int) -> None:
    """Mark a job as finished with a clip (what the worker records)."""
    async with h.store.transaction() as conn:
        await jobs_repo.update(conn, job_id, {"state": JobState.SUCCEEDED.value})


def clip_message(job_id: int, data: bytes) -> Any:
    """The clip message a button sits under: the bot's ``runway-job-<id>.mp4``."""
    message = MagicMock(spec_set=discord.Message)
    message.attachments = [
        make_attachment(data, filename=f"runway-job-{job_id}.mp4", content_type="video/mp4")
    ]
    return message


async def test_edit_prompt_opens_a_modal_prefilled_and_starts_an_edited_job(
    harness: Harness,
) -> None:
    user = make_member()
    first = await start_job(harness, user)
    interaction, log = harness.interaction(user=user)
    await EditPromptButton(first.id).callback(interaction)
    (modal,) = log.modals
    assert isinstance(modal, IterateModal)
    assert modal.custom_id == f"rw:modal:edit:{first.id}"
    assert modal.prompt.default == "rain"
    assert modal.is_finished()  # not kept in memory: handled from its custom id

    submit_interaction, submit_log = harness.interaction(user=user)
    handled = await iterate_modal_submitted(submit_interaction, modal.custom_id, "snow")
    assert handled
    newest = (await harness.jobs.list_user_jobs(user.id))[0]
    assert newest.id != first.id and newest.prompt == "snow"
    assert newest.params.seed == 7  # the same seed: only the prompt changed
    assert (newest.rerun_of, newest.origin) == (first.id, Origin.EDIT)
    assert f"Job #{newest.id}" in submit_log.last
    assert "About **25** credits; **50** credits left after it." in submit_log.last
    assert not await iterate_modal_submitted(submit_interaction, "rw:animate-message:1", "x")
    crafted, crafted_log = harness.interaction(user=user)
    assert await iterate_modal_submitted(crafted, f"rw:modal:edit:{2**70}", "x")
    assert crafted_log.last == "That job does not exist."


async def test_edit_prompt_and_restyle_are_refused_to_others_without_a_modal(
    harness: Harness,
) -> None:
    first = await start_job(harness, make_member())
    for button, verb in ((EditPromptButton, "edit"), (RestyleClipButton, "restyle")):
        interaction, log = harness.interaction(user=make_member())
        await button(first.id).callback(interaction)
        assert log.modals == []
        assert f"Only the person who started this job can {verb} it." in log.last
    # A crafted modal submission is refused by the job service as well.
    stranger = make_member()
    interaction, log = harness.interaction(user=stranger)
    await iterate_modal_submitted(interaction, f"rw:modal:edit:{first.id}", "mine now")
    assert "Only the person who started this job can edit it." in log.last
    assert await harness.jobs.list_user_jobs(stranger.id) == []


async def test_continue_animates_the_last_frame_of_the_clip(harness: Harness) -> None:
    user = make_member()
    first = await start_job(harness, user)
    await succeed(harness, first.id)
    interaction, log = harness.interaction(user=user)
    interaction.message = clip_message(first.id, mp4_clip(2.0, 320, 240))

    await ContinueButton(first.id).callback(interaction)

    newest = (await harness.jobs.list_user_jobs(user.id))[0]
    assert newest.id != first.id, log.texts
    assert (newest.kind, newest.prompt, newest.origin) == (JobKind.ANIMATE, "rain", "continue")
    assert newest.rerun_of == first.id and newest.ratio_auto
    (image,) = await harness.jobs.inputs(newest.id)
    assert image.role is InputRole.IMAGE and image.mime.startswith("image/")
    assert image.width and image.height and abs(image.width / image.height - 4 / 3) < 0.01
    assert f"Job #{newest.id}" in log.last


async def test_continue_needs_the_clip_and_the_requester(harness: Harness) -> None:
    user = make_member()
    first = await start_job(harness, user)
    interaction, log = harness.interaction(user=make_member())
    interaction.message = clip_message(first.id, b"never read")
    await ContinueButton(first.id).callback(interaction)
    assert "Only the person who started this job can continue it." in log.last
    interaction.message.attachments[0].read.assert_not_awaited()

    interaction, log = harness.interaction(user=user)
    interaction.message = clip_message(first.id + 1, b"another job's clip")
    await ContinueButton(first.id).callback(interaction)
    assert "The clip is no longer on this message" in log.last

    interaction, log = harness.interaction(user=user)
    interaction.message = clip_message(first.id, mp4_clip(1.0))
    await ContinueButton(first.id).callback(interaction)
    assert "This job has no clip to work from." in log.last  # it is still queued
    assert len(await harness.jobs.list_user_jobs(user.id)) == 1


async def test_restyle_modal_restyles_the_clip_with_the_new_prompt(harness: Harness) -> None:
    user = make_member()
    first = await start_job(harness, user)
    await succeed(harness, first.id)
    interaction, log = harness.interaction(user=user)
    await RestyleClipButton(first.id).callback(interaction)
    (modal,) = log.modals
    assert modal.custom_id == f"rw:modal:restyle:{first.id}"

    submit_interaction, submit_log = harness.interaction(user=user)
    submit_interaction.message = clip_message(first.id, mp4_clip(2.0, 320, 240))
    await iterate_modal_submitted(submit_interaction, modal.custom_id, "as a watercolour")

    newest = (await harness.jobs.list_user_jobs(user.id))[0]
    assert newest.id != first.id, submit_log.texts
    assert (newest.kind, newest.prompt, newest.origin) == (
        JobKind.RESTYLE,
        "as a watercolour",
        "restyle",
    )
    (video,) = await harness.jobs.inputs(newest.id)
    assert video.role is InputRole.VIDEO and video.duration_seconds == pytest.approx(2.0, 0.1)
    assert newest.source_seconds is None  # 2 s: nothing trimmed


async def test_a_damaged_clip_is_answered_and_starts_nothing(harness: Harness) -> None:
    user = make_member()
    first = await start_job(harness, user)
    await succeed(harness, first.id)
    interaction, log = harness.interaction(user=user)
    interaction.message = clip_message(first.id, b"\x00\x00\x00\x18ftypmp42 not really")
    await ContinueButton(first.id).callback(interaction)
    assert "damaged" in log.last
    assert len(await harness.jobs.list_user_jobs(user.id)) == 1


# -- cost first ----------------------------------------------------------------------------


def confirm_of(log: Any) -> ConfirmView:
    view = log.messages[-1][1]["view"]
    assert isinstance(view, ConfirmView)
    return view


def with_edit_message(interaction: Any, log: Any) -> None:
    async def edit_message(**kwargs: Any) -> None:
        assert not log.done, "interaction answered twice"
        log.done = True
        log.messages.append((kwargs.get("content"), kwargs))

    interaction.response.edit_message = AsyncMock(side_effect=edit_message)


async def test_a_job_above_the_threshold_asks_first_and_reserves_nothing(
    harness: Harness,
) -> None:
    user = make_member()
    await harness.quota.guilds.update(harness.guild_id, OWNER_ID, confirm_above=20)
    interaction, log = harness.interaction(user=user)
    await GenerateCog.animate.callback(
        GenerateCog(harness.bot), interaction, make_attachment(png_bytes()), "rain", seed=7
    )
    assert log.last == (
        "This job costs about **25** credits, more than this server's confirmation threshold "
        "of **20**. About **25** credits; **75** credits left after it. Start it?"
    )
    view = confirm_of(log)
    assert [c.label for c in view.children] == ["Confirm", "Cancel"]  # type: ignore[attr-defined]
    assert await harness.jobs.list_user_jobs(user.id) == []
    status = await harness.quota.status(harness.guild_id, user.id)
    assert (status.used, status.reserved) == (0, 0)

    # Someone else cannot confirm it; the requester can, once.
    other, other_log = harness.interaction(user=make_member())
    assert not await view.interaction_check(other)
    assert "Only the person who asked for this job can confirm it." in other_log.last
    press, press_log = harness.interaction(user=user)
    with_edit_message(press, press_log)
    assert await view.interaction_check(press)
    await view.confirm.callback(press)
    (job_started,) = await harness.jobs.list_user_jobs(user.id)
    assert press_log.texts[0] == "Starting the job…"
    assert f"Job #{job_started.id} is queued" in press_log.last
    assert job_started.quota_left == 75
    again, again_log = harness.interaction(user=user)
    await view.confirm.callback(again)
    assert "already answered" in again_log.last
    assert len(await harness.jobs.list_user_jobs(user.id)) == 1


async def test_cancel_or_timeout_of_a_confirmation_changes_nothing(harness: Harness) -> None:
    user = make_member()
    await harness.quota.guilds.update(harness.guild_id, OWNER_ID, confirm_above=0)
    cog = GenerateCog(harness.bot)
    interaction, log = harness.interaction(user=user)
    await GenerateCog.animate.callback(cog, interaction, make_attachment(png_bytes()), "rain")
    view = confirm_of(log)
    press, press_log = harness.interaction(user=user)
    with_edit_message(press, press_log)
    await view.cancel.callback(press)
    assert press_log.last == "Nothing was started and nothing was charged."

    interaction, log = harness.interaction(user=user)
    await GenerateCog.animate.callback(cog, interaction, make_attachment(png_bytes()), "rain")
    view = confirm_of(log)
    message = MagicMock(spec_set=discord.WebhookMessage)
    message.edit = AsyncMock()
    view.message = message
    await view.on_timeout()
    message.edit.assert_awaited_once_with(
        content="No answer in time. Nothing was started and nothing was charged.", view=None
    )
    assert await harness.jobs.list_user_jobs(user.id) == []
    status = await harness.quota.status(harness.guild_id, user.id)
    assert (status.used, status.reserved) == (0, 0)


async def test_below_the_threshold_or_over_what_is_left_does_not_ask(harness: Harness) -> None:
    user = make_member()
    await harness.quota.guilds.update(harness.guild_id, OWNER_ID, confirm_above=25)
    cog = GenerateCog(harness.bot)
    interaction, log = harness.interaction(user=user)
    await GenerateCog.animate.callback(cog, interaction, make_attachment(png_bytes()), "rain")
    assert "is queued" in log.last  # 25 is not above 25
    await harness.quota.guilds.update(harness.guild_id, OWNER_ID, confirm_above=1)
    await harness.quota.set_user_limit(harness.guild_id, user.id, 30)
    interaction, log = harness.interaction(user=user)
    await GenerateCog.animate.callback(cog, interaction, make_attachment(png_bytes()), "rain")
    # A Confirm could only fail: the refusal comes at once, with the numbers.
    assert "Not enough quota" in log.last and "needs **25**" in log.last
    assert all("view" not in kwargs for _, kwargs in log.messages)


async def test_without_attach_files_the_status_goes_out_without_a_preview(
    harness: Harness,
) -> None:
    user = make_member()
    first = await start_job(harness, user)
    assert "file" in harness.channel.sent[0][1]  # with the permission: the preview
    no_files = discord.Permissions.all()
    no_files.attach_files = False
    interaction, log = harness.interaction(user=user, app_permissions=no_files)
    await RerunButton(first.id).callback(interaction)
    newest = (await harness.jobs.list_user_jobs(user.id))[0]
    assert newest.id != first.id, log.texts
    kwargs = harness.channel.sent[1][1]
    assert kwargs["file"] is discord.utils.MISSING
    assert kwargs["embed"].thumbnail.url is None and not newest.thumbnail
