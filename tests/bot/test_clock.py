import asyncio
import math
import time
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web

from bot import clock
from bot.clock import SYSTEM, VirtualClock, VirtualTimeLoop


class StoppedClock:
    """A clock that stands still (epoch 1000, monotonic 5)."""

    def time(self) -> float:
        return 1000.0

    def monotonic(self) -> float:
        return 5.0


@pytest.mark.parametrize("factor", [0, -1, math.inf, math.nan])
def test_factor_must_be_positive_and_finite(factor: float) -> None:
    with pytest.raises(ValueError, match="factor"):
        VirtualClock(factor)


def test_a_virtual_clock_runs_factor_times_faster_from_its_anchor() -> None:
    anchor = time.monotonic() - 2.0  # the clock stood at its epoch two real seconds ago
    c = VirtualClock(30.0, epoch=1_000_000.0, start=anchor)
    assert c.elapsed() >= 60.0
    assert c.time() >= 1_000_060.0
    assert c.monotonic() >= anchor + 60.0
    assert c.real_seconds(60.0) == 2.0
    first = c.time()
    assert c.time() >= first  # never goes back


def test_a_restarted_process_carries_on_the_same_virtual_time() -> None:
    before = VirtualClock(25.0)
    again = VirtualClock(25.0, start=before.start, epoch=before.epoch)
    t1, t2 = before.time(), again.time()
    assert t2 >= t1
    assert t2 - t1 < 25.0 * 5  # within a few real seconds of each other, not reset
    fresh = VirtualClock(25.0, start=time.monotonic() - 10.0)
    assert fresh.time() - time.time() >= 240.0  # ahead of the real clock by 10 s x 24


def test_now_follows_the_installed_clock_and_installed_restores_it() -> None:
    assert clock.current() is SYSTEM
    with clock.installed(StoppedClock()):
        assert clock.now() == 1000.0
        assert clock.monotonic() == 5.0
        assert clock.utcnow() == datetime.fromtimestamp(1000.0, UTC)
    assert clock.current() is SYSTEM
    assert abs(clock.now() - time.time()) < 5.0


def test_run_installs_the_clock_while_the_coroutine_runs() -> None:
    stopped = StoppedClock()

    async def main() -> tuple[float, bool]:
        return clock.now(), isinstance(asyncio.get_running_loop(), VirtualTimeLoop)

    assert clock.run(main(), stopped) == (1000.0, False)
    assert clock.current() is SYSTEM


def test_sleeps_and_timeouts_run_on_virtual_time() -> None:
    virtual = VirtualClock(1000.0)

    async def main() -> tuple[float, float, float, bool]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        assert clock.current() is virtual
        real0, loop0, wall0 = time.monotonic(), loop.time(), clock.now()
        await asyncio.sleep(60.0)  # a minute of virtual time
        timed_out = False
        try:
            await asyncio.wait_for(asyncio.Event().wait(), 120.0)
        except TimeoutError:
            timed_out = True
        return loop.time() - loop0, clock.now() - wall0, time.monotonic() - real0, timed_out

    looped, walled, real, timed_out = clock.run(main(), virtual)
    assert timed_out
    assert looped >= 180.0 and walled >= 180.0  # the loop and now() agree
    assert real < 30.0  # 180 virtual seconds took a fraction of that in real time
    assert clock.current() is SYSTEM


def test_aiohttp_timeouts_are_virtual_too() -> None:
    async def main() -> tuple[float, float]:
        async def stall(request: web.Request) -> web.Response:
            await asyncio.Event().wait()
            return web.Response()  # pragma: no cover - never answers

        app = web.Application()
        app.router.add_get("/", stall)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        loop = asyncio.get_running_loop()
        try:
            timeout = aiohttp.ClientTimeout(total=90.0)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                real0, loop0 = time.monotonic(), loop.time()
                with pytest.raises(TimeoutError):
                    await http.get(f"http://127.0.0.1:{port}/")
                return loop.time() - loop0, time.monotonic() - real0
        finally:
            await runner.cleanup()

    virtual_elapsed, real_elapsed = clock.run(main(), VirtualClock(500.0))
    assert virtual_elapsed >= 90.0
    assert real_elapsed < 30.0


def test_real_timeout_scales_by_the_running_loops_factor_only() -> None:
    assert clock.real_timeout(10.0) == 10.0  # no loop running

    async def inside() -> float:
        return clock.real_timeout(10.0)

    assert clock.run(inside(), VirtualClock(50.0)) == 500.0
    assert asyncio.run(inside()) == 10.0
    with clock.installed(VirtualClock(50.0)):  # a virtual clock, but the loop's time is real
        assert asyncio.run(inside()) == 10.0


def test_a_real_timeout_on_a_virtual_loop_waits_that_long_in_real_time() -> None:
    """What the PostgreSQL connect timeout relies on: under factor 50, 0.3 s stays 0.3 real
    seconds (a plain 0.3 s timeout would fire after 6 ms)."""

    async def wait() -> float:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), clock.real_timeout(0.3))
        return time.monotonic() - started

    # a timer never fires before its loop time: a lower bound, whatever the machine's load
    assert clock.run(wait(), VirtualClock(50.0)) >= 0.3
