import asyncio
from datetime import UTC, datetime

import pytest

from bot.catalog import default_catalog
from bot.config import QuotaPeriod, QuotaSettings
from bot.domain import JobError, QuotaExceeded
from bot.quota import QuotaService, period_window, resolve_limit
from bot.store import jobs_repo
from bot.store.db import Store
from bot.store.quota_repo import LimitRow
from tests.bot.conftest import FakeClock, StoreOpener

G = 1000


def _quota(store: Store, clock: FakeClock, **kw: object) -> QuotaService:
    return QuotaService(store, QuotaSettings.model_validate(kw), default_catalog(), clock=clock)


async def _reserve(
    store: Store, quota: QuotaService, user: int, credits: float, roles: tuple[int, ...] = ()
) -> int:
    """What JobService.create does: plan, insert the job, commit, in one transaction."""
    async with store.transaction() as conn:
        res = await quota.plan_reservation(
            conn, guild_id=G, user_id=user, role_ids=roles, credits=credits
        )
        job_id = await jobs_repo.insert_job(
            conn,
            {
                "kind": "animate", "state": "queued", "user_id": user, "guild_id": G,
                "channel_id": 1, "prompt": "", "model": "gen4_turbo", "created_at": 0,
                "updated_at": 0, "estimated_credits": credits, "quota_key": res.quota_key,
                "quota_guild": res.guild_key, "quota_amount": res.amount,
                "cap_key": res.cap_key, "quota_state": "reserved",
            },
        )  # fmt: skip
        await quota.commit_reservation(conn, res, job_id)
        return job_id


def test_period_windows_are_utc_with_known_reset() -> None:
    now = datetime(2026, 11, 18, 23, 59, tzinfo=UTC)  # a Wednesday
    assert period_window(QuotaPeriod.DAY, now) == ("2026-11-18", datetime(2026, 11, 19, tzinfo=UTC))
    assert period_window(QuotaPeriod.WEEK, now) == ("2026-W47", datetime(2026, 11, 23, tzinfo=UTC))
    assert period_window(QuotaPeriod.MONTH, now) == ("2026-11", datetime(2026, 12, 1, tzinfo=UTC))
    dec = datetime(2026, 12, 31, 5, tzinfo=UTC)
    assert period_window(QuotaPeriod.MONTH, dec) == ("2026-12", datetime(2027, 1, 1, tzinfo=UTC))
    sunday = datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert period_window(QuotaPeriod.WEEK, sunday)[1] == datetime(2026, 11, 23, tzinfo=UTC)
    monday = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert period_window(QuotaPeriod.WEEK, monday) == (
        "2026-W48",
        datetime(2026, 11, 30, tzinfo=UTC),
    )


def test_limit_resolution_order() -> None:
    user = LimitRow("user", 5, "limit", 7)
    role_a = LimitRow("role", 1, "limit", 50)
    role_b = LimitRow("role", 2, "limit", 80)
    role_blocked = LimitRow("role", 3, "blocked", None)
    role_unl = LimitRow("role", 4, "unlimited", None)
    guild = LimitRow("guild", 0, "limit", 20)
    r = resolve_limit([user, role_a, guild], 5, 100)
    assert (r.limit, r.source) == (7, "user override")
    r = resolve_limit([role_a, role_b, role_blocked, guild], 5, 100)
    assert (r.limit, r.source) == (80, "role 2")
    r = resolve_limit([role_a, role_unl], 5, 100)
    assert (r.limit, r.blocked, r.source) == (None, False, "role 4")
    r = resolve_limit([role_blocked, guild], 5, 100)
    assert r.blocked and r.source == "role 3"
    assert resolve_limit([guild], 5, 100).source == "guild default"
    r = resolve_limit([], 5, 100)
    assert (r.limit, r.source) == (100, "config default")
    assert resolve_limit([], 5, None).limit is None
    r = resolve_limit([LimitRow("user", 5, "blocked", None), role_unl], 5, None)
    assert r.blocked


