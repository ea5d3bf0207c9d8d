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
    assert fields["Limit"] == "100 credits"
    assert fields["In progress"] == "25 credits"
    assert fields["Left"] == "75 credits"
    assert fields["Limit from"] == "the bot's default"
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


async def _many_jobs(harness: Harness, user: Any, count: int) -> list[int]:
    """``count`` finished (cancelled) jobs with distinct prompts, oldest first."""
    ids = []
    for i in range(count):
        job_id = await start_job(harness, user, prompt=f"prompt number {i} *bold*")
        await harness.jobs.cancel(job_id, actor_id=user.id, actor_is_admin=False)
        ids.append(job_id)
    return ids


async def test_jobs_shows_prompts_and_pages(harness: Harness, cog: JobsCog) -> None:
    me = make_member()
    ids = await _many_jobs(harness, me, 12)
    first, log = harness.interaction(user=me)
    await JobsCog.jobs.callback(cog, first, None, 1)
    (embed,) = log.embeds()
    text = embed.description or ""
    assert f"#{ids[-1]}" in text and f"#{ids[2]}" in text and f"#{ids[1]}" not in text
    assert "> prompt number 11 \\*bold\\*" in text  # the prompt, markdown made inert
    assert "Gen-4 Turbo" in text and "gen4_turbo" not in text  # labels, not model ids
    assert "cancelled" in text
    assert embed.footer.text == "Page 1 · more with /jobs page:2"

    second, log = harness.interaction(user=me)
    await JobsCog.jobs.callback(cog, second, None, 2)
    (embed,) = log.embeds()
    assert f"#{ids[1]}" in (embed.description or "") and f"#{ids[0]}" in (embed.description or "")
    assert embed.footer.text == "Page 2"

    past, log = harness.interaction(user=me)
    await JobsCog.jobs.callback(cog, past, None, 3)
    assert "Nothing on this page" in (log.embeds()[0].description or "")


async def test_an_admin_lists_a_members_jobs(harness: Harness, cog: JobsCog) -> None:
    member = make_member(name="alice")
    member.display_name = "alice"
    (job_id,) = await _many_jobs(harness, member, 1)
    admin, log = harness.interaction(user=make_member(), permissions=ADMIN_PERMISSIONS)
    await JobsCog.jobs.callback(cog, admin, member, 1)
    (embed,) = log.embeds()
    assert embed.title == "Jobs of alice in this server"
    assert f"#{job_id}" in (embed.description or "")


async def test_a_member_cannot_list_someone_elses_jobs(harness: Harness, cog: JobsCog) -> None:
    other = make_member()
    await _many_jobs(harness, other, 1)
    interaction, log = harness.interaction(user=make_member())
    await JobsCog.jobs.callback(cog, interaction, other, 1)
    assert "Only server admins" in log.last
    assert not log.embeds() and log.messages[0][1]["ephemeral"] is True


async def test_jobs_and_usage_answer_in_the_members_language(
    harness: Harness, cog: JobsCog
) -> None:
    import discord

    me = make_member()
    await start_job(harness, me)
    listing, log = harness.interaction(user=me)
    listing.locale = discord.Locale.japanese
    await JobsCog.jobs.callback(cog, listing, None, 1)
    (embed,) = log.embeds()
    assert embed.title == "このサーバーでのあなたのジョブ"
    assert "待機中" in (embed.description or "") and "アニメート" in (embed.description or "")

    usage, log = harness.interaction(user=me)
    usage.locale = discord.Locale.spain_spanish
    await JobsCog.usage.callback(cog, usage)
    (embed,) = log.embeds()
    fields = {f.name: f.value for f in embed.fields}
    assert embed.title == "Tu cuota en este servidor"
    assert fields["Límite"] == "100 créditos" and fields["En curso"] == "25 créditos"
