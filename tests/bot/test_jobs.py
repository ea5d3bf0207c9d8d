import asyncio
from dataclasses import replace

import pytest

from bot.catalog.rules import utf16_length
from bot.config import Settings
from bot.domain import (
    InputRole,
    JobError,
    JobInput,
    JobKind,
    JobNotFound,
    JobParams,
    JobState,
    NewJob,
    NotAllowed,
    Origin,
    QuotaExceeded,
)
from bot.jobs import INPUT_RETENTION_SECONDS, JobService
from bot.store import jobs_repo
from bot.store.db import Store
from tests.bot.conftest import (
    Engine,
    FakeClock,
    StoreOpener,
    image_input,
    make_settings,
    new_animate,
)

A = JobKind.ANIMATE


def _p(model: str = "gen4_turbo", **kw: object) -> JobParams:
    return JobParams(model=model, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "prompt", "flags", "message"),
    [
        (_p(duration=12), "", {}, "gen4_turbo accepts durations 2-10 s; you asked for 12 s."),
        (
            _p("veo3.1", duration=5),
            "",
            {},
            "veo3.1 accepts durations 4, 6 or 8 s; you asked for 5 s.",
        ),
        (
            _p("gen4.5"),
            "é" * 3 + "😀" * 600,
            {},
            "Your prompt is 1203 characters (UTF-16 units); gen4.5 accepts at most 1000.",
        ),
        (_p("gen4.5"), "   ", {}, "gen4.5 needs a prompt."),
        (
            _p("veo3.1", ratio="4:3"),
            "",
            {},
            "Ratio '4:3' is not available for veo3.1; choose one of: "
            "1280:720, 720:1280, 1080:1920, 1920:1080.",
        ),
        (_p(seed=4294967296), "", {}, "Seed must be between 0 and 4294967295."),
        (_p(seed=-1), "", {}, "Seed must be between 0 and 4294967295."),
        (_p(), "", {"has_last_frame": True}, "gen4_turbo does not support a last frame."),
        (_p(), "", {"has_reference": True}, "gen4_turbo does not take a reference image."),
        (_p(audio=True), "", {}, "gen4_turbo cannot make sound."),
        (
            _p("gen3_alpha"),
            "",
            {},
            "Model 'gen3_alpha' is not available; choose one of: "
            "gen4_turbo, gen4.5, gen3a_turbo, veo3.1, veo3.1_fast.",
        ),
        (
            _p("@everyone **[x](https://e.vil)** <@&1>"),
            "",
            {},
            "Model (that value) is not available; choose one of: "
            "gen4_turbo, gen4.5, gen3a_turbo, veo3.1, veo3.1_fast.",
        ),
        (
            _p("veo3.1", ratio="x" * 3000),
            "",
            {},
            "Ratio (that value) is not available for veo3.1; choose one of: "
            "1280:720, 720:1280, 1080:1920, 1920:1080.",
        ),
        (_p("gen4_aleph"), "x", {}, "gen4_aleph cannot be used here; use /restyle with it."),
    ],
)
def test_validation_messages(
    engine: Engine, params: JobParams, prompt: str, flags: dict[str, bool], message: str
) -> None:
    with pytest.raises(JobError) as err:
        engine.jobs.validate(A, params, prompt, **flags)
    assert err.value.message == message


def test_validation_fills_defaults_and_maps_friendly_ratios(engine: Engine) -> None:
    v = engine.jobs.validate(A, _p(ratio="16:9"), " hi ")
    assert v == JobParams(model="gen4_turbo", ratio="1280:720", duration=5)
    assert engine.jobs.validate(A, _p(ratio="auto"), "").ratio is None
    assert engine.jobs.validate(A, _p(ratio="4:3"), "").ratio == "1104:832"
    assert engine.jobs.validate(A, _p("veo3.1", audio=True), "").duration == 8
    assert utf16_length("😀") == 2
    with pytest.raises(JobError, match="leave duration empty"):
        engine.jobs.validate(JobKind.RESTYLE, _p("gen4_aleph", duration=5), "snow")


def test_estimates(engine: Engine) -> None:
    est = engine.jobs.estimate_credits
    assert est(A, _p(duration=10)) == 50
    assert est(A, _p("veo3.1", duration=8)) == 160
    assert est(A, _p("veo3.1", duration=8, audio=True)) == 320
    assert est(JobKind.RESTYLE, _p("gen4_aleph"), 12.0) == 75  # only 5 s billed
    assert est(JobKind.RESTYLE, _p("gen4_aleph"), 3.2) == 60