async def test_admin_operations_and_status(store: Store, clock: FakeClock) -> None:
    q = _quota(store, clock, default_limit=100)
    s = await q.status(G, 5)
    assert (s.limit, s.source, s.used, s.remaining) == (100, "config default", 0, 100)
    assert s.resets_at == datetime(2026, 11, 19, tzinfo=UTC)
    await q.set_guild_default(G, 40)
    assert (await q.status(G, 5)).limit == 40
    await q.set_role_limit(G, 9, 60)
    assert (await q.status(G, 5, [9])).source == "role 9"
    assert (await q.status(G, 5)).source == "guild default"
    await q.set_user_limit(G, 5, "unlimited")
    s = await q.status(G, 5, [9])
    assert s.limit is None and s.remaining is None and s.source == "user override"
    await q.set_user_limit(G, 5, "blocked")
    s = await q.status(G, 5, [9])
    assert s.blocked and s.remaining == 0
    await q.clear_user_limit(G, 5)
    await q.set_role_limit(G, 9, None)
    await q.set_guild_default(G, None)
    assert (await q.status(G, 5)).source == "config default"
    for bad in (-1, 2.5, True, "lots"):
        with pytest.raises(JobError):
            await q.set_user_limit(G, 5, bad)  # type: ignore[arg-type]
    with pytest.raises(JobError):
        await q.grant(G, 5, 0)
    # other guilds are separate
    await q.set_user_limit(G + 1, 5, 1)
    assert (await q.status(G, 5)).limit == 100


async def test_reserve_settle_refund_and_ledger(store: Store, clock: FakeClock) -> None:
    q = _quota(store, clock, default_limit=100)
    a = await _reserve(store, q, 5, 25)
    b = await _reserve(store, q, 5, 50)
    s = await q.status(G, 5)
    assert (s.used, s.reserved, s.remaining) == (0, 75, 25)
    with pytest.raises(QuotaExceeded, match=r"needs 30 credits but you have 25 of 100 left"):
        await _reserve(store, q, 5, 30)
    async with store.transaction() as conn:
        row = await _row_in(conn, a)
        assert await q.settle(conn, row, 20.0) == 20.0  # the provider's reported cost
        row = await _row_in(conn, a)
        assert await q.settle(conn, row, 99.0) == 20.0  # second settle is a no-op
        assert await q.refund(conn, await _row_in(conn, a)) is False
        assert await q.refund(conn, await _row_in(conn, b)) is True
        assert await q.refund(conn, await _row_in(conn, b)) is False
    s = await q.status(G, 5)
    assert (s.used, s.reserved, s.remaining) == (20, 0, 80)
    entries = await store.fetchall(
        "SELECT entry, amount, job_id FROM usage_ledger WHERE guild_id = ? ORDER BY id", (G,)
    )
    assert [tuple(e) for e in entries] == [
        ("reserve", 25, a),
        ("reserve", 50, b),
        ("settle", 20, a),
        ("refund", 50, b),
    ]
    await q.grant(G, 5, 10)
    s = await q.status(G, 5)
    assert (s.bonus, s.remaining) == (10, 90)
    assert await q.top(G) == [(5, 20.0)]
    await q.reset_usage(G, 5)
    s = await q.status(G, 5)
    assert (s.used, s.bonus, s.remaining) == (0, 0, 100)
    assert await q.top(G) == []


async def _row_in(conn, job_id):  # type: ignore[no-untyped-def]
    return await jobs_repo.get(conn, job_id)


async def test_jobs_unit_counts_one_per_job_and_resets_next_period(
    store: Store, clock: FakeClock
) -> None:
    q = _quota(store, clock, unit="jobs", default_limit=2)
    await _reserve(store, q, 5, 300)
    await _reserve(store, q, 5, 300)
    with pytest.raises(QuotaExceeded, match="needs 1 jobs but you have 0 of 2 left today"):
        await _reserve(store, q, 5, 300)
    clock.advance(12 * 3600)  # next UTC day
    s = await q.status(G, 5)
    assert (s.used, s.reserved, s.remaining) == (0, 0, 2)
    await _reserve(store, q, 5, 300)


