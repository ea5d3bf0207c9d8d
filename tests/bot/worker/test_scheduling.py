import random

import pytest

from bot.domain import JobState, NewJob
from bot.runway.models import TaskStatus
from bot.worker.scheduling import (
    DEFAULT_RUN_SECONDS,
    END_MARGIN_SECONDS,
    FIRST_POLL_SECONDS,
    JITTER_UP_SECONDS,
    MIN_POLL_SECONDS,
    REFINE_LEAD_FRACTION,
    REFINE_LEAD_SECONDS,
    RUN_TIMES_KEPT,
    RUNNING_MAX_POLL_SECONDS,
    RunTimes,
    backoff_delay,
    estimate_remaining,
    later,
    next_poll_delay,
    nudge_at,
    predict_remaining,
    running_delay,
    submit_room,
)
from tests.bot.conftest import image_input, new_animate
from tests.bot.worker.harness import Harness, worker_settings

UP = JITTER_UP_SECONDS


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
        now = rng.uniform(0, 500)
        delay = running_delay(
            rng,
            now=now,
            progress=rng.choice([None, rng.random(), 0.99]),
            start=now - rng.uniform(0, 300),
            expected=rng.uniform(1, 200),
            previous=rng.choice([None, (now - rng.uniform(5, 60), rng.random())]),
            first_running=rng.random() < 0.5,
        )
        assert delay >= 5.0
        assert backoff_delay(rng.randint(0, 40), rng) >= 5.0


def test_jitter_only_lengthens_a_delay() -> None:
    rng = random.Random(1)
    values = [later(12.0, rng) for _ in range(500)]
    assert all(12.0 <= v <= 12.0 + UP for v in values)
    assert len({round(v, 3) for v in values}) > 400  # spread, so polls do not bunch up
    assert all(5.0 <= later(1.0, rng) <= 5.0 + UP for _ in range(100))  # the floor first


def test_waiting_statuses_pending_soon_throttled_slowly() -> None:
    rng = random.Random(2)
    for _ in range(200):
        pending = next_poll_delay(TaskStatus.PENDING, rng)
        throttled = next_poll_delay(TaskStatus.THROTTLED, rng)
        assert 6.0 <= pending <= 6.0 + UP  # moderation fails tasks in PENDING
        assert 120.0 <= throttled <= 120.0 + UP  # a freed slot nudges it instead


def test_a_freed_slot_nudges_a_throttled_task_but_never_within_the_floor() -> None:
    assert nudge_at(100.0, None) == 106.0
    assert nudge_at(100.0, 98.0) == 106.0
    assert nudge_at(100.0, 103.0) == 108.0  # 5 s after its last GET, not sooner


def test_the_standby_adds_to_the_slots() -> None:
    assert submit_room(1, 0) == 1
    assert submit_room(1, 0, standby=1) == 2
    assert submit_room(20, 20, standby=1) == 1
    assert submit_room(2, 3, standby=1) == 0
    assert submit_room(2, 5) < 0


def test_an_early_probe_just_after_the_start_where_failures_cluster() -> None:
    rng = random.Random(3)
    # first RUNNING reading 2 s into the run: probe once the first 6 s are over
    delay = running_delay(
        rng, now=100.0, progress=0.02, start=98.0, expected=80.0, previous=None,
        first_running=True,
    )  # fmt: skip
    assert 98.0 + 7.0 <= 100.0 + delay <= 98.0 + 7.0 + UP
    # the start was longer ago: no probe, the next GET aims at the end
    late = running_delay(
        rng, now=100.0, progress=0.1, start=90.0, expected=80.0, previous=None,
        first_running=True,
    )  # fmt: skip
    assert late > 20


