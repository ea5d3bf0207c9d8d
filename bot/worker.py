"""The worker: one scheduler loop that submits, polls, cancels and delivers jobs.

Everything the worker does is driven by the jobs table, so a restart loses nothing:

- Queued jobs are submitted per model in fair order (``fair_seq``, then id), at most
  ``runway.concurrency_for(model)`` in flight per model. ``submitting`` is written (with a
  lease) before the create request is sent; a job found in ``submitting`` without a live
  lease after a crash becomes ``in_doubt`` and is never resubmitted silently.
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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite

from .config import Settings
from .domain import JobError, JobKind, JobState
from .failures import describe_failure
from .jobs import INPUT_RETENTION_SECONDS
from .media import MediaError, sniff
from .ports import DeliveryFailed, DeliveryPort, StatusUpdate
from .quota import QuotaService
from .runway.client import RunwayClient
from .runway.errors import (
    AuthenticationError,
    NotFoundError,
    OutputExpiredError,
    OutputTooLargeError,
    RateLimitedError,
    RunwayError,
    RunwayValidationError,
    TaskNotVisibleYet,
)
from .runway.models import ImageToVideoRequest, Task, TaskStatus
from .runway.retry import create_may_have_started
from .scheduling import MIN_POLL_SECONDS, backoff_delay, estimate_remaining, next_poll_delay
from .store import jobs_repo
from .store.db import Store
from .submission import build_request

log = logging.getLogger(__name__)

MAX_SUBMIT_ATTEMPTS = 8
MAX_DELIVERY_ATTEMPTS = 8
MAX_REMOTE_CANCEL_ATTEMPTS = 5
MAX_URL_REFRESHES = 2
_VIDEO_EXT = {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov"}

IN_DOUBT_TEXT = (
    "The bot was interrupted while sending this job to Runway, so it cannot tell whether "
    "Runway received it. Your quota was refunded; use Retry to send it again."
)


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
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        poll_floor_seconds: float = MIN_POLL_SECONDS,
        lease_seconds: float = 120.0,
        max_parallel: int = 4,
        idle_seconds: float = 60.0,
    ) -> None:
        self._settings = settings
        self._store = store
        self._client = client
        self._port = port
        self.owner = owner
        self._workdir = Path(workdir)
        self._clock = clock
        self._rng = rng or random.Random()
        self._floor = poll_floor_seconds
        # Tests lower the floor; the whole schedule shrinks with it (1.0 in production).
        self._scale = poll_floor_seconds / MIN_POLL_SECONDS
        self._lease = lease_seconds
        self._max_parallel = max_parallel
        self._idle = idle_seconds
        self._quota = QuotaService(store, settings.quota, settings.models, clock=clock)
        self._event = asyncio.Event()
        self._steps: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._announcer: asyncio.Task[None] | None = None
        self._stopping = False
        self._model_paused_until: dict[str, float] = {}
        self._last_status: dict[int, float] = {}
        self._rates: dict[int, tuple[float | None, float | None]] = {}
        self._last_purge = 0.0

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from a previous run, then run the scheduler loop in the background."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._stopping = False
        await self.recover()
        self._loop_task = asyncio.create_task(self._run(), name=f"worker-{self.owner}")

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
            await conn.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = ?",
                (self.owner,),
            )

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
                next_at = self._clock() + self._floor
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
        """Mark jobs left in ``submitting`` by a dead worker (or a previous run) in doubt.

        Returns how many jobs were marked. Leases of this owner's previous run are released.
        """
        now = self._clock()
        async with self._store.transaction() as conn:
            async with conn.execute(
                "SELECT * FROM jobs WHERE state = 'submitting' AND (lease_owner IS NULL"
                " OR lease_owner = ? OR lease_expires_at <= ?)",
                (self.owner, now),
            ) as cur:
                rows = [r for r in await cur.fetchall() if r["id"] not in self._steps]
            for row in rows:
                await self._quota.refund(conn, row)
                await jobs_repo.update(
                    conn,
                    row["id"],
                    {
                        "state": JobState.IN_DOUBT.value,
                        "error_code": "in_doubt",
                        "error_text": IN_DOUBT_TEXT,
                        "finished_at": now,
                        "updated_at": now,
                        "next_poll_at": now,
                        "lease_owner": None,
                        "lease_expires_at": None,
                    },
                    expect_state=JobState.SUBMITTING,
                )
            if self._loop_task is None and not self._steps:
                await conn.execute(
                    "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL"
                    " WHERE lease_owner = ?",
                    (self.owner,),
                )
        for row in rows:
            log.warning("job %s was left submitting: now in doubt", row["id"])
            await self._notify(row["id"], force=True)
        return len(rows)

    # -- one scheduler pass -----------------------------------------------------------

    async def run_once(self) -> float | None:
        """Renew leases, submit what fits, start due steps; return the next due time."""
        now = self._clock()
        async with self._store.transaction() as conn:
            if self._steps:
                ids = list(self._steps)
                marks = ", ".join("?" for _ in ids)
                await conn.execute(
                    "UPDATE jobs SET lease_expires_at = ?"
                    f" WHERE lease_owner = ? AND id IN ({marks})",
                    (now + self._lease, self.owner, *ids),
                )
            stale = await self._stale_submitting(conn, now)
        if stale:
            await self.recover()
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
        return min(candidates) if candidates else None

    async def _stale_submitting(self, conn: aiosqlite.Connection, now: float) -> bool:
        async with conn.execute(
            "SELECT id FROM jobs WHERE state = 'submitting'"
            " AND (lease_expires_at IS NULL OR lease_expires_at <= ?)",
            (now,),
        ) as cur:
            return any(int(r[0]) not in self._steps for r in await cur.fetchall())

    def _free_slots(self) -> int:
        return self._max_parallel - len(self._steps)

    def _spawn(self, job_id: int, coro: Any) -> None:
        task = asyncio.create_task(self._guarded(job_id, coro), name=f"job-{job_id}")
        self._steps[job_id] = task

    async def _guarded(self, job_id: int, coro: Any) -> None:
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
                await conn.execute(
                    "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL,"
                    " next_poll_at = CASE WHEN next_poll_at IS NULL THEN NULL ELSE ? END"
                    " WHERE id = ? AND lease_owner = ?",
                    (now + 60.0, job_id, self.owner),
                )

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
                room = self._settings.runway.concurrency_for(model) - in_flight.get(model, 0)
                if room <= 0:
                    continue
                for job_id in await jobs_repo.queued_in_order(conn, model, now, min(room, free)):
                    ok = await jobs_repo.update(
                        conn,
                        job_id,
                        {
                            "state": JobState.SUBMITTING.value,
                            "submit_after": None,
                            "lease_owner": self.owner,
                            "lease_expires_at": now + self._lease,
                            "updated_at": now,
                        },
                        expect_state=JobState.QUEUED,
                    )
                    if ok:
                        claimed.append(job_id)
            if claimed:
                marks = ", ".join("?" for _ in claimed)
                await conn.execute(
                    f"UPDATE jobs SET attempts = attempts + 1 WHERE id IN ({marks})", claimed
                )
        for job_id in claimed:
            self._spawn(job_id, self._submit(job_id))
        if claimed and (self._announcer is None or self._announcer.done()):
            # Queue positions moved; a slow port must not hold up the scheduler.
            self._announcer = asyncio.create_task(self._announce_queue())

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
                if job_id in self._steps or len(taken) >= free:
                    continue
                if await jobs_repo.claim(conn, job_id, self.owner, now, now + self._lease):
                    taken.append(job_id)
        for job_id in taken:
            self._spawn(job_id, self._step(job_id))

    async def _purge_inputs(self, now: float) -> None:
        cutoff = now - INPUT_RETENTION_SECONDS
        async with self._store.transaction() as conn:
            await conn.execute(
                "DELETE FROM job_inputs WHERE job_id IN (SELECT id FROM jobs WHERE"
                " inputs_purged_at IS NULL AND finished_at IS NOT NULL AND finished_at < ?)",
                (cutoff,),
            )
            await conn.execute(
                "UPDATE jobs SET inputs_purged_at = ? WHERE inputs_purged_at IS NULL"
                " AND finished_at IS NOT NULL AND finished_at < ?",
                (now, cutoff),
            )

    # -- helpers ----------------------------------------------------------------------

    def _poll_delay(self, status: TaskStatus, **progress: Any) -> float:
        """Next poll delay (never below the floor); see :mod:`bot.scheduling`."""
        delay = next_poll_delay(status, self._rng, floor=MIN_POLL_SECONDS, **progress)
        return delay * self._scale

    def _backoff(self, failures: int, retry_after: float | None) -> float:
        delay = backoff_delay(failures, self._rng, floor=MIN_POLL_SECONDS) * self._scale
        return delay if retry_after is None else max(delay, retry_after)

    async def _row(self, job_id: int) -> aiosqlite.Row | None:
        return await self._store.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))

    async def _finish(
        self,
        job_id: int,
        state: JobState,
        *,
        expect: JobState | tuple[JobState, ...],
        code: str | None,
        text: str | None,
        charge: bool | None = None,
        charged_credits: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Move a job to a terminal state, settle or refund its quota, schedule its notice.

        ``charge`` True settles (with ``charged_credits`` or the estimate), False refunds,
        None leaves the quota as it is.
        """
        now = self._clock()
        async with self._store.transaction() as conn:
            row = await jobs_repo.get_row(conn, job_id)
            expected = (expect,) if isinstance(expect, JobState) else expect
            if row is None or JobState(row["state"]) not in expected:
                await self._release(conn, job_id)
                return False
            if charge is True:
                await self._quota.settle(conn, row, charged_credits)
            elif charge is False:
                await self._quota.refund(conn, row)
            values: dict[str, Any] = {
                "state": state.value,
                "error_code": code,
                "error_text": text,
                "finished_at": now,
                "updated_at": now,
                "next_poll_at": now,
                "lease_owner": None,
                "lease_expires_at": None,
            }
            values.update(extra or {})
            await jobs_repo.update(conn, job_id, values)
        await self._notify(job_id, force=True)
        return True

    async def _release(self, conn: aiosqlite.Connection, job_id: int) -> None:
        await conn.execute(
            "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL"
            " WHERE id = ? AND lease_owner = ?",
            (job_id, self.owner),
        )

    async def _reschedule(
        self,
        job_id: int,
        delay: float,
        values: dict[str, Any] | None = None,
        *,
        expect: JobState | None = None,
    ) -> None:
        """Run the job's next step after ``delay`` (only if still in ``expect``) and let go."""
        now = self._clock()
        async with self._store.transaction() as conn:
            changed = await jobs_repo.update(
                conn,
                job_id,
                {
                    **(values or {}),
                    "next_poll_at": now + delay,
                    "updated_at": now,
                    "lease_owner": None,
                    "lease_expires_at": None,
                },
                expect_state=expect,
            )
            if not changed:  # e.g. cancelled meanwhile: its own next step is already due
                await self._release(conn, job_id)

    async def _notify(self, job_id: int, *, force: bool) -> None:
        """Tell the port about the job (always on state change, else rate-limited)."""
        now = self._clock()
        interval = self._settings.discord.status_edit_interval_seconds
        if not force and now - self._last_status.get(job_id, float("-inf")) < interval:
            return
        row = await self._row(job_id)
        if row is None:
            return
        job = jobs_repo.row_to_job(row)
        position = None
        if job.state is JobState.QUEUED:
            async with self._store.transaction() as conn:
                position = await jobs_repo.queue_position(conn, job_id)
        eta = None
        if job.state is JobState.RUNNING and job.id in self._rates:
            eta = estimate_remaining(job.progress, *self._rates[job.id])
        self._last_status[job_id] = now
        if not job.state.active:
            self._last_status.pop(job_id, None)
            self._rates.pop(job_id, None)
        try:
            await self._port.status_changed(
                StatusUpdate(
                    job=job,
                    queue_position=position,
                    throttled=row["provider_status"] == TaskStatus.THROTTLED.value,
                    eta_seconds=eta,
                )
            )
        except Exception:
            log.warning("status update for job %s failed", job_id, exc_info=True)

    async def _announce_queue(self, limit: int = 20) -> None:
        """Queue positions moved: update the first waiting jobs (rate-limited per job)."""
        rows = await self._store.fetchall(
            "SELECT id FROM jobs WHERE state = 'queued' ORDER BY fair_seq, id LIMIT ?", (limit,)
        )
        for row in rows:
            await self._notify(int(row[0]), force=False)

    # -- submit -----------------------------------------------------------------------

    async def _submit(self, job_id: int) -> None:
        row = await self._row(job_id)
        if row is None:
            return
        await self._notify(job_id, force=True)
        async with self._store.transaction() as conn:
            inputs = await jobs_repo.load_inputs(conn, job_id)
        kind = JobKind(row["kind"])
        try:
            request = await build_request(
                self._client,
                kind,
                model=row["model"],
                prompt=row["prompt"],
                ratio=row["ratio"],
                duration=row["duration"],
                seed=row["seed"],
                audio=bool(row["audio"]),
                inputs=inputs,
            )
        except (JobError, MediaError) as exc:
            await self._fail_submit(job_id, "input", exc.message)
            return
        except RunwayError as exc:  # the upload failed: no task was created
            await self._submit_error(row, exc, upload=True)
            return
        except Exception:  # a bug while preparing: nothing was sent, so it is not in doubt
            log.exception("preparing the request for job %s failed", job_id)
            await self._fail_submit(
                job_id,
                "prepare_failed",
                "The bot could not prepare this job's input for Runway. Nothing was sent "
                "and your quota was refunded.",
            )
            return
        try:
            if isinstance(request, ImageToVideoRequest):
                task_id = await self._client.create_image_to_video(request)
            else:
                task_id = await self._client.create_video_to_video(request)
        except RunwayError as exc:
            await self._submit_error(row, exc, upload=False)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("create for job %s failed unexpectedly", job_id)
            await self._finish(
                job_id,
                JobState.IN_DOUBT,
                expect=JobState.SUBMITTING,
                code="in_doubt",
                text=IN_DOUBT_TEXT,
                charge=False,
            )
            return
        await self._submitted(job_id, task_id)

    async def _submitted(self, job_id: int, task_id: str) -> None:
        now = self._clock()
        delay = self._poll_delay(TaskStatus.PENDING)
        async with self._store.transaction() as conn:
            ok = await jobs_repo.update(
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
                    "lease_owner": None,
                    "lease_expires_at": None,
                },
                expect_state=JobState.SUBMITTING,
            )
            if not ok:  # cancelled while the create was in flight: cancel it at Runway too
                await jobs_repo.update(
                    conn,
                    job_id,
                    {
                        "provider_task_id": task_id,
                        "remote_cancel": 1,
                        "next_poll_at": now,
                        "lease_owner": None,
                        "lease_expires_at": None,
                    },
                )
        log.info("job %s submitted as task %s", job_id, task_id)
        if ok:
            await self._notify(job_id, force=True)

    async def _fail_submit(self, job_id: int, code: str, text: str) -> None:
        await self._finish(
            job_id, JobState.FAILED, expect=JobState.SUBMITTING, code=code, text=text, charge=False
        )

    async def _submit_error(self, row: aiosqlite.Row, exc: RunwayError, *, upload: bool) -> None:
        job_id = row["id"]
        not_sent = upload or not create_may_have_started(
            exc, provider=self._settings.runway.provider
        )
        if isinstance(exc, RunwayValidationError):
            detail = exc.describe()[:300]
            await self._fail_submit(job_id, "rejected", f"Runway refused the request: {detail}")
        elif isinstance(exc, AuthenticationError):
            log.error("Runway refused the API key (job %s): %s", job_id, exc.message)
            await self._fail_submit(
                job_id,
                "auth",
                "The bot's Runway account refused the request; an admin must fix the "
                "configuration. Your quota was refunded.",
            )
        elif not_sent and exc.transient:
            if row["attempts"] >= MAX_SUBMIT_ATTEMPTS:
                await self._fail_submit(
                    job_id, "busy", "Runway stayed too busy to take this job. Please try later."
                )
                return
            retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
            delay = self._backoff(row["attempts"], retry_after)
            now = self._clock()
            self._model_paused_until[row["model"]] = now + delay
            log.warning("job %s not accepted (%s); back in the queue for %.0fs", job_id, exc, delay)
            async with self._store.transaction() as conn:
                await jobs_repo.update(
                    conn,
                    job_id,
                    {
                        "state": JobState.QUEUED.value,
                        "submit_after": now + delay,
                        "updated_at": now,
                        "lease_owner": None,
                        "lease_expires_at": None,
                    },
                    expect_state=JobState.SUBMITTING,
                )
                await self._release(conn, job_id)
            await self._notify(job_id, force=True)
        elif exc.transient or not isinstance(exc, NotFoundError):
            log.warning("create for job %s may or may not have reached Runway: %s", job_id, exc)
            if exc.transient:
                await self._finish(
                    job_id,
                    JobState.IN_DOUBT,
                    expect=JobState.SUBMITTING,
                    code="in_doubt",
                    text=IN_DOUBT_TEXT,
                    charge=False,
                )
            else:
                await self._fail_submit(
                    job_id, "rejected", f"Runway refused the request (HTTP {exc.status or '?'})."
                )
        else:
            await self._fail_submit(job_id, "rejected", "Runway refused the request.")

    # -- due steps --------------------------------------------------------------------

    async def _step(self, job_id: int) -> None:
        row = await self._row(job_id)
        if row is None or row["lease_owner"] != self.owner:
            return
        state = JobState(row["state"])
        if state is JobState.RUNNING:
            await self._poll(row)
        elif row["remote_cancel"] and row["provider_task_id"]:
            await self._cancel_remote(row)
        elif row["delivered_at"] is None and state.finished:
            if state is JobState.SUCCEEDED and row["error_code"] is None:
                await self._deliver_clip(row)
            else:
                await self._deliver_failure(row)
        else:
            async with self._store.transaction() as conn:
                await jobs_repo.update(
                    conn,
                    job_id,
                    {"next_poll_at": None, "lease_owner": None, "lease_expires_at": None},
                )

    async def _poll(self, row: aiosqlite.Row) -> None:
        job_id = row["id"]
        now = self._clock()
        deadline = self._settings.runway.task_deadline_minutes * 60
        started = row["submitted_at"] or row["created_at"]
        if now - started > deadline:
            with contextlib.suppress(RunwayError):
                await self._client.cancel_task(row["provider_task_id"])
            minutes = self._settings.runway.task_deadline_minutes
            await self._finish(
                job_id,
                JobState.FAILED,
                expect=JobState.RUNNING,
                code="deadline",
                text=f"Runway did not finish within {minutes:g} minutes, so the job was stopped. "
                "Your quota was refunded.",
                charge=False,
            )
            return
        try:
            task = await self._client.get_task(row["provider_task_id"])
        except TaskNotVisibleYet:
            grace = self._settings.runway.task_not_exist_grace_seconds
            if now - started < grace:
                await self._reschedule(
                    job_id, self._poll_delay(TaskStatus.PENDING), expect=JobState.RUNNING
                )
                return
            await self._lost(job_id)
            return
        except NotFoundError:
            await self._lost(job_id)
            return
        except AuthenticationError as exc:
            log.error("Runway refused the API key while polling job %s: %s", job_id, exc.message)
            await self._reschedule(
                job_id,
                60.0 * self._scale,
                {"poll_errors": row["poll_errors"] + 1},
                expect=JobState.RUNNING,
            )
            return
        except RunwayError as exc:
            failures = row["poll_errors"] + 1
            retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
            delay = self._backoff(failures, retry_after)
            log.warning("poll of job %s failed (%s); next try in %.0fs", job_id, exc, delay)
            await self._reschedule(
                job_id, delay, {"poll_errors": failures}, expect=JobState.RUNNING
            )
            return
        await self._apply_task(row, task)

    async def _lost(self, job_id: int) -> None:
        await self._finish(
            job_id,
            JobState.FAILED,
            expect=JobState.RUNNING,
            code="lost",
            text="Runway no longer knows this task. Your quota was refunded.",
            charge=False,
        )

    async def _apply_task(self, row: aiosqlite.Row, task: Task) -> None:
        job_id = row["id"]
        now = self._clock()
        cost = task.cost.credits if task.cost is not None else None
        if task.status is TaskStatus.SUCCEEDED:
            if not task.output:
                await self._finish(
                    job_id,
                    JobState.FAILED,
                    expect=JobState.RUNNING,
                    code="no_output",
                    text="Runway reported success but sent no video.",
                    charge=True,
                    charged_credits=cost,
                    extra={"provider_status": task.status.value},
                )
                return
            await self._finish(
                job_id,
                JobState.SUCCEEDED,
                expect=JobState.RUNNING,
                code=None,
                text=None,
                charge=True,
                charged_credits=cost,
                extra={
                    "provider_status": task.status.value,
                    "progress": 1.0,
                    "output_url": task.output[0],
                },
            )
            return
        if task.status is TaskStatus.FAILED:
            info = describe_failure(task.failure_code)
            charge = info.moderation and self._quota.charge_moderation_failures
            text = info.message
            if info.moderation:
                text += " Your quota was charged." if charge else " Your quota was refunded."
            else:
                text += " Your quota was refunded."
            await self._finish(
                job_id,
                JobState.FAILED,
                expect=JobState.RUNNING,
                code=info.code or "failed",
                text=text,
                charge=charge,
                charged_credits=None if charge else cost,
                extra={"provider_status": task.status.value},
            )
            return
        if task.status is TaskStatus.CANCELLED:
            await self._finish(
                job_id,
                JobState.CANCELLED,
                expect=JobState.RUNNING,
                code="cancelled_remote",
                text="The task was cancelled at Runway. Your quota was refunded.",
                charge=False,
                extra={"provider_status": task.status.value},
            )
            return
        previous = row["progress"]
        gap = now - row["last_polled_at"] if row["last_polled_at"] is not None else None
        delay = self._poll_delay(
            task.status,
            progress=task.progress,
            previous_progress=previous,
            seconds_since_previous=gap,
        )
        changed = task.status.value != row["provider_status"]
        progressed = task.progress is not None and task.progress != previous
        async with self._store.transaction() as conn:
            await jobs_repo.update(
                conn,
                job_id,
                {
                    "provider_status": task.status.value,
                    "progress": task.progress if task.progress is not None else previous,
                    "last_polled_at": now,
                    "poll_errors": 0,
                    "next_poll_at": now + delay,
                    "updated_at": now,
                    "lease_owner": None,
                    "lease_expires_at": None,
                },
                expect_state=JobState.RUNNING,
            )
            await self._release(conn, job_id)
        self._rates[job_id] = (previous, gap)
        if changed or progressed:
            await self._notify(job_id, force=changed)

    # -- remote cancel and delivery -----------------------------------------------------

    async def _cancel_remote(self, row: aiosqlite.Row) -> None:
        job_id = row["id"]
        try:
            await self._client.cancel_task(row["provider_task_id"])
        except RunwayError as exc:
            attempts = row["poll_errors"] + 1
            if attempts < MAX_REMOTE_CANCEL_ATTEMPTS and (exc.transient or exc.status is None):
                retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
                delay = self._backoff(attempts, retry_after)
                await self._reschedule(job_id, delay, {"poll_errors": attempts})
                return
            log.warning("could not cancel task of job %s at Runway: %s", job_id, exc)
        now = self._clock()
        async with self._store.transaction() as conn:
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

    async def _delivery_retry(self, row: aiosqlite.Row, reason: str) -> bool:
        """Schedule another delivery attempt; False when the attempts are used up."""
        attempts = row["delivery_attempts"] + 1
        if attempts >= MAX_DELIVERY_ATTEMPTS:
            return False
        delay = self._backoff(attempts, None)
        log.warning("delivery of job %s failed (%s); retry in %.0fs", row["id"], reason, delay)
        await self._reschedule(row["id"], delay, {"delivery_attempts": attempts})
        return True

    async def _delivered(self, job_id: int, message_id: int) -> None:
        now = self._clock()
        async with self._store.transaction() as conn:
            await jobs_repo.update(
                conn,
                job_id,
                {
                    "delivered_message_id": message_id,
                    "delivered_at": now,
                    "next_poll_at": None,
                    "updated_at": now,
                    "lease_owner": None,
                    "lease_expires_at": None,
                },
            )
        log.info("job %s delivered as message %s", job_id, message_id)

    async def _give_up_delivery(self, job_id: int, reason: str) -> None:
        log.error("giving up delivering job %s: %s", job_id, reason)
        async with self._store.transaction() as conn:
            await jobs_repo.update(
                conn,
                job_id,
                {
                    "next_poll_at": None,
                    "updated_at": self._clock(),
                    "lease_owner": None,
                    "lease_expires_at": None,
                },
            )

    async def _fresh_output_url(self, row: aiosqlite.Row) -> str | None:
        task = await self._client.get_task(row["provider_task_id"])
        if task.status is not TaskStatus.SUCCEEDED or not task.output:
            return None
        url = task.output[0]
        async with self._store.transaction() as conn:
            await jobs_repo.update(conn, row["id"], {"output_url": url})
        return url

    async def _download(self, row: aiosqlite.Row) -> Path:
        """Stream the output to a temp file (bounded), refreshing an expired URL."""
        job_id = row["id"]
        url = row["output_url"]
        self._workdir.mkdir(parents=True, exist_ok=True)
        part = self._workdir / f"job-{job_id}.part"
        limit = self._settings.runway.max_output_bytes
        for refresh in range(MAX_URL_REFRESHES + 1):
            if url is None:
                url = await self._fresh_output_url(row)
                if url is None:
                    raise _OutputUnusable("Runway no longer offers the finished video.")
            try:
                await self._client.download(url, part, max_bytes=limit)
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
        final = self._workdir / f"job-{job_id}{_VIDEO_EXT.get(mime, '.mp4')}"
        part.replace(final)
        return final

    async def _deliver_clip(self, row: aiosqlite.Row) -> None:
        job_id = row["id"]
        try:
            clip = await self._download(row)
        except OutputTooLargeError:
            mb = self._settings.runway.max_output_bytes / 1e6
            await self._output_failed(
                job_id, "output_too_large", f"The video Runway made is larger than {mb:g} MB."
            )
            return
        except _OutputUnusable as exc:
            await self._output_failed(job_id, "bad_output", str(exc))
            return
        except RunwayError as exc:
            if not await self._delivery_retry(row, f"download: {exc}"):
                await self._output_failed(
                    job_id, "download_failed", "The finished video could not be downloaded."
                )
            return
        try:
            job = jobs_repo.row_to_job(row)
            receipt = await self._port.deliver_clip(job, clip, job.nonce)
        except DeliveryFailed as exc:
            if exc.permanent or not await self._delivery_retry(row, str(exc)):
                await self._output_failed(
                    job_id, "delivery_failed", f"The video was made but could not be posted: {exc}"
                )
            return
        finally:
            clip.unlink(missing_ok=True)
        await self._delivered(job_id, receipt.message_id)

    async def _output_failed(self, job_id: int, code: str, text: str) -> None:
        """The clip was made (and charged) but cannot be posted: fail and explain instead."""
        now = self._clock()
        async with self._store.transaction() as conn:
            await jobs_repo.update(
                conn,
                job_id,
                {
                    "state": JobState.FAILED.value,
                    "error_code": code,
                    "error_text": text,
                    "delivery_attempts": 0,
                    "next_poll_at": now,
                    "updated_at": now,
                    "lease_owner": None,
                    "lease_expires_at": None,
                },
            )

    async def _deliver_failure(self, row: aiosqlite.Row) -> None:
        job = jobs_repo.row_to_job(row)
        try:
            receipt = await self._port.deliver_failure(job, job.nonce)
        except DeliveryFailed as exc:
            if exc.permanent or not await self._delivery_retry(row, str(exc)):
                await self._give_up_delivery(job.id, str(exc))
            return
        await self._delivered(job.id, receipt.message_id)


class _OutputUnusable(Exception):
    """The task's output cannot be delivered (gone, or not a video)."""


def _read_head(path: Path, size: int = 4096) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)
