"""The simulator's clock, prompt directives and task state machine (no HTTP here).

Every task's timeline is derived from simulated time: PENDING for ``pending_seconds``,
then THROTTLED while its model has no free slot (slots are handed out in submission
order), then RUNNING for its run time, then a terminal status.

By default every task has the same pending and run time and progress is linear. A
:class:`Realism` (opt-in) draws each task's :class:`TaskPlan` from a seeded generator instead:
lognormal run times (per model, clipped to 30-180 s), a lognormal PENDING phase, a few %
failing early as input moderation does (in PENDING or the first seconds of RUNNING), a few %
failing at a random point of the run, and progress that is not linear.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import clock as clocks
from ..clock import Clock
from ..runway.models import TaskStatus

_DIRECTIVE = re.compile(r"\[sim:([a-z_]+)(?:=([^\]]*))?\]", re.IGNORECASE)

# Values the gateway-dialect directives accept (anything else is ignored).
CREATE_SHAPES = frozenset(
    {"id", "id_cost", "task_id", "openai_video", "envelope_str", "envelope_obj", "empty"}
)
INNER_MODES = frozenset({"null", "stale"})
URL_PLACES = frozenset({"output", "result_url", "fail_reason", "gateway"})
SWEEP_REASON = "task timeout"


class SimClock:
    """Simulated seconds: ``time_scale`` times the seconds elapsed on a base clock, plus
    ``advance()``.

    The base is the process clock (:func:`bot.clock.current`) unless ``clock`` is given, so a
    simulator in a process running on a :class:`~bot.clock.VirtualClock` runs on that clock
    (then ``time_scale`` 1 keeps it in step with the bot). ``now`` overrides the base's
    monotonic time (tests).
    """

    def __init__(
        self,
        time_scale: float = 1.0,
        now: Callable[[], float] | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        base = clock if clock is not None else clocks.current()
        self.time_scale = time_scale
        self._real = now if now is not None else base.monotonic
        self._start = self._real()
        self._offset = 0.0
        self.wall_epoch = base.time()

    def now(self) -> float:
        """Simulated seconds since the clock was made."""
        return (self._real() - self._start) * self.time_scale + self._offset

    def advance(self, seconds: float) -> None:
        """Jump the simulated clock forward."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds

    def wall(self, sim_time: float) -> float:
        """The Unix time a simulated instant stands for."""
        return self.wall_epoch + sim_time


@dataclass(frozen=True)
class Directives:
    """What ``[sim:...]`` markers in a prompt asked for."""

    fail_code: str | None = None
    throttle_seconds: float = 0.0
    run_seconds: float | None = None
    big_mb: float = 0.0
    cancel: bool = False
    create_shape: str | None = None  # one of CREATE_SHAPES; None: {"id": ...}
    inner: str | None = None  # one of INNER_MODES; None: the live raw task
    url: str | None = None  # one of URL_PLACES; None: the inner ``output``
    flicker: int = 0
    sweep: bool = False


def parse_directives(prompt: str | None) -> tuple[Directives, str]:
    """The directives in ``prompt`` and the prompt with them stripped."""
    if not prompt:
        return Directives(), prompt or ""
    found: dict[str, str] = {}
    for match in _DIRECTIVE.finditer(prompt):
        found[match.group(1).lower()] = (match.group(2) or "").strip()
    clean = " ".join(_DIRECTIVE.sub(" ", prompt).split())
    run = _number(found.get("seconds"), -1.0)
    flicker = found.get("flicker")
    return (
        Directives(
            fail_code=found.get("fail") or None,
            throttle_seconds=_number(found.get("throttle"), 0.0),
            run_seconds=run if run >= 0 else None,
            big_mb=_number(found.get("big"), 0.0),
            cancel="cancel" in found,
            create_shape=_choice(found.get("create"), CREATE_SHAPES),
            inner=_choice(found.get("inner"), INNER_MODES),
            url=_choice(found.get("url"), URL_PLACES),
            flicker=1 if flicker == "" else int(_number(flicker, 0.0)),
            sweep="sweep" in found,
        ),
        clean,
    )


def _choice(text: str | None, allowed: frozenset[str]) -> str | None:
    value = (text or "").lower()
    return value if value in allowed else None


def _number(text: str | None, default: float) -> float:
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


EARLY_FAILURE_CODE = "SAFETY.INPUT.IMAGE"
PARTWAY_FAILURE_CODE = "INTERNAL"


@dataclass(frozen=True)
class TaskPlan:
    """One task's drawn timeline (realistic mode). Seconds are simulated.

    ``fail_in_pending`` is seconds after create (within PENDING), ``fail_after_start`` seconds
    after the task starts running; at most one is set. ``warp`` bends progress:
    ``x + warp * x * (1 - x)`` for the fraction ``x`` of the run done.
    """

    pending_seconds: float
    run_seconds: float
    fail_in_pending: float | None = None
    fail_after_start: float | None = None
    fail_code: str | None = None
    warp: float = 0.0

    @property
    def failure(self) -> str | None:
        """``"early"``, ``"partway"`` or None (the task succeeds)."""
        if self.fail_in_pending is not None:
            return "early"
        if self.fail_after_start is None:
            return None
        return "partway" if self.fail_code == PARTWAY_FAILURE_CODE else "early"


