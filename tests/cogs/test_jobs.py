"""/jobs, /cancel and /usage against the real job service."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain import JobState
from cogs.generate import GenerateCog
from cogs.jobs import JobsCog
from tests.cogs.conftest import ADMIN_PERMISSIONS, OWNER_ID, Harness, png_bytes
from tests.discord_doubles import make_attachment, make_member


@pytest.fixture
def cog(harness: Harness) -> JobsCog:
    return JobsCog(harness.bot)


async def start_job(harness: Harness, user: Any, prompt: str = "waves") -> int:
    interaction, _ = harness.interaction(user=user)
    await GenerateCog.animate.callback(
        GenerateCog(harness.bot), interaction, make_attachment(png_bytes()), prompt
    )
    return int(interaction.extras["job_id"])


async def test_jobs_lists_mine_newest_first_with_links(harness: Harness, cog: JobsCog) -> None:
    me, other = make_member(), make_member()
    first = await start_job(harness, me)
    second = await start_job(harness, me)
    await start_job(harness, other)
    interaction, log = harness.interaction(user=me)

    await JobsCog.jobs.callback(cog, interaction)

    assert log.deferred  # acknowledged before reading the database
    (embed,) = log.embeds()
    text = embed.description or ""
    assert text.index(f"#{second}]") < text.index(f"#{first}]")
    assert "queued" in text
    thread = harness.channel.threads_created[0]
    assert f"/{thread.id})" in text
    assert log.messages[0][1]["ephemeral"] is True


async def test_jobs_when_there_are_none(harness: Harness, cog: JobsCog) -> None:
    interaction, log = harness.interaction()
    await JobsCog.jobs.callback(cog, interaction)
    assert "No jobs yet" in (log.embeds()[0].description or "")


async def test_cancel_my_job_refunds(harness: Harness, cog: JobsCog) -> None:
    me = make_member()
    job_id = await start_job(harness, me)
    interaction, log = harness.interaction(user=me)

    await JobsCog.cancel.callback(cog, interaction, job_id)

    assert f"Job #{job_id} is cancelled" in log.last
    assert "25 credits reserved for it went back" in log.last
    job = await harness.jobs.get(job_id)
    assert job is not None and job.state is JobState.CANCELLED
    status = await harness.quota.status(harness.guild_id, me.id)
    assert status.reserved == 0


async def test_cancel_someone_elses_job_is_refused(harness: Harness, cog: JobsCog) -> None:
    owner, stranger = make_member(), make_member()
    job_id = await start_job(harness, owner)
    interaction, log = harness.interaction(user=stranger)

    await JobsCog.cancel.callback(cog, interaction, job_id)

    assert "Only the person who started this job" in log.last
    job = await harness.jobs.get(job_id)
    assert job is not None and job.state is JobState.QUEUED


async def test_an_admin_or_owner_may_cancel_any_job(harness: Harness, cog: JobsCog) -> None:
    first = await start_job(harness, make_member())
    second = await start_job(harness, make_member())
    admin, _ = harness.interaction(user=make_member(), permissions=ADMIN_PERMISSIONS)
    await JobsCog.cancel.callback(cog, admin, first)
    owner, _ = harness.interaction(user=make_member(OWNER_ID))
    await JobsCog.cancel.callback(cog, owner, second)
    for job_id in (first, second):
        job = await harness.jobs.get(job_id)
        assert job is not None and job.state is JobState.CANCELLED


async def test_cancel_unknown_or_finished_job(harness: Harness, cog: JobsCog) -> None:
    me = make_member()
    interaction, log = harness.interaction(user=me)
    await JobsCog.cancel.callback(cog, interaction, 9999)
    assert "does not exist" in log.last
    job_id = await start_job(harness, me)
    interaction, _ = harness.interaction(user=me)
    await JobsCog.cancel.callback(cog, interaction, job_id)
    again, log = harness.interaction(user=me)
    await JobsCog.cancel.callback(cog, again, job_id)
    assert "already finished" in log.last


async def test_cancel_autocomplete_offers_only_my_active_jobs(
    harness: Harness, cog: JobsCog
) -> None:
    me = make_member()
    a = await start_job(harness, me, prompt="first")
    b = await start_job(harness, me, prompt="second")
    await start_job(harness, make_member())
    done, _ = harness.interaction(user=me)
    await JobsCog.cancel.callback(cog, done, a)
    interaction, _ = harness.interaction(user=me)

    choices = await cog.active_job_autocomplete(interaction, "")

    assert [c.value for c in choices] == [b]
    assert choices[0].name.startswith(f"#{b} animate")
    assert all(len(c.name) <= 100 for c in choices)


async def test_usage_shows_my_quota(harness: Harness, cog: JobsCog) -> None:
    me = make_member()
    await start_job(harness, me)
    interaction, log = harness.interaction(user=me)

    await JobsCog.usage.callback(cog, interaction)

    assert log.deferred  # acknowledged before reading the database
    (embed,) = log.embeds()
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Limit"] == "100"
    assert fields["In progress"] == "25 credits"
    assert fields["Left"] == "75"
    assert "<t:" in (fields["Resets"] or "")


async def test_an_admin_of_another_server_cannot_cancel(harness: Harness, cog: JobsCog) -> None:
    job_id = await start_job(harness, make_member())
    elsewhere, log = harness.interaction(
        user=make_member(), guild_id=harness.guild_id + 1, permissions=ADMIN_PERMISSIONS
    )
    await JobsCog.cancel.callback(cog, elsewhere, job_id)
    assert "Only the person who started this job" in log.last
    job = await harness.jobs.get(job_id)
    assert job is not None and job.state is JobState.QUEUED