async def test_create_picks_the_closest_ratio_and_reserves(engine: Engine, store: Store) -> None:
    job = await engine.jobs.create(new_animate(inputs=(image_input(600, 800),)))
    assert job.state is JobState.QUEUED
    assert job.params.ratio == "832:1104"
    assert job.estimated_credits == 25 and job.quota_amount == 25
    assert engine.wakes == 1
    status = await engine.quota.status(1000, 1)
    assert (status.reserved, status.remaining) == (25, 75)
    assert (await engine.jobs.inputs(job.id))[0].data == image_input(600, 800).data
    wide = await engine.jobs.create(new_animate(inputs=(image_input(2000, 850),)))
    assert wide.params.ratio == "1584:672"


async def test_a_job_without_a_seed_gets_one_so_it_can_be_repeated(engine: Engine) -> None:
    job = await engine.jobs.create(new_animate())
    assert job.params.seed is not None and 0 <= job.params.seed <= 4_294_967_295
    stored = await engine.jobs.get(job.id)
    assert stored is not None and stored.params.seed == job.params.seed
    chosen = await engine.jobs.create(new_animate(2, seed=42))
    assert chosen.params.seed == 42


async def test_bad_inputs_change_nothing(engine: Engine, store: Store) -> None:
    video = JobInput(InputRole.VIDEO, "video/mp4", b"x", duration_seconds=42.0)
    cases = [
        (new_animate(inputs=()), "Attach one image to animate."),
        (new_animate(duration=12), "gen4_turbo accepts durations 2-10 s; you asked for 12 s."),
        (
            NewJob(JobKind.RESTYLE, 1, 1000, 5, "snow", _p("gen4_aleph"), (video,)),
            "gen4_aleph accepts videos up to 30 s; yours is 42.0 s.",
        ),
    ]
    for new, message in cases:
        with pytest.raises(JobError) as err:
            await engine.jobs.create(new)
        assert err.value.message == message
    row = await store.fetchone("SELECT COUNT(*) FROM jobs")
    assert row is not None and row[0] == 0
    assert (await engine.quota.status(1000, 1)).reserved == 0


async def test_max_active_jobs_per_user(engine: Engine) -> None:
    for _ in range(3):
        await engine.jobs.create(new_animate(duration=2))
    with pytest.raises(JobError, match="You already have 3 jobs in progress"):
        await engine.jobs.create(new_animate(duration=2))
    await engine.jobs.create(new_animate(user_id=2, duration=2))


async def test_quota_exceeded_on_create(engine: Engine) -> None:
    await engine.jobs.create(new_animate(duration=10))  # 50
    await engine.jobs.create(new_animate(duration=8))  # 40
    with pytest.raises(QuotaExceeded) as err:
        await engine.jobs.create(new_animate(duration=5))
    assert err.value.needed == 25
    assert "you have 10 of 100 left today" in err.value.message


async def test_200_concurrent_creates_admit_exactly_n(
    open_store: StoreOpener, clock: FakeClock
) -> None:
    settings = make_settings(unit="jobs", default_limit=23, max_active_jobs_per_user=1000)
    stores = [await open_store() for _ in range(3)]  # three processes on one database
    try:
        engines = [Engine(settings, s, clock) for s in stores]
        job = new_animate(duration=2)

        async def one(i: int) -> bool:
            try:
                await engines[i % 3].jobs.create(job)
            except QuotaExceeded:
                return False
            return True

        results = await asyncio.gather(*(one(i) for i in range(200)))
        assert sum(results) == 23
        status = await engines[0].quota.status(1000, 1)
        assert (status.reserved, status.remaining) == (23, 0)
        row = await stores[0].fetchone("SELECT COUNT(*) FROM jobs")
        assert row is not None and row[0] == 23
    finally:
        for s in stores:
            await s.close()


async def test_cancel_rules_and_refund(engine: Engine) -> None:
    job = await engine.jobs.create(new_animate(user_id=1))
    with pytest.raises(NotAllowed):
        await engine.jobs.cancel(job.id, actor_id=2, actor_is_admin=False)
    with pytest.raises(JobNotFound):
        await engine.jobs.cancel(999, actor_id=1, actor_is_admin=False)
    done = await engine.jobs.cancel(job.id, actor_id=2, actor_is_admin=True)
    assert done.state is JobState.CANCELLED and done.refunded
    assert done.error_text == "Cancelled by an admin."
    assert (await engine.quota.status(1000, 1)).reserved == 0
    with pytest.raises(JobError, match="already finished"):
        await engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
    row = await engine.store.fetchone("SELECT remote_cancel, next_poll_at FROM jobs")
    assert row is not None and row[0] == 0 and row[1] is not None  # failure notice is due


