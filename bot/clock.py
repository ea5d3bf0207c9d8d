"""Time for the whole process: the system clock, or a virtual one that runs F times faster.

Production uses :data:`SYSTEM`. Benchmarks, the end-to-end suite and the playground run the
bot on a :class:`VirtualClock`: the event loop's own time (every ``asyncio.sleep``,
``wait_for`` and aiohttp timeout) and the wall clock the worker stores in the jobs table both
advance ``factor`` simulated seconds per real second, so the production constants (5 s poll
floor, 120 s lease, 60 s idle sleep) are used unchanged and only run faster.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """Where the bot reads the time."""

    def time(self) -> float:
        """Seconds since the epoch (what the jobs table stores)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (durations, the event loop)."""
        ...


class SystemClock:
    """The real clocks of the machine."""

    factor = 1.0

    def time(self) -> float:
        """``time.time()``."""
        return time.time()

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()


SYSTEM = SystemClock()


class VirtualClock:
    """A clock that runs ``factor`` times faster than real time from its start.

    ``start`` is the real ``time.monotonic()`` reading at which the clock stands at
    ``epoch`` (default: now, and the real epoch time). ``time.monotonic()`` is one clock for
    every process on a machine, so a process restarted with the same ``start`` and ``epoch``
    carries on the same virtual time (what a harness that kills and restarts the bot needs).
    Both ``time()`` and ``monotonic()`` only ever move forward.
    """

    def __init__(
        self, factor: float, *, epoch: float | None = None, start: float | None = None
    ) -> None:
        if not factor > 0 or factor == float("inf"):
            raise ValueError("factor must be a positive finite number")
        self.factor = float(factor)
        self._real_start = time.monotonic() if start is None else start
        self._epoch = time.time() if epoch is None else epoch

    @property
    def start(self) -> float:
        """The real monotonic time at which the clock stood at its epoch."""
        return self._real_start

    @property
    def epoch(self) -> float:
        """Virtual epoch seconds at ``start``."""
        return self._epoch

    def elapsed(self) -> float:
        """Virtual seconds since the clock was made."""
        return (time.monotonic() - self._real_start) * self.factor

    def time(self) -> float:
        """Virtual seconds since the epoch."""
        return self._epoch + self.elapsed()

    def monotonic(self) -> float:
        """Virtual monotonic seconds."""
        return self._real_start + self.elapsed()

    def real_seconds(self, virtual: float) -> float:
        """How long ``virtual`` seconds take in real time."""
        return virtual / self.factor


class _ScaledSelector(selectors.DefaultSelector):
    """A selector whose waits are ``factor`` times shorter: the loop's timeouts are virtual."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self._factor = factor

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout > 0:
            timeout = timeout / self._factor
        return super().select(timeout)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is a :class:`VirtualClock`'s monotonic time."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(_ScaledSelector(clock.factor))
        self.clock = clock

    def time(self) -> float:
        return self.clock.monotonic()


def real_timeout(seconds: float) -> float:
    """The loop seconds that last ``seconds`` of real time on the running event loop: a
    :class:`VirtualTimeLoop` runs ``factor`` times faster. For timeouts that guard real I/O
    (connecting to a database server), which must not shrink with the simulated schedule."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return seconds
    return seconds * loop.clock.factor if isinstance(loop, VirtualTimeLoop) else seconds


_current: Clock = SYSTEM


def install(clock: Clock) -> None:
    """Make ``clock`` the process's clock (see :func:`current`)."""
    global _current
    _current = clock


def current() -> Clock:
    """The process's clock: :data:`SYSTEM` unless a virtual one was installed."""
    return _current


def now() -> float:
    """The current clock's epoch seconds."""
    return _current.time()


def monotonic() -> float:
    """The current clock's monotonic seconds (the loop's time on a virtual-time loop)."""
    return _current.monotonic()


def utcnow() -> datetime:
    """The current clock's time as an aware UTC datetime."""
    return datetime.fromtimestamp(_current.time(), UTC)


@contextlib.contextmanager
def installed(clock: Clock) -> Iterator[Clock]:
    """Make ``clock`` the process's clock for the ``with`` block, then restore the previous."""
    previous = _current
    install(clock)
    try:
        yield clock
    finally:
        install(previous)


def run(main: Coroutine[Any, Any, T], clock: Clock | None = None) -> T:
    """``asyncio.run(main)`` with ``clock`` as the process's clock while it runs, on a
    virtual-time loop when ``clock`` is a :class:`VirtualClock` (so ``now()`` and the loop
    agree). The previous clock is back when it returns. Without ``clock``: the current one.
    """
    chosen = current() if clock is None else clock
    with installed(chosen):
        if not isinstance(chosen, VirtualClock):
            return asyncio.run(main)
        virtual = chosen
        with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(virtual)) as runner:
            return runner.run(main)
