"""Schema migrations: numbered SQL files applied in order, tracked by ``PRAGMA user_version``."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import aiosqlite

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: after it runs, ``user_version`` equals ``version``."""

    version: int
    name: str
    sql: str


class MigrationError(Exception):
    """The database cannot be brought to the expected schema."""


class SchemaBehind(MigrationError):
    """The database is at an older schema version, and was not to be migrated here."""


def load_migrations(package: str = "bot.store") -> list[Migration]:
    """Every migration packaged in ``<package>/migrations`` (SQLite's by default), in version
    order; versions must be 1, 2, 3... without gaps."""
    folder = resources.files(package).joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration {migration.name} is out of sequence")
    return found


def latest_version() -> int:
    """The schema version the packaged migrations lead to."""
    return len(load_migrations())


async def current_version(conn: aiosqlite.Connection) -> int:
    """The database's ``PRAGMA user_version``."""
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: aiosqlite.Connection, target: int | None = None) -> int:
    """Apply every migration above the current version (up to ``target``); return the version.

    Each migration runs in its own ``BEGIN IMMEDIATE`` transaction together with the
    ``user_version`` bump, so a failure leaves the database at the previous version.
    """
    migrations = load_migrations()
    target = len(migrations) if target is None else target
    version = await current_version(conn)
    if version > len(migrations):
        raise MigrationError(
            f"the database is at schema version {version}, newer than this code "
            f"({len(migrations)}); upgrade the bot"
        )
    pending = [m for m in migrations if version < m.version <= target]
    for step, migration in enumerate(pending, start=1):
        # A migration can take a while on a large database: say where it stands.
        log.info(
            "migrating the database: step %d of %d (%s, to schema version %d)",
            step,
            len(pending),
            migration.name,
            migration.version,
        )
        script = (
            f"BEGIN IMMEDIATE;\n{migration.sql}\n"
            f"PRAGMA user_version = {migration.version};\nCOMMIT;"
        )
        try:
            await conn.executescript(script)
        except Exception as exc:
            if conn.in_transaction:
                await conn.rollback()
            raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
        version = migration.version
    if pending:
        log.info("the database is at schema version %d", version)
    return version
