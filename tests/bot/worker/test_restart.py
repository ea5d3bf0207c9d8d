"""Stop the worker at every state, start another on the same database: nothing is lost,
nothing is delivered twice, quota stays consistent."""

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest

from bot.domain import JobState, NewJob
from bot.jobs import JobService
from bot.ports import DeliveryFailed
from bot.simulator import Fault
from bot.store import jobs_repo
from bot.worker import Worker
from bot.worker.submit import MAX_SUBMIT_ATTEMPTS
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


class _HeldPreparation:
    """Replaces the submit step's request building: it waits until released, so a test can
    stop the worker (or cancel the job) while nothing has been sent to Runway yet."""

    def __init__(self, real: Callable[..., Awaitable[object]]) -> None:
        self.real = real
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, *args: object, **kwargs: object) -> object:
        self.reached.set()
        await self.release.wait()
        return await self.real(*args, **kwargs)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> _HeldPreparation:
    import bot.worker.submit as submit_module

    hold = _HeldPreparation(submit_module.build_request)
    monkeypatch.setattr(submit_module, "build_request", hold)
    return hold


@pytest.mark.parametrize("same_owner", [True, False])
async def test_restart_before_the_create_was_sent_requeues_the_job(
    harness: Harness, held: _HeldPreparation, same_owner: bool
) -> None:
    h = harness
    job = await h.engine.jobs.create(_small())
    w1 = h.worker("w1", lease_seconds=LEASE)
    await w1.run_once()
    async with asyncio.timeout(10):
        await held.reached.wait()
    assert await _state(h, job.id) is JobState.SUBMITTING
    await w1.abort()  # dies while preparing: no request has left
    held.release.set()

    w2 = h.worker("w1" if same_owner else "w2", lease_seconds=LEASE)
    settled = await w2.recover()
    if not same_owner:  # another worker's live lease is respected until it expires
        assert settled == 0 and await _state(h, job.id) is JobState.SUBMITTING
        h.clock.advance(LEASE + 1)
        await w2.recover()
    assert await _state(h, job.id) is JobState.QUEUED
    quota = await h.engine.quota.status(1000, 1)
    assert quota.reserved == 10  # the reservation stays with the requeued job
    await _finish_with(h, w2, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.SUCCEEDED and done.attempts == 2
    assert h.sim.created_count == 1
    assert [kind for kind, _, _ in h.port.visible()] == ["clip"]
    await _consistent(h)


async def test_a_job_interrupted_before_every_create_fails_refunded_after_its_attempts(
    harness: Harness,
) -> None:
    h = harness
    job = await h.engine.jobs.create(_small())
    for n in range(MAX_SUBMIT_ATTEMPTS):
        async with h.store.transaction() as conn:  # a worker claims it, then dies preparing
            now = h.clock()
            assert await jobs_repo.claim_for_submit(conn, job.id, f"dead{n}", now, now + 1)
        h.clock.advance(2)
        w = h.worker(f"w{n}", lease_seconds=LEASE)
        assert await w.recover() == 1
    done = await h.job(job.id)
    assert done.state is JobState.FAILED and done.error_code == "interrupted"
    assert done.attempts == MAX_SUBMIT_ATTEMPTS and done.refunded
    await _finish_with(h, w, job.id)
    assert h.sim.created_count == 0 and not h.sim.request_log
    assert [kind for kind, _, _ in h.port.visible()] == ["failure"]
    await _consistent(h)


async def test_a_cancel_while_preparing_means_the_create_is_never_sent(
    harness: Harness, held: _HeldPreparation
) -> None:
    h = harness
    job = await h.engine.jobs.create(_small())
    w = h.worker("w1", lease_seconds=LEASE)
    await w.run_once()
    async with asyncio.timeout(10):
        await held.reached.wait()
    await h.engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
    held.release.set()
    await w.drain()
    await _finish_with(h, w, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.CANCELLED and done.refunded
    assert not [r for r in h.sim.request_log if r[0] == "POST"]
    row = await h.store.fetchone(
        "SELECT remote_cancel, lease_owner FROM jobs WHERE id = ?", (job.id,)
    )
    assert row is not None and tuple(row) == (0, None)
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
    polls = len(h.sim.request_log)  # before the pass: its GET may arrive before it returns
    await w1.run_once()

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
    creates = [p for m, p in h.sim.request_log if m == "POST" and p.endswith("_to_video")]
    assert len(creates) <= len(jobs)  # a create that left is never sent again
    assert h.sim.created_count <= len(jobs)
    assert all(r["quota_state"] in ("settled", "refunded") for r in rows)
    await _consistent(h)


# -- publishing: the status message and thread come first --------------------------------


async def test_after_a_restart_a_job_without_its_status_is_published_before_it_is_sent(
    harness: Harness,
) -> None:
    """Created, then the process died before its status message was recorded: the new worker
    publishes it (the port adopts or posts it) before submitting it to Runway."""
    h = harness
    job = await h.engine.jobs.create(_small())
    w = h.worker("bot")
    await w.recover()
    await w.run_once()  # this pass publishes only
    await w.drain()  # publishing runs as a step of its own
    assert h.port.publishes == [(job.id, True)]
    assert h.sim.created_count == 0
    published = await h.job(job.id)
    assert published.status_message_id == h.port.status_posts[job.id]
    assert published.thread_id == h.port.status_posts[job.id]
    assert published.state is JobState.QUEUED
    await _finish_with(h, w, job.id)
    assert h.sim.created_count == 1
    assert h.port.publishes == [(job.id, True)]  # recorded once: never asked again
    assert h.port.visible("clip") == [("clip", job.id, (await h.job(job.id)).delivered_message_id)]


async def test_publishing_that_fails_for_now_is_retried_and_holds_the_job_back(
    harness: Harness,
) -> None:
    h = harness
    job = await h.engine.jobs.create(_small())
    h.port.publish_errors.append(DeliveryFailed("Discord answered 503"))
    w = h.worker("bot")
    await w.recover()
    await h.cycle(w, 1)
    assert h.sim.created_count == 0  # not sent before its status exists
    await _finish_with(h, w, job.id)
    assert [o for _, o in h.port.publishes] == [True, True]
    assert h.sim.created_count == 1


async def test_a_result_waits_for_its_command_to_post_the_status_without_a_grace(
    harness: Harness,
) -> None:
    """The job finishes while the command that created it is still posting its status
    message: the delivery waits (retries), whatever the clock says, and goes out once the
    status is recorded; nothing is posted meanwhile."""
    h = harness
    w = h.worker("bot")
    await w.recover()
    job = await h.engine.jobs.create(_small())
    h.port.still_posting.add(job.id)

    async def waiting() -> bool:
        return bool(h.port.publishes)

    await h.run_until(w, waiting)
    for _ in range(3):
        await h.cycle(w, 600)  # ten minutes each: no grace runs out
    assert h.port.visible() == []
    assert {orphan for _, orphan in h.port.publishes} == {False}
    status = 424242
    await h.engine.jobs.attach_message(
        job.id, channel_id=0, thread_id=status, status_message_id=status
    )
    await _finish_with(h, w, job.id)
    assert [kind for kind, *_ in h.port.visible()] == ["clip"]


async def test_a_job_whose_channel_refuses_its_status_is_still_delivered(
    harness: Harness,
) -> None:
    h = harness
    h.port.refuse_status = True
    job = await h.engine.jobs.create(_small())
    w = h.worker("bot")
    await w.recover()
    await _finish_with(h, w, job.id)
    assert (await h.job(job.id)).status_message_id is None
    assert [kind for kind, *_ in h.port.visible()] == ["clip"]


# -- several processes: whose job is it to publish? ----------------------------------------


def _commands_of(h: Harness, process: str) -> JobService:
    """The JobService of the process whose worker owner is ``process``: its jobs carry it
    as their publisher (bot.app wires it so)."""
    return JobService(
        h.settings,
        h.store,
        h.engine.quota,
        clock=h.clock,
        rng=random.Random(5),
        publisher=process,
        publish_lease=LEASE,
    )


async def _cycle_all(h: Harness, workers: list[Worker], seconds: float) -> None:
    """Advance both clocks, then one pass of every (live) worker and their steps."""
    h.clock.advance(seconds)
    h.sim.advance(seconds)
    await h.sim.wait_rendered()
    for w in workers:
        await w.run_once()
    for w in workers:
        await w.drain()


async def test_a_restarted_process_publishes_its_unposted_job_at_once(harness: Harness) -> None:
    """One process (SQLite keeps its owner id across restarts) died between creating a job
    and recording its status message: its next run publishes it on its first pass, with no
    wait for the publish lease to end."""
    h = harness
    job = await _commands_of(h, "bot").create(_small())
    w = h.worker("bot")
    await w.recover()
    await w.run_once()
    await w.drain()  # the pass's steps (the publishing task) have run
    assert h.port.publishes == [(job.id, True)]
    assert h.sim.created_count == 0  # published before it is sent
    await _finish_with(h, w, job.id)
    assert h.port.publishes == [(job.id, True)]
    assert [kind for kind, *_ in h.port.visible()] == ["clip"]


async def test_a_starting_peer_leaves_a_live_process_its_job_being_posted(
    harness: Harness,
) -> None:
    """Process B starts while live process A's command is posting a job's status message
    (slowly: ten minutes): A's worker keeps its publish lease, B never publishes the job;
    the clip goes out once, after A's command recorded the status."""
    h = harness
    a = h.worker("a")
    await a.recover()
    job = await _commands_of(h, "a").create(_small())
    h.port.still_posting.add(job.id)
    b = h.worker("b")
    await b.recover()
    for _ in range(20):
        h.clock.advance(30)  # not the simulator: the task stays at Runway, nothing to deliver
        for w in (a, b):
            await w.run_once()
            await w.drain()
    assert h.port.publishes == []
    assert (await h.job(job.id)).state is JobState.RUNNING
    status = 515151
    await h.engine.jobs.attach_message(
        job.id, channel_id=0, thread_id=status, status_message_id=status
    )

    async def delivered() -> bool:
        return (await h.job(job.id)).delivered

    for _ in range(40):
        if await delivered():
            break
        await _cycle_all(h, [a, b], 6)
    assert await delivered()
    assert (job.id, True) not in h.port.publishes
    assert job.id not in h.port.status_posts  # only the command's own post exists
    assert [kind for kind, *_ in h.port.visible()] == ["clip"]


async def test_a_dead_peers_unposted_job_is_published_once_its_lease_ends(
    harness: Harness,
) -> None:
    """Process A died (kill -9) between creating a job and recording its status message;
    process B, already running, publishes it once A's publish lease has ended, not before,
    and only once although a third process C runs too."""
    h = harness
    b, c = h.worker("b"), h.worker("c")
    await b.recover()
    await c.recover()
    a = h.worker("a")
    await a.recover()
    job = await _commands_of(h, "a").create(_small())
    await a.abort()  # dead: nobody renews its publish lease
    waited = 0.0
    while (job.id, True) not in h.port.publishes:
        assert waited < 3 * LEASE
        h.clock.advance(10)  # not the simulator: the task stays at Runway meanwhile
        for w in (b, c):
            await w.run_once()
            await w.drain()
        waited += 10
    assert waited >= LEASE  # its lease ran out at creation + LEASE
    assert h.port.publishes == [(job.id, True)]
    await _finish_with(h, b, job.id)
    for _ in range(3):
        await _cycle_all(h, [b, c], 2 * LEASE)
    assert h.port.publishes == [(job.id, True)]
    assert [kind for kind, *_ in h.port.visible()] == ["clip"]
    await _consistent(h)


async def test_a_peer_starting_after_a_crash_waits_for_the_dead_ones_lease(
    harness: Harness,
) -> None:
    """On PostgreSQL a restarted process has a new owner id: the dead run's unposted job is
    not taken at start while its publish lease runs, then taken by the running worker."""
    h = harness
    job = await _commands_of(h, "dead-run").create(_small())
    w = h.worker("new-run")
    await w.recover()
    await w.run_once()
    await w.drain()
    assert h.port.publishes == []
    await _cycle_all(h, [w], LEASE / 2)
    assert h.port.publishes == []
    await _cycle_all(h, [w], LEASE / 2 + 1)
    assert h.port.publishes == [(job.id, True)]
    await w.drain()
    await _finish_with(h, w, job.id)
    assert [kind for kind, *_ in h.port.visible()] == ["clip"]
