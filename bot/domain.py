"""Core domain types shared by the job engine and the Discord layer (no discord imports)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from .i18n import t


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


class Origin(StrEnum):
    """How a job derives from the job it iterates on (``Job.rerun_of``)."""

    RERUN = "rerun"  # the same inputs and options, a new seed (the Vary button)
    RETRY = "retry"  # the same seed, after a failure
    EDIT = "edit"  # the same inputs and options with an edited prompt
    CONTINUE = "continue"  # the clip's last frame as the image of a new animate job
    RESTYLE = "restyle"  # the clip as the video of a restyle job


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
    parent_id: int | None = None  # the job this one iterates on (rerun, vary, continue...)
    origin: str | None = None  # how it derives from ``parent_id``: an ``Origin`` value
    source_seconds: float | None = None  # the input video's length before it was trimmed
    quota_left: float | None = None  # what the member had left after this job, when asked


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
    origin: str | None = None
    source_seconds: float | None = None
    ratio_auto: bool = False  # the ratio was chosen by "auto" (closest to the input image)
    quota_left: float | None = None  # what the member had left after its reservation
    input_seconds: float | None = None  # the input video's billed length (restyle)
    thumbnail: bool = False  # its status message carries the input's preview image

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
    source_role: int | None = None  # the role the limit comes from, if it does

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

    def __init__(
        self, message: str, *, key: str | None = None, fmt: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key  # the message's i18n catalogue key (None: English only)
        self.fmt: dict[str, object] = dict(fmt or {})

    def text(self, locale: object) -> str:
        """The message in ``locale`` (a Discord locale code; English without a key)."""
        return self.message if self.key is None else t(self.key, locale, **self.fmt)


class JobError(UserError):
    """A request the job service refuses; ``message`` is safe to show to the user."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        key: str | None = None,
        fmt: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, key=key, fmt=fmt)
        self.code = code

    @classmethod
    def of(cls, key: str, /, code: str = "invalid", **fmt: object) -> JobError:
        """The error whose text is catalogue entry ``key`` (English ``message``)."""
        return cls(t(key, None, **fmt), code=code, key=key, fmt=fmt)


class QuotaExceeded(JobError):
    """The user (or the bot as a whole) has not enough quota left for this job."""

    def __init__(
        self,
        message: str,
        *,
        status: QuotaStatus | None,
        needed: float,
        scope: Literal["user", "guild", "bot"] = "user",
        key: str | None = None,
        fmt: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, code="quota", key=key, fmt=fmt)
        self.status = status
        self.needed = needed
        # "guild": the server's daily budget; "bot": the bot-wide daily credit cap
        self.scope = scope


class JobNotFound(JobError):
    """No such job (or not visible to this user)."""

    def __init__(self, message: str | None = None) -> None:
        key = "job.not_found" if message is None else None
        super().__init__(message or t("job.not_found", None), code="not_found", key=key)


class NotAllowed(JobError):
    """The actor may not do this to this job."""

    def __init__(
        self, message: str, *, key: str | None = None, fmt: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(message, code="forbidden", key=key, fmt=fmt)

    @classmethod
    def about(cls, key: str, /, **fmt: object) -> NotAllowed:
        """The refusal whose text is catalogue entry ``key``."""
        return cls(t(key, None, **fmt), key=key, fmt=fmt)
