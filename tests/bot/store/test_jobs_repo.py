from bot.store import jobs_repo
from tests.bot.conftest import Engine, new_animate


async def test_due_and_claim_respect_leases(engine: Engine) -> None:
    job = await engine.jobs.create(new_animate())
    now = engine.clock()
    async with engine.store.transaction() as c:
        assert await jobs_repo.earliest_due(c) is None
        await c.execute("UPDATE jobs SET next_poll_at = ? WHERE id = ?", (now - 5, job.id))
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
