"""The real Worker driving jobs of several users from queued to delivered.

A real SQLite store, the real JobService, the real RunwayClient and the in-process
simulator on 127.0.0.1, all on one virtual clock (``bot.clock.VirtualClock``) running
``SCALE`` times faster than real time: the worker uses its production schedule unchanged
(5 s poll floor, progress-based polls, 60 s idle sleep) and the simulator's tasks take their
simulated time on the same clock. One heavy user queues many jobs, then a few light users
queue one each. Reported: jobs/min (real time), GETs per task, the shortest interval between
two GETs of one task in simulated seconds (must be >= the 5 s floor), and fairness: the
longest queue wait of a light user against the heavy user's (waits and turnarounds in
simulated seconds).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import _common as c

from bot import clock
from bot.jobs import JobService
from bot.quota import QuotaService
from bot.runway.client import RunwayClient
from bot.runway.models import ImageToVideoRequest, Task
from bot.simulator import RunwaySimulator, SimulatorOptions
from bot.store.db import Store
from bot.worker import Worker
from bot.worker.scheduling import MIN_POLL_SECONDS

SCALE = 100.0  # virtual (simulated) seconds per real second
STATUS_EDIT_SECONDS = 0.25  # a status edit's round trip to Discord (simulated seconds)
IN_FLIGHT = 4  # per model, in the bot and at the simulator
HEAVY = 1


class TimedClient(RunwayClient):
    """The real client, noting the simulator's clock at each create and GET of a task."""

    def __init__(self, sim: RunwaySimulator, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sim = sim
        self.gets: dict[str, list[float]] = defaultdict(list)
        self.created: dict[str, float] = {}

    async def create_image_to_video(self, request: ImageToVideoRequest) -> str:
        task_id = await super().create_image_to_video(request)
        self.created[task_id] = self._sim.clock.now()
        return task_id

    async def get_task(self, task_id: str) -> Task:
        self.gets[task_id].append(self._sim.clock.now())
        return await super().get_task(task_id)


async def _wait_delivered(store: Store, total: int, limit_s: float) -> bool:
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        row = await store.fetchone("SELECT COUNT(*) FROM jobs WHERE delivered_at IS NOT NULL")
        if row is not None and row[0] >= total:
            return True
        await asyncio.sleep(1.0)  # virtual: 10 ms of real time
    return False


async def main(quick: bool) -> int:
    heavy_jobs, light_users, limit_s = (6, 2, 40.0) if quick else (150, 6, 110.0)
    total = heavy_jobs + light_users
    settings = c.settings(
        quota={"default_limit": 1_000_000, "max_active_jobs_per_user": 1000},
        max_concurrent_per_model=IN_FLIGHT,
    )
    # On the process clock (the virtual one ``clock.run`` installed): no time scale of its own.
    # One clip rendered for all (same input and request): rendering each would cost real CPU
    # seconds, hundreds of simulated ones, and measure the simulator's encoder, not the bot.
    options = SimulatorOptions(
        task_seconds=20.0, pending_seconds=1.0, concurrency=IN_FLIGHT, reuse_clips=True
    )
    item = c.image_input(640, 360)
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as tmp:
        async with RunwaySimulator(options) as sim:
            store = await Store.open(Path(tmp) / "bot.sqlite3")
            client = TimedClient(
                sim, base_url=sim.base_url, api_key=c.SIM_KEY, max_retries=2, backoff_base=0.01
            )
            port = c.CountingPort(edit_seconds=STATUS_EDIT_SECONDS)
            quota = QuotaService(store, settings.quota, settings.models)
            worker = Worker(
                settings, store, client, port, owner="bench", workdir=Path(tmp) / "work",
                quota=quota, max_parallel=8,
            )  # fmt: skip
            jobs = JobService(settings, store, quota, wake=worker.wake)
            try:
                started, sim_started = time.perf_counter(), clock.now()
                heavy = [await jobs.create(c.animate(HEAVY, item)) for _ in range(heavy_jobs)]
                await worker.start()
                while sim.created_count < min(IN_FLIGHT, heavy_jobs):  # noqa: ASYNC110
                    await asyncio.sleep(1.0)  # the heavy user's first jobs reach Runway
                light = [await jobs.create(c.animate(100 + u, item)) for u in range(light_users)]
                light_positions = [await jobs.queue_position(j.id) for j in light]
                heavy_last_position = await jobs.queue_position(heavy[-1].id)
                done = await _wait_delivered(store, total, limit_s)
                elapsed = time.perf_counter() - started
                sim_elapsed = clock.now() - sim_started
                await worker.stop()
                rows = await store.fetchall(
                    "SELECT id, user_id, state, created_at, submitted_at, delivered_at FROM jobs"
                )
            finally:
                await worker.abort()
                await client.close()
                await store.close()
            created_count = sim.created_count

    waits: dict[str, list[float]] = {"heavy": [], "light": []}
    turnaround: dict[str, list[float]] = {"heavy": [], "light": []}
    states: dict[str, int] = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
        who = "heavy" if r["user_id"] == HEAVY else "light"
        if r["submitted_at"] is not None:
            waits[who].append(r["submitted_at"] - r["created_at"])
        if r["delivered_at"] is not None:
            turnaround[who].append(r["delivered_at"] - r["created_at"])
    intervals = [b - a for times in client.gets.values() for a, b in itertools.pairwise(times)]
    first_gets = [
        client.gets[t][0] - created for t, created in client.created.items() if client.gets[t]
    ]
    polls = [len(v) for v in client.gets.values()]
    min_interval = min(intervals) if intervals else None
    floor_ok = min_interval is None or min_interval >= MIN_POLL_SECONDS * 0.999
    per_sim_min = total / sim_elapsed * 60
    # Runway's slots, each busy pending + running seconds per task: the most the bot can get.
    ideal_per_sim_min = IN_FLIGHT * 60 / (options.task_seconds + options.pending_seconds)
    heavy_max = max(waits["heavy"], default=0.0)
    light_max = max(waits["light"], default=0.0)
    c.emit(
        "worker_throughput",
        quick,
        {
            "jobs": total,
            "heavy_user_jobs": heavy_jobs,
            "light_users": light_users,
            "all_delivered": done,
            "clips_delivered": len(port.clips),
            "failures_delivered": len(port.failures),
            "states": states,
            "tasks_created_at_simulator": created_count,
            "sim_time_scale": SCALE,
            "simulated_s": c.rounded(sim_elapsed),
            "in_flight_per_model": IN_FLIGHT,
            "elapsed_s": c.rounded(elapsed),
            "jobs_per_min": c.rounded(total / elapsed * 60, 1),
            "jobs_per_simulated_min": c.rounded(per_sim_min, 2),
            "max_jobs_per_simulated_min": c.rounded(ideal_per_sim_min, 2),
            "ratio_runway_slot_utilization": c.rounded(per_sim_min / ideal_per_sim_min, 3),
            "polls_per_task_mean": c.rounded(sum(polls) / len(polls), 2) if polls else None,
            "polls_per_task_max": max(polls, default=0),
            "min_poll_interval_sim_s": c.rounded(min_interval, 3) if min_interval else None,
            "min_create_to_first_poll_sim_s": c.rounded(min(first_gets), 3) if first_gets else None,
            "poll_floor_sim_s": MIN_POLL_SECONDS,
            "poll_floor_respected": floor_ok,
            "light_queue_positions_at_create": light_positions,
            "heavy_last_job_queue_position": heavy_last_position,
            "light_max_wait_s": c.rounded(light_max),
            "heavy_max_wait_s": c.rounded(heavy_max),
            "heavy_mean_wait_s": c.rounded(sum(waits["heavy"]) / max(1, len(waits["heavy"]))),
            "ratio_light_vs_heavy_max_wait": c.rounded(light_max / heavy_max, 3)
            if heavy_max
            else None,
            "light_max_turnaround_s": c.rounded(max(turnaround["light"], default=0.0)),
            "heavy_max_turnaround_s": c.rounded(max(turnaround["heavy"], default=0.0)),
            "status_updates": port.status_updates,
            "status_edit_s": STATUS_EDIT_SECONDS,
            "peak_rss_kib": c.peak_rss_kib(),
        },
    )
    ok = done and floor_ok and created_count == total and len(port.clips) == total
    if not ok:
        c.log("FAIL: not every job was delivered once as a clip, or the poll floor was broken")
    return 0 if ok else 1


if __name__ == "__main__":
    args = c.parse_args(__doc__ or "")
    sys.exit(clock.run(main(args.quick), clock.VirtualClock(SCALE)))