def test_running_polls_shortly_before_and_just_after_the_predicted_end() -> None:
    rng = random.Random(4)
    # 10 s left by the progress rate: the next GET is the end one, a little after it
    end = running_delay(
        rng, now=200.0, progress=0.9, start=110.0, expected=80.0, previous=(170.0, 0.6),
        first_running=False,
    )  # fmt: skip
    assert 10.0 + END_MARGIN_SECONDS <= end <= 10.0 + END_MARGIN_SECONDS + UP
    # 40 s left: a refining GET that lands well before the end
    refine = running_delay(
        rng, now=200.0, progress=0.5, start=160.0, expected=80.0, previous=(180.0, 0.25),
        first_running=False,
    )  # fmt: skip
    lead = max(REFINE_LEAD_SECONDS, REFINE_LEAD_FRACTION * 40)
    assert 40.0 - lead <= refine <= 40.0 - lead + UP
    # a long run left: never more than the part-way bound between two GETs
    far = running_delay(
        rng, now=200.0, progress=0.01, start=190.0, expected=170.0, previous=None,
        first_running=False,
    )  # fmt: skip
    assert RUNNING_MAX_POLL_SECONDS <= far <= RUNNING_MAX_POLL_SECONDS + UP


def test_unsure_of_the_end_it_learns_the_rate_first_and_never_past_a_plausible_end() -> None:
    rng = random.Random(6)
    # 10 s in, 5 %: the model's 80 s says 70 s left, the progress says 190: trust the sooner
    learn = running_delay(
        rng, now=100.0, progress=0.05, start=90.0, expected=80.0, previous=None,
        first_running=False,
    )  # fmt: skip
    assert 0.6 * 70 <= learn <= 0.6 * 70 + UP
    # 20 % after 10 s (a fast one): 40 s left by progress, sooner than the model's 70
    fast = running_delay(
        rng, now=100.0, progress=0.2, start=90.0, expected=80.0, previous=None,
        first_running=False,
    )  # fmt: skip
    assert 0.6 * 40 <= fast <= 0.6 * 40 + UP
    # the model's shortest recent run ends sooner still
    short = running_delay(
        rng, now=100.0, progress=0.05, start=90.0, expected=80.0, previous=None,
        first_running=False, shortest=30.0,
    )  # fmt: skip
    assert 0.6 * 20 <= short <= 0.6 * 20 + UP


def test_the_end_is_predicted_from_progress_else_from_the_models_run_times() -> None:
    # two readings far enough apart: the rate between them
    assert predict_remaining(100.0, 0.5, 60.0, 80.0, (90.0, 0.35)) == pytest.approx(100 / 3)
    # too close: from the start instead
    assert predict_remaining(100.0, 0.5, 60.0, 80.0, (95.0, 0.48)) == pytest.approx(40.0)
    # one reading that says enough: extrapolated from the start
    assert predict_remaining(100.0, 0.5, 60.0, 200.0, None) == pytest.approx(40.0)
    # a reading too small to trust: the model's usual run time
    assert predict_remaining(100.0, 0.05, 90.0, 80.0, None) == pytest.approx(70.0)
    assert predict_remaining(100.0, None, 90.0, 80.0, None) == pytest.approx(70.0)
    assert predict_remaining(300.0, None, 90.0, 80.0, None) == 0.0
    assert estimate_remaining(0.5, 0.3, 6) == pytest.approx(15)
    assert estimate_remaining(0.5, 0.5, 6) is None
    assert estimate_remaining(None, 0.1, 6) is None


def test_run_times_learn_the_median_of_recent_full_runs() -> None:
    runs = RunTimes()
    assert runs.expected("m") == DEFAULT_RUN_SECONDS
    for seconds in (40.0, 60.0, 50.0):
        runs.add("m", seconds)
    assert runs.expected("m") == 50.0
    runs.add("m", 70.0)
    assert runs.expected("m") == 55.0
    assert runs.expected("other") == DEFAULT_RUN_SECONDS
    for _ in range(RUN_TIMES_KEPT):
        runs.add("m", 100.0)
    assert runs.expected("m") == 100.0  # only the recent ones count


def test_a_runs_start_is_estimated_once_and_bounded() -> None:
    runs = RunTimes()
    # 10 % of an expected 100 s run: started about 10 s ago, but not before its last
    # non-RUNNING GET
    assert runs.start_of(1, 200.0, 0.1, 100.0, not_before=185.0) == 190.0
    assert runs.start_of(2, 200.0, 0.5, 100.0, not_before=195.0) == 195.0
    assert runs.start_of(1, 260.0, 0.7, 100.0, not_before=0.0) == 190.0  # kept
    runs.finished(1, "m", 270.0, succeeded=True)
    assert runs.expected("m") == 80.0
    runs.finished(2, "m", 205.0, succeeded=False)  # a failed run teaches no run time
    assert runs.expected("m") == 80.0
    assert runs.starts == {}