@dataclass(frozen=True)
class Realism:
    """How realistic tasks are drawn. The ``k``-th task of a model gets the same plan in every
    run with the same ``seed``, whoever submits it and when (reproducible comparisons)."""

    seed: int = 0
    run_median_seconds: float = 80.0
    model_spread: float = 0.3  # each model's median is the overall one times 1 +- this
    run_sigma: float = 0.3  # lognormal sigma of one task's run time around its model's
    run_min_seconds: float = 30.0
    run_max_seconds: float = 180.0
    pending_median_seconds: float = 4.0
    pending_sigma: float = 0.4
    pending_min_seconds: float = 1.0
    pending_max_seconds: float = 12.0
    early_failure_rate: float = 0.04
    early_running_window_seconds: float = 6.0  # "the first seconds of RUNNING"
    early_in_pending_share: float = 0.6  # of early failures, the share that fail in PENDING
    partway_failure_rate: float = 0.04
    progress_warp: float = 0.2  # |warp| at most this

    def model_median(self, model: str) -> float:
        """The median run time of ``model`` (fixed by the seed and the model's name)."""
        rng = random.Random(_seed_of(self.seed, "model", model))
        return self.run_median_seconds * (1.0 + rng.uniform(-self.model_spread, self.model_spread))

    def plan(self, model: str, index: int) -> TaskPlan:
        """The plan of the ``index``-th task (0, 1, ...) created for ``model``."""
        rng = random.Random(_seed_of(self.seed, "task", model, str(index)))
        pending = _clip(
            rng.lognormvariate(math.log(self.pending_median_seconds), self.pending_sigma),
            self.pending_min_seconds,
            self.pending_max_seconds,
        )
        run = _clip(
            rng.lognormvariate(math.log(self.model_median(model)), self.run_sigma),
            self.run_min_seconds,
            self.run_max_seconds,
        )
        warp = rng.uniform(-self.progress_warp, self.progress_warp)
        roll = rng.random()
        where = rng.random()
        at = rng.random()
        early, partway = EARLY_FAILURE_CODE, PARTWAY_FAILURE_CODE
        if roll < self.early_failure_rate and where < self.early_in_pending_share:
            return TaskPlan(pending, run, fail_in_pending=at * pending, fail_code=early, warp=warp)
        if roll < self.early_failure_rate:
            after = at * min(self.early_running_window_seconds, run)
            return TaskPlan(pending, run, fail_after_start=after, fail_code=early, warp=warp)
        if roll < self.early_failure_rate + self.partway_failure_rate:
            after = (0.1 + 0.85 * at) * run
            return TaskPlan(pending, run, fail_after_start=after, fail_code=partway, warp=warp)
        return TaskPlan(pending, run, warp=warp)


