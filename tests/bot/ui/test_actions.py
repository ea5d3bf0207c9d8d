"""Actions shared by commands and buttons: the cost of a job before it starts, cancel wording."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import QuotaUnit
from bot.domain import JobKind, JobParams, NewJob
from bot.quota import QuotaService
from bot.ui.actions import Cost, cancel_job, cost_of
from cogs.generate import GenerateCog
from tests.bot.media.test_frames import clip
from tests.cogs.conftest import (
    ADMIN_PERMISSIONS,
    OWNER_ID,
    Harness,
    make_harness,
    png_bytes,
)
from tests.discord_doubles import make_attachment, make_member


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await make_harness(tmp_path)
    try:
        yield h
    finally:
        await h.store.close()


def test_cost_rules() -> None:
    cost = Cost(estimate=75, unit="credits", needed=75, left=100, threshold=50)
    assert cost.asks and not cost.over and cost.left_after == 25
    assert cost.line == "About **75** credits; **25** credits left after it."
    assert not Cost(75, "credits", 75, 100, 75).asks  # at the threshold: no question
    assert not Cost(75, "credits", 75, 100, None).asks  # no threshold set
    assert Cost(75, "credits", 75, 74.5, None).over
    unlimited = Cost(75, "credits", 75, None, None)
    assert unlimited.left_after is None and not unlimited.over
    assert unlimited.line == "About **75** credits."
    jobs = Cost(75, "jobs", 1, 3, None)
    assert jobs.left_after == 2 and jobs.line == "About **75** credits; **2** jobs left after it."


async def test_cost_of_a_job_reads_quota_and_the_servers_threshold(harness: Harness) -> None:
    user = make_member()
    await harness.quota.guilds.update(harness.guild_id, OWNER_ID, confirm_above=60)
    await harness.quota.grant(harness.guild_id, user.id, 20)
    video = NewJob(
        kind=JobKind.RESTYLE,
        user_id=user.id,
        guild_id=harness.guild_id,
        channel_id=harness.channel.id,
        prompt="snow",
        params=JobParams(model="gen4_aleph"),
        inputs=(clip(12.0),),
    )
    assert harness.bot.services is not None
    cost = await cost_of(harness.bot.services, video)
    # gen4_aleph bills at most 5 s of input at 15 credits/s; 100 + 20 bonus left.
    assert (cost.estimate, cost.needed, cost.left, cost.threshold) == (75, 75, 120, 60)
    assert cost.asks


async def test_cost_in_jobs_units(tmp_path: Path) -> None:
    h = await make_harness(tmp_path)
    try:
        quota_settings = h.settings.quota.model_copy(
            update={"unit": QuotaUnit.JOBS, "default_limit": 3}
        )
        assert h.bot.services is not None
        h.bot.services.quota = QuotaService(h.store, quota_settings, h.settings.models)
        new = NewJob(
            kind=JobKind.ANIMATE,
            user_id=1,
            guild_id=h.guild_id,
            channel_id=2,
            prompt="rain",
            params=JobParams(model="gen4_turbo", duration=5),
            inputs=(),
        )
        cost = await cost_of(h.bot.services, new)
        assert (cost.unit, cost.needed, cost.left_after) == ("jobs", 1, 2)
    finally:
        await h.store.close()


async def test_an_admin_who_cancels_is_told_whose_quota_got_the_credits(
    harness: Harness,
) -> None:
    member = make_member()
    interaction, _ = harness.interaction(user=member)
    await GenerateCog.animate.callback(
        GenerateCog(harness.bot), interaction, make_attachment(png_bytes()), "rain"
    )
    job_id = int(interaction.extras["job_id"])
    admin, log = harness.interaction(user=make_member(), permissions=ADMIN_PERMISSIONS)
    await cancel_job(admin, job_id)
    assert log.last == (
        f"Job #{job_id} is cancelled. "
        f"The 25 credits reserved for it went back to <@{member.id}>'s quota."
    )
    assert "your" not in log.last


async def test_the_requester_who_cancels_hears_your_quota(harness: Harness) -> None:
    member = make_member()
    interaction, _ = harness.interaction(user=member)
    await GenerateCog.animate.callback(
        GenerateCog(harness.bot), interaction, make_attachment(png_bytes()), "rain"
    )
    job_id = int(interaction.extras["job_id"])
    mine, log = harness.interaction(user=member)
    await cancel_job(mine, job_id)
    assert log.last.endswith("went back to your quota.")
