"""bot.store.seed: bulk rows as given, refused names, and a whole-database copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import jobs_repo, seed
from bot.store.db import SqliteStore

pytestmark = pytest.mark.sqlite_only

COLUMNS = ("kind", "state", "user_id", "channel_id", "prompt", "model", "created_at", "updated_at")


def _row(user: int) -> tuple[object, ...]:
    return ("animate", "succeeded", user, 55, "a prompt", "gen4_turbo", 1.0, 2.0)


async def test_rows_are_inserted_as_given_and_a_copy_replaces_the_target(tmp_path: Path) -> None:
    source = await SqliteStore.open_file(tmp_path / "a.sqlite3")
    target = await SqliteStore.open_file(tmp_path / "b.sqlite3")
    try:
        async with source.transaction() as conn:
            assert await seed.insert_rows(conn, "jobs", COLUMNS, [_row(u) for u in (7, 8, 9)]) == 3
        async with target.transaction() as conn:
            await seed.insert_rows(conn, "jobs", COLUMNS, [_row(1)])
        async with source.read() as a, target.read() as b:
            await seed.copy_database(a, b)
        async with target.read() as conn:
            jobs = await jobs_repo.list_jobs(conn, limit=10)
        assert sorted(j.user_id for j in jobs) == [7, 8, 9]
    finally:
        await source.close()
        await target.close()


async def test_unknown_tables_and_odd_column_names_are_refused(tmp_path: Path) -> None:
    store = await SqliteStore.open_file(tmp_path / "a.sqlite3")
    try:
        async with store.transaction() as conn:
            with pytest.raises(ValueError, match="unknown table"):
                await seed.insert_rows(conn, "sqlite_master", COLUMNS, [])  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="bad column"):
                await seed.insert_rows(conn, "jobs", ("kind); DROP TABLE jobs; --",), [("x",)])
    finally:
        await store.close()