def _seed_of(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


def _clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


@dataclass
class SimTask:
    """One task on the board. Times are simulated seconds."""

    id: str
    seq: int
    model: str
    created: float
    ready_at: float
    run_seconds: float
    directives: Directives = field(default_factory=Directives)
    started: float | None = None
    finished: float | None = None
    final: TaskStatus | None = None
    failure_code: str | None = None
    failure: str | None = None
    pending_until: float = 0.0
    plan: TaskPlan | None = None

    @property
    def end_of_run(self) -> float:
        """When the task stops running, done or failed (only meaningful once started)."""
        assert self.started is not None
        if self.plan is not None and self.plan.fail_after_start is not None:
            return self.started + min(self.plan.fail_after_start, self.run_seconds)
        return self.started + self.run_seconds

    @property
    def pending_failure_at(self) -> float | None:
        """When the task fails in PENDING (realistic mode), else None."""
        if self.plan is None or self.plan.fail_in_pending is None:
            return None
        return self.created + self.plan.fail_in_pending


class TaskBoard:
    """All tasks and the per-model slot scheduler, advanced lazily to a given time.

    Scheduling only looks at unfinished tasks, so finished ones kept for later GETs cost
    nothing per request.
    """

    def __init__(self, concurrency: int | dict[str, int], pending_seconds: float) -> None:
        self.tasks: dict[str, SimTask] = {}
        self._active: dict[str, SimTask] = {}
        self._concurrency = concurrency
        self._pending = pending_seconds
        self._cursor = 0.0
        self._seq = 0

    def limit(self, model: str) -> int:
        """How many tasks of ``model`` may run at once."""
        if isinstance(self._concurrency, int):
            return max(1, self._concurrency)
        return max(1, self._concurrency.get(model, self._concurrency.get("*", 2)))

    def add(
        self,
        task_id: str,
        model: str,
        now: float,
        run_seconds: float,
        d: Directives,
        plan: TaskPlan | None = None,
    ) -> SimTask:
        """Register a new task submitted at ``now`` (timed by ``plan`` when given; a
        ``[sim:seconds]`` directive still sets the run time)."""
        self.tick(now)
        self._seq += 1
        pending = plan.pending_seconds if plan is not None else self._pending
        if plan is not None:
            run_seconds = plan.run_seconds
        task = SimTask(
            id=task_id,
            seq=self._seq,
            model=model,
            created=now,
            ready_at=now + pending + d.throttle_seconds,
            run_seconds=d.run_seconds if d.run_seconds is not None else run_seconds,
            directives=d,
            pending_until=now + pending,
            plan=plan,
        )
        self.tasks[task_id] = task
        self._active[task_id] = task
        return task

    def status(self, task: SimTask, now: float) -> TaskStatus:
        """The status ``task`` reports at ``now``."""
        self.tick(now)
        if task.final is not None:
            return task.final
        if task.started is not None:
            return TaskStatus.RUNNING
        if now < task.pending_until:
            return TaskStatus.PENDING
        return TaskStatus.THROTTLED

    def progress(self, task: SimTask, now: float) -> float:
        """Fraction of the run done (0 before running, capped below 1 while running);
        bent by the plan's warp in realistic mode."""
        if task.started is None or task.run_seconds <= 0:
            return 0.0
        x = min(1.0, max(0.0, (now - task.started) / task.run_seconds))
        if task.plan is not None:
            x += task.plan.warp * x * (1.0 - x)
        return round(min(0.99, max(0.0, x)), 4)

    def cancel(self, task: SimTask, now: float) -> bool:
        """Cancel an unfinished task at ``now``; False if it had already finished."""
        self.tick(now)
        if task.final is not None:
            return False
        task.final = TaskStatus.CANCELLED
        task.finished = now
        self._active.pop(task.id, None)
        self._start_waiting()
        return True

    def remove(self, task_id: str) -> None:
        """Forget a task (DELETE of a terminal task, or eviction after retention)."""
        self.tasks.pop(task_id, None)
        self._active.pop(task_id, None)

    def count_running(self, model: str) -> int:
        """Tasks of ``model`` holding a slot right now."""
        return sum(
            1
            for t in self._active.values()
            if t.model == model and t.started is not None and t.final is None
        )

    def tick(self, now: float) -> None:
        """Process every start and finish that happened up to ``now``, in time order."""
        while True:
            self._start_waiting()
            running = [t for t in self._active.values() if t.started is not None]
            waiting = [t for t in self._active.values() if t.started is None]
            next_finish = min((t.end_of_run for t in running), default=math.inf)
            next_ready = min(
                (t.ready_at for t in waiting if t.ready_at > self._cursor), default=math.inf
            )
            fails = [(t.pending_failure_at, t) for t in waiting]
            next_fail = min((at for at, _ in fails if at is not None), default=math.inf)
            event = min(next_finish, next_ready, next_fail)
            if event > now:
                break
            self._cursor = max(self._cursor, event)
            for at, t in fails:
                if at is not None and at <= self._cursor:
                    self._fail_pending(t, at)
            for t in running:
                if t.end_of_run <= self._cursor:
                    self._finish(t)
        self._cursor = max(self._cursor, now)
        self._start_waiting()

    def _fail_pending(self, task: SimTask, at: float) -> None:
        task.finished = at
        self._active.pop(task.id, None)
        task.final = TaskStatus.FAILED
        task.failure_code = task.plan.fail_code if task.plan is not None else None
        task.failure = f"The task failed ({task.failure_code})."

    def _finish(self, task: SimTask) -> None:
        task.finished = task.end_of_run
        self._active.pop(task.id, None)
        d = task.directives
        plan = task.plan
        if plan is not None and plan.fail_after_start is not None:
            task.final = TaskStatus.FAILED
            task.failure_code = plan.fail_code
            task.failure = f"The task failed ({plan.fail_code})."
        elif d.sweep:
            task.final = TaskStatus.FAILED
            task.failure = SWEEP_REASON
        elif d.fail_code:
            task.final = TaskStatus.FAILED
            task.failure_code = d.fail_code
            task.failure = f"The task failed ({d.fail_code})."
        elif d.cancel:
            task.final = TaskStatus.CANCELLED
        else:
            task.final = TaskStatus.SUCCEEDED

    def _start_waiting(self) -> None:
        by_model: dict[str, list[SimTask]] = {}
        for t in self._active.values():
            failing = t.pending_failure_at is not None and t.pending_failure_at <= self._cursor
            if t.started is None and t.ready_at <= self._cursor and not failing:
                by_model.setdefault(t.model, []).append(t)
        for model, queue in by_model.items():
            free = self.limit(model) - self.count_running(model)
            for t in sorted(queue, key=lambda x: x.seq)[: max(0, free)]:
                t.started = max(self._cursor, t.ready_at)


def parse_throttle(text: str | None, default: int = 2) -> int | dict[str, int]:
    """``--throttle``: ``"2"`` for every model, or ``"gen4_turbo=1,veo3.1=3"`` (``*=N`` default)."""
    if not text:
        return default
    text = text.strip()
    if text.isdigit():
        return int(text)
    out: dict[str, int] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit() or int(value) < 1:
            raise ValueError(f"bad --throttle item {item!r}: expected MODEL=N with N >= 1")
        out[name.strip()] = int(value)
    return out
