"""Embeds for job status, finished clips, failures, quotas and job lists (pure functions)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import discord

from bot import clock as clocks
from bot.catalog import ModelSpec
from bot.domain import Job, JobState, Origin, QuotaExceeded
from bot.i18n import t
from bot.i18n import text as later
from bot.ports import StatusUpdate

from .text import (
    amount,
    duration_text,
    progress_bar,
    safe_quote,
    timestamp,
    truncate,
)

COLOR_QUEUED = discord.Colour.blurple()
COLOR_RUNNING = discord.Colour.gold()
COLOR_DONE = discord.Colour.green()
COLOR_FAILED = discord.Colour.red()
COLOR_CANCELLED = discord.Colour.light_grey()

ORIGINS = frozenset(Origin)  # each has its catalogue entry ``origin.<value>``
KB = 1000
MB = 1000 * 1000


def thumbnail_name(job_id: int) -> str:
    """The file name of the input preview attached to a job's status message."""
    return f"preview-{job_id}.jpg"


def size_text(size: int) -> str:
    """A file size for people: ``327 KB``, ``12.4 MB``."""
    if size >= MB:
        return f"{size / MB:.1f} MB"
    return f"{max(1, round(size / KB))} KB"


class Outcome(StrEnum):
    """How a job ended, as far as the user is concerned."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    IN_DOUBT = "in_doubt"


def outcome(job: Job) -> Outcome:
    """Classify a job; a delivered job keeps the outcome that was delivered."""
    state = job.state
    if state.active:
        return Outcome.PENDING
    if state is JobState.SUCCEEDED:
        return Outcome.SUCCEEDED
    if state is JobState.CANCELLED or job.error_code == "cancelled":
        return Outcome.CANCELLED
    if state is JobState.IN_DOUBT or job.error_code == "in_doubt":
        return Outcome.IN_DOUBT
    if state is JobState.FAILED or job.error_code:
        return Outcome.FAILED
    return Outcome.SUCCEEDED


def _now(now: datetime | None) -> datetime:
    return now if now is not None else clocks.utcnow()


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def state_line(update: StatusUpdate, locale: str = "en") -> str:
    """One line saying where the job stands right now."""
    job = update.job
    if job.state is JobState.QUEUED:
        if update.queue_position is not None:
            return t("status.queued_at", locale, position=update.queue_position)
        return t("status.queued", locale)
    if job.state is JobState.SUBMITTING:
        return t("status.submitting", locale)
    if job.state is JobState.RUNNING:
        if update.throttled:
            return t("status.throttled", locale)
        if job.provider_status == "PENDING":
            return t("status.pending", locale)
        return t("status.rendering", locale, bar=progress_bar(job.progress))
    result = outcome(job)
    if result is Outcome.SUCCEEDED:
        return t("status.finished" if job.delivered else "status.uploading", locale)
    if result is Outcome.CANCELLED:
        return t("status.cancelled", locale)
    where = "thread" if job.thread_id else "below"
    if result is Outcome.IN_DOUBT:
        return t(f"status.interrupted_{where}", locale)
    return t(f"status.failed_{where}", locale)


def _state_colour(job: Job) -> discord.Colour:
    if job.state is JobState.QUEUED:
        return COLOR_QUEUED
    if job.state.active:
        return COLOR_RUNNING
    return {
        Outcome.SUCCEEDED: COLOR_DONE,
        Outcome.CANCELLED: COLOR_CANCELLED,
    }.get(outcome(job), COLOR_FAILED)


def _param_fields(embed: discord.Embed, job: Job, model: ModelSpec | None, locale: str) -> None:
    params = job.params
    embed.add_field(
        name=t("job.field.model", locale), value=model.display_name if model else params.model
    )
    if params.ratio:
        # Runway's "ratio" values are output resolutions, e.g. 1280:720.
        shown = params.ratio.replace(":", "×")
        if job.ratio_auto:
            shown = t("job.value.auto", locale, resolution=shown)
        embed.add_field(name=t("job.field.resolution", locale), value=shown)
    if params.duration:
        embed.add_field(
            name=t("job.field.duration", locale),
            value=t("job.value.seconds", locale, seconds=params.duration),
        )
    seed = str(params.seed) if params.seed is not None else t("job.value.random", locale)
    embed.add_field(name=t("job.field.seed", locale), value=seed)
    if params.audio:
        embed.add_field(name=t("job.field.audio", locale), value=t("job.value.on", locale))


def _prompt_block(job: Job, locale: str = "en") -> str:
    if not job.prompt:
        return t("job.no_prompt", locale)
    return "> " + safe_quote(job.prompt, 1000).replace("\n", "\n> ")


def changes_lines(job: Job, locale: str = "en") -> list[str]:
    """What the bot changed about the request on its own: a trimmed input, an auto ratio."""
    lines: list[str] = []
    if job.source_seconds is not None and job.input_seconds is not None:
        lines.append(
            t(
                "job.trimmed",
                locale,
                used=amount(round(job.input_seconds, 1)),
                source=amount(round(job.source_seconds, 1)),
            )
        )
    if job.ratio_auto and job.params.ratio:
        lines.append(t("job.ratio_auto", locale, resolution=job.params.ratio.replace(":", "×")))
    return lines


def origin_line(job: Job, locale: str = "en") -> str | None:
    """``Continues job #12`` for a job made from another one, else None."""
    if job.rerun_of is None:
        return None
    origin = job.origin if job.origin in ORIGINS else Origin.RERUN
    return t(f"origin.{origin}", locale, job=job.rerun_of)


