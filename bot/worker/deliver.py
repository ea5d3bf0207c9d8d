"""Delivery step: download the finished clip and post it, or post the failure notice."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ..domain import JobState
from ..media import sniff
from ..ports import AlreadyTold, DeliveryFailed
from ..runway.errors import OutputExpiredError, OutputTooLargeError, RunwayError
from ..runway.models import TaskStatus
from ..store import jobs_repo
from ..store.records import JobRecord
from .context import StepContext

log = logging.getLogger("bot.worker")

MAX_DELIVERY_ATTEMPTS = 8
MAX_URL_REFRESHES = 2
_VIDEO_EXT = {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov"}


class _OutputUnusable(Exception):
    """The task's output cannot be delivered (gone, or not a video)."""


async def ensure_published(ctx: StepContext, rec: JobRecord) -> JobRecord | None:
    """Before a result is posted, the job's status message and thread must exist (the result
    goes to that thread): ask the port to publish them if none is recorded.

    Returns the record to deliver with, or None when the delivery was rescheduled (the
    command that created the job is still posting them, or Discord failed). On the last
    attempts the worker stops waiting for the command and publishes itself.
    """
    if rec.job.status_message_id is not None:
        return rec
    last = rec.delivery_attempts + 2 >= MAX_DELIVERY_ATTEMPTS
    kind = "clip" if rec.job.state is JobState.SUCCEEDED else "notice"
    try:
        published = await ctx.port.publish(rec.job, orphan=last)
    except DeliveryFailed as exc:
        if exc.permanent or not await _delivery_retry(ctx, rec, str(exc), kind):
            return rec  # deliver where it can: the channel
        return None
    if published is None:
        reason = "its status message is still being posted"
        return None if await _delivery_retry(ctx, rec, reason, kind) else rec
    await ctx.record_published(rec.id, published)
    return await ctx.record(rec.id)


async def deliver_clip(ctx: StepContext, rec: JobRecord) -> None:
    """Download a succeeded job's clip and hand it to the port; failures become notices."""
    job_id = rec.id
    try:
        clip = await _download(ctx, rec)
    except OutputTooLargeError:
        mb = ctx.settings.runway.max_output_bytes / 1e6
        await _output_failed(
            ctx, job_id, "output_too_large", f"The video Runway made is larger than {mb:g} MB."
        )
        return
    except _OutputUnusable as exc:
        await _output_failed(ctx, job_id, "bad_output", str(exc))
        return
    except RunwayError as exc:
        if not await _delivery_retry(ctx, rec, f"download: {exc}", "clip"):
            await _output_failed(
                ctx, job_id, "download_failed", "The finished video could not be downloaded."
            )
        return
    try:
        job = rec.job
        receipt = await ctx.port.deliver_clip(job, clip, job.nonce)
    except DeliveryFailed as exc:
        if exc.permanent or not await _delivery_retry(ctx, rec, str(exc), "clip"):
            await _output_failed(
                ctx, job_id, "delivery_failed", f"The video was made but could not be posted: {exc}"
            )
        return
    finally:
        clip.unlink(missing_ok=True)
    await _delivered(ctx, job_id, receipt.message_id)


async def deliver_failure(ctx: StepContext, rec: JobRecord) -> None:
    """Post the failure (or cancel / in-doubt) notice of a finished job."""
    job = rec.job
    try:
        receipt = await ctx.port.deliver_failure(job, job.nonce)
    except AlreadyTold as exc:
        log.info("job %s: no notice posted: %s", job.id, exc)
        await _stop_delivering(ctx, job.id)
        return
    except DeliveryFailed as exc:
        if exc.permanent or not await _delivery_retry(ctx, rec, str(exc), "notice"):
            ctx.metrics.delivery_failed("notice", gave_up=True)
            await _give_up_delivery(ctx, job.id, str(exc))
        return
    await _delivered(ctx, job.id, receipt.message_id)


