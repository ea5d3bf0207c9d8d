"""``runway-bot migrate-store``: a stopped bot's SQLite database copied into PostgreSQL (the
throwaway cluster), checked, and refused while a bot holds it or the target holds data."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.domain import JobState
from bot.instance import acquire_instance
from bot.jobs import JobService
from bot.quota import QuotaService
from bot.store import guild_repo, jobs_repo, quota_repo
from bot.store.db import Store
from bot.store.postgres.db import PgStore
from bot.store.records import SettingsRow
from tests.bot.conftest import new_animate
from tests.bot.operator.conftest import BotDb

TABLES = ("jobs", "job_inputs", "quota_usage", "usage_ledger", "quota_limits")


def fill(bot_db: BotDb) -> list[int]:
    """Jobs in several states (with inputs, a rerun), a limit, server settings, channels and
    an audit entry; returns the job ids."""

    async def go(store: Store, quota: QuotaService, jobs: JobService) -> list[int]:
        ids = [
            (await jobs.create(new_animate(user, prompt=f"sea {user}"))).id for user in (1, 2, 3)
        ]
        await jobs.cancel(ids[1], actor_id=2, actor_is_admin=False)
        async with store.transaction() as conn:
            await jobs_repo.update(conn, ids[2], {"state": JobState.SUCCEEDED.value})
            await quota_repo.put_limit(conn, 1000, "user", 1, "limit", 40, 1.0)
            await guild_repo.put_settings(conn, 1000, SettingsRow(7, 3, "de"), 1.0)
            await guild_repo.add_channels(conn, 1000, [55, 56], 1.0)
            await guild_repo.add_audit(
                conn, 1000, 9, "limit", subject_id=1, old_value=None, new_value="40", now=1.0
            )
        return ids

    return bot_db.use(go)


def on_postgres(url: str, fn: Any) -> Any:
    async def go() -> Any:
        store = await PgStore.connect(url)
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(go())


def test_copies_every_table_and_checks_it(bot_db: BotDb, pg_url: str) -> None:
    ids = fill(bot_db)
    before = [bot_db.get(i) for i in ids]

    result = bot_db.cli("migrate-store", "--from", f"sqlite:{bot_db.path}", "--to", pg_url)

    assert result.code == 0, result.err
    assert "every table arrived whole" in result.out
    assert "FAIL" not in result.out
    for table in (*TABLES, "guild_settings", "guild_channels", "quota_audit"):
        assert f"OK   {table}:" in result.out
    assert "jobs: 3 of 3 rows copied" in result.err  # the progress report (not a terminal)

    async def check(store: PgStore) -> None:
        async with store.read() as conn:
            after = [await jobs_repo.get(conn, i) for i in ids]
            assert [r.job for r in after if r is not None] == before
            assert len(await jobs_repo.load_inputs(conn, ids[0])) == 1
            first = after[0]
            assert first is not None and first.quota_key is not None
            assert (await quota_repo.usage(conn, 1000, 1, first.quota_key)).reserved > 0
            assert await guild_repo.channels(conn, 1000) == frozenset({55, 56})
        settings = bot_db.settings  # the same configuration, now on PostgreSQL
        quota = QuotaService(store, settings.quota, settings.models)
        new = await JobService(settings, store, quota).create(new_animate(4, guild_id=2000))
        assert new.id == max(ids) + 1  # the identity sequence moved past the copied ids

    on_postgres(pg_url, check)


def test_json_reports_counts_and_credit_sums(bot_db: BotDb, pg_url: str) -> None:
    fill(bot_db)
    result = bot_db.cli(
        "migrate-store", "--from", f"sqlite:{bot_db.path}", "--to", pg_url, "--json"
    )
    assert result.code == 0, result.err
    data = result.json()
    assert data["ok"] is True and data["tables"]["jobs"]["target_rows"] == 3
    source, target = data["tables"]["usage_ledger"]["sums"]["amount"]
    assert source == target and data["tables"]["usage_ledger"]["source_rows"] > 0
    assert "password" not in result.out


def test_refused_while_a_bot_holds_the_database(bot_db: BotDb, pg_url: str) -> None:
    fill(bot_db)
    lock = acquire_instance(bot_db.path.parent)  # what `runway-bot run` holds
    try:
        result = bot_db.cli("migrate-store", "--from", f"sqlite:{bot_db.path}", "--to", pg_url)
    finally:
        lock.release()
    assert result.code == 2
    assert "another bot process is already using" in result.err and "stop the bot" in result.err

    async def count(store: PgStore) -> int:
        row = await store.fetchone("SELECT COUNT(*) FROM jobs")
        assert row is not None
        return int(row[0])

    assert on_postgres(pg_url, count) == 0


def test_non_empty_target_is_refused_unless_replaced(bot_db: BotDb, pg_url: str) -> None:
    ids = fill(bot_db)
    args = ("migrate-store", "--from", f"sqlite:{bot_db.path}", "--to", pg_url)
    assert bot_db.cli(*args).code == 0

    again = bot_db.cli(*args)
    assert again.code == 2
    assert "already holds data (tables jobs" in again.err and "--replace" in again.err

    replaced = bot_db.cli(*args, "--replace")
    assert replaced.code == 0, replaced.err
    assert "OK   jobs: 3/3 rows" in replaced.out

    async def top(store: PgStore) -> int:
        row = await store.fetchone("SELECT MAX(id) FROM jobs")
        assert row is not None
        return int(row[0])

    assert on_postgres(pg_url, top) == max(ids)


def test_bad_arguments_say_what_is_wrong(bot_db: BotDb, pg_url: str) -> None:
    missing = bot_db.cli("migrate-store", "--from", "sqlite:/nonexistent/x.db", "--to", pg_url)
    assert missing.code == 2 and "no SQLite database at /nonexistent/x.db" in missing.err
    wrong = bot_db.cli("migrate-store", "--from", pg_url, "--to", pg_url)
    assert wrong.code == 2 and "--from must be sqlite:PATH" in wrong.err
    target = bot_db.cli("migrate-store", "--from", f"sqlite:{bot_db.path}", "--to", "mysql://x")
    assert target.code == 2 and "--to must be a postgresql://" in target.err


def test_a_table_postgresql_lacks_stops_the_copy_before_it_starts(
    bot_db: BotDb, pg_url: str
) -> None:
    fill(bot_db)

    async def add_table(store: Store, quota: QuotaService, jobs: JobService) -> None:
        async with store.transaction() as conn:
            await conn.execute("CREATE TABLE local_notes (id INTEGER PRIMARY KEY, note TEXT)")

    bot_db.use(add_table)
    result = bot_db.cli("migrate-store", "--from", f"sqlite:{bot_db.path}", "--to", pg_url)
    assert result.code == 1
    assert "the PostgreSQL schema has no table local_notes" in result.err

    async def count(store: PgStore) -> int:
        row = await store.fetchone("SELECT COUNT(*) FROM jobs")
        assert row is not None
        return int(row[0])

    assert on_postgres(pg_url, count) == 0
