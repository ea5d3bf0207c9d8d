"""The simulator's clock, prompt directives and task state machine (no HTTP here).

Every task's timeline is derived from simulated time: PENDING for ``pending_seconds``,
then THROTTLED while its model has no free slot (slots are handed out in submission
order), then RUNNING for its run time, then a terminal status.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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
    """Simulated seconds: real monotonic time elapsed times ``time_scale``, plus ``advance()``."""

    def __init__(self, time_scale: float = 1.0, now: Callable[[], float] = time.monotonic) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._real = now
        self._start = now()
        self._offset = 0.0
        self.wall_epoch = time.time()

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

    @property
    def end_of_run(self) -> float:
        """When the task finishes running (only meaningful once started)."""
        assert self.started is not None
        return self.started + self.run_seconds


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
        self, task_id: str, model: str, now: float, run_seconds: float, d: Directives
    ) -> SimTask:
        """Register a new task submitted at ``now``."""
        self.tick(now)
        self._seq += 1
        task = SimTask(
            id=task_id,
            seq=self._seq,
            model=model,
            created=now,
            ready_at=now + self._pending + d.throttle_seconds,
            run_seconds=d.run_seconds if d.run_seconds is not None else run_seconds,
            directives=d,
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
        if now < task.created + self._pending:
            return TaskStatus.PENDING
        return TaskStatus.THROTTLED

    def progress(self, task: SimTask, now: float) -> float:
        """Fraction of the run done (0 before running, capped below 1 while running)."""
        if task.started is None or task.run_seconds <= 0:
            return 0.0
        return round(min(0.99, max(0.0, (now - task.started) / task.run_seconds)), 4)

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
            event = min(next_finish, next_ready)
            if event > now:
                break
            self._cursor = max(self._cursor, event)
            for t in running:
                if t.end_of_run <= self._cursor:
                    self._finish(t)
        self._cursor = max(self._cursor, now)
        self._start_waiting()

    def _finish(self, task: SimTask) -> None:
        task.finished = task.end_of_run
        self._active.pop(task.id, None)
        d = task.directives
        if d.sweep:
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
            if t.started is None and t.ready_at <= self._cursor:
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
