"""What the engine asks of a job store: the crash-safety transitions and the queries; and of
the quota tables.

``bot.store.jobs_repo`` / ``quota_repo`` implement them over SQLite and
``bot.store.postgres.jobs`` / ``quota`` over PostgreSQL, each with its own connection type
``C`` (checked by mypy in ``bot/store/__init__``); the SQLite modules route a PostgreSQL
connection to their twin, so they also implement them for ``Conn``, either backend's. Every
operation runs inside the caller's transaction; each one that ends a step also drops the lease
in the same statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from ..domain import Job, JobInput, JobState, QueueStats
from .records import JobRecord, LimitRow, Usage

C = TypeVar("C", contravariant=True)


class JobStore(Protocol[C]):
    """The job table's operations, named by the rule they carry."""

    # -- records and reads
    async def get(self, conn: C, job_id: int, /) -> JobRecord | None: ...
    async def load_inputs(self, conn: C, job_id: int, /) -> list[JobInput]: ...
    async def list_for_user(
        self, conn: C, user_id: int, guild_id: int | None, limit: int, /
    ) -> list[Job]: ...
    async def active_for_user(self, conn: C, user_id: int, /) -> list[Job]: ...
    async def count_active(self, conn: C, user_id: int, /) -> int: ...
    async def queue_position(self, conn: C, job_id: int, /) -> int | None: ...
    async def first_queued(self, conn: C, limit: int, /) -> list[int]: ...
    async def stats(self, conn: C, since: float, /) -> QueueStats: ...

    # -- creating
    async def next_fair_seq(self, conn: C, user_id: int, model: str, /) -> int: ...
    async def insert_job(self, conn: C, values: dict[str, Any], /) -> int: ...
    async def insert_inputs(self, conn: C, job_id: int, inputs: Sequence[JobInput], /) -> None: ...

    # -- the scheduler's view
    async def queued_models(self, conn: C, /) -> list[str]: ...
    async def queued_in_order(
        self, conn: C, model: str, now: float, limit: int, /
    ) -> list[int]: ...
    async def in_flight_by_model(self, conn: C, /) -> dict[str, int]: ...
    async def nudge_throttled(self, conn: C, model: str, at: float, min_gap: float, /) -> int: ...
    async def due_ids(self, conn: C, now: float, limit: int, /) -> list[int]: ...
    async def earliest_due(self, conn: C, /) -> float | None: ...
    async def earliest_submit_after(self, conn: C, /) -> float | None: ...

    # -- leases and transitions (the crash-safety rules)
    async def claim(
        self, conn: C, job_id: int, owner: str, now: float, expires: float, /
    ) -> bool: ...
    async def claim_for_submit(
        self, conn: C, job_id: int, owner: str, now: float, expires: float, /
    ) -> bool: ...
    async def renew_leases(
        self, conn: C, owner: str, job_ids: Sequence[int], expires: float, /
    ) -> None: ...
    async def unpublished_ids(
        self, conn: C, owner: str, now: float, at_start: bool, /
    ) -> list[int]: ...
    async def take_publication(
        self, conn: C, job_id: int, owner: str, now: float, expires: float, at_start: bool, /
    ) -> bool: ...
    async def renew_publications(
        self, conn: C, owner: str, before: float, expires: float, /
    ) -> None: ...
    async def release(self, conn: C, job_id: int, owner: str, /) -> None: ...
    async def release_all(self, conn: C, owner: str, /) -> None: ...
    async def release_after_bug(
        self, conn: C, job_id: int, owner: str, retry_at: float, /
    ) -> None: ...
    async def update(
        self,
        conn: C,
        job_id: int,
        values: dict[str, Any],
        /,
        *,
        expect_state: JobState | Sequence[JobState] | None = ...,
    ) -> bool: ...
    async def update_released(
        self,
        conn: C,
        job_id: int,
        values: dict[str, Any],
        /,
        *,
        expect_state: JobState | Sequence[JobState] | None = ...,
    ) -> bool: ...
    async def stale_submitting(self, conn: C, owner: str, now: float, /) -> list[JobRecord]: ...
    async def unleased_submitting_ids(self, conn: C, now: float, /) -> list[int]: ...
    async def set_quota_state(
        self, conn: C, job_id: int, state: str, charged_credits: float, /
    ) -> None: ...
    async def purge_inputs(self, conn: C, cutoff: float, now: float, /) -> int: ...


class QuotaStore(Protocol[C]):
    """The quota tables' operations: limits, per-period counters, the usage ledger."""

    async def limits_for(
        self, conn: C, guild_id: int, user_id: int, role_ids: Sequence[int], /
    ) -> list[LimitRow]: ...
    async def put_limit(
        self,
        conn: C,
        guild_id: int,
        scope: str,
        subject_id: int,
        mode: str,
        amount: int | None,
        now: float,
        /,
    ) -> None: ...
    async def delete_limit(
        self, conn: C, guild_id: int, scope: str, subject_id: int, /
    ) -> None: ...
    async def usage(self, conn: C, guild_id: int, user_id: int, key: str, /) -> Usage: ...
    async def add(
        self,
        conn: C,
        guild_id: int,
        user_id: int,
        key: str,
        /,
        *,
        entry: str,
        now: float,
        used: float = ...,
        reserved: float = ...,
        bonus: float = ...,
        ledger_amount: float,
        job_id: int | None = ...,
    ) -> None: ...
    async def top(
        self, conn: C, guild_id: int, key: str, limit: int, /
    ) -> list[tuple[int, float]]: ...
