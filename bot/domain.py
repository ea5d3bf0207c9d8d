"""Core domain types shared by the job engine and the Discord layer (no discord imports)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal


class JobKind(StrEnum):
    """What the user asked for."""

    ANIMATE = "animate"  # image_to_video
    RESTYLE = "restyle"  # video_to_video


class JobState(StrEnum):
    """The persisted lifecycle of a job (see docs/architecture.md)."""

    QUEUED = "queued"
    SUBMITTING = "submitting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    IN_DOUBT = "in_doubt"

    @property
    def active(self) -> bool:
        """True while the job still waits for or runs at Runway."""
        return self in (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING)

    @property
    def finished(self) -> bool:
        """True once nothing more will happen at Runway."""
        return not self.active


class InputRole(StrEnum):
    """What an input file is for."""

    IMAGE = "image"
    LAST_FRAME = "last_frame"
    VIDEO = "video"
    REFERENCE = "reference"


@dataclass(frozen=True, slots=True)
class JobInput:
    """A prepared input file, stored with the job so it survives restarts and reruns."""

    role: InputRole
    mime: str
    data: bytes
    filename: str = ""
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class JobParams:
    """The generation parameters, as validated against the catalog."""

    model: str
    ratio: str | None = None
    duration: int | None = None
    seed: int | None = None
    audio: bool = False


@dataclass(frozen=True, slots=True)
class NewJob:
    """Everything the job service needs to create a job."""

    kind: JobKind
    user_id: int
    guild_id: int | None
    channel_id: int
    prompt: str
    params: JobParams
    inputs: tuple[JobInput, ...]
    user_role_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Job:
    """A job as persisted in the store."""

    id: int
    kind: JobKind
    state: JobState
    user_id: int
    guild_id: int | None
    channel_id: int
    prompt: str
    params: JobParams
    created_at: datetime
    updated_at: datetime
    thread_id: int | None = None
    status_message_id: int | None = None
    provider_task_id: str | None = None
    provider_status: str | None = None
    progress: float | None = None
    estimated_credits: float = 0.0
    charged_credits: float | None = None
    quota_amount: float = 0.0
    attempts: int = 0
    submitted_at: datetime | None = None
    finished_at: datetime | None = None
    error_code: str | None = None
    error_text: str | None = None
    refunded: bool = False
    delivered_message_id: int | None = None
    rerun_of: int | None = None
    delivered_at: datetime | None = None

    @property
    def delivered(self) -> bool:
        """True once the final message (clip or failure notice) was confirmed posted.

        ``state`` keeps the outcome (succeeded, failed, cancelled, in_doubt); delivery is
        recorded beside it.
        """
        return self.delivered_at is not None

    @property
    def nonce(self) -> str:
        """A stable Discord message nonce for this job's final message (max 25 chars)."""
        return f"rwjob-{self.id}"


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    """A user's quota in one guild for the current period."""

    unit: str  # "credits" or "jobs"
    limit: float | None  # None means unlimited
    blocked: bool
    used: float
    reserved: float
    bonus: float
    source: str  # "user override", "role <id>", "guild default", "config default"
    period: str
    resets_at: datetime

    @property
    def remaining(self) -> float | None:
        """What is left this period (None when unlimited)."""
        if self.blocked:
            return 0.0
        if self.limit is None:
            return None
        return max(0.0, self.limit + self.bonus - self.used - self.reserved)


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A snapshot of the job table for operators."""

    by_state: dict[JobState, int]
    in_flight_by_model: dict[str, int]
    queued_by_model: dict[str, int]
    undelivered: int = 0
    account_problem: AccountProblem | None = None


@dataclass(frozen=True)
class AccountProblem:
    """The provider refused the bot's account (``auth``: the key; ``balance``: used up) for a
    job, and no job has succeeded since: the operator must act."""

    job_id: int
    code: str
    at: datetime


class UserError(Exception):
    """An error whose ``message`` is written for the Discord user and safe to show as is
    (no secrets, no operator detail); what the user sees is the subclass's business."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobError(UserError):
    """A request the job service refuses; ``message`` is safe to show to the user."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


class QuotaExceeded(JobError):
    """The user (or the bot as a whole) has not enough quota left for this job."""

    def __init__(
        self,
        message: str,
        *,
        status: QuotaStatus | None,
        needed: float,
        scope: Literal["user", "bot"] = "user",
    ) -> None:
        super().__init__(message, code="quota")
        self.status = status
        self.needed = needed
        self.scope = scope  # "bot": the bot-wide daily credit cap, not the user's own quota


class JobNotFound(JobError):
    """No such job (or not visible to this user)."""

    def __init__(self, message: str = "That job does not exist.") -> None:
        super().__init__(message, code="not_found")


class NotAllowed(JobError):
    """The actor may not do this to this job."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="forbidden")
