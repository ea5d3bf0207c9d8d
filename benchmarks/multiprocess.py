"""Several worker processes on one PostgreSQL database: jobs per minute and Runway slot use
with 1, 2 and 4 processes against the simulator, and claim contention.

A throwaway PostgreSQL server (``tests/pgcluster.py``: a temporary directory, 127.0.0.1 only;
``RUNWAY_TEST_POSTGRES_URL`` uses an existing one) and the Runway simulator on 127.0.0.1 run
in this process. For each process count a fresh database gets the same queued jobs (one model,
the per-model limit ``IN_FLIGHT`` shared by all processes), then N child processes each run
the real ``Worker`` (real RunwayClient, a delivery port that counts what a member would see)
until every job is finished. Every process and the simulator run on one virtual clock
(``bot.clock.VirtualClock`` with the same start and epoch), ``SCALE`` times faster than real.

Measured per N: jobs per simulated minute and per real minute, the simulator's slot use (the
mean number of the model's tasks in flight at the simulator, sampled every simulated second,
over the limit; 1.0 is every slot always busy) and its peak (must not exceed the limit), the
creates per job at the simulator (a double claim would create twice: must be 0), the clips
delivered per process (their sum must be the job count: nobody delivers a job twice).

Exit 1 when a job is created twice, a clip is delivered twice or never, or the limit broke.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import _common as c  # noqa: E402
from aiohttp import web  # noqa: E402

from bot import clock  # noqa: E402
from bot.jobs import JobService  # noqa: E402
from bot.quota import QuotaService  # noqa: E402
from bot.runway.client import RunwayClient  # noqa: E402
from bot.simulator import RunwaySimulator, SimulatorOptions  # noqa: E402
from bot.store.postgres.db import PgStore  # noqa: E402
from bot.worker import Worker  # noqa: E402

SCALE = 50.0  # simulated seconds per real second
IN_FLIGHT = 4  # the per-model limit, for all processes together
TASK_SECONDS = 20.0
PENDING_SECONDS = 1.0
FINAL = ("succeeded", "failed", "cancelled", "in_doubt")
UNFINISHED = frozenset({"PENDING", "THROTTLED", "RUNNING"})
CREATE_PATHS = ("/v1/image_to_video",)


def bench_settings() -> Any:
    return c.settings(
        quota={"default_limit": 1_000_000, "max_active_jobs_per_user": 1000},
        max_concurrent_per_model=IN_FLIGHT,
    )


# -- a child: one worker process ---------------------------------------------------------------


async def worker_main(url: str, sim_url: str, jobs: int, owner: str, limit_s: float) -> int:
    """Run a Worker on the shared database until ``jobs`` jobs are finished; print what this
    process delivered as one JSON line."""
    settings = bench_settings()
    store = await PgStore.connect(url, pool_size=4, migrate_schema=False)
    client = RunwayClient(base_url=sim_url, api_key=c.SIM_KEY, max_retries=2, backoff_base=0.01)
    port = c.CountingPort()
    quota = QuotaService(store, settings.quota, settings.models)
    with tempfile.TemporaryDirectory(prefix="bench-mp-") as tmp:
        worker = Worker(
            settings, store, client, port, owner=owner, workdir=Path(tmp),
            quota=quota, max_parallel=8,
        )  # fmt: skip
        await worker.start()
        await store.listen(worker.wake)
        deadline = time.perf_counter() + limit_s
        try:
            while time.perf_counter() < deadline:
                row = await store.fetchone(
                    "SELECT COUNT(*) FROM jobs WHERE state IN ('succeeded', 'failed',"
                    " 'cancelled', 'in_doubt') AND next_poll_at IS NULL"
                )
                if row is not None and int(row[0]) >= jobs:
                    break
                await asyncio.sleep(1.0)  # simulated
            await worker.stop()
        finally:
            await worker.abort()
            await client.close()
            await store.close()
    print(json.dumps({"owner": owner, "clips": len(port.clips), "failures": len(port.failures)}))
    return 0


# -- the parent ---------------------------------------------------------------------------------


class SimWatch:
    """Creates per prompt, and the model's unfinished tasks at the simulator over time."""

    def __init__(self, sim: RunwaySimulator) -> None:
        self.sim = sim
        self.prompts: Counter[str] = Counter()
        self.tasks: list[str] = []

        @web.middleware
        async def watch(request: web.Request, handler: Any) -> web.StreamResponse:
            body: Any = None
            if request.method == "POST" and request.path in CREATE_PATHS:
                with contextlib.suppress(ValueError):
                    body = await request.json()
            response: web.StreamResponse = await handler(request)
            if isinstance(body, dict) and isinstance(response, web.Response):
                self._created(body, response)
            return response

        sim.app.middlewares.insert(0, watch)

    def _created(self, body: dict[str, Any], response: web.Response) -> None:
        if response.status == 200 and response.text:
            self.prompts[str(body.get("promptText"))] += 1
            self.tasks.append(json.loads(response.text)["id"])

    def in_flight(self) -> int:
        return sum(1 for t in self.tasks if self.sim.task_status(t) in UNFINISHED)


def worker_log() -> IO[str]:
    """A temporary file for a worker's stderr (shown when it fails)."""
    return tempfile.TemporaryFile("w+")  # closed by the caller's ExitStack


def spawn_worker(args: list[str], stderr: IO[str]) -> subprocess.Popen[str]:
    """One child worker process (``--worker URL SIM_URL JOBS OWNER LIMIT START EPOCH``)."""
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
    )  # fmt: skip


