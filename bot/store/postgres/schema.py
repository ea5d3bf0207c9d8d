"""PostgreSQL migrations: numbered SQL files in ``migrations/`` (the same numbers as SQLite's),
the version kept in ``schema_version``, applied under a session advisory lock so that several
processes starting together migrate once (the others wait, then find nothing to do)."""

from __future__ import annotations

import logging
from typing import Any

from ..schema import MigrationError, SchemaBehind, load_migrations

log = logging.getLogger(__name__)

PACKAGE = "bot.store.postgres"
MIGRATION_LOCK = 0x7275_6E77_6179_0001
"""The advisory lock key held while migrating (an arbitrary constant of this bot)."""


def latest_version() -> int:
    """The schema version the packaged PostgreSQL migrations lead to."""
    return len(load_migrations(PACKAGE))


async def current_version(raw: Any) -> int:
    """The database's schema version (0 before the first migration)."""
    exists = await raw.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    value = await raw.fetchval("SELECT version FROM schema_version")
    return 0 if value is None else int(value)


async def migrate(raw: Any, target: int | None = None) -> int:
    """Apply every migration above the current version (up to ``target``) on the asyncpg
    connection ``raw``; return the version. Each step commits together with its version."""
    migrations = load_migrations(PACKAGE)
    target = len(migrations) if target is None else target
    await raw.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await raw.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = await current_version(raw)
        if version > len(migrations):
            raise MigrationError(
                f"the database is at schema version {version}, newer than this code "
                f"({len(migrations)}); upgrade the bot"
            )
        pending = [m for m in migrations if version < m.version <= target]
        for step, migration in enumerate(pending, start=1):
            log.info(
                "migrating the database: step %d of %d (%s, to schema version %d)",
                step,
                len(pending),
                migration.name,
                migration.version,
            )
            try:
                async with raw.transaction():
                    await raw.execute(migration.sql)
                    await raw.execute("DELETE FROM schema_version")
                    await raw.execute(
                        "INSERT INTO schema_version (version) VALUES ($1)", migration.version
                    )
            except Exception as exc:
                raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
            version = migration.version
        if pending:
            log.info("the database is at schema version %d", version)
        return version
    finally:
        await raw.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def require_version(raw: Any, where: str) -> None:
    """Refuse (``MigrationError``) a database whose schema is not this code's, without
    changing it: the bot migrates when it starts, not a command run beside it."""
    version, latest = await current_version(raw), latest_version()
    if version > latest:
        raise MigrationError(
            f"the database {where} is at schema version {version}, newer than this code "
            f"({latest}): upgrade runway-bot"
        )
    if version < latest:
        raise SchemaBehind(
            f"the database {where} is at schema version {version}, older than this code "
            f"({latest}): start the bot once to upgrade it"
        )