async def _delivery_retry(ctx: StepContext, rec: JobRecord, reason: str, kind: str) -> bool:
    """Schedule another delivery attempt; False when the attempts are used up."""
    attempts = rec.delivery_attempts + 1
    if attempts >= MAX_DELIVERY_ATTEMPTS:
        return False
    ctx.metrics.delivery_failed(kind, gave_up=False)
    delay = ctx.backoff(attempts, None)
    log.warning("delivery of job %s failed (%s); retry in %.0fs", rec.id, reason, delay)
    await ctx.reschedule(rec.id, delay, {"delivery_attempts": attempts})
    return True


async def _delivered(ctx: StepContext, job_id: int, message_id: int) -> None:
    now = ctx.clock()
    async with ctx.store.transaction() as conn:
        rec = await jobs_repo.get(conn, job_id)
        if rec is not None and rec.job.state is JobState.SUCCEEDED:
            await ctx.quota.settle(conn, rec, rec.job.charged_credits)
        await jobs_repo.update_released(
            conn,
            job_id,
            {
                "delivered_message_id": message_id,
                "delivered_at": now,
                "next_poll_at": None,
                "updated_at": now,
            },
        )
    log.info("job %s delivered as message %s", job_id, message_id)


async def _give_up_delivery(ctx: StepContext, job_id: int, reason: str) -> None:
    log.error("giving up delivering job %s: %s", job_id, reason)
    await _stop_delivering(ctx, job_id)


async def _stop_delivering(ctx: StepContext, job_id: int) -> None:
    """No more delivery attempts for the job (it keeps its final state and quota)."""
    async with ctx.store.transaction() as conn:
        await jobs_repo.update_released(
            conn,
            job_id,
            {
                "next_poll_at": None,
                "updated_at": ctx.clock(),
            },
        )


async def _output_failed(ctx: StepContext, job_id: int, code: str, text: str) -> None:
    """The clip was made but cannot be posted: refund, fail and explain instead."""
    ctx.metrics.delivery_failed("clip", gave_up=True)
    now = ctx.clock()
    async with ctx.store.transaction() as conn:
        rec = await jobs_repo.get(conn, job_id)
        if rec is not None:
            spent = rec.job.charged_credits
            await ctx.quota.refund(
                conn,
                rec,
                provider_spent=float(rec.job.estimated_credits if spent is None else spent),
            )
        await jobs_repo.update_released(
            conn,
            job_id,
            {
                "state": JobState.FAILED.value,
                "error_code": code,
                "error_text": text,
                "delivery_attempts": 0,
                "next_poll_at": now,
                "updated_at": now,
            },
        )


async def _fresh_output_url(ctx: StepContext, rec: JobRecord) -> str | None:
    task = await ctx.client.get_task(rec.task_id)
    if task.status is not TaskStatus.SUCCEEDED or not task.output:
        return None
    url = task.output[0]
    async with ctx.store.transaction() as conn:
        await jobs_repo.update(conn, rec.id, {"output_url": url})
    return url


async def _download(ctx: StepContext, rec: JobRecord) -> Path:
    """Stream the output to a temp file (bounded), refreshing an expired URL."""
    job_id = rec.id
    url = rec.output_url
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    part = ctx.workdir / f"job-{job_id}.part"
    limit = ctx.settings.runway.max_output_bytes
    for refresh in range(MAX_URL_REFRESHES + 1):
        if url is None:
            url = await _fresh_output_url(ctx, rec)
            if url is None:
                raise _OutputUnusable("Runway no longer offers the finished video.")
        try:
            await ctx.client.download(url, part, max_bytes=limit)
            break
        except OutputExpiredError:
            if refresh == MAX_URL_REFRESHES:
                raise
            log.info("output link of job %s expired; fetching a fresh one", job_id)
            url = None
    head = await asyncio.to_thread(_read_head, part)
    mime = sniff(head)
    if mime is None or not mime.startswith("video/"):
        part.unlink(missing_ok=True)
        raise _OutputUnusable("Runway sent back a file that is not a video.")
    final = ctx.workdir / f"job-{job_id}{_VIDEO_EXT.get(mime, '.mp4')}"
    part.replace(final)
    return final


def _read_head(path: Path, size: int = 4096) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)
