"""The job service: validate, create (reserving quota), cancel, rerun, list, queue position."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from math import ceil

from .config import Endpoint, ModelSpec, Settings
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
_ENDPOINT = {JobKind.ANIMATE: Endpoint.IMAGE_TO_VIDEO, JobKind.RESTYLE: Endpoint.VIDEO_TO_VIDEO}
_COMMAND = {Endpoint.IMAGE_TO_VIDEO: "/animate", Endpoint.VIDEO_TO_VIDEO: "/restyle"}


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, as Runway counts prompt length."""
    return len(text.encode("utf-16-le")) // 2


def _durations_text(durations: Sequence[int]) -> str:
    ds = sorted(durations)
    if len(ds) > 2 and ds == list(range(ds[0], ds[-1] + 1)):
        return f"{ds[0]}-{ds[-1]} s"
    if len(ds) == 1:
        return f"only {ds[0]} s"
    return ", ".join(map(str, ds[:-1])) + f" or {ds[-1]} s"


def _aspect(ratio: str) -> float | None:
    parts = ratio.split(":")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        return None
    return int(parts[0]) / int(parts[1])


def closest_ratio(spec: ModelSpec, width: int | None, height: int | None) -> str:
    """The model's ratio whose aspect is closest (in log scale) to width/height."""
    if not spec.ratios:
        raise JobError(f"{spec.id} has no ratios to choose from.")
    if not width or not height:
        return spec.ratios[0]
    target = width / height
    aspects = spec.ratio_aspects()
    return min(
        spec.ratios, key=lambda r: abs(aspects[r] / target - 1) + abs(target / aspects[r] - 1)
    )


_ECHO_SAFE = re.compile(r"[A-Za-z0-9._:-]{1,40}")


