"""The PostgreSQL store: passwords kept out of messages, qmark reads numbered, listening kept
up when the server drops the session."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
import pytest

from bot.store.postgres.db import PgStore, numbered, redact


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://bot:s3cr@t@db:5432/runway", "postgresql://bot:***@db:5432/runway"),
        ("postgresql://db/runway?password=s3cr&sslmode=require",
         "postgresql://db/runway?password=***&sslmode=require"),
        ("postgresql://bot@db/runway", "postgresql://bot@db/runway"),
    ],
)  # fmt: skip
def test_a_dsn_is_shown_without_its_password(dsn: str, shown: str) -> None:
    assert redact(dsn) == shown


def test_question_marks_outside_literals_become_numbered_parameters() -> None:
    sql = "SELECT '?', 'it''s ?' FROM jobs WHERE id = ? AND user_id = ?"
    assert numbered(sql) == "SELECT '?', 'it''s ?' FROM jobs WHERE id = $1 AND user_id = $2"


async def test_a_lost_listener_connection_is_made_again(pg_url: str) -> None:
    listener, sender = await PgStore.connect(pg_url), await PgStore.connect(pg_url)
    heard = asyncio.Event()
    try:
        await listener.listen(heard.set)
        admin = await asyncpg.connect(pg_url)
        try:  # the server drops the listening session (a restart, a failover, an admin)
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN%' AND datname = current_database()"
            )
        finally:
            await admin.close()
        await asyncio.wait_for(heard.wait(), 30)  # listening again: told it may have missed one
        heard.clear()
        await sender.notify_wakeup()
        await asyncio.wait_for(heard.wait(), 10)  # and the new session hears the next one
    finally:
        await listener.close()
        await sender.close()