def cost_line(estimate: float, left: float | None, unit: str, locale: str = "en") -> str:
    """``About 75 credits; 25 credits left after it.`` (the member's quota after the job)."""
    if left is None:
        return t("job.cost", locale, credits=amount(estimate))
    return t(
        "job.cost_left",
        locale,
        credits=amount(estimate),
        left=amount(max(0.0, left)),
        unit=later(f"unit.{unit}"),
    )


def _time_fields(embed: discord.Embed, update: StatusUpdate, now: datetime, locale: str) -> None:
    job = update.job
    started = _aware(job.created_at)
    if job.state.active:
        # Discord timestamps move on their own, without edits.
        embed.add_field(name=t("job.field.started", locale), value=timestamp(started))
        if update.eta_seconds is not None and not update.throttled:
            done = now + timedelta(seconds=max(0.0, update.eta_seconds))
            embed.add_field(
                name=t("job.field.done", locale),
                value=t("job.value.about", locale, when=timestamp(done)),
            )
    else:
        end = _aware(job.finished_at) if job.finished_at else now
        embed.add_field(
            name=t("job.field.took", locale), value=duration_text((end - started).total_seconds())
        )


def status_embed(
    update: StatusUpdate,
    *,
    model: ModelSpec | None = None,
    unit: str = "credits",
    now: datetime | None = None,
    locale: str = "en",
) -> discord.Embed:
    """The public status message of a job: state, position or progress, parameters, credits,
    times as Discord timestamps, and a preview of the input when the message carries one;
    in ``locale`` (the server's language: everyone reads it)."""
    job = update.job
    lines = [state_line(update, locale), "", _prompt_block(job, locale)]
    notes = changes_lines(job, locale)
    origin = origin_line(job, locale)
    if origin:
        notes.insert(0, origin + ".")
    if notes:
        lines += ["", *(f"*{note}*" for note in notes)]
    embed = discord.Embed(
        title=job_title(job, locale),
        description="\n".join(lines),
        colour=_state_colour(job),
    )
    _param_fields(embed, job, model, locale)
    if job.charged_credits is not None:
        embed.add_field(name=t("job.field.credits", locale), value=amount(job.charged_credits))
    else:
        embed.add_field(name=t("job.field.estimated", locale), value=amount(job.estimated_credits))
        if job.quota_left is not None and job.state.active:
            embed.add_field(
                name=t("job.field.left_after", locale),
                value=t(
                    "limits.amount",
                    locale,
                    amount=amount(job.quota_left),
                    unit=later(f"unit.{unit}"),
                ),
            )
    _time_fields(embed, update, _now(now), locale)
    embed.add_field(name=t("job.field.requested_by", locale), value=f"<@{job.user_id}>")
    if job.thumbnail:
        embed.set_thumbnail(url=f"attachment://{thumbnail_name(job.id)}")
    embed.set_footer(text=t("job.footer", locale, job=job.id))
    embed.timestamp = _aware(job.created_at)
    return embed


