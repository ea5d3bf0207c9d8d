"""The job service: validate, create (reserving quota), cancel, rerun, list, queue position."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import replace

from . import clock as clocks
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
    Origin,
    QueueStats,
)
from .prompts import clean_prompt
from .quota import QuotaService
from .store import jobs_repo
from .store.db import Store

log = logging.getLogger(__name__)

INPUT_RETENTION_SECONDS = 7 * 86400
MAX_JOB_ID = 2**63 - 1
"""The largest id the store can hold (SQLite INTEGER, PostgreSQL bigint)."""


def job_id_can_exist(job_id: int) -> bool:
    """Whether ``job_id`` is in the store's range (1 .. 2**63-1); no job has any other id
    (a crafted 30-digit one would overflow the database driver)."""
    return 0 < job_id <= MAX_JOB_ID


class JobService:
    """Everything users and admins do to jobs; the worker does the rest."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        quota: QuotaService,
        *,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = clocks.now,
        rng: random.Random | None = None,
        publisher: str | None = None,
        publish_lease: float = 120.0,
    ) -> None:
        """``publisher``: the owner id of this process's worker, recorded on each job with a
        publish lease of ``publish_lease`` seconds (the worker renews it while the process
        lives), so that no other process publishes a job this one's command is posting."""
        self._settings = settings
        self._publisher = publisher
        self._publish_lease = publish_lease
        self._store = store
        self._quota = quota
        self._wake = wake
        self._clock = clock
        self._rng = rng or random.Random()

    async def _announce(self) -> None:
        """There is new work (a job created or cancelled): wake this process's worker and,
        through the store, every other process's (PostgreSQL's NOTIFY)."""
        self._wake()
        try:
            await self._store.notify_wakeup()
        except Exception as exc:  # committed already: other workers find it on their next pass
            log.warning("could not wake the other bot processes: %s", exc)

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

        A ratio of None or "auto" stays None (chosen from the input at create). The prompt
        is judged as it will be sent: cleaned by :func:`bot.prompts.clean_prompt`.
        Raises JobError with a message safe to show to the user.
        """
        return rules.validate_params(
            self._spec(kind, params.model),
            params,
            clean_prompt(prompt).text,
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
        """Validate fully, reserve quota and insert the job as queued (one transaction).

        ``new.parent_id`` / ``new.origin`` record the job it iterates on (see :meth:`derive`).
        """
        return await self._create(new)

    async def _create(self, new: NewJob) -> Job:
        new = replace(new, prompt=clean_prompt(new.prompt).text)  # what Runway and embeds see
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
        ratio_auto = new.kind is JobKind.ANIMATE and params.ratio is None
        if ratio_auto:
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
                raise JobError.of(
                    "job.too_many_active_one" if limit == 1 else "job.too_many_active",
                    code="too_many_active",
                    limit=limit,
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
                    "rerun_of": new.parent_id,
                    "origin": new.origin,
                    "source_seconds": new.source_seconds,
                    "ratio_auto": int(ratio_auto),
                    "quota_left": new.quota_left,
                    "publisher": self._publisher,
                    "publish_expires_at": now + self._publish_lease if self._publisher else None,
                },
            )
            await jobs_repo.insert_inputs(conn, job_id, new.inputs)
            await self._quota.commit_reservation(conn, res, job_id)
            done = await jobs_repo.get(conn, job_id)
        assert done is not None
        await self._announce()
        return done.job

    async def attach_message(
        self,
        job_id: int,
        *,
        channel_id: int,
        thread_id: int | None,
        status_message_id: int,
        thumbnail: bool = False,
    ) -> None:
        """Record where the job's status message (and thread) live, and whether that message
        carries the input's preview (``thumbnail``)."""
        async with self._store.transaction() as conn:
            changed = await jobs_repo.update(
                conn,
                job_id,
                {
                    "channel_id": channel_id,
                    "thread_id": thread_id,
                    "status_message_id": status_message_id,
                    "thumbnail": int(thumbnail),
                    "updated_at": self._clock(),
                },
            )
        if not changed:
            raise JobNotFound()

    async def cancel(
        self, job_id: int, *, actor_id: int, actor_is_admin: bool, reason: str | None = None
    ) -> Job:
        """Cancel a waiting or running job and refund its quota; ``reason`` (stored as its
        text) replaces "Cancelled by you/an admin." when nobody asked for the cancel.

        A task already at Runway is cancelled there by the worker (``remote_cancel``).
        """
        if not job_id_can_exist(job_id):
            raise JobNotFound()
        async with self._store.transaction() as conn:
            rec = await jobs_repo.get(conn, job_id)
            if rec is None:
                raise JobNotFound()
            if rec.job.user_id != actor_id and not actor_is_admin:
                raise NotAllowed.about("job.only_requester_or_admin_cancel")
            state = rec.job.state
            if not state.active:
                raise JobError.of("job.finished", code="finished")
            now = self._clock()
            who = "you" if rec.job.user_id == actor_id else "an admin"
            await self._quota.refund(conn, rec)
            await jobs_repo.update(
                conn,
                job_id,
                {
                    "state": JobState.CANCELLED.value,
                    "error_code": "cancelled",
                    "error_text": reason or f"Cancelled by {who}.",
                    "remote_cancel": int(state is not JobState.QUEUED),
                    "finished_at": now,
                    "updated_at": now,
                    "next_poll_at": now,
                },
                expect_state=state,
            )
            done = await jobs_repo.get(conn, job_id)
        assert done is not None
        await self._announce()
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
        new = await self.plan_rerun(
            job_id, actor_id=actor_id, new_seed=new_seed, user_role_ids=user_role_ids
        )
        return await self._create(new)

    async def plan_rerun(
        self,
        job_id: int,
        *,
        actor_id: int,
        new_seed: int | None = None,
        prompt: str | None = None,
        origin: Origin | None = None,
        user_role_ids: Sequence[int] = (),
    ) -> NewJob:
        """The request that runs a job again from its stored inputs, not yet created.

        ``new_seed`` None picks a seed different from the old one; ``prompt`` replaces the
        prompt (the Edit prompt button). Only the requester may do this (NotAllowed).
        """
        verb = "edit" if origin is Origin.EDIT else "rerun"
        old, inputs = await self._owned(job_id, actor_id, verb)
        if not inputs:
            raise JobError.of("job.purged", code="purged")
        spec = self._spec(old.kind, old.params.model)
        seed = new_seed
        while seed is None or (new_seed is None and seed == old.params.seed):
            seed = self._rng.randint(0, spec.seed_max)
        if origin is None:
            origin = Origin.RETRY if new_seed == old.params.seed else Origin.RERUN
        return NewJob(
            kind=old.kind,
            user_id=old.user_id,
            guild_id=old.guild_id,
            channel_id=old.channel_id,
            prompt=old.prompt if prompt is None else prompt.strip(),
            params=replace(old.params, seed=seed),
            inputs=tuple(inputs),
            user_role_ids=tuple(user_role_ids),
            parent_id=job_id,
            origin=origin.value,
            source_seconds=old.source_seconds,
        )

    async def derive(
        self,
        job_id: int,
        *,
        actor_id: int,
        kind: JobKind,
        params: JobParams,
        prompt: str,
        inputs: Sequence[JobInput],
        origin: Origin,
        source_seconds: float | None = None,
        user_role_ids: Sequence[int] = (),
    ) -> NewJob:
        """A new job made from a finished one's clip (its last frame, or the clip itself), not
        yet created; only the requester of ``job_id`` may do this (NotAllowed)."""
        old, _ = await self._owned(job_id, actor_id, origin.value)
        if old.state is not JobState.SUCCEEDED:
            raise JobError.of("job.no_clip", code="no_clip")
        return NewJob(
            kind=kind,
            user_id=old.user_id,
            guild_id=old.guild_id,
            channel_id=old.channel_id,
            prompt=prompt.strip(),
            params=params,
            inputs=tuple(inputs),
            user_role_ids=tuple(user_role_ids),
            parent_id=job_id,
            origin=origin.value,
            source_seconds=source_seconds,
        )

    async def _owned(self, job_id: int, actor_id: int, verb: str) -> tuple[Job, list[JobInput]]:
        if not job_id_can_exist(job_id):
            raise JobNotFound()
        async with self._store.transaction() as conn:
            rec = await jobs_repo.get(conn, job_id)
            if rec is None:
                raise JobNotFound()
            if rec.job.user_id != actor_id:
                raise NotAllowed.about(f"job.only_requester_{verb}")
            inputs = await jobs_repo.load_inputs(conn, job_id)
        return rec.job, inputs

    # -- queries ----------------------------------------------------------------------

    async def get(self, job_id: int) -> Job | None:
        """One job, or None."""
        if not job_id_can_exist(job_id):
            return None
        async with self._store.read() as conn:
            rec = await jobs_repo.get(conn, job_id)
        return None if rec is None else rec.job

    async def inputs(self, job_id: int) -> list[JobInput]:
        """The stored input files of a job (empty once purged)."""
        async with self._store.transaction() as conn:
            return await jobs_repo.load_inputs(conn, job_id)

    async def list_user_jobs(
        self, user_id: int, *, guild_id: int | None = None, limit: int = 10, offset: int = 0
    ) -> list[Job]:
        """The user's most recent jobs, newest first (optionally in one guild), skipping the
        ``offset`` newest (for pages)."""
        async with self._store.read() as conn:
            return await jobs_repo.list_for_user(conn, user_id, guild_id, limit, offset)

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