async def test_blocked_user_is_refused(store: Store, clock: FakeClock) -> None:
    q = _quota(store, clock)
    await q.set_role_limit(G, 3, "blocked")
    with pytest.raises(QuotaExceeded, match="not allowed"):
        await _reserve(store, q, 5, 1, roles=(3,))
    row = await store.fetchone("SELECT COUNT(*) FROM jobs")
    assert row is not None and row[0] == 0


async def test_bot_wide_daily_cap(store: Store, clock: FakeClock) -> None:
    q = _quota(store, clock, daily_credit_cap=100)
    await _reserve(store, q, 1, 60)
    with pytest.raises(QuotaExceeded, match="today's Runway budget") as refused:
        await _reserve(store, q, 2, 50)
    assert refused.value.scope == "bot"
    await _reserve(store, q, 2, 40)
    assert await q.bot_usage_today() == (0, 100)


async def test_200_concurrent_reservations_admit_exactly_the_limit(
    open_store: StoreOpener,
) -> None:
    clock = FakeClock()
    stores = [await open_store() for _ in range(4)]  # four processes on one database
    try:
        services = [_quota(s, clock, default_limit=37) for s in stores]

        async def one(i: int) -> bool:
            try:
                await _reserve(stores[i % 4], services[i % 4], 5, 1)
            except QuotaExceeded:
                return False
            return True

        results = await asyncio.gather(*(one(i) for i in range(200)))
        assert sum(results) == 37
        s = await services[0].status(G, 5)
        assert (s.reserved, s.remaining) == (37, 0)
        row = await stores[0].fetchone("SELECT COUNT(*) FROM jobs")
        assert row is not None and row[0] == 37
    finally:
        for s in stores:
            await s.close()


async def test_server_daily_budget_is_enforced_at_admission(store: Store, clock: FakeClock) -> None:
    q = _quota(store, clock)
    await q.guilds.update(G, 42, daily_budget=100)
    a = await _reserve(store, q, 1, 60)
    with pytest.raises(QuotaExceeded, match="budget of 100 credits") as refused:
        await _reserve(store, q, 2, 50)  # another member: the budget is the server's
    assert refused.value.scope == "guild"
    assert refused.value.fmt["left"] == "40" and refused.value.fmt["needed"] == "50"
    assert "100" in refused.value.text("ja")
    assert await q.guild_usage_today(G) == (0, 60)
    async with store.transaction() as conn:  # a refunded job gives the budget back
        assert await q.refund(conn, await _row_in(conn, a), provider_spent=60) is True
    b = await _reserve(store, q, 2, 90)
    async with store.transaction() as conn:  # a settled job counts what was charged
        await q.settle(conn, await _row_in(conn, b), 80.0)
    assert await q.guild_usage_today(G) == (80, 0)
    with pytest.raises(QuotaExceeded):
        await _reserve(store, q, 3, 21)
    await _reserve(store, q, 3, 20)
    clock.advance(12 * 3600)  # the next UTC day renews the budget
    assert await q.guild_usage_today(G) == (0, 0)
    await _reserve(store, q, 3, 100)


async def test_without_a_budget_the_server_spend_is_still_counted(
    store: Store, clock: FakeClock
) -> None:
    q = _quota(store, clock)
    await _reserve(store, q, 1, 500)
    assert await q.guild_usage_today(G) == (0, 500)
    assert await q.guild_usage_today(G + 1) == (0, 0)
    await q.guilds.update(G, 1, daily_budget=400)  # a budget set later sees today's spend
    with pytest.raises(QuotaExceeded, match="0 left"):
        await _reserve(store, q, 2, 1)


async def test_concurrent_jobs_never_overrun_the_server_budget(open_store: StoreOpener) -> None:
    clock = FakeClock()
    stores = [await open_store() for _ in range(3)]
    try:
        services = [_quota(s, clock) for s in stores]
        await services[0].guilds.update(G, 1, daily_budget=50)

        async def one(i: int) -> bool:
            try:
                await _reserve(stores[i % 3], services[i % 3], 100 + i, 5)
            except QuotaExceeded:
                return False
            return True

        results = await asyncio.gather(*(one(i) for i in range(40)))
        assert sum(results) == 10
        assert await services[0].guild_usage_today(G) == (0, 50)
    finally:
        for s in stores:
            await s.close()


