"""Submit step: build the request, create the task at Runway, record the outcome."""

from __future__ import annotations

import asyncio
import logging

from ..domain import JobError, JobState
from ..media import MediaError
from ..runway.errors import (
    AuthenticationError,
    BalanceExhaustedError,
    DailyLimitError,
    MissingTaskIdError,
    NotFoundError,
    RateLimitedError,
    RunwayError,
    RunwayValidationError,
)
from ..runway.models import ImageToVideoRequest, TaskStatus
from ..runway.retry import create_may_have_started
from ..store import jobs_repo
from ..store.records import JobRecord
from .context import StepContext
from .scheduling import FIRST_POLL_SECONDS, later
from .submission import build_request

log = logging.getLogger("bot.worker")

MAX_SUBMIT_ATTEMPTS = 8

IN_DOUBT_TEXT = (
    "The bot was interrupted while sending this job to Runway, so it cannot tell whether "
    "Runway received it. Your quota was refunded; use Retry to send it again."
)
INTERRUPTED_TEXT = (
    "The bot was interrupted every time it prepared this job, so it stopped trying. Nothing "
    "was sent to Runway and your quota was refunded."
)
NO_TASK_ID_TEXT = (
    "Runway accepted this job but its answer did not say which task it started, so the bot "
    "cannot follow it: the clip may be made without reaching you. Your quota was refunded; "
    "use Retry to send it again."
)
DAILY_LIMIT_TEXT = (
    "Runway's daily generation limit for this bot's account is reached; it resets at "
    "midnight UTC. Nothing was made and your quota was refunded. Please try again tomorrow."
)
BALANCE_TEXT = (
    "The bot's Runway balance is used up, so Runway refused the job; an admin must top it "
    "up. Nothing was made and your quota was refunded."
)
AUTH_TEXT = (
    "The bot's Runway account refused the request; an admin must fix the configuration. "
    "Your quota was refunded."
)


async def submit(ctx: StepContext, job_id: int) -> None:
    """Send a job claimed as ``submitting`` to Runway; the job must hold this worker's lease."""
    rec = await ctx.record(job_id)
    if rec is None:
        return
    await ctx.notify(job_id, force=True)
    async with ctx.store.transaction() as conn:
        inputs = await jobs_repo.load_inputs(conn, job_id)
    kind = rec.job.kind
    try:
        request = await build_request(
            ctx.client,
            kind,
            model=rec.job.params.model,
            prompt=rec.job.prompt,
            ratio=rec.job.params.ratio,
            duration=rec.job.params.duration,
            seed=rec.job.params.seed,
            audio=rec.job.params.audio,
            inputs=inputs,
        )
    except (JobError, MediaError) as exc:
        await _fail_submit(ctx, job_id, "input", exc.message)
        return
    except RunwayError as exc:  # the upload failed: no task was created
        await _submit_error(ctx, rec, exc, upload=True)
        return
    except Exception:  # a bug while preparing: nothing was sent, so it is not in doubt
        log.exception("preparing the request for job %s failed", job_id)
        await _fail_submit(
            ctx,
            job_id,
            "prepare_failed",
            "The bot could not prepare this job's input for Runway. Nothing was sent "
            "and your quota was refunded.",
        )
        return
    if not await _mark_create_sent(ctx, job_id):  # cancelled while preparing: nothing sent
        await _cancelled_in_flight(ctx, job_id)
        return
    try:
        if isinstance(request, ImageToVideoRequest):
            task_id = await ctx.client.create_image_to_video(request)
        else:
            task_id = await ctx.client.create_video_to_video(request)
    except RunwayError as exc:
        await _submit_error(ctx, rec, exc, upload=False)
        return
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("create for job %s failed unexpectedly", job_id)
        await _in_doubt(ctx, job_id)
        return
    await _submitted(ctx, job_id, task_id)


async def _mark_create_sent(ctx: StepContext, job_id: int) -> bool:
    """Record, in its own commit, that the create request is about to leave; False when the
    job is no longer ``submitting`` (a member's cancel), so the request must not be sent.

    A crash before this commit left nothing at Runway, so recovery requeues the job; after
    it, the create may have reached Runway and the job ends in doubt.
    """
    now = ctx.clock()
    async with ctx.store.transaction() as conn:
        return await jobs_repo.update(
            conn, job_id, {"create_sent_at": now}, expect_state=JobState.SUBMITTING
        )


async def _submitted(ctx: StepContext, job_id: int, task_id: str) -> None:
    ctx.metrics.submission("submitted")
    now = ctx.clock()
    delay = later(FIRST_POLL_SECONDS, ctx.rng)  # moderation fails tasks early
    async with ctx.store.transaction() as conn:
        ok = await jobs_repo.update_released(
            conn,
            job_id,
            {
                "state": JobState.RUNNING.value,
                "provider_task_id": task_id,
                "provider_status": TaskStatus.PENDING.value,
                "submitted_at": now,
                "updated_at": now,
                "next_poll_at": now + delay,
                "poll_errors": 0,
            },
            expect_state=JobState.SUBMITTING,
        )
        if not ok:  # cancelled while the create was in flight: cancel it at Runway too
            await jobs_repo.update_released(
                conn,
                job_id,
                {
                    "provider_task_id": task_id,
                    "remote_cancel": 1,
                    "next_poll_at": now,
                },
            )
    log.info("job %s submitted as task %s", job_id, task_id)
    if ok:
        await ctx.notify(job_id, force=True)


