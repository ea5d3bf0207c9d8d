"""The worker: one scheduler loop that submits, polls, cancels and delivers jobs.

Everything the worker does is driven by the jobs table, so a restart loses nothing:

- Queued jobs are submitted per model in fair order (``fair_seq``, then id), at most
  ``runway.concurrency_for(model)`` in flight per model. ``submitting`` is written (with a
  lease) when the job is claimed, and ``create_sent_at`` in its own commit just before the
  create request leaves. A job found in ``submitting`` without a live lease after a crash
  becomes ``in_doubt`` (never resubmitted silently) if the create may have left, and goes
  back to the queue if it had not.
- Every other step is due at ``next_poll_at`` (indexed): polling a running task,
  cancelling a task at Runway, posting the clip or the failure notice. A step first takes
  the job's lease (owner + expiry, one UPDATE) so two workers never work on one job and a
  crashed worker's jobs are picked up once its lease expires.
- The loop sleeps until the earliest due time or until :meth:`Worker.wake` is called.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import clock as clocks
from ..config import Settings
from ..domain import JobState
from ..jobs import INPUT_RETENTION_SECONDS
from ..logs import set_job_context
from ..ops.metrics import Metrics
from ..ports import DeliveryFailed, DeliveryPort
from ..quota import QuotaService
from ..runway.client import RunwayClient
from ..store import jobs_repo
from ..store.backend import Conn
from ..store.db import Store
from ..store.records import JobRecord
from .cancel import cancel_remote
from .context import StepContext
from .deliver import deliver_clip, deliver_failure, ensure_published
from .poll import poll
from .scheduling import MIN_POLL_SECONDS, submit_room
from .submit import IN_DOUBT_TEXT, INTERRUPTED_TEXT, MAX_SUBMIT_ATTEMPTS, submit

log = logging.getLogger(__name__)


LEASE_SECONDS = 120.0
"""A job lease and a publish lease last this long unless renewed."""


class Worker:
    """The job scheduler. ``start`` runs recovery then the loop; ``stop`` ends it cleanly."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: RunwayClient,
        port: DeliveryPort,
        *,
        owner: str,
        workdir: Path,
        quota: QuotaService,
        clock: Callable[[], float] = clocks.now,
        rng: random.Random | None = None,
        lease_seconds: float = LEASE_SECONDS,
        max_parallel: int = 4,
        idle_seconds: float = 60.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self.owner = owner
        self._workdir = Path(workdir)
        self._clock = clock
        self._lease = lease_seconds
        self._max_parallel = max_parallel
        self._idle = idle_seconds
        self._quota = quota
        self._event = asyncio.Event()
        self._steps: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._announcer: asyncio.Task[None] | None = None
        self._stopping = False
        self._model_paused_until: dict[str, float] = {}
        # Jobs found at start-up with no status message: published before any other step.
        self._orphans: dict[int, float] = {}  # job id -> when to try (again)
        self.metrics = metrics if metrics is not None else quota.metrics
        self.last_pass: float | None = None
        """The process clock's ``monotonic()`` when the loop last finished a pass (or
        started), for health."""
        self._ctx = StepContext(
            settings,
            store,
            client,
            port,
            self._quota,
            owner=owner,
            workdir=self._workdir,
            clock=clock,
            rng=rng or random.Random(),
            model_paused_until=self._model_paused_until,
            metrics=self.metrics,
            wake=self.wake,
        )
        self._last_purge = 0.0
        self._last_adoption = 0.0  # when publish leases were last renewed and checked

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from a previous run, then run the scheduler loop in the background."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._stopping = False
        await self.recover()
        self.last_pass = clocks.current().monotonic()
        self._loop_task = asyncio.create_task(self._run(), name=f"worker-{self.owner}")

    @property
    def running(self) -> bool:
        """Whether the scheduler loop task exists and has not ended."""
        return self._loop_task is not None and not self._loop_task.done()

    @property
    def alive_within(self) -> float:
        """Seconds between two passes of a healthy loop, at most: it never sleeps longer
        than ``idle_seconds``; twice that plus a lease renewal interval leaves room for a
        slow pass (a busy database)."""
        return 2 * self._idle + self._lease / 3

    def wake(self) -> None:
        """Something changed (new job, cancel): run a scheduler pass now."""
        self._event.set()

    async def stop(self) -> None:
        """Stop taking work, let running steps finish, release this worker's leases."""
        self._stopping = True
        self.wake()
        if self._loop_task is not None:
            await self._loop_task
            self._loop_task = None
        await self.drain()
        async with self._store.transaction() as conn:
            await jobs_repo.release_all(conn, self.owner)

    async def abort(self) -> None:
        """Stop at once, mid-step, leaving leases and states as a crash would (for tests)."""
        self._stopping = True
        tasks = list(self._steps.values())
        if self._announcer is not None:
            tasks.append(self._announcer)
        if self._loop_task is not None:
            tasks.append(self._loop_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._steps.clear()
        self._loop_task = None

    async def drain(self) -> None:
        """Wait until every running step (and queue announcement) has finished."""
        while self._steps:
            await asyncio.gather(*list(self._steps.values()), return_exceptions=True)
        if self._announcer is not None:
            await asyncio.gather(self._announcer, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            self._event.clear()
            try:
                next_at = await self.run_once()
            except Exception:
                log.exception("scheduler pass failed")
                next_at = self._clock() + MIN_POLL_SECONDS
            self.last_pass = clocks.current().monotonic()
            if self._stopping:
                break
            timeout = self._idle if next_at is None else next_at - self._clock()
            if self._steps:
                timeout = min(timeout, self._lease / 3)
            timeout = max(0.0, min(timeout, self._idle))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout)

    # -- recovery ---------------------------------------------------------------------

    async def recover(self) -> int:
        """Settle jobs left in ``submitting`` by a dead worker (or a previous run).

        A job whose create request may have left is marked in doubt and never resubmitted
        silently; one that crashed before it (nothing reached Runway) goes back to the queue
        with its reservation, unless it has used up its attempts. Returns how many jobs were
        settled either way. Leases of this owner's previous run are released.
        """
        now = self._clock()
        async with self._store.transaction() as conn:
            stale = await jobs_repo.stale_submitting(conn, self.owner, now)
            recs = [r for r in stale if r.id not in self._steps]
            for rec in recs:
                await self._settle_stale(conn, rec, now)
            if self._loop_task is None and not self._steps:
                await jobs_repo.release_all(conn, self.owner)
                # Nothing in this process has posted yet: a job without a status message of
                # no publisher, of this owner's previous run, or of a process whose publish
                # lease expired lost its poster to a crash (Discord may hold the post;
                # publish looks first). A live peer's job is left to it.
                self._orphans = {}  # a previous start's are found again below
                self._orphans = dict.fromkeys(await self._adopt(conn, now, at_start=True), now)
                self._last_adoption = now
        for rec in recs:
            await self._ctx.notify(rec.id, force=True)
        if any(r.create_sent_at is None for r in recs):
            self.wake()
        return len(recs)

    async def _settle_stale(self, conn: Conn, rec: JobRecord, now: float) -> None:
        """One job found ``submitting`` without a live lease (see :meth:`recover`)."""
        sent = rec.create_sent_at is not None
        if not sent and rec.job.attempts < MAX_SUBMIT_ATTEMPTS:
            log.warning("job %s was left submitting before its create was sent: requeued", rec.id)
            await jobs_repo.update_released(
                conn,
                rec.id,
                {"state": JobState.QUEUED.value, "submit_after": now, "updated_at": now},
                expect_state=JobState.SUBMITTING,
            )
            return
        if sent:
            log.warning("job %s was left submitting after its create was sent: in doubt", rec.id)
            # Runway may have billed the create: the bot-wide counter keeps it.
            await self._quota.refund(conn, rec, provider_spent=rec.job.estimated_credits)
            code, text = "in_doubt", IN_DOUBT_TEXT
        else:
            log.warning("job %s was interrupted before its create too often: failed", rec.id)
            await self._quota.refund(conn, rec)
            code, text = "interrupted", INTERRUPTED_TEXT
        await jobs_repo.update_released(
            conn,
            rec.id,
            {
                "state": (JobState.IN_DOUBT if sent else JobState.FAILED).value,
                "error_code": code,
                "error_text": text,
                "finished_at": now,
                "updated_at": now,
                "next_poll_at": now,
            },
            expect_state=JobState.SUBMITTING,
        )

    # -- one scheduler pass -----------------------------------------------------------

    async def run_once(self) -> float | None:
        """Renew leases, submit what fits, start due steps; return the next due time."""
        now = self._clock()
        async with self._store.transaction() as conn:
            await jobs_repo.renew_leases(conn, self.owner, list(self._steps), now + self._lease)
            stale = any(
                job_id not in self._steps
                for job_id in await jobs_repo.unleased_submitting_ids(conn, now)
            )
        if stale:
            await self.recover()
        if now - self._last_adoption >= self._lease / 3:
            await self._keep_publications(now)
        await self._publish_orphans(now)
        await self._submit_queued(now)
        await self._start_due(now)
        if now - self._last_purge > 3600:
            self._last_purge = now
            await self._purge_inputs(now)
        async with self._store.transaction() as conn:
            due = await jobs_repo.earliest_due(conn)
            later = await jobs_repo.earliest_submit_after(conn)
        candidates = [t for t in (due, later) if t is not None]
        candidates += [t for t in self._model_paused_until.values() if t > now]
        candidates += [t for t in self._orphans.values() if t > now]
        candidates.append(self._last_adoption + self._lease / 3)
        return min(candidates) if candidates else None

    def _free_slots(self) -> int:
        return self._max_parallel - len(self._steps)

    def _spawn(self, job_id: int, coro: Any) -> None:
        task = asyncio.create_task(self._guarded(job_id, coro), name=f"job-{job_id}")
        self._steps[job_id] = task

    async def _guarded(self, job_id: int, coro: Any) -> None:
        set_job_context(job_id)  # this task's own context: every line it logs names the job
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("step for job %s failed; retrying later", job_id)
            await self._reschedule_after_bug(job_id)
        finally:
            self._steps.pop(job_id, None)
            self.wake()

    async def _reschedule_after_bug(self, job_id: int) -> None:
        now = self._clock()
        with contextlib.suppress(Exception):
            async with self._store.transaction() as conn:
                await jobs_repo.release_after_bug(conn, job_id, self.owner, now + 60.0)

    async def _submit_queued(self, now: float) -> None:
        if self._stopping:
            return
        claimed: list[int] = []
        async with self._store.transaction() as conn:
            in_flight = await jobs_repo.in_flight_by_model(conn)
            for model in sorted(await jobs_repo.queued_models(conn)):
                free = self._free_slots() - len(claimed)
                if free <= 0:
                    break
                if self._model_paused_until.get(model, 0.0) > now:
                    continue
                concurrency = self._settings.runway.concurrency_for(model)
                standby = self._settings.runway.standby_per_model
                room = submit_room(concurrency, in_flight.get(model, 0), standby)
                if room <= 0:
                    continue
                for job_id in await jobs_repo.queued_in_order(conn, model, now, min(room, free)):
                    if job_id in self._orphans:
                        continue  # published first
                    if await jobs_repo.claim_for_submit(
                        conn, job_id, self.owner, now, now + self._lease
                    ):
                        claimed.append(job_id)
        for job_id in claimed:
            self._spawn(job_id, submit(self._ctx, job_id))
        if claimed and (self._announcer is None or self._announcer.done()):
            # Queue positions moved; a slow port must not hold up the scheduler.
            self._announcer = asyncio.create_task(self._ctx.announce_queue())

    async def _start_due(self, now: float) -> None:
        if self._stopping:
            return
        free = self._free_slots()
        if free <= 0:
            return
        async with self._store.transaction() as conn:
            candidates = await jobs_repo.due_ids(conn, now, free + len(self._steps))
            taken: list[int] = []
            for job_id in candidates:
                if job_id in self._steps or job_id in self._orphans or len(taken) >= free:
                    continue
                if await jobs_repo.claim(conn, job_id, self.owner, now, now + self._lease):
                    taken.append(job_id)
        for job_id in taken:
            self._spawn(job_id, self._step(job_id))

    async def _adopt(self, conn: Conn, now: float, *, at_start: bool) -> list[int]:
        """Take the publish lease of the unpublished jobs this worker may publish (see
        :func:`bot.store.jobs_repo.unpublished_ids`); return those taken."""
        expires = now + self._lease
        return [
            job_id
            for job_id in await jobs_repo.unpublished_ids(conn, self.owner, now, at_start)
            if job_id not in self._orphans
            and await jobs_repo.take_publication(conn, job_id, self.owner, now, expires, at_start)
        ]

    async def _keep_publications(self, now: float) -> None:
        """Renew this process's publish leases (it is alive: its commands post their jobs)
        and adopt the unpublished jobs of a process whose lease expired (it died)."""
        self._last_adoption = now
        async with self._store.transaction() as conn:
            await jobs_repo.renew_publications(
                conn, self.owner, now + self._lease, now + self._lease
            )
            adopted = await self._adopt(conn, now, at_start=False)
        for job_id in adopted:
            log.warning("job %s: its publisher stopped answering; publishing it here", job_id)
            self._orphans[job_id] = now

    async def _publish_orphans(self, now: float) -> None:
        """Start the publishing step of jobs left without a status message by a crash."""
        if self._stopping or not self._orphans:
            return
        free = self._free_slots()
        taken: list[int] = []
        async with self._store.transaction() as conn:
            for job_id, at in sorted(self._orphans.items()):
                if len(taken) >= free:
                    break
                if at > now or job_id in self._steps:
                    continue
                if await jobs_repo.claim(conn, job_id, self.owner, now, now + self._lease):
                    taken.append(job_id)
        for job_id in taken:
            self._spawn(job_id, self._publish(job_id))

    async def _publish(self, job_id: int) -> None:
        """Adopt or post an orphan job's status message and thread, then let its steps run."""
        rec = await self._ctx.record(job_id)
        try:
            if rec is None or rec.job.status_message_id is not None:
                self._orphans.pop(job_id, None)
                return
            try:
                published = await self._ctx.port.publish(rec.job, orphan=True)
            except DeliveryFailed as exc:
                if exc.permanent:
                    log.warning("job %s: cannot publish its status message: %s", job_id, exc)
                    self._orphans.pop(job_id, None)
                else:
                    delay = self._ctx.backoff(1, None)
                    log.warning(
                        "job %s: publishing failed (%s); retry in %.0fs", job_id, exc, delay
                    )
                    self._orphans[job_id] = self._clock() + delay
                return
            if published is not None:
                await self._ctx.record_published(job_id, published)
            self._orphans.pop(job_id, None)
        finally:
            async with self._store.transaction() as conn:
                await jobs_repo.release(conn, job_id, self.owner)

    async def _purge_inputs(self, now: float) -> None:
        async with self._store.transaction() as conn:
            await jobs_repo.purge_inputs(conn, now - INPUT_RETENTION_SECONDS, now)

    # -- due steps (the step logic lives in bot.worker) -------------------------------

    async def _step(self, job_id: int) -> None:
        """Run the one step a claimed job is due for: poll, remote cancel or delivery."""
        rec = await self._ctx.record(job_id)
        if rec is None or rec.lease_owner != self.owner:
            return
        job = rec.job
        if job.state is JobState.RUNNING:
            await poll(self._ctx, rec)
        elif rec.remote_cancel and job.provider_task_id:
            await cancel_remote(self._ctx, rec)
        elif job.delivered_at is None and job.state.finished:
            ready = await ensure_published(self._ctx, rec)
            if ready is None:
                return
            if job.state is JobState.SUCCEEDED and job.error_code is None:
                await deliver_clip(self._ctx, ready)
            else:
                await deliver_failure(self._ctx, ready)
        else:
            async with self._store.transaction() as conn:
                await jobs_repo.update_released(conn, job_id, {"next_poll_at": None})
