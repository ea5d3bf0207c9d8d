"""Hot-path queries must use an index (checked with EXPLAIN QUERY PLAN on the real SQL)."""

import sqlite3

import pytest

from bot.store import jobs_repo
from tests.bot.conftest import Engine, new_animate
from tests.bot.worker.harness import Harness

pytestmark = pytest.mark.sqlite_only  # SQLite's EXPLAIN QUERY PLAN on its own connection


async def test_hot_path_queries_use_indexes(engine: Engine) -> None:
    for user in range(1, 6):
        await engine.jobs.create(new_animate(user_id=user, duration=2))
    job = await engine.jobs.create(new_animate(user_id=9, duration=2))

    statements: list[str] = []
    conn = engine.store._conn
    await conn.set_trace_callback(statements.append)
    now = engine.clock()
    async with engine.store.transaction() as c:
        await jobs_repo.queued_in_order(c, "gen4_turbo", now, 5)
        await jobs_repo.due_ids(c, now, 10)
        await jobs_repo.earliest_due(c)
        await jobs_repo.earliest_submit_after(c)
        await jobs_repo.in_flight_by_model(c)
        await jobs_repo.count_active(c, 1)
        await jobs_repo.queue_position(c, job.id)
        await jobs_repo.next_fair_seq(c, 1, "gen4_turbo")
        await jobs_repo.claim(c, job.id, "w", now, now + 60)
        # the publish leases: adoption at start and later, taking one, renewal
        await jobs_repo.unpublished_ids(c, "w", now, True)
        await jobs_repo.unpublished_ids(c, "w", now, False)
        await jobs_repo.take_publication(c, job.id, "w", now, now + 60, False)
        await jobs_repo.renew_publications(c, "w", now + 60, now + 60)
    await engine.quota.status(1000, 1, [3, 4])
    await conn.set_trace_callback(None)

    hot = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "UPDATE"))]
    assert len(hot) >= 12
    with sqlite3.connect(engine.store.path) as raw:
        for sql in hot:
            plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql)]
            full_scans = [p for p in plan if p.startswith("SCAN") and "USING" not in p]
            assert not full_scans, (sql, plan)


async def test_worker_passes_use_indexes(harness: Harness) -> None:
    h = harness
    for user in range(1, 5):
        await h.engine.jobs.create(new_animate(user_id=user, duration=2))
    w = h.worker()
    statements: list[str] = []
    await h.store._conn.set_trace_callback(statements.append)
    await w.recover()
    for _ in range(4):
        await h.cycle(w, 6)
    await h.store._conn.set_trace_callback(None)
    hot = {
        s
        for s in statements
        if s.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")) and "jobs" in s
    }
    assert len(hot) > 10
    with sqlite3.connect(h.store.path) as raw:
        for sql in hot:
            plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql)]
            full_scans = [p for p in plan if p.startswith("SCAN") and "USING" not in p]
            assert not full_scans, (sql, plan)


async def test_reads_that_grow_with_history_use_indexes(engine: Engine) -> None:
    """Queue stats (every metrics scrape), the account check and a member's active jobs read
    indexes, not the table: they once scanned every job ever made (benchmarks/scale.py)."""
    for user in range(1, 4):
        await engine.jobs.create(new_animate(user_id=user, duration=2))
    statements: list[str] = []
    conn = engine.store._conn
    await conn.set_trace_callback(statements.append)
    async with engine.store.transaction() as c:
        await jobs_repo.stats(c, engine.clock() - 86_400)
        await jobs_repo.latest_account_problem(c, engine.clock() - 86_400)
        await jobs_repo.active_for_user(c, 1)
        await jobs_repo.count_active(c, 1)
    await conn.set_trace_callback(None)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) >= 7
    with sqlite3.connect(engine.store.path) as raw:
        for sql in reads:
            plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql)]
            full_scans = [p for p in plan if p.startswith("SCAN") and "USING" not in p]
            assert not full_scans, (sql, plan)
            if "user_id" in sql:
                assert any("jobs_user_active" in p for p in plan), (sql, plan)
            if "error_code IN" in sql:
                assert any("jobs_account_errors" in p for p in plan), (sql, plan)
