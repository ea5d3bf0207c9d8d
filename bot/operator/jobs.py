"""``runway-bot jobs list / show / cancel / retry``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..domain import Job, JobError, JobNotFound, JobState
from ..store import jobs_repo
from .common import ADMIN_ACTOR, OperatorError, Outcome, Services, epoch, iso, num, when

MAX_LIST = 1000
RETRYABLE = (JobState.FAILED, JobState.IN_DOUBT)
NEXT_PASS = "the running bot's worker picks it up from the database on its next pass"


def parse_state(text: str | None) -> JobState | None:
    """A ``--state`` value, or a one-line refusal naming the states."""
    if text is None:
        return None
    try:
        return JobState(text.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in JobState)
        raise OperatorError(f"unknown state {text!r}; use one of: {names}") from None


def job_dict(job: Job) -> dict[str, Any]:
    """A job as JSON (the domain fields; times in ISO 8601 UTC)."""
    return {
        "id": job.id,
        "kind": job.kind.value,
        "state": job.state.value,
        "user_id": job.user_id,
        "guild_id": job.guild_id,
        "channel_id": job.channel_id,
        "thread_id": job.thread_id,
        "status_message_id": job.status_message_id,
        "prompt": job.prompt,
        "model": job.params.model,
        "ratio": job.params.ratio,
        "duration": job.params.duration,
        "seed": job.params.seed,
        "audio": job.params.audio,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "submitted_at": iso(job.submitted_at),
        "finished_at": iso(job.finished_at),
        "provider_task_id": job.provider_task_id,
        "provider_status": job.provider_status,
        "progress": job.progress,
        "attempts": job.attempts,
        "estimated_credits": job.estimated_credits,
        "charged_credits": job.charged_credits,
        "quota_amount": job.quota_amount,
        "refunded": job.refunded,
        "error_code": job.error_code,
        "error_text": job.error_text,
        "delivered": job.delivered,
        "delivered_at": iso(job.delivered_at),
        "delivered_message_id": job.delivered_message_id,
        "rerun_of": job.rerun_of,
    }


def _short(text: str, width: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def job_line(job: Job) -> str:
    """One line per job for ``jobs list``."""
    guild = job.guild_id if job.guild_id is not None else "DM"
    return (
        f"#{job.id:<6} {job.state.value:<10} {job.kind.value:<7} {job.params.model:<12} "
        f"user {job.user_id} guild {guild}  {when(job.created_at)}  {_short(job.prompt)!r}"
    )


async def list_jobs(
    svc: Services, *, user_id: int | None, state: str | None, limit: int
) -> Outcome:
    """The most recent jobs, newest first."""
    wanted = parse_state(state)
    if not 1 <= limit <= MAX_LIST:
        raise OperatorError(f"--limit must be between 1 and {MAX_LIST}")
    async with svc.store.read() as conn:
        jobs = await jobs_repo.list_jobs(conn, user_id=user_id, state=wanted, limit=limit)
    lines = [job_line(j) for j in jobs] or ["no jobs"]
    return Outcome({"jobs": [job_dict(j) for j in jobs]}, lines)


async def show_job(svc: Services, job_id: int) -> Outcome:
    """Everything stored about one job, its input files described (not their bytes)."""
    async with svc.store.read() as conn:
        rec = await jobs_repo.get(conn, job_id)
        if rec is None:
            raise _not_found(job_id)
        inputs = await jobs_repo.input_summaries(conn, job_id)
        purged = await jobs_repo.inputs_purged_at(conn, job_id)
    job = rec.job
    data = job_dict(job)
    data.update(
        {
            "quota_state": rec.quota_state,
            "remote_cancel": rec.remote_cancel,
            "next_poll_at": iso(epoch(rec.next_poll_at)),
            "lease_owner": rec.lease_owner,
            "lease_expires_at": iso(epoch(rec.lease_expires_at)),
            "inputs": inputs,
            "inputs_purged_at": iso(epoch(purged)),
        }
    )
    unit = svc.settings.quota.unit.value
    lines = [
        f"job #{job.id}: {job.kind.value}, {job.state.value}"
        + (", delivered" if job.delivered else "")
        + (f" (rerun of #{job.rerun_of})" if job.rerun_of is not None else ""),
        f"  user {job.user_id}, guild {job.guild_id if job.guild_id is not None else 'DM'}, "
        f"channel {job.channel_id}" + (f", thread {job.thread_id}" if job.thread_id else ""),
        f"  prompt: {job.prompt!r}",
        f"  model {job.params.model}, ratio {job.params.ratio or '-'}, "
        f"duration {num(job.params.duration)} s, seed {num(job.params.seed)}, "
        f"audio {'yes' if job.params.audio else 'no'}",
        f"  created {when(job.created_at)}, submitted {when(job.submitted_at)}, "
        f"finished {when(job.finished_at)}",
        f"  runway task {job.provider_task_id or '-'} ({job.provider_status or '-'}), "
        f"progress {num(job.progress)}, attempts {job.attempts}",
        f"  credits: estimated {num(job.estimated_credits)}, charged {num(job.charged_credits)}; "
        f"quota {num(job.quota_amount)} {unit}, {rec.quota_state}",
    ]
    if job.error_code or job.error_text:
        lines.append(f"  error: {job.error_code or '-'}: {job.error_text or ''}".rstrip())
    if rec.remote_cancel:
        lines.append("  a cancel at Runway is pending")
    if rec.lease_owner:
        lines.append(f"  leased by {rec.lease_owner} until {when(epoch(rec.lease_expires_at))}")
    if inputs:
        for item in inputs:
            size = f" {item['width']}x{item['height']}" if item["width"] else ""
            secs = f" {item['duration_seconds']:.1f}s" if item["duration_seconds"] else ""
            lines.append(f"  input {item['role']}: {item['mime']}{size}{secs}, {item['bytes']} B")
    else:
        lines.append(
            f"  inputs: purged {when(epoch(purged))}" if purged else "  inputs: none stored"
        )
    return Outcome({"job": data}, lines)


def _not_found(job_id: int) -> OperatorError:
    return OperatorError(f"no job #{job_id}", code="not_found")


async def cancel_job(svc: Services, job_id: int) -> Outcome:
    """Cancel as an admin: refund at once; a task at Runway is cancelled there by the worker."""
    try:
        job = await svc.jobs.cancel(job_id, actor_id=ADMIN_ACTOR, actor_is_admin=True)
    except JobNotFound:
        raise _not_found(job_id) from None
    except JobError as exc:
        if exc.code == "finished":
            current = await svc.jobs.get(job_id)
            state = current.state.value if current else "finished"
            raise OperatorError(
                f"job #{job_id} has already finished ({state}); nothing to cancel",
                code="finished",
            ) from None
        raise
    async with svc.store.read() as conn:
        rec = await jobs_repo.get(conn, job_id)
    remote = bool(rec and rec.remote_cancel)
    unit = svc.settings.quota.unit.value
    lines = [
        f"job #{job.id} cancelled"
        + (f"; refunded {num(job.quota_amount)} {unit}" if job.refunded else "")
    ]
    if remote:
        lines.append(f"its task is cancelled at Runway: {NEXT_PASS}")
    return Outcome({"job": job_dict(job), "remote_cancel": remote}, lines)


async def retry_job(svc: Services, job_id: int, *, role_ids: Sequence[int] = ()) -> Outcome:
    """A new job from a failed or in-doubt job's stored inputs, as its own user, same seed."""
    old = await svc.jobs.get(job_id)
    if old is None:
        raise _not_found(job_id)
    if old.state not in RETRYABLE:
        raise OperatorError(
            f"job #{job_id} is {old.state.value}; only a failed or in_doubt job can be retried",
            code="not_retryable",
        )
    try:
        new = await svc.jobs.rerun(
            job_id, actor_id=old.user_id, new_seed=old.params.seed, user_role_ids=role_ids
        )
    except JobError as exc:
        if exc.code == "purged":
            raise OperatorError(
                f"job #{job_id}'s input files are no longer kept (purged after the retention "
                "period); it cannot be retried",
                code="purged",
            ) from None
        raise
    lines = [
        f"job #{new.id} created for user {new.user_id}: a retry of #{job_id} "
        f"(same inputs and seed), {new.state.value}",
        NEXT_PASS,
    ]
    return Outcome({"job": job_dict(new), "retry_of": job_id}, lines)
