"""Poll step: ask Runway about a running task and apply what it says to the job."""

from __future__ import annotations

import contextlib
import logging

from ..domain import JobState
from ..runway.errors import (
    AuthenticationError,
    BalanceExhaustedError,
    NotFoundError,
    RateLimitedError,
    RunwayError,
    TaskNotVisibleYet,
)
from ..runway.models import Task, TaskStatus
from ..store import jobs_repo
from ..store.records import JobRecord
from .context import StepContext
from .failures import describe_failure
from .scheduling import MIN_POLL_SECONDS, nudge_at, running_delay

log = logging.getLogger("bot.worker")


# A task that stops being found is given up only after this many polls in a rec fail (the
# last not finding it) over at least this long since it was last seen (or submitted): one
# late ``task_not_exist`` from a gateway replica must not lose a clip that was paid for.
LOST_AFTER_MISSES = 3
LOST_WINDOW_SECONDS = 120.0
# The account refused (key, balance) on this many polls in a rec: the operator must act.
AUTH_FAILURES_TO_FAIL = 3


async def poll(ctx: StepContext, rec: JobRecord) -> None:
    """Poll a ``running`` job's task (or stop it past its deadline) and record the result."""
    job_id = rec.id
    now = ctx.clock()
    deadline = ctx.settings.runway.task_deadline_minutes * 60
    started = rec.started_ts
    if now - started > deadline:
        ctx.metrics.poll("deadline")
        await _past_deadline(ctx, rec)
        return
    try:
        task = await ctx.client.get_task(rec.task_id)
    except NotFoundError as exc:  # TaskNotVisibleYet included
        ctx.metrics.poll("not_found")
        await _not_found(ctx, rec, exc)
        return
    except AuthenticationError as exc:
        ctx.metrics.poll("refused")
        await _account_refused(ctx, rec, exc)
        return
    except RunwayError as exc:
        ctx.metrics.poll("error")
        failures = rec.poll_errors + 1
        retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
        delay = ctx.backoff(failures, retry_after)
        log.warning("poll of job %s failed (%s); next try in %.0fs", job_id, exc, delay)
        await ctx.reschedule(job_id, delay, {"poll_errors": failures}, expect=JobState.RUNNING)
        return
    ctx.metrics.poll(_POLL_OUTCOMES.get(task.status, "running"))
    await apply_task(ctx, rec, task)


_POLL_OUTCOMES = {
    TaskStatus.SUCCEEDED: "succeeded",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}


async def _not_found(ctx: StepContext, rec: JobRecord, exc: NotFoundError) -> None:
    """Keep polling a task that is not found (yet, or for a moment); lose it only when it
    stays unfound over several polls and a window, never on one answer."""
    job_id = rec.id
    now = ctx.clock()
    misses = rec.poll_errors + 1
    seen = rec.last_polled_at
    window = LOST_WINDOW_SECONDS
    if seen is None and isinstance(exc, TaskNotVisibleYet):
        window = max(window, ctx.settings.runway.task_not_exist_grace_seconds)
    since = seen if seen is not None else rec.started_ts
    if misses >= LOST_AFTER_MISSES and now - since >= window:
        log.warning("task of job %s not found %d times in a rec: lost (%s)", job_id, misses, exc)
        await _lost(ctx, job_id)
        return
    delay = ctx.poll_delay(TaskStatus.PENDING)
    log.info("task of job %s not found (%d); polling again in %.0fs", job_id, misses, delay)
    await ctx.reschedule(job_id, delay, {"poll_errors": misses}, expect=JobState.RUNNING)


async def _account_refused(ctx: StepContext, rec: JobRecord, exc: AuthenticationError) -> None:
    """The key or the balance is refused: tell the operator; after a few polls in a rec,
    fail the job plainly instead of waiting out the deadline."""
    job_id = rec.id
    failures = rec.poll_errors + 1
    balance = isinstance(exc, BalanceExhaustedError)
    what = "the Runway balance is used up" if balance else "Runway refused the API key"
    log.error("%s while polling job %s (%d in a rec): %s", what, job_id, failures, exc.message)
    if failures < AUTH_FAILURES_TO_FAIL:
        await ctx.reschedule(job_id, 60.0, {"poll_errors": failures}, expect=JobState.RUNNING)
        return
    reason = (
        "The bot's Runway balance is used up, so the job could not be followed to the end"
        if balance
        else "The bot's Runway account stopped accepting its key, so the job could not be "
        "followed to the end"
    )
    await ctx.finish(
        job_id,
        JobState.FAILED,
        expect=JobState.RUNNING,
        code="balance" if balance else "auth",
        text=f"{reason}; an admin must fix it. Your quota was refunded.",
        charge=False,
        provider_billed=True,
    )


async def _past_deadline(ctx: StepContext, rec: JobRecord) -> None:
    with contextlib.suppress(RunwayError):
        await ctx.client.cancel_task(rec.task_id)
    minutes = ctx.settings.runway.task_deadline_minutes
    await ctx.finish(
        rec.id,
        JobState.FAILED,
        expect=JobState.RUNNING,
        code="deadline",
        text=f"Runway did not finish within {minutes:g} minutes, so the job was stopped. "
        "Your quota was refunded.",
        charge=False,
        provider_billed=True,
    )


async def _lost(ctx: StepContext, job_id: int) -> None:
    await ctx.finish(
        job_id,
        JobState.FAILED,
        expect=JobState.RUNNING,
        code="lost",
        text="Runway no longer knows this task. Your quota was refunded.",
        charge=False,
        provider_billed=True,
    )


