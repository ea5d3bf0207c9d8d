import asyncio
import itertools
from pathlib import Path

import pytest

from bot import clock
from bot.clock import VirtualClock
from bot.config import DiscordSettings, Settings
from bot.domain import JobState, NewJob
from bot.jobs import JobService
from bot.media import probe_video, sniff
from bot.ports import StatusUpdate
from bot.quota import QuotaService
from bot.simulator import RunwaySimulator, SimulatorOptions
from bot.store.db import Store
from bot.worker import Worker
from tests.bot.conftest import RecordingPort, image_input, new_animate
from tests.bot.worker.harness import Harness, make_client, worker_settings


async def test_a_job_goes_from_queued_to_delivered(harness: Harness) -> None:
    h = harness
    w = h.worker()
    assert await w.recover() == 0
    job = await h.engine.jobs.create(new_animate(duration=2, inputs=(image_input(640, 360),)))
    await h.run_until(w, lambda: bool(h.port.visible()))
    done = await h.job(job.id)
    assert done.state is JobState.SUCCEEDED and done.delivered
    assert done.delivered_message_id == h.port.visible()[0][2]
    assert h.port.calls == [("clip", job.id, f"rwjob-{job.id}")]
    assert h.port.states_of(job.id) == ["submitting", "running", "succeeded"]
    clip = h.port.clips[job.id]
    assert sniff(clip) == "video/mp4"
    info = await asyncio.to_thread(probe_video, clip)
    assert 1.5 <= info.duration_seconds <= 2.5
    status = await h.engine.quota.status(1000, 1)
    assert (status.used, status.reserved) == (10, 0)
    assert done.charged_credits == 10
    assert h.sim.created_count == 1
    assert list((h.tmp_path / "work").iterdir()) == []  # temp files cleaned


def _small(
    user: int = 1, prompt: str = "a calm sea", model: str = "gen4_turbo", duration: int = 2
) -> NewJob:
    return new_animate(
        user, prompt=prompt, model=model, duration=duration, inputs=(image_input(640, 360),)
    )


async def _stats(h: Harness) -> tuple[dict[str, int], dict[str, int]]:
    s = await h.engine.jobs.queue_stats()
    return s.in_flight_by_model, s.queued_by_model


async def test_one_users_flood_does_not_starve_another(harness: Harness) -> None:
    h = harness
    w = h.worker()
    flood = [await h.engine.jobs.create(_small(1)) for _ in range(50)]
    other = await h.engine.jobs.create(_small(2))
    await w.run_once()
    await w.drain()
    states = await h.states()
    submitted = {i for i, s in states.items() if s is not JobState.QUEUED}
    assert submitted == {flood[0].id, other.id}
    assert await h.engine.jobs.queue_position(flood[1].id) == 1


async def test_at_most_n_in_flight_per_model_and_the_queue_drains(harness: Harness) -> None:
    h = harness
    w = h.worker()
    jobs = [await h.engine.jobs.create(_small(u)) for u in (1, 2, 3, 4)]
    jobs.append(await h.engine.jobs.create(_small(5, model="veo3.1_fast", duration=4)))
    seen_max = 0
    for _ in range(60):
        await h.cycle(w, 4.0)
        in_flight, _ = await _stats(h)
        seen_max = max(seen_max, in_flight.get("gen4_turbo", 0))
        assert in_flight.get("gen4_turbo", 0) <= 2 and in_flight.get("veo3.1_fast", 0) <= 2
        if await h.delivered_all():
            break
    assert seen_max == 2
    assert await h.delivered_all()
    assert len(h.port.visible("clip")) == 5 and h.sim.created_count == 5
    # positions were announced to waiting jobs while they waited
    queued_updates = [u for u in h.port.statuses if u.job.state is JobState.QUEUED]
    assert queued_updates and all(u.queue_position for u in queued_updates)


async def test_polls_never_closer_than_the_floor(harness: Harness) -> None:
    h = harness
    w = h.worker()
    job = await h.engine.jobs.create(_small(prompt="slow [sim:seconds=60]"))
    gets = 0
    for _ in range(40):
        before = len([r for r in h.sim.request_log if r[0] == "GET" and "/v1/tasks" in r[1]])
        await h.cycle(w, 1.0)
        after = len([r for r in h.sim.request_log if r[0] == "GET" and "/v1/tasks" in r[1]])
        gets += after - before
        row = await h.store.fetchone(
            "SELECT last_polled_at, next_poll_at, state FROM jobs WHERE id = ?", (job.id,)
        )
        assert row is not None
        if row["state"] == "running" and row["last_polled_at"] is not None:
            assert row["next_poll_at"] - row["last_polled_at"] >= 5.0
    assert 0 < gets <= 40 // 5 + 1  # 40 simulated seconds, at most one GET per 5 s