def test_backoff_grows_caps_and_honours_retry_after() -> None:
    rng = random.Random(5)
    first = backoff_delay(1, rng)
    fourth = backoff_delay(4, rng)
    assert 5 <= first <= 5 * 1.15 and 40 * 0.85 <= fourth <= 40 * 1.15
    assert backoff_delay(30, rng) <= 300 * 1.15
    assert backoff_delay(1, rng, retry_after=120) == 120


# ---- the rules in the worker (FakeClock, the simulator advanced by hand) -----------------


def _small(user: int) -> NewJob:
    return new_animate(user_id=user, duration=2, inputs=(image_input(640, 360),))


async def test_the_first_poll_comes_soon_after_create(harness: Harness) -> None:
    h = harness
    w = h.worker()
    job = await h.engine.jobs.create(_small(1))
    await h.cycle(w, 0.0)
    row = await h.store.fetchone(
        "SELECT submitted_at, next_poll_at FROM jobs WHERE id = ?", (job.id,)
    )
    assert row is not None and row["submitted_at"] is not None
    wait = row["next_poll_at"] - row["submitted_at"]
    assert FIRST_POLL_SECONDS <= wait <= FIRST_POLL_SECONDS + UP


async def test_a_standby_waits_throttled_at_runway_and_is_nudged_when_the_slot_frees(
    harness: Harness,
) -> None:
    h = harness
    h.configure(worker_settings(max_concurrent_per_model=2, standby_per_model=1))
    w = h.worker()
    jobs = [await h.engine.jobs.create(_small(u)) for u in (1, 2, 3, 4)]
    await h.cycle(w, 0.0)
    states = await h.states()
    # the model's 2 slots plus 1 standby went to Runway; the 4th waits in the bot's queue
    assert [states[j.id] for j in jobs] == [JobState.RUNNING] * 3 + [JobState.QUEUED]
    assert h.sim.created_count == 3
    # the standby is the job whose create reached Runway last (on PostgreSQL the three
    # submits run side by side, so that need not be the third job)
    tasks = {j.id: (await h.job(j.id)).provider_task_id for j in jobs}
    standby = next(job_id for job_id, task in tasks.items() if task == _task(h, 2))
    for _ in range(3):  # PENDING is over: the simulator has it THROTTLED
        await h.cycle(w, 3.0)
    row = await h.store.fetchone(
        "SELECT provider_status, next_poll_at FROM jobs WHERE id = ?", (standby,)
    )
    assert row is not None and row["provider_status"] == "THROTTLED"
    assert row["next_poll_at"] - h.clock.now >= 50  # polled slowly while it waits
    # the first two end (12 s runs): seeing one of them ends nudges the standby
    await h.run_until(w, lambda: h.sim.task_status(_task(h, 0)) == "SUCCEEDED", seconds=1.0)
    await h.run_until(w, lambda: _any_finished(h, [jobs[0].id, jobs[1].id]), seconds=1.0)
    row = await h.store.fetchone(
        "SELECT next_poll_at, last_polled_at FROM jobs WHERE id = ?", (standby,)
    )
    assert row is not None
    assert row["next_poll_at"] - h.clock.now <= 6.0 + 1e-6
    assert row["next_poll_at"] - row["last_polled_at"] >= MIN_POLL_SECONDS
    # and the freed slot took the next job from the bot's queue as the new standby
    await h.cycle(w, 0.0)
    assert (await h.job(jobs[3].id)).state is JobState.RUNNING


def _task(h: Harness, index: int) -> str:
    return h.sim.created_ids[index]


async def _any_finished(h: Harness, job_ids: list[int]) -> bool:
    for job_id in job_ids:
        if (await h.job(job_id)).state.finished:
            return True
    return False