async def seed_jobs(url: str, count: int) -> None:
    settings = bench_settings()
    store = await PgStore.connect(url)
    try:
        quota = QuotaService(store, settings.quota, settings.models)
        service = JobService(settings, store, quota)
        item = c.image_input(320, 180)
        for i in range(count):
            await service.create(c.animate(1 + i % 10, item, prompt=f"bench job {i}"))
    finally:
        await store.close()


async def run_size(
    cluster: Any, template: str, sim: RunwaySimulator, watch: SimWatch, processes: int,
    jobs: int, limit_s: float,
) -> dict[str, Any]:  # fmt: skip
    from tests.pgcluster import create_database, drop_database

    url = await create_database(cluster, template)
    stack = contextlib.ExitStack()
    watch.prompts.clear()
    watch.tasks.clear()
    try:
        await seed_jobs(url, jobs)
        virtual = clock.current()
        assert isinstance(virtual, clock.VirtualClock)
        started = time.perf_counter()
        logs = [stack.enter_context(worker_log()) for _ in range(processes)]
        args = [url, sim.base_url, str(jobs), "", str(limit_s), repr(virtual.start)]
        args.append(repr(virtual.epoch))
        children = [
            spawn_worker([*args[:3], f"w{n}", *args[4:]], logs[n]) for n in range(processes)
        ]
        samples: list[tuple[float, int]] = []
        while any(p.poll() is None for p in children):
            samples.append((clock.now(), watch.in_flight()))
            await asyncio.sleep(1.0)  # simulated
        elapsed = time.perf_counter() - started
        reports = []
        for child, err in zip(children, logs, strict=True):
            out = child.stdout.read().splitlines() if child.stdout else []
            if not out:
                err.seek(0)
                c.log(f"a worker process printed nothing (exit {child.returncode}):")
                c.log(err.read()[-3000:])
            reports.append(json.loads(out[-1]) if out else {"clips": 0})
        codes = [p.returncode for p in children]
        store = await PgStore.connect(url, migrate_schema=False)
        try:
            rows = await store.fetchall("SELECT state, COUNT(*) FROM jobs GROUP BY state")
            span = await store.fetchone("SELECT MIN(submitted_at), MAX(finished_at) FROM jobs")
        finally:
            await store.close()
    finally:
        stack.close()
        await drop_database(cluster, url)
    states = {str(r[0]): int(r[1]) for r in rows}
    clips = [int(r["clips"]) for r in reports]
    # From the first create to the last job's end, on the shared clock: the processes' start-up
    # (imports, connecting) is left out.
    first, last = (float(span[0]), float(span[1])) if span and span[0] and span[1] else (0.0, 0.0)
    window = max(last - first, 1e-9)
    busy = [n for at, n in samples if first <= at <= last] or [0]
    return {
        "processes": processes,
        "jobs": jobs,
        "exit_codes": codes,
        "states": states,
        "wall_s_including_start_up": c.rounded(elapsed),
        "simulated_s": c.rounded(window),
        "jobs_per_min": c.rounded(jobs / (window / SCALE) * 60, 1),
        "jobs_per_simulated_min": c.rounded(jobs / window * 60, 2),
        "ratio_runway_slot_use": c.rounded(statistics.fmean(busy) / IN_FLIGHT, 3),
        "peak_tasks_in_flight": max((n for _, n in samples), default=0),
        "creates_at_simulator": sum(watch.prompts.values()),
        "double_claims": sum(n - 1 for n in watch.prompts.values() if n > 1),
        "clips_per_process": clips,
        "clips_delivered": sum(clips),
    }


async def main(quick: bool) -> int:
    from tests.pgcluster import Cluster, Unavailable, create_template

    jobs, sizes, limit_s = (12, (1, 2), 60.0) if quick else (60, (1, 2, 4), 150.0)
    try:
        cluster = await asyncio.to_thread(Cluster.start)
    except Unavailable as exc:
        c.log(f"FAIL: no PostgreSQL server: {exc}")
        return 1
    results: list[dict[str, Any]] = []
    try:
        template = await create_template(cluster)
        options = SimulatorOptions(  # one clip for all: the simulator's encoder is not measured
            task_seconds=TASK_SECONDS,
            pending_seconds=PENDING_SECONDS,
            concurrency=2 * IN_FLIGHT,
            reuse_clips=True,
        )
        sim = RunwaySimulator(options)
        watch = SimWatch(sim)
        await sim.start()
        try:
            for n in sizes:
                c.log(f"{n} process(es), {jobs} jobs")
                results.append(await run_size(cluster, template, sim, watch, n, jobs, limit_s))
        finally:
            await sim.stop()
    finally:
        await asyncio.to_thread(cluster.stop)
    c.emit(
        "multiprocess",
        quick,
        {"sim_time_scale": SCALE, "in_flight_per_model": IN_FLIGHT, "results": results},
    )
    ok = all(
        r["double_claims"] == 0
        and r["creates_at_simulator"] == jobs
        and r["clips_delivered"] == jobs
        and r["states"] == {"succeeded": jobs}
        and r["peak_tasks_in_flight"] <= IN_FLIGHT
        and r["exit_codes"] == [0] * r["processes"]
        for r in results
    )
    if not ok:
        c.log("FAIL: a job was created or delivered twice or never, or the limit broke")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        url, sim_url, jobs, owner, limit, start, epoch = sys.argv[2:9]
        child_clock = clock.VirtualClock(SCALE, start=float(start), epoch=float(epoch))
        sys.exit(clock.run(worker_main(url, sim_url, int(jobs), owner, float(limit)), child_clock))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small, fast run (smoke test)")
    args = parser.parse_args()
    sys.exit(clock.run(main(args.quick), clock.VirtualClock(SCALE)))
