"""The simulator's clock, prompt directives and per-model slot scheduler."""

from __future__ import annotations

import pytest

from bot.runway.models import TaskStatus
from bot.simulator.tasks import (
    EARLY_FAILURE_CODE,
    PARTWAY_FAILURE_CODE,
    SWEEP_REASON,
    Directives,
    Realism,
    SimClock,
    TaskBoard,
    TaskPlan,
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


# ---- realistic mode ----------------------------------------------------------------------


def test_realistic_plans_are_reproducible_and_within_their_ranges() -> None:
    real = Realism(seed=7)
    plans = [real.plan(model, k) for model in ("gen4_turbo", "veo3.1") for k in range(400)]
    assert plans == [
        Realism(seed=7).plan(m, k) for m in ("gen4_turbo", "veo3.1") for k in range(400)
    ]
    assert plans != [
        Realism(seed=8).plan(m, k) for m in ("gen4_turbo", "veo3.1") for k in range(400)
    ]
    runs = [p.run_seconds for p in plans]
    assert min(runs) >= 30.0 and max(runs) <= 180.0
    assert len({round(r) for r in runs}) > 50  # spread, not one value
    assert all(1.0 <= p.pending_seconds <= 12.0 for p in plans)
    assert all(abs(p.warp) <= 0.2 for p in plans)
    # the two models have different typical run times
    assert real.model_median("gen4_turbo") != real.model_median("veo3.1")


def test_a_few_percent_fail_early_and_a_few_part_way() -> None:
    plans = [Realism(seed=1).plan("gen4_turbo", k) for k in range(4000)]
    early = [p for p in plans if p.failure == "early"]
    partway = [p for p in plans if p.failure == "partway"]
    assert 0.02 < len(early) / len(plans) < 0.06
    assert 0.02 < len(partway) / len(plans) < 0.06
    for p in early:
        assert p.fail_code == EARLY_FAILURE_CODE
        if p.fail_in_pending is not None:
            assert 0 <= p.fail_in_pending < p.pending_seconds
        else:
            assert p.fail_after_start is not None and p.fail_after_start <= 6.0
    assert any(p.fail_in_pending is not None for p in early)
    assert any(p.fail_after_start is not None for p in early)
    for p in partway:
        assert p.fail_code == PARTWAY_FAILURE_CODE
        assert p.fail_after_start is not None
        assert 0.1 * p.run_seconds <= p.fail_after_start <= 0.95 * p.run_seconds


def test_a_planned_task_is_pending_throttled_running_then_ends_as_planned() -> None:
    board = TaskBoard(1, pending_seconds=1.0)
    first = board.add("a", "m", 0.0, 20.0, Directives(), TaskPlan(3.0, 40.0))
    second = board.add("b", "m", 0.0, 20.0, Directives(), TaskPlan(5.0, 30.0))
    assert board.status(first, 2.9) is S.PENDING
    assert board.status(first, 3.0) is S.RUNNING
    assert board.status(second, 4.0) is S.PENDING
    assert board.status(second, 6.0) is S.THROTTLED
    assert board.status(first, 43.0) is S.SUCCEEDED
    assert first.finished == pytest.approx(43.0)
    assert board.status(second, 43.0) is S.RUNNING  # the freed slot starts it at once
    assert second.started == pytest.approx(43.0)
    assert board.status(second, 73.0) is S.SUCCEEDED


def test_planned_failures_happen_in_pending_or_part_way_and_free_the_slot() -> None:
    board = TaskBoard(1, pending_seconds=1.0)
    early = TaskPlan(4.0, 60.0, fail_in_pending=2.0, fail_code=EARLY_FAILURE_CODE)
    partway = TaskPlan(1.0, 60.0, fail_after_start=25.0, fail_code=PARTWAY_FAILURE_CODE)
    a = board.add("a", "m", 0.0, 20.0, Directives(), early)
    b = board.add("b", "m", 0.0, 20.0, Directives(), partway)
    c = board.add("c", "m", 0.0, 20.0, Directives(), TaskPlan(1.0, 30.0))
    assert board.status(a, 1.9) is S.PENDING
    assert board.status(a, 2.0) is S.FAILED and a.failure_code == EARLY_FAILURE_CODE
    assert a.started is None and a.finished == pytest.approx(2.0)
    assert board.status(b, 25.0) is S.RUNNING
    assert board.status(b, 26.0) is S.FAILED and b.failure_code == PARTWAY_FAILURE_CODE
    assert b.finished == pytest.approx(26.0)
    assert board.status(c, 26.0) is S.RUNNING and c.started == pytest.approx(26.0)


def test_planned_progress_is_bent_but_monotonic_and_below_one() -> None:
    board = TaskBoard(2, pending_seconds=1.0)
    fast = board.add("f", "m", 0.0, 20.0, Directives(), TaskPlan(0.0, 100.0, warp=0.2))
    slow = board.add("s", "m", 0.0, 20.0, Directives(), TaskPlan(0.0, 100.0, warp=-0.2))
    board.tick(0.0)
    assert board.progress(fast, 50.0) == pytest.approx(0.55)
    assert board.progress(slow, 50.0) == pytest.approx(0.45)
    values = [board.progress(fast, t) for t in range(0, 100, 5)]
    assert values == sorted(values) and max(values) <= 0.99


def test_without_a_plan_progress_stays_linear() -> None:
    board = TaskBoard(1, pending_seconds=0.0)
    task = board.add("x", "m", 0.0, 100.0, Directives())
    board.tick(0.0)
    assert board.progress(task, 50.0) == pytest.approx(0.5)
