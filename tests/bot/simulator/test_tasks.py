"""The simulator's clock, prompt directives and per-model slot scheduler."""

from __future__ import annotations

import pytest

from bot.runway.models import TaskStatus
from bot.simulator.tasks import (
    SWEEP_REASON,
    Directives,
    SimClock,
    TaskBoard,
    parse_directives,
)

S = TaskStatus


class FakeMonotonic:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def test_clock_scales_real_time_and_adds_advances() -> None:
    real = FakeMonotonic()
    clock = SimClock(10.0, now=real)
    assert clock.now() == 0.0
    real.value += 1.5
    assert clock.now() == pytest.approx(15.0)
    clock.advance(5)
    assert clock.now() == pytest.approx(20.0)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        SimClock(0)


def test_directives_are_parsed_and_stripped() -> None:
    d, clean = parse_directives(
        "a cat [sim:fail=SAFETY.INPUT.TEXT] walks [sim:throttle=7][sim:seconds=3] [sim:big=2.5]"
    )
    assert d == Directives(
        fail_code="SAFETY.INPUT.TEXT", throttle_seconds=7, run_seconds=3, big_mb=2.5
    )
    assert clean == "a cat walks"
    d, clean = parse_directives("[sim:cancel] stop")
    assert d.cancel and clean == "stop"
    assert parse_directives(None) == (Directives(), "")
    d, _ = parse_directives("[SIM:Seconds=0]")
    assert d.run_seconds == 0


def test_gateway_dialect_directives_are_parsed() -> None:
    d, clean = parse_directives(
        "a [sim:create=OpenAI_Video] cat [sim:inner=stale] [sim:url=gateway] [sim:flicker=3]"
        " [sim:sweep]"
    )
    assert d == Directives(
        create_shape="openai_video", inner="stale", url="gateway", flicker=3, sweep=True
    )
    assert clean == "a cat"
    d, _ = parse_directives("[sim:flicker] [sim:inner=null] [sim:url=fail_reason]")
    assert (d.flicker, d.inner, d.url, d.sweep) == (1, "null", "fail_reason", False)
    d, _ = parse_directives("[sim:create=xml] [sim:inner=old] [sim:url=ftp] [sim:flicker=-1]")
    assert d == Directives(), "unknown values are ignored"


def test_a_swept_task_fails_with_a_text_reason_and_no_code() -> None:
    board = TaskBoard(1, pending_seconds=1.0)
    task = board.add("t", "m", 0.0, 5.0, Directives(sweep=True, fail_code="INTERNAL"))
    assert board.status(task, 3.0) is S.RUNNING
    assert board.status(task, 7.0) is S.FAILED
    assert (task.failure, task.failure_code) == (SWEEP_REASON, None)


def test_bad_directive_numbers_fall_back_to_defaults() -> None:
    d, _ = parse_directives("[sim:throttle=-3] [sim:big=lots] [sim:seconds=abc] [sim:fail=]")
    assert d == Directives()


def statuses(board: TaskBoard, now: float) -> list[TaskStatus]:
    return [board.status(t, now) for t in board.tasks.values()]


def test_pending_running_succeeded_with_progress() -> None:
    board = TaskBoard(2, pending_seconds=1.0)
    task = board.add("a", "m", 0.0, 10.0, Directives())
    assert board.status(task, 0.5) is S.PENDING
    assert board.status(task, 1.0) is S.RUNNING
    assert board.progress(task, 6.0) == pytest.approx(0.5)
    assert board.status(task, 10.9) is S.RUNNING
    assert board.progress(task, 10.99) <= 0.99
    assert board.status(task, 11.0) is S.SUCCEEDED
    assert task.started == 1.0 and task.finished == 11.0


def test_slots_are_handed_out_in_submission_order_per_model() -> None:
    board = TaskBoard({"m": 1, "*": 5}, pending_seconds=1.0)
    for name, at in (("a", 0.0), ("b", 0.1), ("c", 0.2)):
        board.add(name, "m", at, 10.0, Directives())
    other = board.add("x", "other", 0.3, 10.0, Directives())
    assert statuses(board, 2.0) == [S.RUNNING, S.THROTTLED, S.THROTTLED, S.RUNNING]
    assert board.status(other, 2.0) is S.RUNNING
    assert statuses(board, 11.0)[:3] == [S.SUCCEEDED, S.RUNNING, S.THROTTLED]
    assert board.tasks["b"].started == 11.0  # exactly when a's slot freed
    assert statuses(board, 21.0)[:3] == [S.SUCCEEDED, S.SUCCEEDED, S.RUNNING]
    assert statuses(board, 31.0)[:3] == [S.SUCCEEDED] * 3


def test_a_late_jump_replays_events_in_time_order() -> None:
    board = TaskBoard(1, pending_seconds=0.0)
    board.add("a", "m", 0.0, 5.0, Directives())
    board.add("b", "m", 0.0, 5.0, Directives())
    board.add("c", "m", 0.0, 5.0, Directives())
    board.tick(100.0)
    assert [(t.started, t.finished) for t in board.tasks.values()] == [
        (0.0, 5.0),
        (5.0, 10.0),
        (10.0, 15.0),
    ]


def test_throttle_directive_holds_a_task_without_blocking_others() -> None:
    board = TaskBoard(2, pending_seconds=1.0)
    held = board.add("held", "m", 0.0, 5.0, Directives(throttle_seconds=10))
    free = board.add("free", "m", 0.0, 5.0, Directives())
    assert board.status(held, 0.5) is S.PENDING
    assert board.status(held, 5.0) is S.THROTTLED
    assert board.status(free, 5.0) is S.RUNNING
    assert board.status(held, 11.0) is S.RUNNING


def test_cancel_frees_the_slot_for_the_next_task() -> None:
    board = TaskBoard(1, pending_seconds=0.0)
    a = board.add("a", "m", 0.0, 50.0, Directives())
    b = board.add("b", "m", 0.0, 50.0, Directives())
    assert board.status(b, 1.0) is S.THROTTLED
    assert board.cancel(a, 2.0)
    assert board.status(a, 2.0) is S.CANCELLED
    assert board.status(b, 2.0) is S.RUNNING
    assert b.started == 2.0
    assert not board.cancel(a, 3.0)


def test_fail_and_cancel_directives_end_the_run() -> None:
    board = TaskBoard(3, pending_seconds=0.0)
    failed = board.add("f", "m", 0.0, 2.0, Directives(fail_code="INTERNAL.BAD_OUTPUT.CODE01"))
    cancelled = board.add("c", "m", 0.0, 2.0, Directives(cancel=True))
    quick = board.add("q", "m", 0.0, 2.0, Directives(run_seconds=0.5))
    assert board.status(quick, 0.6) is S.SUCCEEDED
    assert board.status(failed, 1.0) is S.RUNNING
    assert board.status(failed, 2.0) is S.FAILED
    assert failed.failure_code == "INTERNAL.BAD_OUTPUT.CODE01"
    assert board.status(cancelled, 2.0) is S.CANCELLED