async def apply_task(ctx: StepContext, rec: JobRecord, task: Task) -> None:
    """Apply a polled task to its ``running`` job: finish it, or record progress."""
    if task.status.terminal:
        await _ended(ctx, rec, task)
    if task.status is TaskStatus.SUCCEEDED:
        await _succeeded(ctx, rec.id, task)
    elif task.status is TaskStatus.FAILED:
        await _failed(ctx, rec.id, task)
    elif task.status is TaskStatus.CANCELLED:
        await ctx.finish(
            rec.id,
            JobState.CANCELLED,
            expect=JobState.RUNNING,
            code="cancelled_remote",
            text="The task was cancelled at Runway. Your quota was refunded.",
            charge=False,
            extra={"provider_status": task.status.value},
        )
    else:
        await _still_running(ctx, rec, task)


async def _ended(ctx: StepContext, rec: JobRecord, task: Task) -> None:
    """The task ended: learn its run time and, if it held one of its model's slots at Runway,
    nudge the model's THROTTLED tasks: Runway is starting one of them now."""
    now = ctx.clock()
    last = rec.last_polled_at
    # it ended between the last GET and this one: about half-way, at most a few seconds ago
    end = now if last is None else now - min(2.5, (now - last) / 2)
    model = rec.job.params.model
    succeeded = task.status is TaskStatus.SUCCEEDED
    ctx.run_times.finished(rec.id, model, end, succeeded=succeeded)
    if rec.job.provider_status in (TaskStatus.PENDING.value, TaskStatus.THROTTLED.value):
        return  # it never held a slot
    async with ctx.store.transaction() as conn:
        await jobs_repo.nudge_throttled(conn, model, nudge_at(now, None), MIN_POLL_SECONDS)


def _credits(task: Task) -> float | None:
    return task.cost.credits if task.cost is not None else None


async def _succeeded(ctx: StepContext, job_id: int, task: Task) -> None:
    """Record the reported cost; the quota is settled once the clip is delivered.

    The user pays for a clip they receive: a success without any output, or an output
    that cannot be downloaded or posted, is refunded (the bot-wide counter keeps it).
    """
    if not task.output:
        await ctx.finish(
            job_id,
            JobState.FAILED,
            expect=JobState.RUNNING,
            code="no_output",
            text="Runway reported success but sent no video.",
            charge=False,
            charged_credits=_credits(task),
            provider_billed=True,
            extra={"provider_status": task.status.value},
        )
        return
    await ctx.finish(
        job_id,
        JobState.SUCCEEDED,
        expect=JobState.RUNNING,
        code=None,
        text=None,
        charge=None,
        extra={
            "provider_status": task.status.value,
            "progress": 1.0,
            "output_url": task.output[0],
            "charged_credits": _credits(task),
        },
    )


async def _failed(ctx: StepContext, job_id: int, task: Task) -> None:
    """Explain the failure in plain words; refund unless moderation failures are charged."""
    info = describe_failure(task.failure_code)
    charge = info.moderation and ctx.quota.charge_moderation_failures
    text = info.message
    if info.moderation:
        text += " Your quota was charged." if charge else " Your quota was refunded."
    else:
        text += " Your quota was refunded."
    await ctx.finish(
        job_id,
        JobState.FAILED,
        expect=JobState.RUNNING,
        code=info.code or "failed",
        text=text,
        charge=charge,
        charged_credits=None if charge else _credits(task),
        extra={"provider_status": task.status.value},
    )


async def _still_running(ctx: StepContext, rec: JobRecord, task: Task) -> None:
    """Record status and progress, schedule the next poll, and notify when something moved."""
    job_id = rec.id
    now = ctx.clock()
    previous = rec.job.progress
    gap = now - rec.last_polled_at if rec.last_polled_at is not None else None
    if task.status is TaskStatus.RUNNING:
        delay = _running_delay(ctx, rec, task, now)
    else:
        delay = ctx.poll_delay(task.status)
    changed = task.status.value != rec.job.provider_status
    progressed = task.progress is not None and task.progress != previous
    async with ctx.store.transaction() as conn:
        await jobs_repo.update_released(
            conn,
            job_id,
            {
                "provider_status": task.status.value,
                "progress": task.progress if task.progress is not None else previous,
                "last_polled_at": now,
                "poll_errors": 0,
                "next_poll_at": now + delay,
                "updated_at": now,
            },
            expect_state=JobState.RUNNING,
        )
        await ctx.release(conn, job_id)
    ctx.rates[job_id] = (previous, gap)
    if changed or progressed:
        await ctx.notify(job_id, force=changed)


def _running_delay(ctx: StepContext, rec: JobRecord, task: Task, now: float) -> float:
    """When to poll a RUNNING task next: an early probe just after it started, then shortly
    before and just after the end predicted from its progress and its model's run times."""
    model = rec.job.params.model
    expected = ctx.run_times.expected(model)
    first = rec.job.provider_status != TaskStatus.RUNNING.value
    last = rec.last_polled_at
    not_before = last if first and last is not None else rec.started_ts
    progress = task.progress or 0.0
    start = ctx.run_times.start_of(rec.id, now, progress, expected, not_before)
    previous = None
    if not first and last is not None and rec.job.progress is not None:
        previous = (last, rec.job.progress)
    return running_delay(
        ctx.rng,
        now=now,
        progress=task.progress,
        start=start,
        expected=expected,
        previous=previous,
        first_running=first,
        shortest=ctx.run_times.shortest(model),
    )
