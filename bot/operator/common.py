"""Shared by the operator commands: their error, their result, opening the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..config import Settings
from ..jobs import JobService
from ..quota import QuotaService
from ..store.backup import BackupError, schema_version
from ..store.connect import open_store
from ..store.db import Store, StoreError
from ..store.schema import MigrationError, latest_version

ADMIN_ACTOR = 0
"""The actor id the command line acts as (with admin rights): no Discord user has it."""


class OperatorError(Exception):
    """A refused operator command: a one-line ``message``, a stable ``code`` for ``--json``
    and the process exit code (2: the operator's mistake)."""

    def __init__(self, message: str, *, code: str = "invalid", exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.exit_code = exit_code


@dataclass(frozen=True)
class Outcome:
    """A command's result: ``data`` is printed with ``--json``, ``lines`` otherwise."""

    data: Any
    lines: list[str] = field(default_factory=list)
    exit_code: int = 0


@dataclass(frozen=True)
class Services:
    """The open store and the services built on it, as ``runway-bot run`` builds them."""

    settings: Settings
    store: Store
    quota: QuotaService
    jobs: JobService


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Open the existing database of ``storage.path`` (never creating or migrating it).

    A missing file or a schema of another version is refused: the bot that owns the
    database migrates it when it starts, not a command run beside it.
    """
    if settings.storage.url is not None:  # PostgreSQL: the server says what schema it has
        try:
            pg_store = await open_store(settings.storage, migrate_schema=False)
        except (MigrationError, StoreError) as exc:
            raise OperatorError(str(exc), code="database", exit_code=1) from None
        try:
            pg_quota = QuotaService(pg_store, settings.quota, settings.models)
            yield Services(settings, pg_store, pg_quota, JobService(settings, pg_store, pg_quota))
        finally:
            await pg_store.close()
        return
    path = settings.storage.path
    if not path.is_file():
        raise OperatorError(
            f"no database at {path} (storage.path in the configuration, or "
            "RUNWAY_BOT_DATABASE); has the bot been started once?",
            code="no_database",
        )
    try:
        version = schema_version(path)
    except BackupError as exc:
        raise OperatorError(str(exc), code="database", exit_code=1) from None
    latest = latest_version()
    if version != latest:
        newer = version > latest
        raise OperatorError(
            f"the database {path} is at schema version {version}, "
            + (
                f"newer than this code ({latest}): upgrade runway-bot"
                if newer
                else f"older than this code ({latest}): start the bot once to upgrade it"
            ),
            code="schema_version",
        )
    try:
        store = await Store.open(path)
    except MigrationError as exc:
        raise OperatorError(str(exc), code="schema_version") from None
    try:
        quota = QuotaService(store, settings.quota, settings.models)
        # No wake: the running bot's worker finds changes in the database on its next pass.
        yield Services(settings, store, quota, JobService(settings, store, quota))
    finally:
        await store.close()


def iso(value: datetime | None) -> str | None:
    """A datetime for JSON: ISO 8601 in UTC."""
    return None if value is None else value.astimezone(UTC).isoformat()


def when(value: datetime | None) -> str:
    """A datetime for people: ``2026-11-18 12:00:05 UTC``."""
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def epoch(value: float | None) -> datetime | None:
    """An epoch-seconds value as an aware UTC datetime."""
    return None if value is None else datetime.fromtimestamp(value, UTC)


def num(value: float | None) -> str:
    """A number without noise: 12, 2.5."""
    return "-" if value is None else f"{value:g}"
