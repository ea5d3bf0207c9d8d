"""The job service: validate, create (reserving quota), cancel, rerun, list, queue position."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from .catalog import ModelSpec, rules
from .config import Settings
from .domain import (
    InputRole,
    Job,
    JobError,
    JobInput,
    JobKind,
    JobNotFound,
    JobParams,
    JobState,
    NewJob,
    NotAllowed,
    QueueStats,
)
from .quota import QuotaService
from .store import jobs_repo
from .store.db import Store

INPUT_RETENTION_SECONDS = 7 * 86400


class JobService:
    """Everything users and admins do to jobs; the worker does the rest."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        quota: QuotaService,
        *,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._quota = quota
        self._wake = wake
        self._clock = clock
        self._rng = rng or random.Random()

    # -- validation (the catalog's rules, bot.catalog.rules) ------------------------------

    def _spec(self, kind: JobKind, model_id: str) -> ModelSpec:
        return rules.pick_model(self._settings.models, rules.ENDPOINTS[kind], model_id)

    def validate(
        self,
        kind: JobKind,
        params: JobParams,
        prompt: str,
        *,
        has_reference: bool = False,
        has_last_frame: bool = False,
    ) -> JobParams:
        """Check parameters against the catalog (no I/O); return them with defaults filled.

        A ratio of None or "auto" stays None (chosen from the input at create).
        Raises JobError with a message safe to show to the user.
        """
        return rules.validate_params(
            self._spec(kind, params.model),
            params,
            prompt,
            has_reference=has_reference,
            has_last_frame=has_last_frame,
        )

    def estimate_credits(
        self, kind: JobKind, params: JobParams, input_seconds: float | None = None
    ) -> float:
        """Catalog estimate: billed seconds x credits per second (audio rate when asked for)."""
        return rules.estimate_credits(self._spec(kind, params.model), params, input_seconds)

    # -- commands ---------------------------------------------------------------------

    async def create(self, new: NewJob) -> Job:
        """Validate fully, reserve quota and insert the job as queued (one transaction)."""
        return await self._create(new, rerun_of=None)

    async def _create(self, new: NewJob, *, rerun_of: int | None) -> Job:
        roles = [i.role for i in new.inputs]
        params = self.validate(
            new.kind,
            new.params,
            new.prompt,
            has_reference=InputRole.REFERENCE in roles,
            has_last_frame=InputRole.LAST_FRAME in roles,
        )
        spec = self._spec(new.kind, params.model)
        rules.check_inputs(spec, new.inputs)
        main = new.inputs[
            roles.index(InputRole.IMAGE if new.kind is JobKind.ANIMATE else InputRole.VIDEO)
        ]
        if new.kind is JobKind.ANIMATE and params.ratio is None:
            params = replace(params, ratio=rules.closest_ratio(spec, main.width, main.height))
        if params.seed is None:  # a concrete seed makes every result repeatable
            params = replace(params, seed=self._rng.randint(0, spec.seed_max))
        input_seconds = main.duration_seconds if new.kind is JobKind.RESTYLE else None
        credits = self.estimate_credits(new.kind, params, input_seconds)
        summary = " + ".join(
            f"{i.role.value} {i.mime}"
            + (f" {i.width}x{i.height}" if i.width and i.height else "")
            + (f" {i.duration_seconds:.1f}s" if i.duration_seconds else "")
            for i in new.inputs
        )
        limit = self._settings.quota.max_active_jobs_per_user
        now = self._clock()
        async with self._store.transaction() as conn:
            if await jobs_repo.count_active(conn, new.user_id) >= limit:
                raise JobError(
                    f"You already have {limit} job{'s' if limit != 1 else ''} in progress; "
                    "wait for one to finish or cancel one.",
                    code="too_many_active",
                )
            res = await self._quota.plan_reservation(
                conn,
                guild_id=new.guild_id,
                user_id=new.user_id,
                role_ids=new.user_role_ids,
                credits=credits,
            )
            seq = await jobs_repo.next_fair_seq(conn, new.user_id, params.model)
            job_id = await jobs_repo.insert_job(
                conn,
                {
                    "kind": new.kind.value,
                    "state": JobState.QUEUED.value,
                    "user_id": new.user_id,
                    "guild_id": new.guild_id,
                    "channel_id": new.channel_id,
                    "prompt": new.prompt.strip(),
                    "model": params.model,
                    "ratio": params.ratio,
                    "duration": params.duration,
                    "seed": params.seed,
                    "audio": int(params.audio),
                    "input_summary": summary,
                    "input_seconds": input_seconds,
                    "fair_seq": seq,
                    "estimated_credits": credits,
                    "quota_key": res.quota_key,
                    "quota_guild": res.guild_key,
                    "quota_amount": res.amount,
                    "cap_key": res.cap_key,
                    "quota_state": "reserved",
                    "created_at": now,
                    "updated_at": now,
                    "rerun_of": rerun_of,
                },
            )
            await jobs_repo.insert_inputs(conn, job_id, new.inputs)
            await self._quota.commit_reservation(conn, res, job_id)
            done = await jobs_repo.get(conn, job_id)
        assert done is not None
        self._wake()
        return done.job

    async def attach_message(
        self, job_id: int, *, channel_id: int, thread_id: int | None, status_message_id: int
    ) -> None:
        """Record where the job's status message (and thread) live."""
        async with self._store.transaction() as conn:
            changed = await jobs_repo.update(
                conn,
                job_id,
                {
                    "channel_id": channel_id,
                    "thread_id": thread_id,
                    "status_message_id": status_message_id,
                    "updated_at": self._clock(),
                },
            )
        if not changed:
            raise JobNotFound()

    async def cancel(self, job_id: int, *, actor_id: int, actor_is_admin: bool) -> Job:
        """Cancel a waiting or running job and refund its quota.

        A task already at Runway is cancelled there by the worker (``remote_cancel``).
        """
        async with self._store.transaction() as conn:
            rec = await jobs_repo.get(conn, job_id)
            if rec is None:
                raise JobNotFound()
            if rec.job.user_id != actor_id and not actor_is_admin:
                raise NotAllowed(
                    "Only the person who started this job or a server admin can cancel it."
                )
            state = rec.job.state
            if not state.active:
                raise JobError("This job has already finished.", code="finished")
            now = self._clock()
            who = "you" if rec.job.user_id == actor_id else "an admin"
            await self._quota.refund(conn, rec)
            await jobs_repo.update(
                conn,
                job_id,
                {
                    "state": JobState.CANCELLED.value,
                    "error_code": "cancelled",
                    "error_text": f"Cancelled by {who}.",
                    "remote_cancel": int(state is not JobState.QUEUED),
                    "finished_at": now,
                    "updated_at": now,
                    "next_poll_at": now,
                },
                expect_state=state,
            )
            done = await jobs_repo.get(conn, job_id)
        assert done is not None
        self._wake()
        return done.job

    async def rerun(
        self,
        job_id: int,
        *,
        actor_id: int,
        new_seed: int | None = None,
        user_role_ids: Sequence[int] = (),
    ) -> Job:
        """A new job with the same inputs and parameters and a new seed (new quota check)."""
        async with self._store.transaction() as conn:
            rec = await jobs_repo.get(conn, job_id)
            if rec is None:
                raise JobNotFound()
            if rec.job.user_id != actor_id:
                raise NotAllowed("Only the person who started this job can rerun it.")
            inputs = await jobs_repo.load_inputs(conn, job_id)
        if not inputs:
            raise JobError(
                "The files of this job are no longer kept; start a new one.", code="purged"
            )
        old = rec.job
        spec = self._spec(old.kind, old.params.model)
        seed = new_seed
        while seed is None or (new_seed is None and seed == old.params.seed):
            seed = self._rng.randint(0, spec.seed_max)
        new = NewJob(
            kind=old.kind,
            user_id=old.user_id,
            guild_id=old.guild_id,
            channel_id=old.channel_id,
            prompt=old.prompt,
            params=replace(old.params, seed=seed),
            inputs=tuple(inputs),
            user_role_ids=tuple(user_role_ids),
        )
        return await self._create(new, rerun_of=job_id)

    # -- queries ----------------------------------------------------------------------

    async def get(self, job_id: int) -> Job | None:
        """One job, or None."""
        async with self._store.read() as conn:
            rec = await jobs_repo.get(conn, job_id)
        return None if rec is None else rec.job

    async def inputs(self, job_id: int) -> list[JobInput]:
        """The stored input files of a job (empty once purged)."""
        async with self._store.transaction() as conn:
            return await jobs_repo.load_inputs(conn, job_id)

    async def list_user_jobs(
        self, user_id: int, *, guild_id: int | None = None, limit: int = 10
    ) -> list[Job]:
        """The user's most recent jobs, newest first (optionally in one guild)."""
        async with self._store.read() as conn:
            return await jobs_repo.list_for_user(conn, user_id, guild_id, limit)

    async def active_jobs(self, user_id: int) -> list[Job]:
        """The user's queued, submitting and running jobs, oldest first."""
        async with self._store.read() as conn:
            return await jobs_repo.active_for_user(conn, user_id)

    async def queue_position(self, job_id: int) -> int | None:
        """1-based position in the bot's queue for the job's model (None unless queued)."""
        async with self._store.transaction() as conn:
            return await jobs_repo.queue_position(conn, job_id)

    async def queue_stats(self) -> QueueStats:
        """Counts per state, in flight and queued per model, finished but not yet posted, and
        a Runway account problem of the last day."""
        async with self._store.read() as conn:
            return await jobs_repo.stats(conn, self._clock() - 86_400)
