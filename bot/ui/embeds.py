"""Embeds for job status, finished clips, failures, quotas and job lists (pure functions)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

import discord

from bot.catalog import ModelSpec
from bot.domain import Job, JobKind, JobState, QuotaExceeded, QuotaStatus
from bot.ports import StatusUpdate

from .text import (
    amount,
    duration_text,
    message_link,
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

KIND_TITLES: dict[JobKind, str] = {JobKind.ANIMATE: "Animate", JobKind.RESTYLE: "Restyle"}


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
    return now if now is not None else datetime.now(UTC)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def state_line(update: StatusUpdate) -> str:
    """One line saying where the job stands right now."""
    job = update.job
    if job.state is JobState.QUEUED:
        if update.queue_position is not None:
            return f"Queued: number **{update.queue_position}** in line"
        return "Queued"
    if job.state is JobState.SUBMITTING:
        return "Sending to Runway…"
    if job.state is JobState.RUNNING:
        if update.throttled:
            return "Waiting for Runway capacity"
        if job.provider_status == "PENDING":
            return "Starting at Runway…"
        return f"Rendering `{progress_bar(job.progress)}`"
    result = outcome(job)
    if result is Outcome.SUCCEEDED:
        return "Finished" if job.delivered else "Finished: uploading the clip…"
    if result is Outcome.CANCELLED:
        return "Cancelled"
    where = "in the thread" if job.thread_id else "below"
    if result is Outcome.IN_DOUBT:
        return f"Interrupted: what happened is explained {where}"
    return f"Failed: the reason is explained {where}"


def _state_colour(job: Job) -> discord.Colour:
    if job.state is JobState.QUEUED:
        return COLOR_QUEUED
    if job.state.active:
        return COLOR_RUNNING
    return {
        Outcome.SUCCEEDED: COLOR_DONE,
        Outcome.CANCELLED: COLOR_CANCELLED,
    }.get(outcome(job), COLOR_FAILED)


def _param_fields(embed: discord.Embed, job: Job, model: ModelSpec | None) -> None:
    params = job.params
    embed.add_field(name="Model", value=model.display_name if model else params.model)
    if params.ratio:
        embed.add_field(name="Ratio", value=params.ratio.replace(":", "×"))
    if params.duration:
        embed.add_field(name="Duration", value=f"{params.duration}s")
    embed.add_field(name="Seed", value=str(params.seed) if params.seed is not None else "random")
    if params.audio:
        embed.add_field(name="Audio", value="on")


def _prompt_block(job: Job) -> str:
    if not job.prompt:
        return "*(no prompt)*"
    return "> " + safe_quote(job.prompt, 1000).replace("\n", "\n> ")


def status_embed(
    update: StatusUpdate, *, model: ModelSpec | None = None, now: datetime | None = None
) -> discord.Embed:
    """The public status message of a job: state, position or progress, parameters, credits."""
    job = update.job
    lines = [state_line(update), "", _prompt_block(job)]
    embed = discord.Embed(
        title=f"{KIND_TITLES[job.kind]} · job #{job.id}",
        description="\n".join(lines),
        colour=_state_colour(job),
    )
    _param_fields(embed, job, model)
    if job.charged_credits is not None:
        embed.add_field(name="Credits", value=amount(job.charged_credits))
    else:
        embed.add_field(name="Estimated credits", value=amount(job.estimated_credits))
    end = _aware(job.finished_at) if job.finished_at else _now(now)
    elapsed = (end - _aware(job.created_at)).total_seconds()
    embed.add_field(name="Elapsed", value=duration_text(elapsed))
    if job.state.active and update.eta_seconds is not None and not update.throttled:
        embed.add_field(name="About", value=f"{duration_text(update.eta_seconds)} left")
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>")
    embed.set_footer(text=f"job #{job.id}")
    embed.timestamp = _aware(job.created_at)
    return embed


def result_embed(job: Job, *, model: ModelSpec | None = None) -> discord.Embed:
    """The embed posted with the finished clip."""
    embed = discord.Embed(
        title=f"{KIND_TITLES[job.kind]} · job #{job.id} is ready",
        description=_prompt_block(job),
        colour=COLOR_DONE,
    )
    _param_fields(embed, job, model)
    charged = job.charged_credits if job.charged_credits is not None else job.estimated_credits
    embed.add_field(name="Credits charged", value=amount(charged))
    if job.rerun_of is not None:
        embed.add_field(name="Rerun of", value=f"job #{job.rerun_of}")
    embed.set_footer(text=f"job #{job.id}")
    return embed


def explain_failure(job: Job) -> str:
    """Plain words for why a job did not produce a clip.

    The engine stores a user-facing ``error_text`` (never Runway's raw text); it is still
    escaped here. Known codes have a fallback when no text was stored.
    """
    code = (job.error_code or "").upper()
    result = outcome(job)
    if result is Outcome.CANCELLED:
        text = "This job was cancelled before it finished."
        if job.error_text:
            text += f" {safe_quote(job.error_text, 200)}"
        return text
    if result is Outcome.IN_DOUBT and code == "NO_TASK_ID":
        return (
            "Runway accepted this job, but its answer did not say which task it started, so "
            "the bot cannot follow it: the clip may be made without reaching you. It was not "
            "sent again on its own. Press **Retry** to send it again."
        )
    if result is Outcome.IN_DOUBT:
        return (
            "The bot was interrupted while it was sending this job to Runway, so it cannot "
            "tell whether Runway received it. It was not sent again on its own, so you are "
            "never charged twice. Press **Retry** to send it again."
        )
    if job.error_text:
        return safe_quote(_without_quota_talk(job.error_text), 500)
    if code.startswith("SAFETY.INPUT"):
        return (
            "Runway's content moderation refused your input (the image, video or prompt). "
            "Try a different picture or wording."
        )
    if code.startswith("SAFETY"):
        return "Runway's content moderation refused the generated video. Try another prompt."
    if code.startswith("INTERNAL"):
        return "Runway had an internal problem making this clip. Trying again usually works."
    if code.startswith(("ASSET", "INPUT_PREPROCESSING")):
        return "Runway could not use the input file. Try another file or format."
    return "Runway could not finish this job."


def _without_quota_talk(text: str) -> str:
    """Drop sentences about the quota: :func:`refund_line` states that precisely."""
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    kept = [s for s in sentences if "quota" not in s.lower()]
    return " ".join(kept) if kept else text


def refund_line(job: Job, unit: str) -> str:
    """What happened to the quota reserved for the job."""
    if job.refunded:
        if job.quota_amount:
            return f"The {amount(job.quota_amount)} {unit} reserved for it went back to your quota."
        return "Nothing was taken from your quota."
    if job.quota_amount:
        return f"It still counts {amount(job.quota_amount)} {unit} against your quota."
    return "Nothing was taken from your quota."


def failure_embed(job: Job, *, unit: str = "credits") -> discord.Embed:
    """The explanation posted in the thread when a job ends without a clip."""
    result = outcome(job)
    titles = {
        Outcome.CANCELLED: f"Job #{job.id} was cancelled",
        Outcome.IN_DOUBT: f"Job #{job.id} was interrupted",
    }
    embed = discord.Embed(
        title=titles.get(result, f"Job #{job.id} failed"),
        description=f"{explain_failure(job)}\n\n{refund_line(job, unit)}",
        colour=COLOR_CANCELLED if result is Outcome.CANCELLED else COLOR_FAILED,
    )
    embed.set_footer(text=f"job #{job.id}")
    return embed


def _limit_text(status: QuotaStatus) -> str:
    if status.blocked:
        return "blocked"
    if status.limit is None:
        return "unlimited"
    return amount(status.limit)


def quota_embed(status: QuotaStatus, *, title: str) -> discord.Embed:
    """A user's quota this period: used, reserved, limit, remaining, reset time."""
    embed = discord.Embed(title=title, colour=COLOR_QUEUED)
    embed.add_field(name="Used", value=f"{amount(status.used)} {status.unit}")
    if status.reserved:
        embed.add_field(name="In progress", value=f"{amount(status.reserved)} {status.unit}")
    embed.add_field(name="Limit", value=_limit_text(status))
    if status.bonus:
        embed.add_field(name="Bonus", value=f"+{amount(status.bonus)} {status.unit}")
    remaining = status.remaining
    embed.add_field(name="Left", value="unlimited" if remaining is None else f"{amount(remaining)}")
    embed.add_field(
        name="Resets", value=f"{timestamp(status.resets_at, 'f')} ({timestamp(status.resets_at)})"
    )
    embed.set_footer(text=f"per {status.period} · limit from {status.source}")
    return embed


def over_quota_text(exc: QuotaExceeded) -> str:
    """Why a job was refused for quota, with used / limit / needed and the reset time."""
    status = exc.status
    if status is None or exc.scope == "bot":
        return exc.message
    if status.blocked:
        return "You are not allowed to make videos in this server."
    unit = status.unit
    limit = _limit_text(status)
    parts = [
        f"Not enough quota: you have used **{amount(status.used)}** of **{limit}** {unit} "
        f"this {status.period}"
    ]
    if status.reserved:
        parts.append(f" (plus {amount(status.reserved)} in jobs still running)")
    if status.bonus:
        parts.append(f", with a bonus of {amount(status.bonus)}")
    parts.append(f", and this job needs **{amount(exc.needed)}**.")
    parts.append(
        f" Your quota resets {timestamp(status.resets_at, 'f')} ({timestamp(status.resets_at)})."
    )
    return "".join(parts)


def jobs_embed(jobs: Sequence[Job], *, title: str = "Your jobs") -> discord.Embed:
    """A list of jobs, newest first, with their state and a link to each."""
    embed = discord.Embed(title=title, colour=COLOR_QUEUED)
    if not jobs:
        embed.description = "No jobs yet. Start one with `/animate` or `/restyle`."
        return embed
    lines = []
    for job in jobs:
        where = job.thread_id or job.channel_id
        link = (
            message_link(job.guild_id, where)
            if job.thread_id
            else message_link(job.guild_id, where, job.status_message_id)
            if job.status_message_id
            else None
        )
        label = f"[#{job.id}]({link})" if link else f"#{job.id}"
        state = job.state.value.replace("_", " ")
        lines.append(
            f"{label} · {KIND_TITLES[job.kind].lower()} · {job.params.model} · **{state}** · "
            f"{timestamp(job.created_at)}"
        )
    embed.description = "\n".join(lines)
    return embed


def embed_as_text(embed: discord.Embed, limit: int = 1900) -> str:
    """The embed's words as plain message text, for a channel where embeds are not allowed
    (without Embed Links Discord drops a message's embeds without a word)."""
    lines = [f"**{embed.title}**" if embed.title else "", embed.description or ""]
    lines += [f"**{field.name}:** {field.value}" for field in embed.fields]
    if embed.footer and embed.footer.text:
        lines.append(embed.footer.text)
    return truncate("\n".join(line for line in lines if line), limit)
