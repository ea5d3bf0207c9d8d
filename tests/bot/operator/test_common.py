"""The operator commands open a PostgreSQL database without migrating it."""

from __future__ import annotations

import pytest

from bot.config import Settings, StorageSettings
from bot.operator.common import OperatorError, open_services
from bot.store.postgres.db import PgStore
from bot.store.schema import latest_version
from tests.bot.conftest import new_animate


def _settings(url: str) -> Settings:
    return Settings(storage=StorageSettings.model_validate({"url": url}))


async def test_the_commands_work_on_a_postgresql_database(pg_url: str) -> None:
    async with open_services(_settings(pg_url)) as services:
        job = await services.jobs.create(new_animate(user_id=4))
    async with open_services(_settings(pg_url)) as services:
        found = await services.jobs.get(job.id)
    assert found is not None and found.user_id == 4


async def test_a_postgresql_schema_of_another_version_is_refused_unchanged(pg_url: str) -> None:
    store = await PgStore.connect(pg_url)
    async with store.transaction() as conn:
        await conn.execute("UPDATE schema_version SET version = version - 1")
    with pytest.raises(OperatorError, match="older than this code") as refused:
        async with open_services(_settings(pg_url)):
            pass
    assert refused.value.code == "database"
    try:
        assert await store.user_version() == latest_version() - 1  # not migrated
    finally:
        await store.close()