async def test_cancel_of_a_running_job_asks_the_worker_to_cancel_at_runway(engine: Engine) -> None:
    job = await engine.jobs.create(new_animate())
    async with engine.store.transaction() as conn:
        await jobs_repo.update(conn, job.id, {"state": "running", "provider_task_id": "t1"})
    done = await engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
    assert done.state is JobState.CANCELLED and done.error_text == "Cancelled by you."
    row = await engine.store.fetchone("SELECT remote_cancel FROM jobs WHERE id = ?", (job.id,))
    assert row is not None and row[0] == 1


async def test_rerun_uses_stored_inputs_new_seed_and_new_quota(engine: Engine) -> None:
    job = await engine.jobs.create(
        new_animate(seed=5, duration=10, inputs=(image_input(720, 1280),))
    )
    again = await engine.jobs.rerun(job.id, actor_id=1)
    assert again.rerun_of == job.id and again.params.seed not in (None, 5)
    assert again.params.ratio == job.params.ratio == "720:1280"
    with pytest.raises(NotAllowed):
        await engine.jobs.rerun(job.id, actor_id=2)
    with pytest.raises(QuotaExceeded):
        await engine.jobs.rerun(job.id, actor_id=1, new_seed=9)  # 150 > 100
    chosen = await engine.jobs.cancel(again.id, actor_id=1, actor_is_admin=False)
    assert chosen.refunded
    third = await engine.jobs.rerun(job.id, actor_id=1, new_seed=9)
    assert third.params.seed == 9


async def test_rerun_after_inputs_are_purged(
    engine: Engine, store: Store, clock: FakeClock
) -> None:
    job = await engine.jobs.create(new_animate())
    await engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)

    async def purge() -> int:  # what the worker runs once an hour
        async with store.transaction() as conn:
            return await jobs_repo.purge_inputs(conn, clock() - INPUT_RETENTION_SECONDS, clock())

    assert await purge() == 0
    clock.advance(8 * 86400)
    assert await purge() == 1
    with pytest.raises(JobError, match="no longer kept"):
        await engine.jobs.rerun(job.id, actor_id=1)


async def test_fair_queue_position(store: Store, clock: FakeClock) -> None:
    engine = Engine(make_settings(max_active_jobs_per_user=100), store, clock)
    flood = [await engine.jobs.create(new_animate(user_id=1, duration=2)) for _ in range(50)]
    late = await engine.jobs.create(new_animate(user_id=2, duration=2))
    assert await engine.jobs.queue_position(flood[0].id) == 1
    assert await engine.jobs.queue_position(late.id) == 2
    assert await engine.jobs.queue_position(flood[1].id) == 3
    assert await engine.jobs.queue_position(flood[49].id) == 51
    other_model = await engine.jobs.create(new_animate(user_id=3, model="veo3.1", duration=4))
    assert await engine.jobs.queue_position(other_model.id) == 1
    stats = await engine.jobs.queue_stats()
    assert stats.by_state == {JobState.QUEUED: 52}
    assert stats.queued_by_model == {"gen4_turbo": 51, "veo3.1": 1}
    await engine.jobs.cancel(late.id, actor_id=2, actor_is_admin=False)
    assert await engine.jobs.queue_position(late.id) is None
    assert await engine.jobs.queue_position(flood[1].id) == 2


async def test_list_and_active_and_attach(engine: Engine) -> None:
    a = await engine.jobs.create(new_animate(user_id=1))
    b = await engine.jobs.create(new_animate(user_id=1, guild_id=None))
    await engine.jobs.create(new_animate(user_id=2))
    await engine.jobs.cancel(a.id, actor_id=1, actor_is_admin=False)
    assert [j.id for j in await engine.jobs.list_user_jobs(1)] == [b.id, a.id]
    assert [j.id for j in await engine.jobs.list_user_jobs(1, guild_id=1000)] == [a.id]
    assert [j.id for j in await engine.jobs.active_jobs(1)] == [b.id]
    await engine.jobs.attach_message(b.id, channel_id=9, thread_id=10, status_message_id=11)
    got = await engine.jobs.get(b.id)
    assert got is not None and (got.channel_id, got.thread_id, got.status_message_id) == (9, 10, 11)
    assert got.nonce == f"rwjob-{b.id}"
    with pytest.raises(JobNotFound):
        await engine.jobs.attach_message(999, channel_id=1, thread_id=None, status_message_id=1)
    assert await engine.jobs.get(999) is None


