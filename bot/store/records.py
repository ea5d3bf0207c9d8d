"""Typed, frozen records the store hands out instead of rows."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain import Job


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as the engine sees it: the domain :class:`Job` plus its schedule, lease, retry
    counters and quota bookkeeping (epoch seconds for the times the worker compares)."""

    job: Job
    created_ts: float
    submitted_ts: float | None
    next_poll_at: float | None
    last_polled_at: float | None
    submit_after: float | None
    lease_owner: str | None
    lease_expires_at: float | None
    poll_errors: int
    delivery_attempts: int
    remote_cancel: bool
    output_url: str | None
    fair_seq: int
    quota_state: str
    quota_key: str | None
    quota_guild: int
    cap_key: str | None
    create_sent_at: float | None = None
    """When the submit step committed to sending the create request (None: not yet)."""

    @property
    def id(self) -> int:
        """The job's id."""
        return self.job.id

    @property
    def task_id(self) -> str:
        """The provider's task id (only asked for once the job was submitted)."""
        if self.job.provider_task_id is None:
            raise ValueError(f"job {self.id} has no task id")
        return self.job.provider_task_id

    @property
    def started_ts(self) -> float:
        """When the task went to Runway (or, before that, when the job was made)."""
        return self.submitted_ts if self.submitted_ts is not None else self.created_ts


@dataclass(frozen=True, slots=True)
class LimitRow:
    """One stored limit: ``mode`` is limit, unlimited or blocked."""

    scope: str
    subject_id: int
    mode: str
    amount: int | None


@dataclass(frozen=True, slots=True)
class Usage:
    """Counters for one user, guild and period."""

    used: float = 0.0
    reserved: float = 0.0
    bonus: float = 0.0


@dataclass(frozen=True, slots=True)
class SettingsRow:
    """One server's stored settings (None: not set)."""

    daily_budget: int | None
    confirm_above: int | None
    locale: str | None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit entry: ``actor_id`` None means the operator's command line."""

    id: int
    guild_id: int
    actor_id: int | None
    action: str
    subject_id: int | None
    old_value: str | None
    new_value: str | None
    created_at: float
