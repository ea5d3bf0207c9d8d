"""Remote-cancel step: ask Runway to stop (DELETE) a task whose job was cancelled."""

from __future__ import annotations

import logging

import aiosqlite

from ..runway.errors import RateLimitedError, RunwayError
from ..store import jobs_repo
from .context import StepContext

log = logging.getLogger("bot.worker")

MAX_REMOTE_CANCEL_ATTEMPTS = 5


async def cancel_remote(ctx: StepContext, row: aiosqlite.Row) -> None:
    """Cancel the job's task at Runway, retrying transient errors; then clear the request."""
    job_id = row["id"]
    try:
        await ctx.client.cancel_task(row["provider_task_id"])
    except RunwayError as exc:
        attempts = row["poll_errors"] + 1
        if attempts < MAX_REMOTE_CANCEL_ATTEMPTS and (exc.transient or exc.status is None):
            retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
            delay = ctx.backoff(attempts, retry_after)
            await ctx.reschedule(job_id, delay, {"poll_errors": attempts})
            return
        log.warning("could not cancel task of job %s at Runway: %s", job_id, exc)
    now = ctx.clock()
    async with ctx.store.transaction() as conn:
        await jobs_repo.update(
            conn,
            job_id,
            {
                "remote_cancel": 0,
                "poll_errors": 0,
                "next_poll_at": now,
                "updated_at": now,
                "lease_owner": None,
                "lease_expires_at": None,
            },
        )
