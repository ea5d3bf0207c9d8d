import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bot.store.db import Store
from bot.store.schema import MigrationError, latest_version, load_migrations, migrate


def _schema(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    return {name: " ".join(sql.split()) for name, sql in rows}


def _columns(path: Path, table: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def test_migrations_are_numbered_without_gaps() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert latest_version() >= 2


async def test_empty_database_reaches_latest_in_wal_mode(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "a.db")
    try:
        assert await store.user_version() == latest_version()
        row = await store.fetchone("PRAGMA journal_mode")
        assert row is not None and row[0] == "wal"
    finally:
        await store.close()
    assert {"jobs", "job_inputs", "quota_limits", "quota_usage", "usage_ledger"} <= set(
        _schema(tmp_path / "a.db")
    )


@pytest.mark.parametrize("start", range(0, latest_version()))
async def test_upgrade_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    fresh = tmp_path / "fresh.db"
    store = await Store.open(fresh)
    await store.close()

    old = tmp_path / "old.db"
    store = await Store.open(old, target_version=start)
    assert await store.user_version() == start
    if start >= 1:
        async with store.transaction() as conn:
            await conn.execute(
                "INSERT INTO jobs (kind, state, user_id, channel_id, prompt, model,"
                " created_at, updated_at)"
                " VALUES ('animate', 'queued', 7, 8, 'hi', 'gen4_turbo', 1, 1)"
            )
    await store.close()

    store = await Store.open(old)
    try:
        assert await store.user_version() == latest_version()
        if start >= 1:
            row = await store.fetchone("SELECT user_id, prompt, inputs_purged_at FROM jobs")
            assert row is not None and tuple(row) == (7, "hi", None)
    finally:
        await store.close()
    assert _schema(old) == _schema(fresh)
    assert _columns(old, "jobs") == _columns(fresh, "jobs")


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    with pytest.raises(MigrationError, match="newer than this code"):
        await Store.open(path)


async def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    store = await Store.open(path, target_version=1)
    # Make migration 2 fail: the table it creates already exists.
    async with store.transaction() as conn:
        await conn.execute("CREATE TABLE job_inputs (x INTEGER)")
    await store.close()
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        with pytest.raises(MigrationError, match="0002"):
            await migrate(conn)
        async with conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        assert row is not None and row[0] == 1
        async with conn.execute("PRAGMA table_info(jobs)") as cur:
            cols = [r[1] for r in await cur.fetchall()]
        assert "inputs_purged_at" not in cols


async def test_each_migration_step_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="bot.store.schema")
    async with aiosqlite.connect(tmp_path / "fresh.sqlite3") as conn:
        await migrate(conn)
    steps = [r.getMessage() for r in caplog.records if "migrating the database" in r.getMessage()]
    total = len(load_migrations())
    assert len(steps) == total
    assert steps[0].startswith(f"migrating the database: step 1 of {total} (0001_")
    assert any(f"schema version {total}" in r.getMessage() for r in caplog.records)
    caplog.clear()
    async with aiosqlite.connect(tmp_path / "fresh.sqlite3") as conn:
        await migrate(conn)  # already current: nothing to say
    assert not [r for r in caplog.records if "migrating" in r.getMessage()]
