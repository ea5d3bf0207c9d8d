"""Opening the store the settings name: PostgreSQL (``storage.url``) or the SQLite file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .db import SqliteStore, Store

if TYPE_CHECKING:
    from ..config import StorageSettings


async def open_store(storage: StorageSettings, *, migrate_schema: bool = True) -> Store:
    """The store the settings name: PostgreSQL when ``storage.url`` is set, else the SQLite
    file at ``storage.path``. ``migrate_schema=False`` (PostgreSQL) refuses a schema other than
    this code's instead of upgrading it."""
    if storage.url is not None:
        from .postgres.db import PgStore  # loads asyncpg only for PostgreSQL users

        return await PgStore.connect(
            storage.url.get_secret_value(),
            pool_size=storage.pool_size,
            migrate_schema=migrate_schema,
        )
    return await SqliteStore.open_file(storage.path)