def job_title(job: Job, locale: str = "en") -> str:
    """``Animate · job #12`` (the status embed's title and the thread's opening)."""
    return t("job.title", locale, kind=t(f"kind_title.{job.kind.value}", locale), job=job.id)


def result_embed(
    job: Job,
    *,
    model: ModelSpec | None = None,
    resized: tuple[int, int] | None = None,
    locale: str = "en",
) -> discord.Embed:
    """The embed posted with the finished clip: the charged credits, what was changed (a
    trimmed input, an auto ratio, ``resized`` = the clip's size before and after it was
    re-encoded to fit the upload limit) and the buttons' context."""
    lines = [_prompt_block(job, locale)]
    notes = changes_lines(job, locale)
    if resized is not None:
        before, after = resized
        notes.append(t("job.reencoded", locale, before=size_text(before), after=size_text(after)))
    if notes:
        lines += ["", *(f"*{note}*" for note in notes)]
    embed = discord.Embed(
        title=t(
            "job.title_ready", locale, kind=t(f"kind_title.{job.kind.value}", locale), job=job.id
        ),
        description="\n".join(lines),
        colour=COLOR_DONE,
    )
    _param_fields(embed, job, model, locale)
    charged = job.charged_credits if job.charged_credits is not None else job.estimated_credits
    embed.add_field(name=t("job.field.charged", locale), value=amount(charged))
    origin = origin_line(job, locale)
    if origin is not None:
        embed.add_field(name=t("job.field.made_from", locale), value=origin)
    embed.set_footer(text=t("job.footer", locale, job=job.id))
    return embed


def explain_failure(job: Job, locale: str = "en") -> str:
    """Plain words for why a job did not produce a clip.

    The engine stores a user-facing ``error_text`` (never Runway's raw text); it is still
    escaped here. Known codes have a fallback when no text was stored.
    """
    code = (job.error_code or "").upper()
    result = outcome(job)
    if result is Outcome.CANCELLED:
        text = t("failure.cancelled", locale)
        by = CANCELLED_BY.get(job.error_text or "")
        if by is not None:
            text += " " + t(f"failure.cancelled_by_{by}", locale)
        elif job.error_text and locale == "en":
            text += f" {safe_quote(job.error_text, 200)}"
        return text
    if result is Outcome.IN_DOUBT and code == "NO_TASK_ID":
        return t("failure.no_task_id", locale)
    if result is Outcome.IN_DOUBT:
        return t("failure.in_doubt", locale)
    family = _failure_family(job.error_code or "")
    # The stored explanation is English; another language gets its family's own words.
    if job.error_text and (locale == "en" or family is None):
        return safe_quote(_without_quota_talk(job.error_text), 500)
    return t(f"failure.{family or 'generic'}", locale)


# What the job service records when a member or an admin cancels (bot/jobs.py).
CANCELLED_BY = {"Cancelled by you.": "you", "Cancelled by an admin.": "admin"}

# The bot's own failure codes (bot/worker) that have words in every catalogue.
BOT_FAILURES = frozenset(
    {
        "output_too_large",
        "bad_output",
        "download_failed",
        "delivery_failed",
        "no_output",
        "deadline",
        "lost",
        "cancelled_remote",
        "balance",
        "auth",
        "interrupted",
        "rejected",
        "busy",
        "daily_limit",
        "prepare_failed",
    }
)


