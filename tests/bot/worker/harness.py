"""A real worker on a real store (SQLite, and PostgreSQL: see ``BOTH_BACKENDS`` in
``tests/bot/conftest.py``), the real client and the simulator on 127.0.0.1.

The worker runs on a FakeClock and the simulator's clock is advanced by hand, so every
pass is deterministic: ``cycle`` moves both clocks, runs one scheduler pass and waits
for the steps it started.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.catalog import default_catalog
from bot.config import QuotaSettings, RunwaySettings, Settings
from bot.domain import Job, JobState
from bot.runway.client import Provider, RunwayClient
from bot.simulator import RunwaySimulator
from bot.store.db import Store
from bot.worker import Worker
from tests.bot.conftest import Engine, FakeClock, RecordingPort

KEY = "key_" + "ab" * 64


def worker_settings(quota: dict[str, Any] | None = None, **runway: Any) -> Settings:
    """Settings for worker tests: 2 in flight per model, generous quota."""
    runway.setdefault("max_concurrent_per_model", 2)
    q: dict[str, Any] = {"default_limit": 10_000, "max_active_jobs_per_user": 100}
    q.update(quota or {})
    return Settings(
        models=default_catalog(),
        runway=RunwaySettings.model_validate({"provider": "simulator", **runway}),
        quota=QuotaSettings.model_validate(q),
    )


def make_client(
    sim: RunwaySimulator, *, provider: Provider = "runway", api_key: str = KEY
) -> RunwayClient:
    """The real client pointed at the simulator, with tiny real backoffs."""
    return RunwayClient(
        base_url=sim.base_url,
        api_key=api_key,
        provider=provider,
        max_retries=1,
        backoff_base=0.01,
        backoff_max=0.05,
        request_timeout=5.0,
    )


class Harness:
    """Everything a worker test needs, wired together."""

    def __init__(
        self,
        tmp_path: Path,
        store: Store,
        sim: RunwaySimulator,
        client: RunwayClient,
        clock: FakeClock,
        settings: Settings,
    ) -> None:
        self.tmp_path = tmp_path
        self.store = store
        self.sim = sim
        self.client = client
        self.clock = clock
        self.settings = settings
        self.port = RecordingPort()
        self.engine = Engine(settings, store, clock)
        self.workers: list[Worker] = []

    def configure(self, settings: Settings) -> None:
        """Use other settings (before making workers)."""
        self.settings = settings
        self.engine = Engine(settings, self.store, self.clock)

    def worker(self, owner: str = "w1", **kw: Any) -> Worker:
        kw.setdefault("rng", random.Random(3))
        w = Worker(
            self.settings,
            self.store,
            self.client,
            self.port,
            owner=owner,
            workdir=self.tmp_path / "work",
            quota=self.engine.quota,
            clock=self.clock,
            **kw,
        )
        self.workers.append(w)
        self.engine.on_wake = w.wake
        return w

    async def cycle(self, worker: Worker, seconds: float = 6.0) -> None:
        """Advance both clocks, then one scheduler pass and its steps."""
        self.clock.advance(seconds)
        self.sim.advance(seconds)
        await self.sim.wait_rendered()  # a GET reports RUNNING until the clip exists
        await worker.run_once()
        await worker.drain()

    async def run_until(
        self,
        worker: Worker,
        done: Callable[[], bool | Awaitable[bool]],
        *,
        seconds: float = 6.0,
        max_cycles: int = 80,
    ) -> int:
        """Cycle until ``done()``; returns the cycles used (fails after max_cycles)."""
        for n in range(max_cycles):
            result = done()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return n
            await self.cycle(worker, seconds)
        raise AssertionError("condition not reached")

    async def job(self, job_id: int) -> Job:
        job = await self.engine.jobs.get(job_id)
        assert job is not None
        return job

    async def states(self) -> dict[int, JobState]:
        rows = await self.store.fetchall("SELECT id, state FROM jobs")
        return {int(r[0]): JobState(r[1]) for r in rows}

    async def delivered_all(self) -> bool:
        row = await self.store.fetchone("SELECT COUNT(*) FROM jobs WHERE delivered_at IS NULL")
        return row is not None and row[0] == 0