async def test_restyle_create(engine: Engine) -> None:
    video = JobInput(InputRole.VIDEO, "video/mp4", b"\x00" * 10, "a.mp4", 640, 360, 12.0)
    ref = replace(image_input(), role=InputRole.REFERENCE)
    job = await engine.jobs.create(
        NewJob(JobKind.RESTYLE, 1, 1000, 5, "make it snow", _p("gen4_aleph"), (video, ref))
    )
    assert job.params.ratio is None and job.estimated_credits == 75
    assert [i.role for i in await engine.jobs.inputs(job.id)] == [
        InputRole.VIDEO,
        InputRole.REFERENCE,
    ]


# -- iterating on a result (issue 14) -------------------------------------------------------


async def test_plan_rerun_with_an_edited_prompt_keeps_the_seed_and_records_the_origin(
    engine: Engine,
) -> None:
    job = await engine.jobs.create(new_animate(seed=5, inputs=(image_input(1000, 1000),)))
    assert job.ratio_auto and job.rerun_of is None and job.origin is None
    plan = await engine.jobs.plan_rerun(
        job.id, actor_id=1, new_seed=5, prompt="  a storm  ", origin=Origin.EDIT
    )
    assert (plan.prompt, plan.params.seed, plan.parent_id, plan.origin) == (
        "a storm",
        5,
        job.id,
        "edit",
    )
    edited = await engine.jobs.create(replace(plan, quota_left=50.0))
    assert (edited.rerun_of, edited.origin, edited.quota_left) == (job.id, "edit", 50.0)
    assert not edited.ratio_auto  # the ratio chosen for the first job is kept as given
    assert edited.params.ratio == job.params.ratio
    with pytest.raises(NotAllowed, match="can edit it"):
        await engine.jobs.plan_rerun(job.id, actor_id=2, prompt="x", origin=Origin.EDIT)
    retry = await engine.jobs.plan_rerun(job.id, actor_id=1, new_seed=5)
    vary = await engine.jobs.plan_rerun(job.id, actor_id=1)
    assert (retry.origin, vary.origin) == ("retry", "rerun")
    assert vary.params.seed != 5


async def test_derive_needs_a_finished_clip_and_the_requester(engine: Engine) -> None:
    job = await engine.jobs.create(new_animate())
    frame = image_input(640, 360)
    args = {
        "kind": JobKind.ANIMATE,
        "params": JobParams(model="gen4_turbo"),
        "prompt": "on and on",
        "inputs": (frame,),
        "origin": Origin.CONTINUE,
    }
    with pytest.raises(JobError, match="no clip to work from"):
        await engine.jobs.derive(job.id, actor_id=1, **args)  # type: ignore[arg-type]
    async with engine.store.transaction() as conn:
        await jobs_repo.update(conn, job.id, {"state": JobState.SUCCEEDED.value})
    with pytest.raises(NotAllowed, match="can continue it"):
        await engine.jobs.derive(job.id, actor_id=2, **args)  # type: ignore[arg-type]
    plan = await engine.jobs.derive(job.id, actor_id=1, **args)  # type: ignore[arg-type]
    made = await engine.jobs.create(plan)
    assert (made.rerun_of, made.origin, made.prompt) == (job.id, "continue", "on and on")
    assert made.params.ratio == "1280:720" and made.ratio_auto  # chosen from the frame


async def test_create_and_cancel_wake_the_workers_of_other_processes(
    pg_url: str, settings: Settings
) -> None:
    """On PostgreSQL a job created or cancelled through one store (process) wakes whoever
    listens on another (NOTIFY); the store's own wake callback runs too."""
    from bot.quota import QuotaService
    from bot.store.postgres.db import PgStore

    here, there = await PgStore.connect(pg_url), await PgStore.connect(pg_url)
    try:
        woken = asyncio.Event()
        await there.listen(woken.set)
        local: list[int] = []
        quota = QuotaService(here, settings.quota, settings.models)
        jobs = JobService(settings, here, quota, wake=lambda: local.append(1))
        job = await jobs.create(new_animate())
        await asyncio.wait_for(woken.wait(), 10)
        woken.clear()
        await jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
        await asyncio.wait_for(woken.wait(), 10)
        assert local == [1, 1]
    finally:
        await here.close()
        await there.close()
