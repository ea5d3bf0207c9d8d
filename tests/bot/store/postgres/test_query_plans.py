"""Hot-path queries use an index on PostgreSQL too: every statement the job service and the
worker send is explained with sequential scans priced out (``enable_seqscan = off``), so a
plan that still reads a whole table has no index to use."""

from __future__ import annotations

import json
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from bot.store import jobs_repo
from bot.store.postgres.conn import PgConn
from bot.store.postgres.db import PgStore
from tests.bot.conftest import Engine, new_animate
from tests.bot.worker.harness import Harness

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

Statement = tuple[str, tuple[Any, ...]]


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[Statement]:
    """Every statement sent through a PgConn during the test, with its parameters."""
    seen: list[Statement] = []
    for name in ("fetch", "fetchrow", "fetchval", "execute"):
        original = getattr(PgConn, name)

        async def traced(self: PgConn, sql: str, *args: Any, _original: Any = original) -> Any:
            seen.append((sql, args))
            return await _original(self, sql, *args)

        monkeypatch.setattr(PgConn, name, traced)
    return seen


def _scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    found = [(plan["Node Type"], plan.get("Relation Name", ""))]
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def _full_scans(store: PgStore, hot: list[Statement]) -> list[tuple[str, list[str]]]:
    conn = await asyncpg.connect(store._dsn)
    try:
        await conn.execute("SET enable_seqscan = off")
        bad = []
        for sql, args in hot:
            raw = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
            plan = json.loads(raw)[0]["Plan"]
            seq = [rel for node, rel in _scans(plan) if node == "Seq Scan"]
            if seq:
                bad.append((sql, seq))
        return bad
    finally:
        await conn.close()


def _hot(statements: list[Statement]) -> list[Statement]:
    """The statements that read a table."""

    def reads_a_table(sql: str) -> bool:
        head = " ".join(sql.split()).upper()
        return head.startswith(("UPDATE", "DELETE")) or (
            head.startswith("SELECT") and " FROM " in head
        )

    return [s for s in statements if reads_a_table(s[0])]


async def test_hot_path_queries_use_indexes(engine: Engine, statements: list[Statement]) -> None:
    for user in range(1, 6):
        await engine.jobs.create(new_animate(user_id=user, duration=2))
    job = await engine.jobs.create(new_animate(user_id=9, duration=2))
    statements.clear()
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
        await jobs_repo.stats(c, now - 86_400)
        await jobs_repo.active_for_user(c, 1)
    await engine.quota.status(1000, 1, [3, 4])
    hot = _hot(statements)
    assert len(hot) >= 12
    assert isinstance(engine.store, PgStore)
    assert await _full_scans(engine.store, hot) == []


async def test_worker_passes_use_indexes(harness: Harness, statements: list[Statement]) -> None:
    h = harness
    for user in range(1, 5):
        await h.engine.jobs.create(new_animate(user_id=user, duration=2))
    w = h.worker()
    statements.clear()
    await w.recover()
    for _ in range(4):
        await h.cycle(w, 6)
    hot = [s for s in _hot(statements) if "jobs" in s[0]]
    assert len(hot) > 10
    assert isinstance(h.store, PgStore)
    assert await _full_scans(h.store, hot) == []
