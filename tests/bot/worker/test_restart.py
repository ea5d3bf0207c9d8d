"""Stop the worker at every state, start another on the same database: nothing is lost,
nothing is delivered twice, quota stays consistent."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bot.domain import JobState, NewJob
from bot.simulator import Fault
from bot.worker import Worker
from tests.bot.conftest import image_input, new_animate
from tests.bot.worker.harness import Harness

LEASE = 120.0


def _small(prompt: str = "a calm sea", user: int = 1) -> NewJob:
    return new_animate(user, prompt=prompt, duration=2, inputs=(image_input(640, 360),))


async def _until(predicate: Callable[[], Awaitable[bool]]) -> None:
    """Wait (at most 10 s) until the simulator has seen the request we wait for."""
    async with asyncio.timeout(10):
        while not await predicate():  # noqa: ASYNC110 - polling the simulator's request log
            await asyncio.sleep(0.01)


async def _state(h: Harness, job_id: int) -> JobState:
    return (await h.job(job_id)).state


async def _consistent(h: Harness) -> None:
    """Quota counters equal what the jobs say; every job delivered exactly once."""
    rows = await h.store.fetchall("SELECT * FROM jobs")
    for user in {r["user_id"] for r in rows}:
        mine = [r for r in rows if r["user_id"] == user]
        reserved = sum(r["quota_amount"] for r in mine if r["quota_state"] == "reserved")
        used = sum(r["charged_credits"] or 0 for r in mine if r["quota_state"] == "settled")
        status = await h.engine.quota.status(1000, user)
        assert (status.used, status.reserved) == (used, reserved)
    nonces = [c[2] for c in h.port.calls]
    assert len(h.port.visible()) == len(set(nonces))
    for r in rows:
        if r["delivered_at"] is not None:
            assert h.port.messages[f"rwjob-{r['id']}"][2] == r["delivered_message_id"]


async def _finish_with(h: Harness, w: Worker, job_id: int) -> None:
    async def done() -> bool:
        return (await h.job(job_id)).delivered

    await h.run_until(w, done)


@pytest.mark.parametrize("same_owner", [True, False])
async def test_restart_while_submitting_makes_the_job_in_doubt(
    harness: Harness, same_owner: bool
) -> None:
    h = harness
    h.sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", status=200, delay=3.0))
    job = await h.engine.jobs.create(_small())
    w1 = h.worker("w1", lease_seconds=LEASE)
    await w1.run_once()  # the create request is now in flight

    async def sent() -> bool:
        return any(r[0] == "POST" for r in h.sim.request_log)

    await _until(sent)
    assert await _state(h, job.id) is JobState.SUBMITTING
    await w1.abort()

    w2 = h.worker("w1" if same_owner else "w2", lease_seconds=LEASE)
    marked = await w2.recover()
    if not same_owner:  # another worker's live lease is respected until it expires
        assert marked == 0 and await _state(h, job.id) is JobState.SUBMITTING
        h.clock.advance(LEASE + 1)
        await w2.run_once()
        await w2.drain()
    assert await _state(h, job.id) is JobState.IN_DOUBT
    await _finish_with(h, w2, job.id)
    done = await h.job(job.id)
    assert done.attempts == 1 and done.refunded
    assert h.port.visible() == [("failure", job.id, done.delivered_message_id)]
    await _consistent(h)


async def test_restart_with_queued_jobs_loses_nothing(harness: Harness) -> None:
    h = harness
    jobs = [await h.engine.jobs.create(_small(user=1)) for _ in range(3)]
    w1 = h.worker("w1")
    await w1.recover()
    await w1.abort()  # stopped before doing anything
    w2 = h.worker("w2")
    await w2.recover()
    for job in jobs:
        await _finish_with(h, w2, job.id)
    assert len(h.port.visible("clip")) == 3 and h.sim.created_count == 3
    await _consistent(h)


async def test_restart_mid_poll_resumes_after_the_lease_expires(harness: Harness) -> None:
    h = harness
    job = await h.engine.jobs.create(_small("sea [sim:seconds=30]"))
    w1 = h.worker("w1", lease_seconds=LEASE)
    await h.cycle(w1, 0)
    assert await _state(h, job.id) is JobState.RUNNING
    h.sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks", status=200, delay=3.0))
    h.clock.advance(20)
    h.sim.advance(20)
    await w1.run_once()
    polls = len(h.sim.request_log)

    async def polling() -> bool:
        return len(h.sim.request_log) > polls

    await _until(polling)
    await w1.abort()  # dies while the GET is in flight, holding the lease

    w2 = h.worker("w2", lease_seconds=LEASE)
    assert await w2.recover() == 0
    await h.cycle(w2, 1)
    assert not h.port.visible()  # lease still held by the dead worker
    await h.cycle(w2, LEASE)
    await _finish_with(h, w2, job.id)
    assert len(h.port.visible("clip")) == 1 and h.sim.created_count == 1
    await _consistent(h)


async def test_restart_after_success_before_delivery(harness: Harness) -> None:
    h = harness
    job = await h.engine.jobs.create(_small())
    w1 = h.worker("w1")
    for _ in range(30):
        await h.cycle(w1, 6)
        if await _state(h, job.id) is JobState.SUCCEEDED:
            break
    assert not (await h.job(job.id)).delivered
    await w1.abort()
    w2 = h.worker("w1")
    await w2.recover()
    await _finish_with(h, w2, job.id)
    assert len(h.port.visible("clip")) == 1 and h.sim.created_count == 1
    await _consistent(h)


@pytest.mark.parametrize("prompt", ["a calm sea", "sea [sim:fail=SAFETY.INPUT.TEXT]"])
async def test_crash_after_the_port_confirmed_does_not_deliver_twice(
    harness: Harness, prompt: str
) -> None:
    h = harness
    job = await h.engine.jobs.create(_small(prompt))
    w1 = h.worker("w1", lease_seconds=LEASE)
    h.port.hang_after_confirm = True
    for _ in range(40):
        h.clock.advance(6)
        h.sim.advance(6)
        await w1.run_once()
        done, _ = await asyncio.wait([asyncio.create_task(h.port.confirmed.wait())], timeout=0.5)
        if done:
            break
        await w1.drain()
    assert h.port.confirmed.is_set()
    await w1.abort()  # the message is posted, the database does not know yet
    assert not (await h.job(job.id)).delivered

    w2 = h.worker("w2", lease_seconds=LEASE)
    await w2.recover()
    await h.cycle(w2, LEASE + 1)
    await _finish_with(h, w2, job.id)
    assert len(h.port.calls) == 2 and h.port.calls[0][2] == h.port.calls[1][2]
    assert len(h.port.visible()) == 1
    await _consistent(h)


async def test_graceful_stop_releases_leases(harness: Harness) -> None:
    h = harness
    job = await h.engine.jobs.create(_small("sea [sim:seconds=60]"))
    w1 = h.worker("w1", lease_seconds=LEASE)
    await h.cycle(w1, 0)
    await w1.stop()
    row = await h.store.fetchone("SELECT lease_owner FROM jobs WHERE id = ?", (job.id,))
    assert row is not None and row[0] is None
    w2 = h.worker("w2", lease_seconds=LEASE)
    await _finish_with(h, w2, job.id)  # no lease wait needed
    assert len(h.port.visible("clip")) == 1
    await _consistent(h)


async def test_a_new_worker_after_every_pass_loses_and_repeats_nothing(harness: Harness) -> None:
    """Kill the worker after every pass at a varying point inside its steps."""
    h = harness
    prompts = ["a calm sea", "sea [sim:fail=INTERNAL.BAD_OUTPUT.CODE01]", "sea [sim:throttle=10]"]
    jobs = [await h.engine.jobs.create(_small(p)) for p in prompts]
    jobs.append(await h.engine.jobs.create(_small("a calm sea", user=2)))
    cancel_me = await h.engine.jobs.create(_small("sea [sim:seconds=300]", user=3))
    jobs.append(cancel_me)
    for k in range(120):
        w = h.worker("bot")  # same owner name as the dead one: a restarted process
        await w.recover()
        h.clock.advance(3)
        h.sim.advance(3)
        await h.sim.wait_rendered()  # a GET reports RUNNING until the clip exists
        await w.run_once()
        for _ in range(k % 7):
            await asyncio.sleep(0)
        if k % 3 == 0:
            await w.drain()
        await w.abort()
        if k == 10 and (await h.job(cancel_me.id)).state.active:  # may be in doubt already
            await h.engine.jobs.cancel(cancel_me.id, actor_id=3, actor_is_admin=False)
        if await h.delivered_all():
            break
    assert await h.delivered_all()
    assert len(h.port.visible()) == len(jobs)
    rows = await h.store.fetchall("SELECT * FROM jobs")
    assert all(r["attempts"] <= 1 for r in rows)  # nothing resubmitted
    assert h.sim.created_count <= len(jobs)
    assert all(r["quota_state"] in ("settled", "refunded") for r in rows)
    await _consistent(h)
