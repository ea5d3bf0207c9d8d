"""PostgreSQL migrations: once under the advisory lock, the same tables as SQLite's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from bot.store.db import Store, StoreError
from bot.store.postgres import schema
from bot.store.postgres.db import PgStore
from bot.store.schema import MigrationError, latest_version
from tests.pgcluster import Cluster, create_database, drop_database, run_apart


@pytest.fixture
def empty_url(pg_cluster: tuple[Cluster, str]) -> Iterator[str]:
    """A database with no tables (not copied from the template), dropped after the test."""
    url = run_apart(create_database(pg_cluster[0]))
    try:
        yield url
    finally:
        run_apart(drop_database(pg_cluster[0], url))


def test_the_backends_have_the_same_schema_versions() -> None:
    # a SQLite migration needs its PostgreSQL twin under the same number
    assert schema.latest_version() == latest_version()


async def test_processes_starting_together_migrate_once(empty_url: str) -> None:
    stores = await asyncio.gather(*(PgStore.connect(empty_url) for _ in range(4)))
    try:
        assert [await s.user_version() for s in stores] == [latest_version()] * 4
        rows = await stores[0].fetchall("SELECT version FROM schema_version")
        assert [r[0] for r in rows] == [latest_version()]
    finally:
        for s in stores:
            await s.close()


async def test_a_database_newer_than_the_code_is_refused(empty_url: str) -> None:
    store = await PgStore.connect(empty_url)
    async with store.transaction() as conn:
        await conn.execute("UPDATE schema_version SET version = version + 1")
    await store.close()
    with pytest.raises(MigrationError, match="newer than this code"):
        await PgStore.connect(empty_url)


async def test_upgrading_step_by_step_keeps_rows(empty_url: str) -> None:
    store = await PgStore.connect(empty_url, target_version=1)
    assert await store.user_version() == 1
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO jobs (kind, state, user_id, channel_id, prompt, model, created_at,"
            " updated_at) VALUES ('animate', 'queued', $1, 1, 'sea', 'gen4_turbo', 0, 0)",
            2**62,  # Discord ids need BIGINT
        )
    await store.close()
    store = await PgStore.connect(empty_url)
    try:
        assert await store.user_version() == latest_version()
        row = await store.fetchone("SELECT user_id, prompt FROM jobs")
        assert row is not None and (row[0], row[1]) == (2**62, "sea")
    finally:
        await store.close()


async def _pg_columns(url: str) -> dict[str, set[str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name <> 'schema_version'"
        )
    finally:
        await conn.close()
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(r["table_name"], set()).add(r["column_name"])
    return out


async def test_postgresql_has_every_sqlite_table_and_column(pg_url: str, tmp_path: Path) -> None:
    sqlite = await Store.open(tmp_path / "db.sqlite3")
    try:
        tables = await sqlite.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        expected: dict[str, set[str]] = {}
        for t in tables:
            cols = await sqlite.fetchall(f"PRAGMA table_info({t[0]})")
            expected[str(t[0])] = {str(c[1]) for c in cols}
    finally:
        await sqlite.close()
    assert await _pg_columns(pg_url) == expected


async def test_an_unreachable_server_is_named_without_its_password() -> None:
    with pytest.raises(StoreError) as caught:
        await PgStore.connect("postgresql://bot:hunter2@127.0.0.1:1/bot")
    assert "127.0.0.1:1/bot" in str(caught.value) and "hunter2" not in str(caught.value)


async def test_postgresql_has_every_sqlite_index(pg_url: str, tmp_path: Path) -> None:
    sqlite = await Store.open(tmp_path / "db.sqlite3")
    try:
        rows = await sqlite.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'"
        )
    finally:
        await sqlite.close()
    conn = await asyncpg.connect(pg_url)
    try:
        pg = await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            " AND indexname NOT LIKE '%\\_pkey'"
        )
    finally:
        await conn.close()
    assert {r["indexname"] for r in pg} == {str(r[0]) for r in rows}
