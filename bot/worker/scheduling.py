"""Pure timing rules of the worker: when to poll a task next, how long to back off.

Runway asks for at most one poll per 5 s per task, with jitter. Every delay returned
here is at least ``floor`` (5 s in production) *after* jitter is applied.

The schedule aims at one GET per phase where something can happen:

- a first GET soon after create (input moderation fails tasks in PENDING or the first
  seconds of RUNNING), and an early probe once the run has started;
- a THROTTLED task (waiting for one of the model's slots) is polled slowly: the worker
  nudges it (:func:`nudge_at`) when it sees another task of its model end, which is when
  Runway starts it;
- a RUNNING task is polled once part-way to learn its progress rate (when to expect it is
  guessed from the model's recent run times, :class:`RunTimes`), then shortly before the
  end that rate predicts, then just after it;
  never more than ``RUNNING_MAX_POLL_SECONDS`` apart, so a task that fails part-way is
  seen within about that long.

Jitter only ever lengthens a delay (+0..``JITTER_UP_SECONDS``): a GET before the predicted
end is usually a wasted one.
"""

from __future__ import annotations

import random

from ..runway.models import TaskStatus

MIN_POLL_SECONDS = 5.0
FIRST_POLL_SECONDS = 7.0  # after create: most moderation failures are known by then
PENDING_POLL_SECONDS = 6.0
THROTTLED_POLL_SECONDS = 120.0  # slow: a nudge brings it forward when a slot frees
NUDGE_PROBE_SECONDS = 6.0  # after a slot frees: the early probe of the task that took it
EARLY_WINDOW_SECONDS = 6.0  # the first seconds of RUNNING, where failures cluster
RUNNING_DEFAULT_POLL_SECONDS = 6.0
RUNNING_MAX_POLL_SECONDS = 60.0  # the most a running task waits between two GETs
END_WINDOW_SECONDS = 12.0  # predicted remaining under this: the next GET is the end one
END_MARGIN_SECONDS = 1.5  # the end GET lands this long after the predicted end
REFINE_LEAD_SECONDS = 8.0  # a refining GET lands at least this long before the end
REFINE_LEAD_FRACTION = 0.25  # ... or this share of the time left, if longer
CONFIDENT_PROGRESS = 0.25  # from this far on, progress gives a rate to trust
LEARN_FRACTION = 0.6  # unsure of the end: the next GET after this share of the time left
MIN_SPAN = 0.1  # two readings closer than this in progress give too noisy a rate
MIN_USABLE_PROGRESS = 0.02  # a lone reading under this says nothing about the end
TRUST_PROGRESS_FROM = 0.25  # below this a lone progress reading is too noisy to extrapolate
DEFAULT_RUN_SECONDS = 90.0  # a model's run time before any was measured
RUN_TIMES_KEPT = 20
JITTER = 0.15  # +-15 % (back-off only)
JITTER_UP_SECONDS = 1.0
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 300.0


def jittered(delay: float, rng: random.Random, *, floor: float) -> float:
    """``delay`` with +-JITTER random spread, never below ``floor``."""
    return max(floor, delay * (1.0 + rng.uniform(-JITTER, JITTER)))


def later(delay: float, rng: random.Random, *, floor: float = MIN_POLL_SECONDS) -> float:
    """``delay`` (at least ``floor``) plus 0..JITTER_UP_SECONDS: jitter only upwards."""
    return max(floor, delay) + rng.uniform(0.0, JITTER_UP_SECONDS)


def submit_room(concurrency: int, in_flight: int, standby: int = 0) -> int:
    """How many more jobs of a model to send now: its slots plus ``standby``, minus those
    already at Runway. A standby waits THROTTLED there, so a freed slot starts it at once
    (the bot's fair order and free cancel still hold for the rest of the queue)."""
    return concurrency + standby - in_flight


def nudge_at(now: float, last_polled_at: float | None, *, floor: float = MIN_POLL_SECONDS) -> float:
    """When to poll a THROTTLED task whose model just freed a slot (never within ``floor``
    of its last GET)."""
    at = now + NUDGE_PROBE_SECONDS
    return at if last_polled_at is None else max(at, last_polled_at + floor)


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


