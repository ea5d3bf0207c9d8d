"""Embeds as pure functions: status per state, results, failures with refunds, quota, job lists."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.catalog import default_catalog
from bot.domain import Job, JobKind, JobParams, JobState, Origin, QuotaExceeded, QuotaStatus
from bot.ports import StatusUpdate
from bot.ui.embeds import (
    Outcome,
    changes_lines,
    cost_line,
    explain_failure,
    failure_embed,
    outcome,
    over_quota_text,
    refund_line,
    result_embed,
    size_text,
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
    assert f["Resolution"] == "1280×720"  # Runway's "ratio" is a resolution
    assert f["Duration"] == "5s"
    assert f["Seed"] == "random"
    assert f["Estimated credits"] == "25"
    assert "Left after it" not in f  # unknown (unlimited quota)
    assert f["Started"] == f"<t:{int(T0.timestamp())}:R>"  # moves without edits
    assert f["Requested by"] == "<@77>"
    assert embed.thumbnail.url is None


def test_user_text_is_escaped_and_never_in_the_title() -> None:
    embed = status_embed(StatusUpdate(job=job()), now=T0)
    assert "fox" not in (embed.title or "")
    assert "@everyone" not in (embed.description or "")
    assert r"\*\*jumps\*\*" in (embed.description or "")


def test_running_shows_a_progress_bar_and_times_as_discord_timestamps() -> None:
    running = job(JobState.RUNNING, progress=0.5, provider_status="RUNNING")
    now = T0 + timedelta(seconds=75)
    embed = status_embed(StatusUpdate(job=running, eta_seconds=40), now=now)
    assert "██████░░░░░░ 50%" in (embed.description or "")
    f = fields(embed)
    assert f["Started"] == f"<t:{int(T0.timestamp())}:R>"
    assert f["Done"] == f"about <t:{int(now.timestamp()) + 40}:R>"
    throttled = status_embed(StatusUpdate(job=running, eta_seconds=40, throttled=True), now=now)
    assert "Done" not in fields(throttled)  # no promise while Runway holds the task back


def test_throttled_and_pending_wording() -> None:
    throttled = job(JobState.RUNNING, provider_status="THROTTLED")
    text = status_embed(StatusUpdate(job=throttled, throttled=True), now=T0).description or ""
    assert "Submitted to Runway. Waiting for Runway capacity" in text
    pending = job(JobState.RUNNING, provider_status="PENDING")
    assert "Submitted to Runway. Waiting for it to start" in (
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
    assert f["Took"] == "30s"
    assert "Started" not in f
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
    assert "**80** of **100** credits today" in text
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


def test_status_shows_the_cost_left_after_it_and_the_input_preview() -> None:
    queued = job(quota_left=75.0, thumbnail=True)
    embed = status_embed(StatusUpdate(job=queued), unit="credits", now=T0)
    assert fields(embed)["Left after it"] == "75 credits"
    assert embed.thumbnail.url == "attachment://preview-12.jpg"
    jobs_unit = status_embed(StatusUpdate(job=job(quota_left=2.0)), unit="jobs", now=T0)
    assert fields(jobs_unit)["Left after it"] == "2 jobs"
    done = job(JobState.SUCCEEDED, quota_left=75.0, charged_credits=25.0)
    assert "Left after it" not in fields(status_embed(StatusUpdate(job=done), now=T0))


def test_what_changed_a_trimmed_input_and_an_auto_ratio() -> None:
    assert changes_lines(job()) == []
    trimmed = job(kind=JobKind.RESTYLE, input_seconds=5.0, source_seconds=12.04)
    assert changes_lines(trimmed) == [
        "Used the first 5 s of your 12 s clip: the model reads no more."
    ]
    auto = job(ratio_auto=True)
    (line,) = changes_lines(auto)
    assert line.startswith("Resolution 1280×720 was chosen by `auto`")
    embed = status_embed(StatusUpdate(job=auto), now=T0)
    assert fields(embed)["Resolution"] == "1280×720 (auto)"
    assert "chosen by `auto`" in (embed.description or "")
    assert "Used the first 5 s of your 12 s clip" in (
        result_embed(dataclasses.replace(trimmed, state=JobState.SUCCEEDED)).description or ""
    )


def test_result_says_when_the_clip_was_re_encoded_and_what_it_came_from() -> None:
    done = job(JobState.SUCCEEDED, charged_credits=25.0, rerun_of=7, origin=Origin.CONTINUE)
    embed = result_embed(done, model=GEN4, resized=(12_400_000, 327_000))
    assert "Re-encoded from 12.4 MB to 327 KB to fit this server's upload limit." in (
        embed.description or ""
    )
    f = fields(embed)
    assert f["Made from"] == "Continues job #7"
    assert f["Credits charged"] == "25"
    assert "Re-encoded" not in (result_embed(done).description or "")
    edited = job(JobState.SUCCEEDED, rerun_of=7, origin=Origin.EDIT)
    assert fields(result_embed(edited))["Made from"] == "Edited prompt of job #7"
    assert size_text(999) == "1 KB" and size_text(1_500_000) == "1.5 MB"


def test_refund_line_names_whose_quota() -> None:
    refunded = job(JobState.CANCELLED, refunded=True)
    assert refund_line(refunded, "credits") == (
        "The 25 credits reserved for it went back to your quota."
    )
    assert refund_line(refunded, "credits", owner=77) == (
        "The 25 credits reserved for it went back to <@77>'s quota."
    )


def test_cost_line() -> None:
    assert cost_line(75, 25, "credits") == "About **75** credits; **25** credits left after it."
    assert cost_line(75, None, "credits") == "About **75** credits."
    assert cost_line(10, 3, "jobs") == "About **10** credits; **3** jobs left after it."
