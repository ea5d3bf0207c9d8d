import random

import pytest

from bot.runway.models import TaskStatus
from bot.worker.scheduling import (
    MIN_POLL_SECONDS,
    RUNNING_MAX_POLL_SECONDS,
    backoff_delay,
    estimate_remaining,
    next_poll_delay,
)


def test_production_schedule_never_polls_faster_than_every_5_seconds() -> None:
    assert MIN_POLL_SECONDS == 5.0
    rng = random.Random(0)
    for _ in range(2000):
        for status in TaskStatus:
            progress = rng.random()
            delay = next_poll_delay(
                status,
                rng,
                progress=progress,
                previous_progress=max(0.0, progress - rng.random()),
                seconds_since_previous=rng.choice([None, 0.0, 0.5, 5.0, 60.0]),
            )
            assert delay >= 5.0
        assert backoff_delay(rng.randint(0, 40), rng) >= 5.0


def test_waiting_statuses_poll_slower_than_running() -> None:
    rng = random.Random(1)
    for _ in range(200):
        throttled = next_poll_delay(TaskStatus.THROTTLED, rng)
        pending = next_poll_delay(TaskStatus.PENDING, rng)
        running = next_poll_delay(TaskStatus.RUNNING, rng)
        assert throttled > 12 and pending > 8 and running < 7


def test_running_extrapolates_from_progress() -> None:
    rng = random.Random(2)
    # 10 % per 5 s with 80 % left: about 40 s left, clamped to the 30 s maximum
    slow = next_poll_delay(
        TaskStatus.RUNNING, rng, progress=0.2, previous_progress=0.1, seconds_since_previous=5
    )
    assert RUNNING_MAX_POLL_SECONDS * 0.85 <= slow <= RUNNING_MAX_POLL_SECONDS * 1.15
    # almost done: about 2 s left, but never below the floor
    fast = next_poll_delay(
        TaskStatus.RUNNING, rng, progress=0.9, previous_progress=0.5, seconds_since_previous=8
    )
    assert 5.0 <= fast <= 5.0 * 1.15
    mid = next_poll_delay(
        TaskStatus.RUNNING, rng, progress=0.5, previous_progress=0.3, seconds_since_previous=6
    )
    assert 15 * 0.85 <= mid <= 15 * 1.15
    assert estimate_remaining(0.5, 0.3, 6) == pytest.approx(15)
    assert estimate_remaining(0.5, 0.5, 6) is None
    assert estimate_remaining(None, 0.1, 6) is None


def test_jitter_spreads_polls() -> None:
    rng = random.Random(3)
    delays = {round(next_poll_delay(TaskStatus.PENDING, rng), 3) for _ in range(50)}
    assert len(delays) > 40


def test_a_lower_floor_is_possible_for_tests_only_by_asking() -> None:
    rng = random.Random(4)
    assert next_poll_delay(TaskStatus.RUNNING, rng, floor=0.01) >= 0.01
    assert next_poll_delay(TaskStatus.SUCCEEDED, rng, floor=0.01) < 1


def test_backoff_grows_caps_and_honours_retry_after() -> None:
    rng = random.Random(5)
    first = backoff_delay(1, rng)
    fourth = backoff_delay(4, rng)
    assert 5 <= first <= 5 * 1.15 and 40 * 0.85 <= fourth <= 40 * 1.15
    assert backoff_delay(30, rng) <= 300 * 1.15
    assert backoff_delay(1, rng, retry_after=120) == 120
