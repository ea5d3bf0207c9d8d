"""The port through which the core reaches Discord (implemented by bot/ui, and by tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .domain import Job


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """What the status message of a job should show now."""

    job: Job
    queue_position: int | None = None  # 1-based position in the bot's own queue
    throttled: bool = False  # waiting for Runway capacity
    eta_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """Proof that a message reached Discord."""

    message_id: int


@dataclass(frozen=True, slots=True)
class Published:
    """Where a job's status message and thread are (``None``: there is none; the channel
    refused the status message and the requester was told in their reply)."""

    status_message_id: int | None
    thread_id: int | None = None


class DeliveryFailed(Exception):
    """The port could not deliver; ``permanent`` means retrying will not help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class AlreadyTold(DeliveryFailed):
    """Nothing to post: the requester already heard the outcome another way (the answer to
    their command, when Discord refused the job's status message for good)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class DeliveryPort(Protocol):
    """How the worker tells the outside world about a job.

    Implementations must be idempotent per ``nonce``: a second call for the same
    job must not produce a second visible message.
    """

    async def publish(self, job: Job, *, orphan: bool) -> Published | None:
        """Make sure the status message (and thread) of a job with none recorded exist: adopt
        the bot's own message for the job if Discord already has it, else post it.

        ``orphan``: nobody in this process is posting them (a job from before a restart, or
        one the worker stopped waiting for). Otherwise ``None`` means the command that
        created the job is still posting them: ask again later. Raises
        :class:`DeliveryFailed` when it cannot look or post (``permanent`` when retrying
        will not help).
        """

    async def status_changed(self, update: StatusUpdate) -> None:
        """The job's state, queue position or progress changed (best effort)."""

    async def deliver_clip(self, job: Job, clip: Path, nonce: str) -> DeliveryReceipt:
        """Post the finished clip (the file at ``clip``) for the job's requester."""

    async def deliver_failure(self, job: Job, nonce: str) -> DeliveryReceipt:
        """Explain a failed, cancelled or in-doubt job to its requester."""
