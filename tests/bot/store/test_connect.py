"""``open_store``: the SQLite file by default, the PostgreSQL server when ``storage.url`` says."""

from __future__ import annotations

from pathlib import Path

from bot.config import StorageSettings
from bot.store.connect import open_store
from bot.store.db import SqliteStore
from bot.store.postgres.db import PgStore
from bot.store.schema import latest_version


async def test_without_a_url_the_store_is_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await open_store(StorageSettings(path=path))
    try:
        assert isinstance(store, SqliteStore) and store.backend == "sqlite"
        assert path.is_file() and await store.user_version() == latest_version()
    finally:
        await store.close()


async def test_a_url_opens_the_postgresql_database(pg_url: str, tmp_path: Path) -> None:
    storage = StorageSettings.model_validate({"url": pg_url, "path": tmp_path / "unused.sqlite3"})
    store = await open_store(storage)
    try:
        assert isinstance(store, PgStore) and store.backend == "postgresql"
        assert await store.user_version() == latest_version()
        assert not storage.path.exists()  # the SQLite file is not made
    finally:
        await store.close()