def _failure_family(error_code: str) -> str | None:
    """The catalogue's word for a failure: the bot's own code, or a Runway failure code's
    family (None: unknown)."""
    if error_code in BOT_FAILURES:
        return error_code
    code = error_code.upper()
    if code.startswith("THIRD_PARTY"):
        return "third_party"
    if code.startswith("SAFETY.INPUT"):
        return "safety_input"
    if code.startswith("SAFETY"):
        return "safety"
    if code.startswith("INTERNAL"):
        return "internal"
    if code.startswith(("ASSET", "INPUT_PREPROCESSING")):
        return "asset"
    return None


def _without_quota_talk(text: str) -> str:
    """Drop sentences about the quota: :func:`refund_line` states that precisely."""
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    kept = [s for s in sentences if "quota" not in s.lower()]
    return " ".join(kept) if kept else text


def refund_line(job: Job, unit: str, *, owner: int | None = None, locale: str = "en") -> str:
    """What happened to the quota reserved for the job; ``owner`` is the member whose quota
    it is when the reader is someone else (an admin who cancelled a member's job)."""
    whose = "yours" if owner is None else "theirs"
    fmt: dict[str, object] = {"amount": amount(job.quota_amount), "unit": later(f"unit.{unit}")}
    if owner is not None:
        fmt["user"] = f"<@{owner}>"
    if job.refunded:
        if job.quota_amount:
            return t(f"refund.back_{whose}", locale, **fmt)
        return t(f"refund.nothing_{whose}", locale, **fmt)
    if job.quota_amount:
        return t(f"refund.kept_{whose}", locale, **fmt)
    return t(f"refund.nothing_{whose}", locale, **fmt)


def failure_embed(job: Job, *, unit: str = "credits", locale: str = "en") -> discord.Embed:
    """The explanation posted in the thread when a job ends without a clip."""
    result = outcome(job)
    title = {
        Outcome.CANCELLED: "failure.title_cancelled",
        Outcome.IN_DOUBT: "failure.title_interrupted",
    }.get(result, "failure.title_failed")
    embed = discord.Embed(
        title=t(title, locale, job=job.id),
        description=f"{explain_failure(job, locale)}\n\n{refund_line(job, unit, locale=locale)}",
        colour=COLOR_CANCELLED if result is Outcome.CANCELLED else COLOR_FAILED,
    )
    embed.set_footer(text=t("job.footer", locale, job=job.id))
    return embed


def over_quota_text(exc: QuotaExceeded, locale: str = "en") -> str:
    """Why a job was refused for quota, with used / limit / needed and the reset time."""
    status = exc.status
    if status is None or exc.scope != "user":  # the server's budget or the bot's cap
        return exc.text(locale)
    if status.blocked:
        return t("over.blocked", locale)
    limit = t("limits.unlimited", locale) if status.limit is None else amount(status.limit)
    parts = [
        t(
            "over.used",
            locale,
            used=amount(status.used),
            limit=limit,
            unit=later(f"unit.{status.unit}"),
            period=later(f"quota.period.{status.period}"),
        )
    ]
    if status.reserved:
        parts.append(t("over.reserved", locale, amount=amount(status.reserved)))
    if status.bonus:
        parts.append(t("over.bonus", locale, amount=amount(status.bonus)))
    parts.append(t("over.needs", locale, amount=amount(exc.needed)))
    parts.append(
        t(
            "over.resets",
            locale,
            when=timestamp(status.resets_at, "f"),
            relative=timestamp(status.resets_at),
        )
    )
    return "".join(parts)


def embed_as_text(embed: discord.Embed, limit: int = 1900) -> str:
    """The embed's words as plain message text, for a channel where embeds are not allowed
    (without Embed Links Discord drops a message's embeds without a word)."""
    lines = [f"**{embed.title}**" if embed.title else "", embed.description or ""]
    lines += [f"**{field.name}:** {field.value}" for field in embed.fields]
    if embed.footer and embed.footer.text:
        lines.append(embed.footer.text)
    return truncate("\n".join(line for line in lines if line), limit)
