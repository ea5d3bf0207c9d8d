"""Does the bot's memory grow per job? The real Worker runs K jobs in batches.

The simulator runs in a child process (``python -m bot simulate`` on 127.0.0.1, at a time
scale of ``SCALE``), so this process holds only what the bot itself holds: the worker, the
store, the job service and the Runway client, on a virtual clock running at the same
``SCALE`` (``bot.clock.VirtualClock``), so the worker's production schedule is used
unchanged. After each batch is delivered the script runs gc.collect() and samples this
process's RSS (/proc) and the number of live Python objects. Reported: the least-squares
slope per job after the first (warm-up) batch, and the first and last samples; the
simulator's RSS is reported separately (it keeps every task it has seen, as a task store
would). Bounded by K and by a wall-time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _common as c

from bot import clock
from bot.jobs import JobService
from bot.quota import QuotaService
from bot.runway.client import RunwayClient
from bot.store.db import Store
from bot.worker import Worker

SCALE = 100.0  # simulated seconds per real second, for the simulator and the bot
IN_FLIGHT = 4
USERS = 10


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs (0.0 with fewer than two points)."""
    if len(xs) < 2:
        return 0.0
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    """``python -m bot simulate`` on a free loopback port; returns the process and its URL."""
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "bot", "--log-level", "WARNING", "simulate",
            "--host", "127.0.0.1", "--port", "0", "--time-scale", str(SCALE),
            "--task-seconds", "20", "--throttle", str(IN_FLIGHT),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"the simulator did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[-1].strip()


async def _wait_delivered(store: Store, total: int, deadline: float) -> bool:
    while time.perf_counter() < deadline:
        row = await store.fetchone("SELECT COUNT(*) FROM jobs WHERE delivered_at IS NOT NULL")
        if row is not None and row[0] >= total:
            return True
        await asyncio.sleep(2.0)  # virtual: 20 ms of real time
    return False


async def main(quick: bool) -> int:
    total_jobs, batch, wall_limit = (20, 5, 30.0) if quick else (800, 40, 150.0)
    settings = c.settings(
        quota={"default_limit": 10_000_000, "max_active_jobs_per_user": 1000},
        max_concurrent_per_model=IN_FLIGHT,
    )
    item = c.image_input(640, 360)
    proc, base_url = start_simulator()
    samples: list[dict[str, Any]] = []
    deadline = time.perf_counter() + wall_limit
    started = time.perf_counter()
    done_jobs = 0
    completed = True
    try:
        with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
            store = await Store.open(Path(tmp) / "bot.sqlite3")
            client = RunwayClient(base_url=base_url, api_key=c.SIM_KEY, max_retries=2)
            port = c.CountingPort()
            quota = QuotaService(store, settings.quota, settings.models)
            worker = Worker(
                settings, store, client, port, owner="soak", workdir=Path(tmp) / "work",
                quota=quota, max_parallel=8,
            )  # fmt: skip
            jobs = JobService(settings, store, quota, wake=worker.wake)
            try:
                await worker.start()
                while done_jobs < total_jobs:
                    n = min(batch, total_jobs - done_jobs)
                    for i in range(n):
                        await jobs.create(c.animate(1 + (done_jobs + i) % USERS, item))
                    if not await _wait_delivered(store, done_jobs + n, deadline):
                        completed = False
                        break
                    done_jobs += n
                    port.forget()  # the port stands in for Discord: its records are not the bot's
                    gc.collect()
                    samples.append(
                        {
                            "jobs": done_jobs,
                            "rss_kib": c.rss_kib(),
                            "gc_objects": len(gc.get_objects()),
                            "py_blocks": sys.getallocatedblocks(),
                            "sim_rss_kib": c.rss_kib_of(proc.pid),
                            "elapsed_s": c.rounded(time.perf_counter() - started, 2),
                        }
                    )
                    c.log(f"soak: {samples[-1]}")
                await worker.stop()
                states = {
                    str(r[0]): int(r[1])
                    for r in await store.fetchall("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                }
            finally:
                await worker.abort()
                await client.close()
                await store.close()
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    steady = samples[1:] if len(samples) > 2 else samples
    xs = [float(s["jobs"]) for s in steady]
    rss_slope = slope(xs, [float(s["rss_kib"]) for s in steady])
    obj_slope = slope(xs, [float(s["gc_objects"]) for s in steady])
    late = samples[len(samples) // 2 :]
    late_slope = slope([float(s["jobs"]) for s in late], [float(s["rss_kib"]) for s in late])
    blocks_slope = slope(xs, [float(s["py_blocks"]) for s in steady])
    sim_slope = slope(xs, [float(s["sim_rss_kib"]) for s in steady])
    first, last = (samples[0], samples[-1]) if samples else ({}, {})
    elapsed = time.perf_counter() - started
    c.emit(
        "memory_soak",
        quick,
        {
            "jobs_planned": total_jobs,
            "jobs_done": done_jobs,
            "batch": batch,
            "completed": completed,
            "states": states,
            "elapsed_s": c.rounded(elapsed, 2),
            "jobs_per_min": c.rounded(done_jobs / elapsed * 60, 1),
            "rss_first_kib": first.get("rss_kib"),
            "rss_last_kib": last.get("rss_kib"),
            "rss_slope_kib_per_job": c.rounded(rss_slope, 3),
            "rss_slope_second_half_kib_per_job": c.rounded(late_slope, 3),
            "gc_objects_first": first.get("gc_objects"),
            "gc_objects_last": last.get("gc_objects"),
            "gc_objects_slope_per_job": c.rounded(obj_slope, 3),
            "py_blocks_first": first.get("py_blocks"),
            "py_blocks_last": last.get("py_blocks"),
            "py_blocks_slope_per_job": c.rounded(blocks_slope, 3),
            "ratio_rss_last_vs_first": c.rounded(last["rss_kib"] / first["rss_kib"], 4)
            if samples
            else None,
            "sim_rss_slope_kib_per_job": c.rounded(sim_slope, 3),
            "slope_fitted_on_batches": len(steady),
            "max_sampled_rss_kib": max((s["rss_kib"] for s in samples), default=None),
            "samples": samples,
        },
    )
    return 0 if completed else 1


if __name__ == "__main__":
    args = c.parse_args(__doc__ or "")
    sys.exit(clock.run(main(args.quick), clock.VirtualClock(SCALE)))
