"""Embeds as pure functions: status per state, results, failures with refunds, quota, job lists."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.catalog import default_catalog
from bot.domain import Job, JobKind, JobParams, JobState, QuotaExceeded, QuotaStatus
from bot.ports import StatusUpdate
from bot.ui.embeds import (
    Outcome,
    explain_failure,
    failure_embed,
    jobs_embed,
    outcome,
    over_quota_text,
    quota_embed,
    refund_line,
    result_embed,
    status_embed,
)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
GEN4 = next(m for m in default_catalog() if m.id == "gen4_turbo")


def job(state: JobState = JobState.QUEUED, **changes: object) -> Job:
    base = Job(
        id=12,
        kind=JobKind.ANIMATE,
        state=state,
        user_id=77,
        guild_id=5,
        channel_id=6,
        prompt="a fox @everyone **jumps**",
        params=JobParams(model="gen4_turbo", ratio="1280:720", duration=5, seed=None),
        created_at=T0,
        updated_at=T0,
        estimated_credits=25.0,
        quota_amount=25.0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def fields(embed: object) -> dict[str, str]:
    return {f.name: f.value for f in embed.fields}  # type: ignore[attr-defined]


def test_queued_status_shows_position_parameters_and_estimate() -> None:
    embed = status_embed(StatusUpdate(job=job(), queue_position=3), model=GEN4, now=T0)
    assert embed.title == "Animate · job #12"
    assert "number **3** in line" in (embed.description or "")
    f = fields(embed)
    assert f["Model"] == "Gen-4 Turbo"
    assert f["Ratio"] == "1280×720"
    assert f["Duration"] == "5s"
    assert f["Seed"] == "random"
    assert f["Estimated credits"] == "25"
    assert f["Elapsed"] == "0s"
    assert f["Requested by"] == "<@77>"


def test_user_text_is_escaped_and_never_in_the_title() -> None:
    embed = status_embed(StatusUpdate(job=job()), now=T0)
    assert "fox" not in (embed.title or "")
    assert "@everyone" not in (embed.description or "")
    assert r"\*\*jumps\*\*" in (embed.description or "")


def test_running_shows_a_progress_bar_and_elapsed_time() -> None:
    running = job(JobState.RUNNING, progress=0.5, provider_status="RUNNING")
    embed = status_embed(StatusUpdate(job=running), now=T0 + timedelta(seconds=75))
    assert "██████░░░░░░ 50%" in (embed.description or "")
    assert fields(embed)["Elapsed"] == "1m 15s"


def test_throttled_and_pending_wording() -> None:
    throttled = job(JobState.RUNNING, provider_status="THROTTLED")
    text = status_embed(StatusUpdate(job=throttled, throttled=True), now=T0).description or ""
    assert "Waiting for Runway capacity" in text
    pending = job(JobState.RUNNING, provider_status="PENDING")
    assert "Starting at Runway" in (
        status_embed(StatusUpdate(job=pending), now=T0).description or ""
    )
    submitting = job(JobState.SUBMITTING)
    assert "Sending to Runway" in (status_embed(StatusUpdate(job=submitting)).description or "")


def test_finished_status_uses_charged_credits_and_finish_time() -> None:
    done = job(
        JobState.SUCCEEDED,
        charged_credits=20.0,
        finished_at=T0 + timedelta(seconds=30),
        delivered_at=T0 + timedelta(seconds=31),
    )
    embed = status_embed(StatusUpdate(job=done), now=T0 + timedelta(hours=5))
    f = fields(embed)
    assert f["Credits"] == "20"
    assert f["Elapsed"] == "30s"
    assert (embed.description or "").startswith("Finished")


@pytest.mark.parametrize(
    ("state", "code", "expected"),
    [
        (JobState.QUEUED, None, Outcome.PENDING),
        (JobState.SUCCEEDED, None, Outcome.SUCCEEDED),
        (JobState.FAILED, "INTERNAL", Outcome.FAILED),
        (JobState.CANCELLED, "cancelled", Outcome.CANCELLED),
        (JobState.IN_DOUBT, "in_doubt", Outcome.IN_DOUBT),
    ],
)
def test_outcome(state: JobState, code: str | None, expected: Outcome) -> None:
    assert outcome(job(state, error_code=code)) is expected


def test_result_embed_lists_parameters_and_charged_credits() -> None:
    done = job(JobState.SUCCEEDED, charged_credits=25.0, params=JobParams("gen4_turbo", seed=9))
    embed = result_embed(done, model=GEN4)
    assert embed.title == "Animate · job #12 is ready"
    f = fields(embed)
    assert f["Credits charged"] == "25"
    assert f["Seed"] == "9"


def test_failure_uses_engine_text_escaped_and_states_refund() -> None:
    failed = job(
        JobState.FAILED,
        error_code="SAFETY.INPUT.IMAGE",
        error_text="Runway's safety filter refused the input image. <@&123456789012345678>",
        refunded=True,
    )
    embed = failure_embed(failed, unit="credits")
    assert embed.title == "Job #12 failed"
    text = embed.description or ""
    assert "safety filter refused the input image" in text
    assert "<@&123456789012345678>" not in text
    assert "The 25 credits reserved for it went back to your quota." in text


def test_failure_fallbacks_by_code() -> None:
    assert "moderation" in explain_failure(job(JobState.FAILED, error_code="SAFETY.OUTPUT.X"))
    assert "internal" in explain_failure(job(JobState.FAILED, error_code="INTERNAL.X"))
    assert "Retry" in explain_failure(job(JobState.IN_DOUBT, error_code="in_doubt"))
    cancelled = explain_failure(
        job(JobState.CANCELLED, error_code="cancelled", error_text="Cancelled by you.")
    )
    assert cancelled == "This job was cancelled before it finished. Cancelled by you."


def test_engine_quota_sentence_is_replaced_by_the_precise_refund_line() -> None:
    failed = job(
        JobState.FAILED,
        error_code="SAFETY.INPUT.TEXT",
        error_text="Runway's safety filter refused the prompt. Please rephrase it. "
        "Your quota was refunded.",
        refunded=True,
    )
    text = failure_embed(failed).description or ""
    assert text.count("quota") == 1
    assert text.startswith("Runway's safety filter refused the prompt. Please rephrase it.\n")


def test_refund_line_when_charged() -> None:
    charged = job(JobState.FAILED, refunded=False, quota_amount=25.0)
    assert refund_line(charged, "credits") == "It still counts 25 credits against your quota."
    assert refund_line(job(JobState.FAILED, quota_amount=0.0), "jobs").startswith("Nothing")


def status(**changes: object) -> QuotaStatus:
    base = QuotaStatus(
        unit="credits",
        limit=100,
        blocked=False,
        used=80,
        reserved=10,
        bonus=0,
        source="guild default",
        period="day",
        resets_at=T0 + timedelta(hours=12),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_over_quota_text_has_used_limit_needed_and_reset() -> None:
    exc = QuotaExceeded("over", status=status(), needed=25)
    text = over_quota_text(exc)
    reset = int((T0 + timedelta(hours=12)).timestamp())
    assert "**80** of **100** credits this day" in text
    assert "plus 10 in jobs still running" in text
    assert "needs **25**" in text
    assert f"<t:{reset}:f>" in text and f"<t:{reset}:R>" in text


def test_over_quota_when_blocked_or_bot_wide() -> None:
    assert "not allowed" in over_quota_text(
        QuotaExceeded("x", status=status(blocked=True), needed=1)
    )
    assert over_quota_text(QuotaExceeded("The bot is out of credits today.", status=None, needed=5))
    assert (
        over_quota_text(QuotaExceeded("The bot is out of credits today.", status=None, needed=5))
        == "The bot is out of credits today."
    )


def test_quota_embed() -> None:
    embed = quota_embed(status(bonus=5), title="Your quota")
    f = fields(embed)
    assert f["Used"] == "80 credits"
    assert f["In progress"] == "10 credits"
    assert f["Limit"] == "100"
    assert f["Bonus"] == "+5 credits"
    assert f["Left"] == "15"
    assert "guild default" in (embed.footer.text or "")
    assert fields(quota_embed(status(limit=None), title="q"))["Left"] == "unlimited"


def test_jobs_embed_links_threads_or_status_messages() -> None:
    in_thread = job(JobState.RUNNING, id=3, thread_id=99, status_message_id=98)
    in_dm = job(JobState.FAILED, id=2, guild_id=None, status_message_id=50)
    unposted = job(JobState.QUEUED, id=1)
    text = jobs_embed([in_thread, in_dm, unposted]).description or ""
    lines = text.splitlines()
    assert lines[0].startswith("[#3](https://discord.com/channels/5/99)")
    assert lines[1].startswith("[#2](https://discord.com/channels/@me/6/50)")
    assert lines[2].startswith("#1 ·")
    assert "**running**" in lines[0]