async def _fail_submit(ctx: StepContext, job_id: int, code: str, text: str) -> None:
    ctx.metrics.submission("failed")
    if not await ctx.finish(
        job_id, JobState.FAILED, expect=JobState.SUBMITTING, code=code, text=text, charge=False
    ):
        await _cancelled_in_flight(ctx, job_id)


async def _in_doubt(ctx: StepContext, job_id: int, *, no_task_id: bool = False) -> None:
    """The create may have started (and billed) a task: refund the user, while the bot-wide
    counter keeps the estimate, since Runway may have billed it."""
    ctx.metrics.submission("in_doubt")
    code = "no_task_id" if no_task_id else "in_doubt"
    text = NO_TASK_ID_TEXT if no_task_id else IN_DOUBT_TEXT
    if await ctx.finish(
        job_id,
        JobState.IN_DOUBT,
        expect=JobState.SUBMITTING,
        code=code,
        text=text,
        charge=False,
        provider_billed=True,
    ):
        return
    await _cancelled_in_flight(ctx, job_id, in_doubt=(code, text))


async def _cancelled_in_flight(
    ctx: StepContext, job_id: int, *, in_doubt: tuple[str, str] | None = None
) -> None:
    """Settle a job cancelled while its create was in flight and no task id came back.

    The cancel refunded the member and asked for a remote cancel that has no task to aim at.
    ``in_doubt`` (code, text): the create may have started a task, so the job ends in doubt
    and the bot-wide counter counts its estimate again; otherwise nothing reached Runway and
    the job stays cancelled. Either way the remote-cancel request is dropped.
    """
    now = ctx.clock()
    async with ctx.store.transaction() as conn:
        rec = await jobs_repo.get(conn, job_id)
        if (
            rec is None
            or rec.job.state is not JobState.CANCELLED
            or not rec.remote_cancel
            or rec.job.provider_task_id
        ):
            return
        values: dict[str, object] = {"remote_cancel": 0, "next_poll_at": now, "updated_at": now}
        if in_doubt is not None:
            await ctx.quota.keep_provider_spend(conn, rec)
            code, text = in_doubt
            prior = rec.job.error_text or ""
            values.update(
                {
                    "state": JobState.IN_DOUBT.value,
                    "error_code": code,
                    "error_text": f"{prior} {text}".strip(),
                }
            )
        changed = await jobs_repo.update_released(
            conn, job_id, values, expect_state=JobState.CANCELLED
        )
    if changed:
        await ctx.notify(job_id, force=True)


async def _submit_error(
    ctx: StepContext, rec: JobRecord, exc: RunwayError, *, upload: bool
) -> None:
    job_id = rec.id
    not_sent = upload or not create_may_have_started(exc)
    if isinstance(exc, RunwayValidationError):
        detail = exc.describe()[:300]
        await _fail_submit(ctx, job_id, "rejected", f"Runway refused the request: {detail}")
    elif isinstance(exc, BalanceExhaustedError):
        log.error("the Runway balance is used up (job %s): %s", job_id, exc.message)
        await _fail_submit(ctx, job_id, "balance", BALANCE_TEXT)
    elif isinstance(exc, AuthenticationError):
        log.error("Runway refused the API key (job %s): %s", job_id, exc.message)
        await _fail_submit(ctx, job_id, "auth", AUTH_TEXT)
    elif isinstance(exc, DailyLimitError):
        log.warning("Runway's daily generation limit is reached (job %s)", job_id)
        await _fail_submit(ctx, job_id, "daily_limit", DAILY_LIMIT_TEXT)
    elif isinstance(exc, MissingTaskIdError):
        log.error("create for job %s was accepted without a task id: %s", job_id, exc.message)
        await _in_doubt(ctx, job_id, no_task_id=True)
    elif not_sent and exc.transient:
        await _requeue(ctx, rec, exc)
    elif exc.transient or not isinstance(exc, NotFoundError):
        log.warning("create for job %s may or may not have reached Runway: %s", job_id, exc)
        if exc.transient:
            await _in_doubt(ctx, job_id)
        else:
            await _fail_submit(
                ctx, job_id, "rejected", f"Runway refused the request (HTTP {exc.status or '?'})."
            )
    else:
        await _fail_submit(ctx, job_id, "rejected", "Runway refused the request.")


async def _requeue(ctx: StepContext, rec: JobRecord, exc: RunwayError) -> None:
    """Nothing reached Runway: back to the queue with back-off, pausing the model (or fail)."""
    job_id = rec.id
    if rec.job.attempts >= MAX_SUBMIT_ATTEMPTS:
        await _fail_submit(
            ctx, job_id, "busy", "Runway stayed too busy to take this job. Please try later."
        )
        return
    ctx.metrics.submission("requeued")
    retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
    delay = ctx.backoff(rec.job.attempts, retry_after)
    now = ctx.clock()
    ctx.model_paused_until[rec.job.params.model] = now + delay
    log.warning("job %s not accepted (%s); back in the queue for %.0fs", job_id, exc, delay)
    async with ctx.store.transaction() as conn:
        await jobs_repo.update_released(
            conn,
            job_id,
            {
                "state": JobState.QUEUED.value,
                "submit_after": now + delay,
                "updated_at": now,
            },
            expect_state=JobState.SUBMITTING,
        )
        await ctx.release(conn, job_id)
    await _cancelled_in_flight(ctx, job_id)
    await ctx.notify(job_id, force=True)
