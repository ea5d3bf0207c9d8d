"""When to retry a Runway call and how long to wait first.

Runway has no idempotency key, so the policy depends on whether a request can
start (and bill) a task:

* Reads and cancels (GET, DELETE) and upload steps repeat harmlessly: they are
  retried on every transient error (429, 5xx, timeouts, broken connections,
  unreadable bodies).
* A create (POST image_to_video / video_to_video) is retried only when Runway
  surely did not start a task:
  - the connection was never made (refused, DNS failure, connect timeout), so
    the request never left this machine;
  - a 429: RUNWAY-API.md lists "429: rate limit or daily quota reached (on
    create) | yes": Runway refused the request, nothing was started.
  A 5xx, a read timeout, a dropped connection or an unreadable 2xx body after the
  request was sent may mean the task exists: the error is raised, never retried here.
  The worker decides what to do with it (``create_may_have_started``): only a 503 whose
  body is the provider's own load-shedding answer goes back to the bot's queue; the rest
  is "in doubt". Runway's daily generation limit (a 429) is never retried: it lasts until
  midnight UTC.

Waits grow exponentially with jitter, are capped at ``backoff_max``, and honour
``Retry-After``. A ``Retry-After`` longer than ``backoff_max`` is not waited out
here: the error is raised at once (it carries ``retry_after``) so the caller can
reschedule instead of holding a worker.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .. import clock as clocks
from .errors import (
    BadResponseError,
    DailyLimitError,
    RateLimitedError,
    RunwayConnectionError,
    RunwayError,
    RunwayTimeoutError,
    ServerError,
)

SleepFn = Callable[[float], Awaitable[None]]


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Returns None when the header is absent or unreadable; never negative.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else clocks.utcnow()
    return max(0.0, (when - current).total_seconds())


def is_retryable(error: RunwayError, *, creates_task: bool) -> bool:
    """Whether ``error`` may be retried; ``creates_task`` for requests that start a task."""
    if isinstance(error, DailyLimitError):
        return False
    if isinstance(error, RateLimitedError):
        return True
    if isinstance(error, RunwayConnectionError):
        return not creates_task or not error.request_sent
    if creates_task:
        return False
    return isinstance(error, ServerError | RunwayTimeoutError | BadResponseError)


def create_may_have_started(error: RunwayError) -> bool:
    """Whether a failed create may still have started (and billed) a task at Runway.

    False when nothing was sent, on a 429, on a 4xx answer, and on a 503 whose body is the
    provider's own load-shedding answer (``ServerError.shed``: Runway's JSON error, or the
    gateway's refusal when it has no channel for the model). True after any other 5xx (an
    HTML or unknown 503 may come from a proxy after the request went on), a read timeout,
    a connection broken after sending, or an unreadable or id-less answer.
    Callers treat True as "in doubt": never resubmit silently.
    """
    if isinstance(error, RateLimitedError):
        return False
    if isinstance(error, RunwayConnectionError):
        return error.request_sent
    if isinstance(error, ServerError):
        return not (error.status == 503 and error.shed)
    if isinstance(error, RunwayTimeoutError | BadResponseError):
        return True
    return error.status is None or error.status >= 500


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter; ``sleep`` and ``rng`` are injectable for tests."""

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    sleep: SleepFn = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Jittered wait before retry number ``attempt + 1`` (attempt counts from 0).

        Equal jitter: between half and all of ``base * 2**attempt``, capped.
        """
        ceiling = min(self.backoff_max, self.backoff_base * (2.0 ** min(attempt, 30)))
        return min(self.backoff_max, ceiling * (0.5 + 0.5 * self.rng.random()))

    def delay_for(self, error: RunwayError, attempt: int, *, creates_task: bool) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to give up and raise."""
        if attempt >= self.max_retries or not is_retryable(error, creates_task=creates_task):
            return None
        wait = self.backoff(attempt)
        retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
        if retry_after is not None:
            if retry_after > self.backoff_max:
                return None
            wait = max(wait, retry_after)
        return wait
