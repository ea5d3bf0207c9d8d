"""Remote-cancel step: ask Runway to stop (DELETE) a task whose job was cancelled."""

from __future__ import annotations

import logging

from ..runway.errors import CancelUnsupportedError, RateLimitedError, RunwayError
from ..store import jobs_repo
from ..store.records import JobRecord
from .context import StepContext

log = logging.getLogger("bot.worker")

MAX_REMOTE_CANCEL_ATTEMPTS = 5


CANCEL_NOT_CARRIED_OUT_TEXT = (
    "Runway could not be asked to stop the task{why}, so it may still be made; it is billed "
    "to the bot, not to you, and the clip will not be posted."
)


async def cancel_remote(ctx: StepContext, rec: JobRecord) -> None:
    """Cancel the job's task at Runway, retrying transient errors; then clear the request.

    A cancel that could not be carried out (the gateway does not route DELETE, or Runway kept
    refusing) is never reported as done: the notice says so, and the bot-wide counter keeps
    the task's estimate, since it may still be billed.
    """
    job_id = rec.id
    why: str | None = None
    try:
        await ctx.client.cancel_task(rec.task_id)
    except CancelUnsupportedError as exc:
        log.warning(
            "job %s: %s; task %s goes on and may be billed",
            job_id,
            exc.message,
            rec.task_id,
        )
        why = " (the gateway cannot cancel tasks)"
    except RunwayError as exc:
        attempts = rec.poll_errors + 1
        if attempts < MAX_REMOTE_CANCEL_ATTEMPTS and (exc.transient or exc.status is None):
            retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
            delay = ctx.backoff(attempts, retry_after)
            await ctx.reschedule(job_id, delay, {"poll_errors": attempts})
            return
        log.warning("could not cancel task of job %s at Runway: %s", job_id, exc)
        why = ""
    now = ctx.clock()
    values: dict[str, object] = {
        "remote_cancel": 0,
        "poll_errors": 0,
        "next_poll_at": now,
        "updated_at": now,
    }
    async with ctx.store.transaction() as conn:
        fresh = await jobs_repo.get(conn, job_id) if why is not None else None
        if fresh is not None:
            note = CANCEL_NOT_CARRIED_OUT_TEXT.format(why=why)
            values["error_text"] = f"{fresh.job.error_text or ''} {note}".strip()
            await ctx.quota.keep_provider_spend(conn, fresh)
        await jobs_repo.update_released(conn, job_id, values)
