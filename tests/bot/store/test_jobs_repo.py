from bot.jobs import JobService
from bot.store import jobs_repo
from tests.bot.conftest import Engine, new_animate


async def test_due_and_claim_respect_leases(engine: Engine) -> None:
    job = await engine.jobs.create(new_animate())
    now = engine.clock()
    async with engine.store.transaction() as c:
        assert await jobs_repo.earliest_due(c) is None
        await jobs_repo.update(c, job.id, {"next_poll_at": now - 5})
        assert await jobs_repo.due_ids(c, now, 10) == [job.id]
        assert await jobs_repo.claim(c, job.id, "a", now, now + 100)
        assert not await jobs_repo.claim(c, job.id, "b", now, now + 100)
        assert await jobs_repo.due_ids(c, now, 10) == []
        # a leased job is not due before its lease ends: the loop must not spin on it
        assert await jobs_repo.earliest_due(c) == now + 100
        assert await jobs_repo.due_ids(c, now + 100, 10) == [job.id]
        assert await jobs_repo.claim(c, job.id, "b", now + 100, now + 200)


async def test_fair_sequence_interleaves_users(engine: Engine) -> None:
    a = [await engine.jobs.create(new_animate(user_id=1, duration=2)) for _ in range(3)]
    b = await engine.jobs.create(new_animate(user_id=2, duration=2))
    c = await engine.jobs.create(new_animate(user_id=3, duration=2))
    async with engine.store.transaction() as conn:
        seqs = {j.id: (await jobs_repo.get(conn, j.id)) for j in (*a, b, c)}
        order = await jobs_repo.queued_in_order(conn, "gen4_turbo", engine.clock(), 10)
    fair = {job_id: rec.fair_seq for job_id, rec in seqs.items() if rec is not None}
    assert [fair[j.id] for j in a] == [0, 1, 2]
    assert fair[b.id] == 0 and fair[c.id] == 0
    assert order == [a[0].id, b.id, c.id, a[1].id, a[2].id]


async def _published_by(
    engine: Engine, publisher: str | None, lease: float = 120.0, user: int = 1
) -> int:
    """A job created by the command of the process ``publisher`` (None: no publisher)."""
    jobs = JobService(
        engine.settings,
        engine.store,
        engine.quota,
        clock=engine.clock,
        publisher=publisher,
        publish_lease=lease,
    )
    return (await jobs.create(new_animate(user_id=user, duration=2))).id


async def test_a_starting_worker_adopts_unpublished_jobs_of_nobody_itself_or_the_dead(
    engine: Engine,
) -> None:
    nobody = await _published_by(engine, None, user=1)
    mine = await _published_by(engine, "a", user=2)  # this owner's previous run
    live = await _published_by(engine, "b", user=3)
    dead = await _published_by(engine, "c", lease=10, user=4)
    posted = await _published_by(engine, None, user=5)
    now = engine.clock() + 60
    async with engine.store.transaction() as c:
        await jobs_repo.update(c, posted, {"status_message_id": 5})
        assert await jobs_repo.unpublished_ids(c, "a", now, True) == [nobody, mine, dead]
        # running: only another publisher's expired lease; never its own nor nobody's
        assert await jobs_repo.unpublished_ids(c, "a", now, False) == [dead]
        assert await jobs_repo.unpublished_ids(c, "c", now, False) == []
        assert await jobs_repo.unpublished_ids(c, "a", now + 61, False) == [live, dead]


async def test_a_finished_job_with_nothing_left_to_tell_is_not_adopted(engine: Engine) -> None:
    told = await _published_by(engine, "b", lease=1)
    due = await _published_by(engine, "b", lease=1)
    now = engine.clock() + 5
    async with engine.store.transaction() as c:
        await jobs_repo.update(c, told, {"state": "failed", "next_poll_at": None})
        await jobs_repo.update(c, due, {"state": "failed", "next_poll_at": now})
        assert await jobs_repo.unpublished_ids(c, "a", now, True) == [due]
        assert await jobs_repo.unpublished_ids(c, "a", now, False) == [due]


async def test_taking_a_publication_is_exclusive_and_renewal_keeps_a_live_publisher(
    engine: Engine,
) -> None:
    job = await _published_by(engine, "b", lease=10)
    now = engine.clock()
    async with engine.store.transaction() as c:
        # a live publisher's job: neither a start nor a running worker takes it
        assert not await jobs_repo.take_publication(c, job, "a", now + 5, now + 125, True)
        assert not await jobs_repo.take_publication(c, job, "a", now + 5, now + 125, False)
        # its worker renews the lease: still not taken when the first one would have ended
        await jobs_repo.renew_publications(c, "b", now + 120, now + 120)
        await jobs_repo.renew_publications(c, "a", now + 500, now + 500)  # not a's
        assert await jobs_repo.unpublished_ids(c, "a", now + 60, False) == []
        assert not await jobs_repo.take_publication(c, job, "a", now + 60, now + 180, False)
        # dead: the first taker wins, the second finds it taken
        assert await jobs_repo.take_publication(c, job, "a", now + 120, now + 240, False)
        assert not await jobs_repo.take_publication(c, job, "d", now + 120, now + 240, False)
        assert await jobs_repo.unpublished_ids(c, "a", now + 240, False) == []
        assert await jobs_repo.unpublished_ids(c, "d", now + 240, False) == [job]
        # once its status message is recorded nobody takes it, whatever the lease says
        await jobs_repo.update(c, job, {"status_message_id": 9})
        assert not await jobs_repo.take_publication(c, job, "a", now + 999, now + 999, True)
        assert await jobs_repo.unpublished_ids(c, "d", now + 999, False) == []