class RunTimes:
    """Recent run times per model and each running task's estimated start (in memory: after a
    restart the defaults hold until a few tasks have ended)."""

    def __init__(self) -> None:
        self._runs: dict[str, list[float]] = {}
        self.starts: dict[int, float] = {}

    def expected(self, model: str) -> float:
        """The median of the model's recent run times (DEFAULT_RUN_SECONDS before any)."""
        runs = sorted(self._runs.get(model, ()))
        if not runs:
            return DEFAULT_RUN_SECONDS
        mid = len(runs) // 2
        return runs[mid] if len(runs) % 2 else (runs[mid - 1] + runs[mid]) / 2

    def shortest(self, model: str) -> float:
        """The shortest of the model's recent run times (a third of the default before any)."""
        return min(self._runs.get(model) or (DEFAULT_RUN_SECONDS / 3,))

    def add(self, model: str, seconds: float) -> None:
        """Note one finished run of ``model``."""
        if seconds <= 0:
            return
        runs = self._runs.setdefault(model, [])
        runs.append(seconds)
        del runs[:-RUN_TIMES_KEPT]

    def start_of(
        self, job_id: int, now: float, progress: float, expected: float, not_before: float
    ) -> float:
        """The estimated start of a running task: kept from its first RUNNING reading, where
        ``progress`` times the expected run time is taken back from ``now`` (but not before
        ``not_before``, its last GET that was not RUNNING, or its submission)."""
        known = self.starts.get(job_id)
        if known is None:
            known = min(now, max(not_before, now - progress * expected))
            self.starts[job_id] = known
        return known

    def finished(self, job_id: int, model: str, end: float, *, succeeded: bool) -> None:
        """The task ended about ``end``: learn its run time (only a full run teaches one)."""
        start = self.starts.pop(job_id, None)
        if start is not None and succeeded:
            self.add(model, end - start)


def running_delay(
    rng: random.Random,
    *,
    now: float,
    progress: float | None,
    start: float,
    expected: float,
    previous: tuple[float, float] | None,
    first_running: bool,
    shortest: float | None = None,
    floor: float = MIN_POLL_SECONDS,
) -> float:
    """Seconds until the next GET of a RUNNING task.

    ``previous`` is the last RUNNING reading ``(time, progress)`` before this one, if any;
    ``start`` the task's estimated start; ``expected`` the model's usual run time and
    ``shortest`` its shortest recent one.
    """
    elapsed = max(0.0, now - start)
    if first_running and elapsed < EARLY_WINDOW_SECONDS:
        return later(start + EARLY_WINDOW_SECONDS + 1.0 - now, rng, floor=floor)
    remaining = predict_remaining(now, progress, start, expected, previous)
    done = progress or 0.0
    if done < CONFIDENT_PROGRESS:
        # unsure of the end: learn the rate first, before the soonest end that is plausible
        if done >= MIN_USABLE_PROGRESS:
            remaining = min(remaining, elapsed / done - elapsed)
        if shortest is not None and shortest > elapsed:
            remaining = min(remaining, shortest - elapsed)
        delay = LEARN_FRACTION * remaining
    elif remaining <= END_WINDOW_SECONDS:
        delay = remaining + END_MARGIN_SECONDS
    else:
        delay = remaining - max(REFINE_LEAD_SECONDS, REFINE_LEAD_FRACTION * remaining)
    return later(min(RUNNING_MAX_POLL_SECONDS, delay), rng, floor=floor)


def predict_remaining(
    now: float,
    progress: float | None,
    start: float,
    expected: float,
    previous: tuple[float, float] | None,
) -> float:
    """Seconds left in a run: from the progress rate between two readings far enough apart,
    else from one reading once it says enough, else the model's usual run time."""
    elapsed = max(0.0, now - start)
    if progress is not None and previous is not None and progress - previous[1] >= MIN_SPAN:
        rate = estimate_remaining(progress, previous[1], now - previous[0])
        if rate is not None:
            return rate
    if progress is not None and progress >= TRUST_PROGRESS_FROM:
        return max(0.0, elapsed / progress - elapsed)
    return max(0.0, expected - elapsed)


def next_poll_delay(
    status: TaskStatus,
    rng: random.Random,
    *,
    progress: float | None = None,
    previous_progress: float | None = None,
    seconds_since_previous: float | None = None,
    floor: float = MIN_POLL_SECONDS,
) -> float:
    """Seconds until the next GET of a task in ``status`` when nothing more is known.

    PENDING soon (moderation fails tasks there), THROTTLED slowly (a freed slot nudges it);
    RUNNING at the pace its progress suggests (the time left, clamped to [floor, max]).
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
    return later(base, rng, floor=floor)


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
