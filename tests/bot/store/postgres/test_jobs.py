"""The job operations with several processes on one PostgreSQL database: no job claimed
twice, the per-model Runway limit and the per-user active limit held across processes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from bot.domain import JobError
from bot.jobs import JobService
from bot.quota import QuotaService
from bot.store import jobs_repo
from bot.store.db import Store
from bot.store.postgres.db import PgStore
from tests.bot.conftest import FakeClock, make_settings, new_animate

MODEL = "gen4_turbo"


@pytest.fixture
async def stores(pg_url: str) -> AsyncIterator[list[Store]]:
    """Two stores on one database, as two bot processes have."""
    opened: list[Store] = [await PgStore.connect(pg_url, pool_size=4) for _ in range(2)]
    try:
        yield opened
    finally:
        for s in opened:
            await s.close()


async def _insert(store: Store, count: int, **values: object) -> list[int]:
    ids = []
    async with store.transaction() as conn:
        for i in range(count):
            row = {
                "kind": "animate", "state": "queued", "user_id": i, "channel_id": 1,
                "prompt": "", "model": MODEL, "created_at": 0, "updated_at": 0, "fair_seq": i,
            }  # fmt: skip
            ids.append(await jobs_repo.insert_job(conn, {**row, **values}))
    return ids


async def test_concurrent_workers_never_claim_a_job_twice(stores: list[Store]) -> None:
    ids = await _insert(stores[0], 60, next_poll_at=0.0)
    claimed: dict[str, list[int]] = {}

    async def worker(store: Store, owner: str) -> None:
        mine = claimed.setdefault(owner, [])
        while True:
            async with store.transaction() as conn:
                due = await jobs_repo.due_ids(conn, 10.0, 4)
                for job_id in due:
                    if await jobs_repo.claim(conn, job_id, owner, 10.0, 500.0):
                        mine.append(job_id)
            if not due:
                return

    await asyncio.gather(*(worker(stores[i % 2], f"w{i}") for i in range(6)))
    every = [job_id for owned in claimed.values() for job_id in owned]
    assert sorted(every) == ids  # each job claimed exactly once
    rows = await stores[1].fetchall("SELECT id, lease_owner FROM jobs")
    owner_of = {job_id: owner for owner, owned in claimed.items() for job_id in owned}
    assert {int(r[0]): r[1] for r in rows} == owner_of


async def _submit_pass(store: Store, owner: str, limit: int) -> list[int]:
    """The worker's submit pass (``Worker._submit_queued``): count, then claim up to the room."""
    taken: list[int] = []
    async with store.transaction() as conn:
        room = limit - (await jobs_repo.in_flight_by_model(conn)).get(MODEL, 0)
        if room > 0:
            for job_id in await jobs_repo.queued_in_order(conn, MODEL, 10.0, room):
                if await jobs_repo.claim_for_submit(conn, job_id, owner, 10.0, 500.0):
                    taken.append(job_id)
    return taken


async def test_the_per_model_limit_holds_across_processes(stores: list[Store]) -> None:
    await _insert(stores[0], 20)
    passes = await asyncio.gather(*(_submit_pass(stores[i % 2], f"w{i}", 3) for i in range(8)))
    assert sum(len(p) for p in passes) == 3
    row = await stores[0].fetchone("SELECT COUNT(*) FROM jobs WHERE state = 'submitting'")
    assert row is not None and row[0] == 3
    # a slot freed by one process is taken by the other, still never more than the limit
    async with stores[0].transaction() as conn:
        first = next(p for p in passes if p)[0]
        await jobs_repo.update_released(conn, first, {"state": "succeeded"})
    again = await asyncio.gather(*(_submit_pass(stores[i % 2], f"w{i}", 3) for i in range(4)))
    assert sum(len(p) for p in again) == 1


async def test_the_per_user_active_limit_holds_across_processes(stores: list[Store]) -> None:
    settings = make_settings(default_limit=1000, max_active_jobs_per_user=3)
    clock = FakeClock()
    services = []
    for s in stores:
        quota = QuotaService(s, settings.quota, settings.models, clock=clock)
        services.append(
            JobService(settings, s, quota, wake=lambda: None, clock=clock, rng=random.Random(1))
        )

    async def create(i: int) -> bool:
        try:
            await services[i % 2].create(new_animate(user_id=9))
        except JobError as exc:
            assert exc.code == "too_many_active"
            return False
        return True

    results = await asyncio.gather(*(create(i) for i in range(12)))
    assert sum(results) == 3
    row = await stores[0].fetchone("SELECT COUNT(*) FROM jobs WHERE user_id = 9")
    assert row is not None and row[0] == 3


async def test_a_jobs_quota_is_settled_or_refunded_once_across_processes(
    stores: list[Store],
) -> None:
    settings = make_settings(default_limit=1000)
    clock = FakeClock()
    quotas = [QuotaService(s, settings.quota, settings.models, clock=clock) for s in stores]
    jobs = JobService(settings, stores[0], quotas[0], clock=clock, rng=random.Random(1))
    job = await jobs.create(new_animate(user_id=3))

    async def settle() -> None:
        async with stores[0].transaction() as conn:
            rec = await jobs_repo.get(conn, job.id)
            assert rec is not None
            await quotas[0].settle(conn, rec, None)

    async def refund() -> None:
        async with stores[1].transaction() as conn:
            rec = await jobs_repo.get(conn, job.id)
            assert rec is not None
            await quotas[1].refund(conn, rec)

    await asyncio.gather(settle(), refund())
    rows = await stores[0].fetchall(
        "SELECT entry FROM usage_ledger WHERE job_id = ? AND user_id = 3 ORDER BY id", (job.id,)
    )
    assert [r[0] for r in rows] in (["reserve", "settle"], ["reserve", "refund"])
    status = await quotas[0].status(1000, 3)
    assert status.reserved == 0
    assert status.used == (job.estimated_credits if rows[-1][0] == "settle" else 0)