def _echo(value: str) -> str:
    """A model id or ratio the user typed, quoted back only when it looks like one."""
    return f"'{value}'" if _ECHO_SAFE.fullmatch(value) else "(that value)"


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

    def set_wake(self, wake: Callable[[], None]) -> None:
        """Set the callback that wakes the worker (wired after both exist)."""
        self._wake = wake

    # -- validation -------------------------------------------------------------------

    def _spec(self, kind: JobKind, model_id: str) -> ModelSpec:
        spec = self._settings.model(model_id)
        endpoint = _ENDPOINT[kind]
        if spec is None or not spec.enabled:
            names = ", ".join(m.id for m in self._settings.enabled_models(endpoint))
            raise JobError(f"Model {_echo(model_id)} is not available; choose one of: {names}.")
        if spec.endpoint is not endpoint:
            raise JobError(f"{spec.id} cannot be used here; use {_COMMAND[spec.endpoint]} with it.")
        return spec

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
        spec = self._spec(kind, params.model)
        text = prompt.strip()
        if spec.prompt_required and not text:
            raise JobError(f"{spec.id} needs a prompt.")
        length = utf16_length(text)
        if length > spec.prompt_max_utf16:
            raise JobError(
                f"Your prompt is {length} characters (UTF-16 units); "
                f"{spec.id} accepts at most {spec.prompt_max_utf16}."
            )
        duration = params.duration
        if spec.endpoint is Endpoint.IMAGE_TO_VIDEO:
            if duration is None:
                duration = spec.default_duration
            elif duration not in spec.durations:
                raise JobError(
                    f"{spec.id} accepts durations {_durations_text(spec.durations)}; "
                    f"you asked for {duration} s."
                )
        elif duration is not None:
            raise JobError(f"{spec.id} follows the length of your video; leave duration empty.")
        ratio = params.ratio.strip() if params.ratio else None
        if ratio and ratio.lower() == "auto":
            ratio = None
        if ratio is not None:
            if not spec.ratios:
                raise JobError(f"{spec.id} follows the shape of your video; leave ratio empty.")
            if ratio not in spec.ratios:
                wanted = _aspect(ratio)
                match = [
                    r for r, a in spec.ratio_aspects().items()
                    if wanted is not None and abs(a / wanted - 1) < 0.01
                ]  # fmt: skip
                if not match:
                    raise JobError(
                        f"Ratio {_echo(ratio)} is not available for {spec.id}; "
                        f"choose one of: {', '.join(spec.ratios)}."
                    )
                ratio = match[0]
        if params.seed is not None and not 0 <= params.seed <= spec.seed_max:
            raise JobError(f"Seed must be between 0 and {spec.seed_max}.")
        if params.audio and not spec.supports_audio:
            raise JobError(f"{spec.id} cannot make sound.")
        if has_last_frame and not spec.supports_last_frame:
            raise JobError(f"{spec.id} does not support a last frame.")
        if has_reference and not spec.supports_reference:
            raise JobError(f"{spec.id} does not take a reference image.")
        return JobParams(
            model=spec.id, ratio=ratio, duration=duration, seed=params.seed, audio=params.audio
        )

    def estimate_credits(
        self, kind: JobKind, params: JobParams, input_seconds: float | None = None
    ) -> float:
        """Catalog estimate: billed seconds x credits per second (audio rate when asked for)."""
        spec = self._spec(kind, params.model)
        rate = spec.credits_per_second
        if params.audio and spec.audio_credits_per_second is not None:
            rate = spec.audio_credits_per_second
        if spec.endpoint is Endpoint.IMAGE_TO_VIDEO:
            seconds = float(params.duration or spec.default_duration or 0)
        else:
            cap = spec.billed_input_seconds or spec.max_input_seconds
            if input_seconds is None:
                seconds = cap or 10.0
            else:
                seconds = float(ceil(input_seconds - 1e-6))
                if cap is not None:
                    seconds = min(seconds, cap)
        return round(seconds * rate, 4)

    def _check_inputs(self, kind: JobKind, spec: ModelSpec, inputs: Sequence[JobInput]) -> None:
        roles = [i.role for i in inputs]
        if kind is JobKind.ANIMATE:
            if roles.count(InputRole.IMAGE) != 1:
                raise JobError("Attach one image to animate.")
            if any(r in (InputRole.VIDEO, InputRole.REFERENCE) for r in roles):
                raise JobError(
                    "/animate takes an image (and optionally a last frame), not a video."
                )
            if roles.count(InputRole.LAST_FRAME) > 1:
                raise JobError("Attach at most one last frame.")
            return
        if roles.count(InputRole.VIDEO) != 1:
            raise JobError("Attach one video to restyle.")
        if InputRole.IMAGE in roles or InputRole.LAST_FRAME in roles:
            raise JobError("/restyle takes a video and optionally a reference image.")
        refs = roles.count(InputRole.REFERENCE)
        if refs > spec.max_references:
            raise JobError(f"{spec.id} takes at most {spec.max_references} reference image(s).")
        video = next(i for i in inputs if i.role is InputRole.VIDEO)
        if (
            spec.max_input_seconds is not None
            and video.duration_seconds is not None
            and video.duration_seconds > spec.max_input_seconds + 1e-6
        ):
            raise JobError(
                f"{spec.id} accepts videos up to {spec.max_input_seconds:g} s; "
                f"yours is {video.duration_seconds:.1f} s."
            )

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
        self._check_inputs(new.kind, spec, new.inputs)
        main = new.inputs[
            roles.index(InputRole.IMAGE if new.kind is JobKind.ANIMATE else InputRole.VIDEO)
        ]
        if new.kind is JobKind.ANIMATE and params.ratio is None:
            params = replace(params, ratio=closest_ratio(spec, main.width, main.height))
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
            row = await jobs_repo.get_row(conn, job_id)
        assert row is not None
        self._wake()
        return jobs_repo.row_to_job(row)

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
            row = await jobs_repo.get_row(conn, job_id)
            if row is None:
                raise JobNotFound()
            if row["user_id"] != actor_id and not actor_is_admin:
                raise NotAllowed(
                    "Only the person who started this job or a server admin can cancel it."
                )
            state = JobState(row["state"])
            if not state.active:
                raise JobError("This job has already finished.", code="finished")
            now = self._clock()
            who = "you" if row["user_id"] == actor_id else "an admin"
            await self._quota.refund(conn, row)
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
            row = await jobs_repo.get_row(conn, job_id)
        assert row is not None
        self._wake()
        return jobs_repo.row_to_job(row)

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
            row = await jobs_repo.get_row(conn, job_id)
            if row is None:
                raise JobNotFound()
            if row["user_id"] != actor_id:
                raise NotAllowed("Only the person who started this job can rerun it.")
            inputs = await jobs_repo.load_inputs(conn, job_id)
        if not inputs:
            raise JobError(
                "The files of this job are no longer kept; start a new one.", code="purged"
            )
        old = jobs_repo.row_to_job(row)
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
        row = await self._store.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else jobs_repo.row_to_job(row)

    async def inputs(self, job_id: int) -> list[JobInput]:
        """The stored input files of a job (empty once purged)."""
        async with self._store.transaction() as conn:
            return await jobs_repo.load_inputs(conn, job_id)

    async def list_user_jobs(
        self, user_id: int, *, guild_id: int | None = None, limit: int = 10
    ) -> list[Job]:
        """The user's most recent jobs, newest first (optionally in one guild)."""
        sql = "SELECT * FROM jobs WHERE user_id = ?"
        params: list[object] = [user_id]
        if guild_id is not None:
            sql += " AND guild_id = ?"
            params.append(guild_id)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [jobs_repo.row_to_job(r) for r in await self._store.fetchall(sql, params)]

    async def active_jobs(self, user_id: int) -> list[Job]:
        """The user's queued, submitting and running jobs, oldest first."""
        rows = await self._store.fetchall(
            "SELECT * FROM jobs WHERE user_id = ? AND state IN ('queued', 'submitting', 'running')"
            " ORDER BY id",
            (user_id,),
        )
        return [jobs_repo.row_to_job(r) for r in rows]

    async def queue_position(self, job_id: int) -> int | None:
        """1-based position in the bot's queue for the job's model (None unless queued)."""
        async with self._store.transaction() as conn:
            return await jobs_repo.queue_position(conn, job_id)

    async def queue_stats(self) -> QueueStats:
        """Counts per state, in flight and queued per model, finished but not yet posted."""
        by_state = {
            JobState(r[0]): int(r[1])
            for r in await self._store.fetchall("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        }
        in_flight = {
            str(r[0]): int(r[1])
            for r in await self._store.fetchall(
                "SELECT model, COUNT(*) FROM jobs WHERE state IN ('submitting', 'running')"
                " GROUP BY model"
            )
        }
        queued = {
            str(r[0]): int(r[1])
            for r in await self._store.fetchall(
                "SELECT model, COUNT(*) FROM jobs WHERE state = 'queued' GROUP BY model"
            )
        }
        row = await self._store.fetchone(
            "SELECT COUNT(*) FROM jobs WHERE delivered_at IS NULL AND next_poll_at IS NOT NULL"
            " AND state NOT IN ('queued', 'submitting', 'running')"
        )
        async with self._store.transaction() as conn:
            problem = await jobs_repo.latest_account_problem(conn, self._clock() - 86_400)
        return QueueStats(by_state, in_flight, queued, int(row[0]) if row else 0, problem)

    async def purge_inputs(self, older_than_seconds: float = INPUT_RETENTION_SECONDS) -> int:
        """Delete stored input files of jobs finished longer ago than this; return how many jobs."""
        cutoff = self._clock() - older_than_seconds
        async with self._store.transaction() as conn:
            async with conn.execute(
                "SELECT id FROM jobs WHERE inputs_purged_at IS NULL AND finished_at IS NOT NULL"
                " AND finished_at < ?",
                (cutoff,),
            ) as cur:
                ids = [int(r[0]) for r in await cur.fetchall()]
            for job_id in ids:
                await conn.execute("DELETE FROM job_inputs WHERE job_id = ?", (job_id,))
                await conn.execute(
                    "UPDATE jobs SET inputs_purged_at = ? WHERE id = ?", (self._clock(), job_id)
                )
        return len(ids)