async def test_progress_updates_are_rate_limited_but_state_changes_always_sent(
    harness: Harness,
) -> None:
    h = harness
    h.configure(
        Settings(
            models=h.settings.models,
            runway=h.settings.runway,
            quota=h.settings.quota,
            discord=DiscordSettings(status_edit_interval_seconds=20),
        )
    )
    h.port.clock = h.clock
    w = h.worker()
    job = await h.engine.jobs.create(_small(prompt="slow [sim:seconds=120]"))
    await h.run_until(w, lambda: bool(h.port.visible()), seconds=5.0)
    updates = [
        (t, u) for t, u in zip(h.port.times, h.port.statuses, strict=True) if u.job.id == job.id
    ]
    running = [(t, u) for t, u in updates if u.job.state is JobState.RUNNING]
    assert len(running) >= 4
    progress = [u.job.progress for _, u in running if u.job.progress is not None]
    assert progress == sorted(progress) and progress[-1] > 0.5
    for (t1, u1), (t2, u2) in itertools.pairwise(running):
        if u1.job.provider_status == u2.job.provider_status:
            assert t2 - t1 >= 20
    assert [u.job.state.value for _, u in updates][-1] == "succeeded"
    assert any(u.eta_seconds is not None for _, u in running)


def test_the_loop_runs_on_its_own_and_stops_cleanly(tmp_path: Path) -> None:
    """The real loop with its production schedule (5 s poll floor, 60 s idle sleep) on a
    virtual clock 50 times faster, against a simulator on the same clock."""
    virtual = VirtualClock(50.0)
    assert clock.run(_loop_alone(tmp_path), virtual) == 3
    assert clock.current() is clock.SYSTEM  # the process clock is back


async def _loop_alone(tmp_path: Path) -> int:
    settings = worker_settings(quota={"default_limit": 1000})
    port = RecordingPort()
    options = SimulatorOptions(task_seconds=12.0, pending_seconds=2.0)
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        async with RunwaySimulator(options) as sim:
            client = make_client(sim)
            quota = QuotaService(store, settings.quota, settings.models)
            worker = Worker(
                settings, store, client, port, owner="loop", workdir=tmp_path / "w", quota=quota
            )
            jobs = JobService(settings, store, quota, wake=worker.wake)
            await worker.start()
            try:
                created = [await jobs.create(_small(user)) for user in (1, 2, 3)]
                async with asyncio.timeout(600):  # virtual seconds: 12 real
                    while len(port.visible("clip")) < 3:  # noqa: ASYNC110 - a test double
                        await asyncio.sleep(1.0)
            finally:
                await worker.stop()
                await client.close()
        for job in created:
            got = await jobs.get(job.id)
            assert got is not None and got.delivered and got.state is JobState.SUCCEEDED
            assert got.created_at.timestamp() == pytest.approx(clock.now(), abs=600)
        row = await store.fetchone("SELECT COUNT(*) FROM jobs WHERE lease_owner IS NOT NULL")
        assert row is not None and row[0] == 0
        assert isinstance(clock.current(), VirtualClock)
        polls = [p for m, p in sim.request_log if m == "GET" and p.startswith("/v1/tasks/")]
        return len(created) if polls else 0
    finally:
        await store.close()


async def test_a_freed_runway_slot_is_refilled_while_the_status_edit_is_in_flight(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow status edit (Discord rate-limiting the channel) must not hold the next job."""
    h = harness
    h.configure(worker_settings(max_concurrent_per_model=1))
    first = await h.engine.jobs.create(new_animate(1, duration=2, inputs=(image_input(640, 360),)))
    second = await h.engine.jobs.create(new_animate(2, duration=2, inputs=(image_input(640, 360),)))
    w = h.worker()
    await h.run_until(w, lambda: h.sim.created_count == 1, seconds=0)
    assert (await h.job(second.id)).state is JobState.QUEUED  # one slot, taken

    edit_reached, edit_done = asyncio.Event(), asyncio.Event()
    real_edit = h.port.status_changed

    async def slow_edit(update: StatusUpdate) -> None:
        if update.job.id == first.id and not update.job.state.active:
            edit_reached.set()
            await edit_done.wait()
        await real_edit(update)

    monkeypatch.setattr(h.port, "status_changed", slow_edit)
    h.clock.advance(60)  # the first task is done by now
    h.sim.advance(60)
    await h.sim.wait_rendered()
    await w.start()
    try:
        async with asyncio.timeout(10):
            await edit_reached.wait()
            while h.sim.created_count < 2:  # noqa: ASYNC110 - the simulator's own count
                await asyncio.sleep(0.01)
        assert not edit_done.is_set()  # the second create went out during the first's edit
    finally:
        edit_done.set()
        await w.stop()
