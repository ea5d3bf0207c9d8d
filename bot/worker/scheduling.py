"""Pure timing rules of the worker: when to poll a task next, how long to back off.

Runway asks for at most one poll per 5 s per task, with jitter. Every delay returned
here is at least ``floor`` (5 s in production) *after* jitter is applied.
"""

from __future__ import annotations

import random

from ..runway.models import TaskStatus

MIN_POLL_SECONDS = 5.0
PENDING_POLL_SECONDS = 10.0
THROTTLED_POLL_SECONDS = 15.0
RUNNING_DEFAULT_POLL_SECONDS = 6.0
RUNNING_MAX_POLL_SECONDS = 30.0
JITTER = 0.15  # +-15 %
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 300.0


def jittered(delay: float, rng: random.Random, *, floor: float) -> float:
    """``delay`` with +-JITTER random spread, never below ``floor``."""
    return max(floor, delay * (1.0 + rng.uniform(-JITTER, JITTER)))


def estimate_remaining(
    progress: float | None, previous: float | None, seconds_between: float | None
) -> float | None:
    """Seconds until the task finishes, extrapolated from the progress rate (None if unknown)."""
    if progress is None or previous is None or not seconds_between or seconds_between <= 0:
        return None
    rate = (progress - previous) / seconds_between
    if rate <= 0:
        return None
    return max(0.0, (1.0 - progress) / rate)


def next_poll_delay(
    status: TaskStatus,
    rng: random.Random,
    *,
    progress: float | None = None,
    previous_progress: float | None = None,
    seconds_since_previous: float | None = None,
    floor: float = MIN_POLL_SECONDS,
) -> float:
    """Seconds until the next GET of a task in ``status``.

    PENDING and THROTTLED are polled slowly; RUNNING at the pace its progress suggests
    (the time left, clamped to [floor, 30 s]).
    """
    if status is TaskStatus.THROTTLED:
        base = THROTTLED_POLL_SECONDS
    elif status is TaskStatus.PENDING:
        base = PENDING_POLL_SECONDS
    elif status is TaskStatus.RUNNING:
        remaining = estimate_remaining(progress, previous_progress, seconds_since_previous)
        base = RUNNING_DEFAULT_POLL_SECONDS if remaining is None else remaining
        base = min(RUNNING_MAX_POLL_SECONDS, max(floor, base))
    else:
        base = floor
    return jittered(base, rng, floor=floor)


def backoff_delay(
    failures: int,
    rng: random.Random,
    *,
    retry_after: float | None = None,
    floor: float = MIN_POLL_SECONDS,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_MAX_SECONDS,
) -> float:
    """Wait after ``failures`` consecutive errors (1, 2, ...): exponential, jittered, capped.

    A ``Retry-After`` from the server is honoured (never shortened).
    """
    delay = min(cap, base * 2.0 ** max(0, min(failures - 1, 20)))
    delay = jittered(delay, rng, floor=floor)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