async def test_limit_changes_are_audited_with_actor_and_values(
    store: Store, clock: FakeClock
) -> None:
    q = _quota(store, clock, default_limit=100)
    await q.set_user_limit(G, 5, 30, actor_id=42)
    await q.set_user_limit(G, 5, 30, actor_id=42)  # no change, no entry
    await q.set_role_limit(G, 9, "unlimited", actor_id=43)
    await q.set_guild_default(G, 10)  # the operator CLI: no actor
    clock.advance(5)
    await q.clear_user_limit(G, 5, actor_id=44)
    await q.grant(G, 5, 7, actor_id=42)
    log = await q.audit_log(G, limit=50)
    assert [(r.actor_id, r.action, r.subject_id, r.old_value, r.new_value) for r in log] == [
        (42, "bonus.grant", 5, "0", "7"),
        (44, "limit.user", 5, "30", None),
        (None, "limit.guild", None, None, "10"),
        (43, "limit.role", 9, None, "unlimited"),
        (42, "limit.user", 5, None, "30"),
    ]
    assert log[0].created_at == clock.now
    older = await q.audit_log(G, limit=2, offset=2)
    assert [r.id for r in older] == [log[2].id, log[3].id]
    about = await q.audit_log(G, limit=10, subject_id=9)
    assert [r.action for r in about] == ["limit.role"]
    assert await q.audit_log(G + 1) == []


async def test_reset_says_what_it_cleared_and_can_keep_the_bonus(
    store: Store, clock: FakeClock
) -> None:
    q = _quota(store, clock, default_limit=100)
    a = await _reserve(store, q, 5, 30)
    async with store.transaction() as conn:
        await q.settle(conn, await _row_in(conn, a), 30.0)
    await _reserve(store, q, 5, 10)  # still running: stays reserved
    await q.grant(G, 5, 15)
    done = await q.reset_usage(G, 5, clear_bonus=False, actor_id=42)
    assert (done.used, done.bonus_cleared, done.bonus_kept, done.reserved) == (30, 0, 15, 10)
    s = await q.status(G, 5)
    assert (s.used, s.bonus, s.reserved, s.remaining) == (0, 15, 10, 105)
    done = await q.reset_usage(G, 5, actor_id=42)
    assert (done.used, done.bonus_cleared, done.bonus_kept) == (0, 15, 0)
    assert (await q.status(G, 5)).bonus == 0
    actions = [(r.action, r.old_value) for r in await q.audit_log(G, limit=3)]
    assert actions == [("bonus.reset", "15"), ("usage.reset", "0"), ("usage.reset", "30")]


async def test_limits_lists_default_roles_and_overrides(store: Store, clock: FakeClock) -> None:
    q = _quota(store, clock)
    assert (await q.limits(G)).default is None
    await q.set_guild_default(G, 10)
    await q.set_role_limit(G, 9, 60)
    await q.set_role_limit(G, 8, "blocked")
    await q.set_user_limit(G, 5, "unlimited")
    await q.set_user_limit(G + 1, 6, 1)
    got = await q.limits(G)
    assert got.default == LimitRow("guild", 0, "limit", 10)
    assert got.roles == (LimitRow("role", 8, "blocked", None), LimitRow("role", 9, "limit", 60))
    assert got.users == (LimitRow("user", 5, "unlimited", None),)


async def test_status_names_the_role_a_limit_comes_from(store: Store, clock: FakeClock) -> None:
    q = _quota(store, clock, default_limit=5)
    await q.set_role_limit(G, 9, 60)
    assert (await q.status(G, 5, [9])).source_role == 9
    assert (await q.status(G, 5)).source_role is None


@pytest.mark.parametrize(("period", "phrase"), [("week", "this week"), ("month", "this month")])
async def test_refusal_names_the_period_plainly(
    store: Store, clock: FakeClock, period: str, phrase: str
) -> None:
    q = _quota(store, clock, unit="jobs", default_limit=1, period=period)
    await _reserve(store, q, 5, 1)
    with pytest.raises(QuotaExceeded, match=f"0 of 1 left {phrase}") as refused:
        await _reserve(store, q, 5, 1)
    assert refused.value.key == f"quota.not_enough.{period}"
