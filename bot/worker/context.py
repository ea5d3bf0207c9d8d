"""What every step needs: the services, the clock, and the shared job helpers."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Settings
from ..domain import JobState
from ..logs import update_job_context
from ..ops.metrics import Metrics
from ..ports import DeliveryPort, Published, StatusUpdate
from ..quota import QuotaService
from ..runway.client import RunwayClient
from ..runway.models import TaskStatus
from ..store import jobs_repo
from ..store.db import Conn, Store
from ..store.records import JobRecord
from .scheduling import (
    MIN_POLL_SECONDS,
    RunTimes,
    backoff_delay,
    estimate_remaining,
    next_poll_delay,
)

log = logging.getLogger("bot.worker")


class StepContext:
    """Services and helpers shared by the worker's steps (one per :class:`~bot.worker.Worker`)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: RunwayClient,
        port: DeliveryPort,
        quota: QuotaService,
        *,
        owner: str,
        workdir: Path,
        clock: Callable[[], float],
        rng: random.Random,
        model_paused_until: dict[str, float],
        metrics: Metrics | None = None,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.port = port
        self.quota = quota
        self.owner = owner
        self.workdir = workdir
        self.clock = clock
        self.rng = rng
        self.model_paused_until = model_paused_until
        self.metrics = metrics if metrics is not None else quota.metrics
        self.wake = wake
        """Ask the scheduler for a pass now (a Runway slot came free)."""
        self._last_status: dict[int, float] = {}
        self.rates: dict[int, tuple[float | None, float | None]] = {}
        self.run_times = RunTimes()  # recent run times per model, run starts per job

    def poll_delay(self, status: TaskStatus, **progress: Any) -> float:
        """Next poll delay (never below the floor); see :mod:`bot.worker.scheduling`."""
        return next_poll_delay(status, self.rng, floor=MIN_POLL_SECONDS, **progress)

    def backoff(self, failures: int, retry_after: float | None) -> float:
        """Back-off delay after ``failures`` errors, at least ``retry_after`` when given."""
        delay = backoff_delay(failures, self.rng, floor=MIN_POLL_SECONDS)
        return delay if retry_after is None else max(delay, retry_after)

    async def record(self, job_id: int) -> JobRecord | None:
        """The job's current record, or None when it is gone."""
        async with self.store.read() as conn:
            rec = await jobs_repo.get(conn, job_id)
        if rec is not None:  # the log lines of this job's step name its user and guild
            update_job_context(job_id, user_id=rec.job.user_id, guild_id=rec.job.guild_id)
        return rec

    async def finish(
        self,
        job_id: int,
        state: JobState,
        *,
        expect: JobState | tuple[JobState, ...],
        code: str | None,
        text: str | None,
        charge: bool | None = None,
        charged_credits: float | None = None,
        provider_billed: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Move a job to a terminal state, settle or refund its quota, schedule its notice.

        ``charge`` True settles (with ``charged_credits`` or the estimate), False refunds,
        None leaves the quota as it is. ``provider_billed`` with a refund: Runway billed the
        task anyway, so the bot-wide counter keeps ``charged_credits`` (or the estimate).
        """
        now = self.clock()
        async with self.store.transaction() as conn:
            rec = await jobs_repo.get(conn, job_id)
            expected = (expect,) if isinstance(expect, JobState) else expect
            if rec is None or rec.job.state not in expected:
                await self.release(conn, job_id)
                return False
            if charge is True:
                await self.quota.settle(conn, rec, charged_credits)
            elif charge is False:
                spent = None
                if provider_billed:
                    estimate = rec.job.estimated_credits
                    spent = estimate if charged_credits is None else charged_credits
                await self.quota.refund(conn, rec, provider_spent=spent)
            values: dict[str, Any] = {
                "state": state.value,
                "error_code": code,
                "error_text": text,
                "finished_at": now,
                "updated_at": now,
                "next_poll_at": now,
            }
            values.update(extra or {})
            await jobs_repo.update_released(conn, job_id, values)
        if rec.job.state in (JobState.SUBMITTING, JobState.RUNNING):
            self.wake()  # its Runway slot is free: the next job need not wait for the status edit
        await self.notify(job_id, force=True)
        return True

    async def record_published(self, job_id: int, published: Published) -> None:
        """Record where the job's status message and thread are (once: a recorded one stays)."""
        if published.status_message_id is None:
            return
        async with self.store.transaction() as conn:
            rec = await jobs_repo.get(conn, job_id)
            if rec is None or rec.job.status_message_id is not None:
                return
            await jobs_repo.update(
                conn,
                job_id,
                {
                    "status_message_id": published.status_message_id,
                    "thread_id": published.thread_id,
                    "updated_at": self.clock(),
                },
            )

    async def release(self, conn: Conn, job_id: int) -> None:
        """Drop this worker's lease on the job (if it still holds it)."""
        await jobs_repo.release(conn, job_id, self.owner)

    async def reschedule(
        self,
        job_id: int,
        delay: float,
        values: dict[str, Any] | None = None,
        *,
        expect: JobState | None = None,
    ) -> None:
        """Run the job's next step after ``delay`` (only if still in ``expect``) and let go."""
        now = self.clock()
        async with self.store.transaction() as conn:
            changed = await jobs_repo.update_released(
                conn,
                job_id,
                {
                    **(values or {}),
                    "next_poll_at": now + delay,
                    "updated_at": now,
                },
                expect_state=expect,
            )
            if not changed:  # e.g. cancelled meanwhile: its own next step is already due
                await self.release(conn, job_id)

    async def notify(self, job_id: int, *, force: bool) -> None:
        """Tell the port about the job (always on state change, else rate-limited)."""
        now = self.clock()
        interval = self.settings.discord.status_edit_interval_seconds
        if not force and now - self._last_status.get(job_id, float("-inf")) < interval:
            return
        rec = await self.record(job_id)
        if rec is None:
            return
        job = rec.job
        position = None
        if job.state is JobState.QUEUED:
            async with self.store.transaction() as conn:
                position = await jobs_repo.queue_position(conn, job_id)
        eta = None
        if job.state is JobState.RUNNING and job.id in self.rates:
            eta = estimate_remaining(job.progress, *self.rates[job.id])
        self._last_status[job_id] = now
        if not job.state.active:
            self._last_status.pop(job_id, None)
            self.rates.pop(job_id, None)
        try:
            await self.port.status_changed(
                StatusUpdate(
                    job=job,
                    queue_position=position,
                    throttled=job.provider_status == TaskStatus.THROTTLED.value,
                    eta_seconds=eta,
                )
            )
        except Exception:
            log.warning("status update for job %s failed", job_id, exc_info=True)

    async def announce_queue(self, limit: int = 20) -> None:
        """Queue positions moved: update the first waiting jobs (rate-limited per job)."""
        async with self.store.read() as conn:
            ids = await jobs_repo.first_queued(conn, limit)
        for job_id in ids:
            await self.notify(job_id, force=False)
