"""/animate, /restyle and the message menu against the real job service and SQLite."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import aiohttp
import av
import discord
import pytest
from PIL import Image
from pydantic import SecretStr

from bot.config import RunwaySettings
from bot.domain import JobInput, JobKind, JobState, UserError
from bot.jobs import JobService
from bot.media import data_uri_fits
from bot.media.datauri import max_raw_bytes
from bot.quota import QuotaService
from bot.store import jobs_repo
from bot.ui.actions import POST_FAILED_REASON
from bot.ui.context import Services, StatusRefresher
from bot.ui.delivery import DiscordDelivery
from bot.ui.embeds import explain_failure
from cogs.generate import MAX_VIDEO_BYTES, CheckFailed, GenerateCog, PromptModal
from tests.bot.media.conftest import video_packets
from tests.cogs.conftest import Harness, build_settings, make_harness, png_bytes
from tests.discord_doubles import (
    forbidden,
    make_attachment,
    make_dm_channel,
    make_member,
    make_user,
    not_found,
    server_error,
)


@pytest.fixture
def cog(harness: Harness) -> GenerateCog:
    return GenerateCog(harness.bot)


async def animate(cog: GenerateCog, interaction: Any, image: Any, prompt: str, **kw: Any) -> None:
    await GenerateCog.animate.callback(cog, interaction, image, prompt, **kw)


async def test_animate_posts_status_opens_thread_and_confirms(
    harness: Harness, cog: GenerateCog
) -> None:
    user = make_member()
    interaction, log = harness.interaction(user=user)
    image = make_attachment(png_bytes(1280, 720))

    await animate(cog, interaction, image, "a cat waves")

    assert log.deferred
    image.read.assert_awaited_once()
    jobs = await harness.jobs.list_user_jobs(user.id, guild_id=harness.guild_id)
    assert len(jobs) == 1
    job = jobs[0]
    assert job.state is JobState.QUEUED
    assert job.params.model == "gen4_turbo"
    assert job.params.ratio == "1280:720"
    (_args, kwargs, message) = harness.channel.sent[0]
    embed = kwargs["embed"]
    assert embed.title == f"Animate · job #{job.id}"
    assert "a cat waves" in (embed.description or "")
    assert kwargs["allowed_mentions"].to_dict()["parse"] == []
    assert [c.custom_id for c in kwargs["view"].children] == [f"rw:cancel:{job.id}"]
    thread = harness.channel.threads_created[0]
    assert job.id == interaction.extras["job_id"]
    stored = await harness.jobs.get(job.id)
    assert stored is not None
    assert stored.thread_id == thread.id
    assert stored.status_message_id == message.id
    assert thread.jump_url in log.last
    assert log.messages[-1][1]["ephemeral"] is True
    status = await harness.quota.status(harness.guild_id, user.id)
    assert status.reserved == 25


async def test_wrong_attachment_type_is_refused_before_acknowledging(
    harness: Harness, cog: GenerateCog
) -> None:
    user = make_member()
    interaction, log = harness.interaction(user=user)
    doc = make_attachment(b"hello", filename="notes.txt", content_type="text/plain")

    await animate(cog, interaction, doc, "x")

    assert not log.deferred
    assert "must be an image" in log.last
    assert "text/plain" in log.last
    doc.read.assert_not_awaited()
    assert await harness.jobs.list_user_jobs(user.id) == []


async def test_oversized_attachment_is_refused(harness: Harness, cog: GenerateCog) -> None:
    interaction, log = harness.interaction()
    big = make_attachment(b"x", size=60 * 1024 * 1024)
    await animate(cog, interaction, big, "x")
    assert "60.0 MB" in log.last and "20 MB" in log.last


async def test_image_that_is_not_really_an_image_is_refused_after_deep_check(
    harness: Harness, cog: GenerateCog
) -> None:
    user = make_member()
    interaction, log = harness.interaction(user=user)
    fake = make_attachment(b"this is plain text pretending", content_type="image/png")

    await animate(cog, interaction, fake, "x")

    assert log.deferred
    assert "image" in log.last.lower()
    assert harness.channel.sent == []
    assert await harness.jobs.list_user_jobs(user.id) == []


async def test_prompt_too_long_counts_utf16_units(harness: Harness, cog: GenerateCog) -> None:
    user = make_member()
    interaction, log = harness.interaction(user=user)
    prompt = "😀" * 501  # 501 characters, 1002 UTF-16 units

    await animate(cog, interaction, make_attachment(png_bytes()), prompt)

    assert not log.deferred
    assert "1002" in log.last and "1000" in log.last
    assert await harness.jobs.list_user_jobs(user.id) == []


async def test_duration_not_offered_by_the_model(harness: Harness, cog: GenerateCog) -> None:
    interaction, log = harness.interaction()
    await animate(cog, interaction, make_attachment(png_bytes()), "x", model="veo3.1", duration=5)
    assert "veo3.1" in log.last and "5 s" in log.last


async def test_last_frame_on_a_model_without_it(harness: Harness, cog: GenerateCog) -> None:
    interaction, log = harness.interaction()
    await animate(
        cog,
        interaction,
        make_attachment(png_bytes()),
        "x",
        model="gen4_turbo",
        last_frame=make_attachment(png_bytes()),
    )
    assert "last frame" in log.last


async def test_over_quota_says_used_limit_needed_and_reset(
    harness: Harness, cog: GenerateCog
) -> None:
    user = make_member()
    await harness.quota.set_user_limit(harness.guild_id, user.id, 10)
    interaction, log = harness.interaction(user=user)

    await animate(cog, interaction, make_attachment(png_bytes()), "x")

    text = log.last
    assert "**0** of **10** credits" in text
    assert "needs **25**" in text
    assert "<t:" in text
    assert harness.channel.sent == []
    assert await harness.jobs.list_user_jobs(user.id) == []


async def test_bot_wide_daily_cap_is_explained_as_the_bots_budget(
    harness: Harness, cog: GenerateCog
) -> None:
    capped = harness.settings.quota.model_copy(update={"daily_credit_cap": 10})
    quota = QuotaService(harness.store, capped, harness.settings.models)
    jobs = JobService(harness.settings, harness.store, quota)
    harness.bot.services = Services(settings=harness.settings, jobs=jobs, quota=quota)
    user = make_member()
    await quota.set_user_limit(harness.guild_id, user.id, "unlimited")
    interaction, log = harness.interaction(user=user)

    await animate(cog, interaction, make_attachment(png_bytes()), "x")

    assert "today's Runway budget, shared by everyone" in log.last
    assert "Not enough quota" not in log.last
    assert harness.channel.sent == []
    assert await jobs.list_user_jobs(user.id) == []


async def test_missing_attach_files_is_named_and_nothing_is_created(
    harness: Harness, cog: GenerateCog
) -> None:
    user = make_member()
    perms = discord.Permissions.all()
    perms.attach_files = False
    interaction, log = harness.interaction(user=user, app_permissions=perms)

    await animate(cog, interaction, make_attachment(png_bytes()), "x")

    assert "**Attach Files**" in log.last
    assert not log.deferred
    assert await harness.jobs.list_user_jobs(user.id) == []


@pytest.mark.parametrize(
    "failure",
    [server_error(503), aiohttp.ClientConnectionError("dropped")],
    ids=["5xx", "dropped"],
)
async def test_a_status_post_of_unknown_outcome_is_left_to_the_publishing_step(
    harness: Harness, cog: GenerateCog, tmp_path: Path, failure: Exception
) -> None:
    user = make_member()
    recording = harness.channel.send.side_effect
    harness.channel.send.side_effect = failure
    harness.channel.history = MagicMock(side_effect=no_history)  # Discord did not store it
    client = MagicMock(spec_set=discord.Client)
    client.get_channel.return_value = harness.channel
    client.user = make_user()
    delivery = DiscordDelivery(client, harness.settings, tmp_path / "work")
    assert harness.bot.services is not None
    harness.bot.services.delivery = delivery
    interaction, log = harness.interaction(user=user)

    await animate(cog, interaction, make_attachment(png_bytes()), "x")

    assert "will post it shortly" in log.last
    assert "cancelled" not in log.last.lower()
    (job,) = await harness.jobs.list_user_jobs(user.id)
    assert job.state is JobState.QUEUED, "never cancelled for a post that may have worked"
    harness.channel.send.side_effect = recording
    published = await delivery.publish(job, orphan=False)  # the worker's step, not a peer's
    assert published is not None and published.status_message_id is not None
    assert len(harness.channel.sent) == 1


async def no_history(**_: Any) -> Any:
    for message in ():
        yield message


async def test_without_create_threads_the_job_runs_in_the_channel(
    harness: Harness, cog: GenerateCog
) -> None:
    perms = discord.Permissions.all()
    perms.create_public_threads = False
    interaction, log = harness.interaction(app_permissions=perms)

    await animate(cog, interaction, make_attachment(png_bytes()), "x")

    assert len(harness.channel.sent) == 1
    assert harness.channel.threads_created == []
    assert "**Create Public Threads**" in log.last
    assert harness.channel.sent[0][2].jump_url in log.last


async def test_forbidden_status_post_cancels_and_refunds(
    harness: Harness, cog: GenerateCog
) -> None:
    user = make_member()
    harness.channel.send.side_effect = forbidden()
    perms = discord.Permissions.all()
    perms.send_messages = False
    harness.channel.permissions_for.return_value = perms
    interaction, log = harness.interaction(user=user)

    await animate(cog, interaction, make_attachment(png_bytes()), "x")

    assert "**Send Messages**" in log.last
    assert "cancelled and not charged" in log.last
    (job,) = await harness.jobs.list_user_jobs(user.id)
    assert job.state is JobState.CANCELLED
    assert job.error_text == POST_FAILED_REASON, "not 'Cancelled by you.': they did not ask"
    assert "by you" not in explain_failure(job)
    status = await harness.quota.status(harness.guild_id, user.id)
    assert status.reserved == 0 and status.used == 0


async def test_dms_are_refused_unless_enabled(harness: Harness, cog: GenerateCog) -> None:
    interaction, log = harness.interaction(
        guild_id=None, channel=make_dm_channel(), user=make_user()
    )
    await animate(cog, interaction, make_attachment(png_bytes()), "x")
    assert "direct messages is turned off" in log.last


async def test_dms_work_without_a_thread_when_enabled(tmp_path: Any) -> None:
    h = await make_harness(tmp_path, allow_dms=True)
    try:
        cog = GenerateCog(h.bot)
        dm = make_dm_channel()
        user = make_user()
        interaction, log = h.interaction(guild_id=None, channel=dm, user=user)
        await animate(cog, interaction, make_attachment(png_bytes()), "x")
        assert len(dm.sent) == 1
        (job,) = await h.jobs.list_user_jobs(user.id)
        assert job.guild_id is None and job.thread_id is None
        assert dm.sent[0][2].jump_url in log.last
    finally:
        await h.store.close()


async def test_prompt_cannot_mention_everyone_in_the_status(
    harness: Harness, cog: GenerateCog
) -> None:
    interaction, _ = harness.interaction()
    await animate(
        cog,
        interaction,
        make_attachment(png_bytes()),
        "hi @everyone **bold** <@&123456789012345678>",
    )
    kwargs = harness.channel.sent[0][1]
    description = kwargs["embed"].description or ""
    assert "@everyone" not in description
    assert "<@&123456789012345678>" not in description
    assert "\\*\\*bold\\*\\*" in description
    assert kwargs["allowed_mentions"].to_dict() == {"parse": []}


async def test_message_menu_without_image(harness: Harness, cog: GenerateCog) -> None:
    interaction, log = harness.interaction()
    message = discord.utils.MISSING
    from unittest.mock import MagicMock

    message = MagicMock(spec_set=discord.Message)
    message.attachments = [make_attachment(b"x", filename="a.txt", content_type="text/plain")]
    await cog.animate_message(interaction, message)
    assert "no image" in log.last
    assert log.modals == []


def modal_submit(harness: Harness, user: Any, custom_id: str, prompt: str) -> tuple[Any, Any]:
    """A MODAL_SUBMIT interaction as Discord sends it: the custom id and the text inputs."""
    submit, log = harness.interaction(user=user)
    submit.type = discord.InteractionType.modal_submit
    submit.data = {
        "custom_id": custom_id,
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "prompt", "value": prompt}]}
        ],
    }
    return submit, log


async def test_message_menu_opens_modal_then_starts_the_job(
    harness: Harness, cog: GenerateCog
) -> None:
    from unittest.mock import AsyncMock, MagicMock

    user = make_member()
    interaction, log = harness.interaction(user=user)
    message = MagicMock(spec_set=discord.Message)
    message.id = 4242
    image = make_attachment(png_bytes(720, 1280))
    message.attachments = [image]

    await cog.animate_message(interaction, message)
    (modal,) = log.modals
    assert isinstance(modal, PromptModal)
    assert modal.custom_id == "rw:animate-message:4242"
    assert modal.is_finished(), "the modal is never kept in memory: its custom id says it all"

    # The submission is read from the interaction alone (as after a restart of the bot).
    harness.channel.fetch_message = AsyncMock(return_value=message)
    submit, submit_log = modal_submit(harness, user, modal.custom_id, "the leaves fall")
    await cog.on_interaction(submit)

    harness.channel.fetch_message.assert_awaited_once_with(4242)
    (job,) = await harness.jobs.list_user_jobs(user.id)
    assert job.prompt == "the leaves fall"
    assert job.params.ratio == "720:1280"
    assert submit_log.deferred


@pytest.mark.parametrize(
    ("fetched", "expected"),
    [
        pytest.param(not_found(10008, "Unknown Message"), "That message was deleted", id="deleted"),
        pytest.param(forbidden(), "**Read Message History**", id="no-history"),
        pytest.param([], "no longer has an image attached", id="image-removed"),
    ],
)
async def test_prompt_modal_on_a_message_that_changed_is_refused_clearly(
    harness: Harness, cog: GenerateCog, fetched: Any, expected: str
) -> None:
    from unittest.mock import AsyncMock, MagicMock

    user = make_member()
    if isinstance(fetched, Exception):
        harness.channel.fetch_message = AsyncMock(side_effect=fetched)
    else:
        message = MagicMock(spec_set=discord.Message)
        message.attachments = fetched
        harness.channel.fetch_message = AsyncMock(return_value=message)
    submit, log = modal_submit(harness, user, "rw:animate-message:77", "anything")
    await cog.on_interaction(submit)
    assert expected in log.last, log.last
    assert await harness.jobs.list_user_jobs(user.id) == []
    assert (await harness.quota.status(harness.guild_id, user.id)).reserved == 0


async def test_a_prompt_modal_is_acknowledged_before_the_message_is_fetched(
    harness: Harness, cog: GenerateCog
) -> None:
    from unittest.mock import AsyncMock, MagicMock

    user = make_member()
    message = MagicMock(spec_set=discord.Message)
    message.attachments = [make_attachment(png_bytes(720, 1280))]
    submit, log = modal_submit(harness, user, "rw:animate-message:77", "the leaves fall")
    deferred_at_fetch: list[bool] = []

    async def fetch(message_id: int) -> Any:
        deferred_at_fetch.append(log.deferred)
        return message

    harness.channel.fetch_message = AsyncMock(side_effect=fetch)
    await cog.on_interaction(submit)
    assert deferred_at_fetch == [True]  # inside Discord's 3 s window, whatever the load
    (job,) = await harness.jobs.list_user_jobs(user.id)
    assert job.prompt == "the leaves fall"


async def test_other_modals_and_interactions_are_left_alone(
    harness: Harness, cog: GenerateCog
) -> None:
    from unittest.mock import AsyncMock

    harness.channel.fetch_message = AsyncMock()
    submit, log = modal_submit(harness, make_member(), "someone-elses-modal", "x")
    await cog.on_interaction(submit)
    button, _ = harness.interaction()
    button.type = discord.InteractionType.component
    await cog.on_interaction(button)
    harness.channel.fetch_message.assert_not_awaited()
    assert log.messages == [] and not log.done


async def test_model_autocomplete_lists_enabled_image_models(
    harness: Harness, cog: GenerateCog
) -> None:
    interaction, _ = harness.interaction()
    choices = await cog.animate_model_autocomplete(interaction, "")
    values = [c.value for c in choices]
    # The simulator (the default provider) serves and enables every packaged model.
    assert values == ["gen4_turbo", "gen4.5", "gen3a_turbo", "veo3.1", "veo3.1_fast"]
    veo = await cog.animate_model_autocomplete(interaction, "veo")
    assert [c.value for c in veo] == ["veo3.1", "veo3.1_fast"]
    restyle = await cog.restyle_model_autocomplete(interaction, "")
    assert [c.value for c in restyle] == ["gen4_aleph", "aleph2"]


async def test_duration_and_ratio_autocomplete_follow_the_chosen_model(
    harness: Harness, cog: GenerateCog
) -> None:
    interaction, _ = harness.interaction(namespace={"model": "veo3.1"})
    durations = await cog.duration_autocomplete(interaction, "")
    assert [c.value for c in durations] == [4, 6, 8]
    ratios = await cog.ratio_autocomplete(interaction, "")
    assert ratios[0].value == "auto"
    assert [c.value for c in ratios[1:]] == ["1280:720", "720:1280", "1080:1920", "1920:1080"]


def mp4_bytes(tmp_path: Path, seconds: float = 2.0) -> bytes:
    """A real H.264 MP4 made with PyAV."""
    path = tmp_path / "in.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for index in range(int(seconds * 10)):
            image = Image.new("RGB", (640, 360), (index * 10 % 255, 80, 160))
            frame = av.VideoFrame.from_image(image)
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


async def test_restyle_with_a_reference_image(
    harness: Harness, cog: GenerateCog, tmp_path: Path
) -> None:
    user = make_member()
    interaction, log = harness.interaction(user=user)
    video = make_attachment(mp4_bytes(tmp_path), filename="clip.mp4", content_type="video/mp4")
    reference = make_attachment(png_bytes(), filename="style.png")

    await GenerateCog.restyle.callback(cog, interaction, video, "make it snow", reference)

    (job,) = await harness.jobs.list_user_jobs(user.id)
    assert job.kind is JobKind.RESTYLE
    assert job.params.model == "gen4_aleph"
    embed = harness.channel.sent[0][1]["embed"]
    assert embed.title == f"Restyle · job #{job.id}"
    assert "Follow it here" in log.last


async def test_restyle_refuses_an_image_as_the_video(harness: Harness, cog: GenerateCog) -> None:
    interaction, log = harness.interaction()
    await GenerateCog.restyle.callback(cog, interaction, make_attachment(png_bytes()), "x")
    # judged by content (an animated GIF declared image/gif is a video here), not by type
    assert log.last == "That file is a PNG image, not a video."
    assert harness.channel.sent == []


async def test_restyle_needs_a_prompt_for_aleph(harness: Harness, cog: GenerateCog) -> None:
    interaction, log = harness.interaction()
    video = make_attachment(b"x" * 100, filename="clip.mp4", content_type="video/mp4")
    await GenerateCog.restyle.callback(cog, interaction, video, "   ")
    assert "needs a prompt" in log.last


async def test_attachment_download_failure_is_explained(harness: Harness, cog: GenerateCog) -> None:
    interaction, log = harness.interaction()
    image = make_attachment(png_bytes())
    image.read.side_effect = not_found(0, "gone")
    await animate(cog, interaction, image, "x")
    assert "could not download your image" in log.last


async def test_last_frame_is_kept_for_a_model_that_supports_it(
    harness: Harness, cog: GenerateCog
) -> None:
    user = make_member()
    interaction, _ = harness.interaction(user=user)
    await animate(
        cog,
        interaction,
        make_attachment(png_bytes()),
        "dawn to dusk",
        model="veo3.1",
        duration=4,
        ratio="auto",
        seed=11,
        last_frame=make_attachment(png_bytes(), filename="end.png"),
    )
    (job,) = await harness.jobs.list_user_jobs(user.id)
    assert (job.params.model, job.params.duration, job.params.seed) == ("veo3.1", 4, 11)
    assert job.params.ratio == "1280:720"
    roles = [item.role.value for item in await harness.jobs.inputs(job.id)]
    assert roles == ["image", "last_frame"]


async def test_a_filename_cannot_smuggle_mentions(harness: Harness, cog: GenerateCog) -> None:
    interaction, log = harness.interaction()
    doc = make_attachment(b"x", filename="@everyone `oops`.txt", content_type="text/plain")
    await animate(cog, interaction, doc, "x")
    assert "@everyone" not in log.last
    assert log.messages[-1][1]["allowed_mentions"].to_dict() == {"parse": []}


async def test_thread_refused_by_discord_still_runs_in_the_channel(
    harness: Harness, cog: GenerateCog
) -> None:
    user = make_member()
    harness.channel.thread_error = forbidden()
    perms = discord.Permissions.all()
    perms.create_public_threads = False
    harness.channel.permissions_for.return_value = perms
    interaction, log = harness.interaction(user=user)

    await animate(cog, interaction, make_attachment(png_bytes()), "x")

    (job,) = await harness.jobs.list_user_jobs(user.id)
    assert job.state is JobState.QUEUED and job.thread_id is None
    assert job.status_message_id == harness.channel.sent[0][2].id
    assert "**Create Public Threads**" in log.last
    assert "posted in the channel instead" in log.last


def big_mp4(tmp_path: Path) -> bytes:
    """A real, valid H.264 MP4 (lossless noise) larger than a 16 MB data URI can carry."""
    rng = random.Random(3)
    path = tmp_path / "big.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(
            "libx264", rate=15, options={"preset": "ultrafast", "qp": "0"}
        )
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        for index in range(30):
            image = Image.frombytes("RGB", (640, 480), rng.randbytes(640 * 480 * 3))
            frame = av.VideoFrame.from_image(image)
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    assert max_raw_bytes("video/mp4") < len(data) < MAX_VIDEO_BYTES
    return data


async def restyle_big_video(harness: Harness, tmp_path: Path) -> tuple[bytes, JobInput]:
    user = make_member()
    interaction, _ = harness.interaction(user=user)
    data = big_mp4(tmp_path)
    video = make_attachment(data, filename="big.mp4", content_type="video/mp4")
    await GenerateCog.restyle.callback(GenerateCog(harness.bot), interaction, video, "snow")
    (job,) = await harness.jobs.list_user_jobs(user.id)
    (stored,) = await harness.jobs.inputs(job.id)
    return data, stored


async def test_a_big_video_is_kept_whole_for_an_upload_on_the_simulator(
    harness: Harness, tmp_path: Path
) -> None:
    assert harness.settings.runway.provider == "simulator"
    data, stored = await restyle_big_video(harness, tmp_path)
    # Its pictures kept as they are (remuxed, not squeezed into a data URI by a re-encode).
    assert video_packets(stored.data) == video_packets(data)
    assert not data_uri_fits(stored)


async def test_a_big_video_is_reencoded_to_a_data_uri_for_cometapi(tmp_path: Path) -> None:
    h = await make_harness(tmp_path)
    runway = RunwaySettings(provider="cometapi", api_key=SecretStr("comet-key"))
    h.settings = h.settings.model_copy(update={"runway": runway})
    h.bot.settings = h.settings
    assert h.bot.services is not None
    h.bot.services = Services(settings=h.settings, jobs=h.jobs, quota=h.quota)
    try:
        data, stored = await restyle_big_video(h, tmp_path)
    finally:
        await h.store.close()
    assert stored.data != data and data_uri_fits(stored)
    assert (stored.width, stored.height) == (640, 480)


def test_check_failed_is_a_user_error() -> None:
    error = CheckFailed("The image is empty.")
    assert isinstance(error, UserError) and error.message == "The image is empty."


# -- cost first, a status that lives, saying what changed (issue 14) -------------------------


async def test_the_confirmation_shows_the_cost_what_is_left_and_an_auto_ratio(
    harness: Harness, cog: GenerateCog
) -> None:
    user = make_member()
    interaction, log = harness.interaction(user=user)
    await GenerateCog.animate.callback(cog, interaction, make_attachment(png_bytes()), "rain")
    (job,) = await harness.jobs.list_user_jobs(user.id)
    lines = log.last.splitlines()
    assert lines[0].startswith(f"Job #{job.id} is queued. Follow it here: ")
    assert lines[1] == "About **25** credits; **75** credits left after it."
    assert lines[2].startswith("Resolution 1280×720 was chosen by `auto`")
    assert job.ratio_auto and job.quota_left == 75
    embed = harness.channel.sent[0][1]["embed"]
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Left after it"] == "75 credits"
    assert fields["Resolution"] == "1280×720 (auto)"


async def test_the_status_carries_a_preview_of_the_input(
    harness: Harness, cog: GenerateCog
) -> None:
    user = make_member()
    interaction, _ = harness.interaction(user=user)
    await GenerateCog.animate.callback(cog, interaction, make_attachment(png_bytes()), "rain")
    (job,) = await harness.jobs.list_user_jobs(user.id)
    kwargs = harness.channel.sent[0][1]
    assert kwargs["file"].filename == f"preview-{job.id}.jpg"
    assert kwargs["embed"].thumbnail.url == f"attachment://preview-{job.id}.jpg"
    assert job.thumbnail  # recorded, so later edits keep the preview


async def test_a_trimmed_clip_is_named_in_the_confirmation(
    harness: Harness, cog: GenerateCog, tmp_path: Path
) -> None:
    user = make_member()
    interaction, log = harness.interaction(user=user)
    video = make_attachment(
        mp4_bytes(tmp_path, 12.0), filename="long.mp4", content_type="video/mp4"
    )
    await GenerateCog.restyle.callback(cog, interaction, video, "make it snow")
    (job,) = await harness.jobs.list_user_jobs(user.id)
    assert job.source_seconds == pytest.approx(12.0, abs=0.2)
    assert "Used the first 5 s of your 12 s clip: the model reads no more." in log.last
    assert "About **75** credits" in log.last  # gen4_aleph bills 5 s at 15 credits/s


async def test_a_job_sent_to_runway_before_its_status_was_posted_says_so(
    harness: Harness, cog: GenerateCog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker submits within a second, before the status message exists: its update found
    nothing to edit, so the status is redrawn and the answer says "submitted to Runway"."""
    attach = harness.jobs.attach_message

    async def attach_after_the_worker_submitted(job_id: int, **kwargs: Any) -> None:
        await attach(job_id, **kwargs)
        async with harness.store.transaction() as conn:
            await jobs_repo.update(conn, job_id, {"state": "running", "provider_status": "PENDING"})

    monkeypatch.setattr(harness.jobs, "attach_message", attach_after_the_worker_submitted)
    refresher = MagicMock(spec_set=StatusRefresher)
    refresher.refresh = AsyncMock()
    assert harness.bot.services is not None
    harness.bot.services.delivery = refresher
    interaction, log = harness.interaction()
    await GenerateCog.animate.callback(cog, interaction, make_attachment(png_bytes()), "rain")
    assert "was queued and is already submitted to Runway" in log.last
    ((redrawn,), _) = refresher.refresh.await_args
    assert redrawn.state is JobState.RUNNING


def test_commands_are_for_servers_unless_the_bot_allows_dms(harness: Harness) -> None:
    cog = GenerateCog(harness.bot)
    for command in (cog.animate, cog.restyle, cog.menu):
        assert command.allowed_contexts is not None
        assert command.allowed_contexts.guild and not command.allowed_contexts.dm_channel
        assert not command.allowed_contexts.private_channel
    harness.bot.settings = build_settings(allow_dms=True)
    opened = GenerateCog(harness.bot)
    for command in (opened.animate, opened.restyle, opened.menu):
        assert command.allowed_contexts is not None and command.allowed_contexts.dm_channel
