"""Retry policy: which errors are retried (creates vs reads), backoff, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.runway.errors import (
    AuthenticationError,
    BadResponseError,
    DailyLimitError,
    NotFoundError,
    OutputExpiredError,
    RateLimitedError,
    RunwayConnectionError,
    RunwayError,
    RunwayTimeoutError,
    RunwayValidationError,
    ServerError,
    TaskNotVisibleYet,
)
from bot.runway.retry import (
    RetryPolicy,
    create_may_have_started,
    is_retryable,
    parse_retry_after,
)

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        (None, None),
    ],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def test_parse_retry_after_http_date() -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=NOW) == pytest.approx(90.0)


def test_parse_retry_after_date_in_the_past_is_zero() -> None:
    earlier = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert parse_retry_after(earlier, now=NOW) == 0.0


def test_parse_retry_after_rfc850_date() -> None:
    assert parse_retry_after("Saturday, 21-Nov-26 12:00:30 GMT", now=NOW) == pytest.approx(30.0)


SENT = RunwayConnectionError("broke", request_sent=True)
NOT_SENT = RunwayConnectionError("refused", request_sent=False)


@pytest.mark.parametrize(
    ("error", "read", "create"),
    [
        (RateLimitedError("429", retry_after=1.0), True, True),
        (NOT_SENT, True, True),
        (SENT, True, False),
        (ServerError("502", status=502), True, False),
        (RunwayTimeoutError("slow"), True, False),
        (BadResponseError("junk"), True, False),
        (RunwayValidationError("bad"), False, False),
        (AuthenticationError("401", status=401), False, False),
        (NotFoundError("404", status=404), False, False),
        (TaskNotVisibleYet("not yet"), False, False),
        (OutputExpiredError("gone", status=403), False, False),
        (RunwayError("418", status=418), False, False),
    ],
)
def test_is_retryable(error: RunwayError, read: bool, create: bool) -> None:
    assert is_retryable(error, creates_task=False) is read
    assert is_retryable(error, creates_task=True) is create


def test_backoff_grows_exponentially_within_jitter_bounds_and_is_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=5.0, rng=random.Random(7))
    for attempt in range(12):
        ceiling = min(5.0, 0.5 * 2**attempt)
        for _ in range(50):
            wait = policy.backoff(attempt)
            assert ceiling / 2 <= wait <= ceiling


def test_backoff_is_jittered() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=60.0, rng=random.Random(1))
    assert len({policy.backoff(3) for _ in range(20)}) > 1


def test_delay_honours_retry_after_over_backoff() -> None:
    policy = RetryPolicy(backoff_base=0.1, backoff_max=30.0, rng=random.Random(0))
    error = RateLimitedError("429", retry_after=7.0)
    assert policy.delay_for(error, 0, creates_task=True) == 7.0


def test_delay_keeps_backoff_when_retry_after_is_shorter() -> None:
    policy = RetryPolicy(backoff_base=4.0, backoff_max=30.0, rng=random.Random(0))
    wait = policy.delay_for(RateLimitedError("429", retry_after=0.5), 2, creates_task=False)
    assert wait is not None and 8.0 <= wait <= 16.0


def test_retry_after_beyond_the_cap_gives_up_at_once() -> None:
    policy = RetryPolicy(backoff_max=10.0)
    assert (
        policy.delay_for(RateLimitedError("quota", retry_after=3600), 0, creates_task=False) is None
    )


def test_gives_up_after_max_retries() -> None:
    policy = RetryPolicy(max_retries=2, rng=random.Random(0))
    error = ServerError("503", status=503)
    assert policy.delay_for(error, 0, creates_task=False) is not None
    assert policy.delay_for(error, 1, creates_task=False) is not None
    assert policy.delay_for(error, 2, creates_task=False) is None


def test_no_retries_when_max_retries_is_zero() -> None:
    policy = RetryPolicy(max_retries=0)
    assert policy.delay_for(NOT_SENT, 0, creates_task=False) is None


def test_create_server_error_is_never_retried() -> None:
    policy = RetryPolicy(max_retries=4)
    assert policy.delay_for(ServerError("500", status=500), 0, creates_task=True) is None


@pytest.mark.parametrize(
    ("error", "in_doubt"),
    [
        (NOT_SENT, False),
        (SENT, True),
        (ServerError("502", status=502), True),
        (RunwayTimeoutError("slow"), True),
        (BadResponseError("junk"), True),
        (RateLimitedError("429"), False),
        (RunwayValidationError("bad"), False),
        (AuthenticationError("401", status=401), False),
        (NotFoundError("404", status=404), False),
        (RunwayError("409", status=409), False),
        (RunwayError("odd", status=None), True),
    ],
)
def test_create_may_have_started(error: RunwayError, in_doubt: bool) -> None:
    assert create_may_have_started(error) is in_doubt


def test_a_503_is_load_shedding_only_when_its_body_says_so() -> None:
    assert create_may_have_started(ServerError("503", status=503, shed=True)) is False
    # An HTML or unknown 503 may come from a proxy after the request went on.
    assert create_may_have_started(ServerError("503", status=503, shed=False)) is True
    assert create_may_have_started(ServerError("504", status=504, shed=True)) is True


def test_the_daily_generation_limit_is_never_retried_and_started_nothing() -> None:
    daily = DailyLimitError("429: daily limit")
    policy = RetryPolicy(max_retries=4)
    assert policy.delay_for(daily, 0, creates_task=True) is None
    assert policy.delay_for(daily, 0, creates_task=False) is None
    assert create_may_have_started(daily) is False
