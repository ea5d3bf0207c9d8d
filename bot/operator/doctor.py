"""``runway-bot doctor``: is this installation ready to run? One line per check.

Each check is OK, WARN or FAIL with a plain reason: the configuration (the ``check-config``
loader and its warnings), the database (its schema version and whether it can be written),
Runway (the key and version header, through the bot's own client) and Discord (the token over
REST, without the gateway, and the permissions the bot lacks in each guild's text channels:
``bot/ui/doctor.py``, handed in by the command line since the core never imports discord).
Nothing here prints a secret: every line is also scrubbed of the key and the token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..config import ConfigError, Settings, check_warnings, load_settings, storage_problem
from ..runway.client import RunwayClient
from ..runway.errors import (
    AuthenticationError,
    BalanceExhaustedError,
    NotFoundError,
    RateLimitedError,
    RunwayError,
    RunwayValidationError,
    TaskNotVisibleYet,
)
from ..store.backup import BackupError, schema_version
from ..store.connect import open_store
from ..store.db import Store, StoreError
from ..store.schema import MigrationError, SchemaBehind, latest_version
from .common import Outcome

MAX_GUILDS = 25
"""Guilds whose permissions are checked; more are counted, not looked at."""
MAX_CHANNELS_NAMED = 10
"""Channels named in one guild's line; the rest are counted."""
PROBE_TASK_ID = "00000000-0000-4000-8000-000000000000"
"""A well-formed task id no one has: CometAPI answers ``task_not_exist`` once the key works."""
WRITE_CHECK_SECONDS = 15.0


class Status(StrEnum):
    """How one check went."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: Status
    message: str
    latency_ms: int | None = None

    def line(self) -> str:
        return f"{self.status.value.upper():<4} {self.name}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "check": self.name,
            "status": self.status.value,
            "message": self.message,
        }
        if self.latency_ms is not None:
            out["latency_ms"] = self.latency_ms
        return out


def elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


# -- configuration ------------------------------------------------------------------------------


def check_config(path: str | Path) -> tuple[Settings | None, list[Check]]:
    """Load the configuration as ``check-config`` does (its paths are the database check's)."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        problems = "; ".join(exc.problems)
        return None, [Check("config", Status.FAIL, f"{path} does not load: {problems}")]
    checks = [
        Check(
            "config",
            Status.OK,
            f"{path} loads (provider {settings.runway.provider}, "
            f"{len(settings.enabled_models())} models enabled)",
        )
    ]
    checks += [Check("config", Status.WARN, warning) for warning in check_warnings(settings)]
    return settings, checks


# -- database -----------------------------------------------------------------------------------


async def check_database(settings: Settings) -> Check:
    """The database exists (or can be created), has this code's schema and can be written."""
    if settings.storage.url is not None:
        return await check_postgres(settings)
    path = settings.storage.path
    problem = storage_problem(path)
    if problem is not None:
        return Check("database", Status.FAIL, problem)
    if not path.exists():
        return Check(
            "database",
            Status.OK,
            f"{path} does not exist yet: the bot creates it when it first starts "
            "(its directory is writable)",
        )
    latest = latest_version()
    try:
        version = schema_version(path)
    except BackupError as exc:
        return Check("database", Status.FAIL, str(exc))
    if version > latest:
        return Check(
            "database",
            Status.FAIL,
            f"the database is newer than this version of the bot ({path} is at schema version "
            f"{version}, this code knows {latest}): upgrade runway-bot",
        )
    if version < latest:
        return Check(
            "database",
            Status.WARN,
            f"{path} is at schema version {version}, older than this code's {latest}: the bot "
            "upgrades it when it starts (take a backup first: runway-bot backup PATH)",
        )
    try:
        store = await Store.open(path)
    except Exception as exc:  # MigrationError, sqlite3.Error, OSError
        return Check("database", Status.FAIL, f"cannot open {path}: {type(exc).__name__}: {exc}")
    try:
        await asyncio.wait_for(store.check_writable(), WRITE_CHECK_SECONDS)
    except TimeoutError:
        return Check(
            "database",
            Status.FAIL,
            f"{path} stayed locked for {WRITE_CHECK_SECONDS:g} s: cannot write it now",
        )
    except Exception as exc:
        return Check("database", Status.FAIL, f"cannot write {path}: {type(exc).__name__}: {exc}")
    finally:
        await store.close()
    return Check("database", Status.OK, f"{path}: schema version {version} (this code's), writable")


async def check_postgres(settings: Settings) -> Check:
    """The PostgreSQL server answers, has this code's schema (never migrated here) and accepts
    writes; the lines name the server, never the password."""
    where = settings.storage.describe()
    try:
        store = await open_store(settings.storage, migrate_schema=False)
    except SchemaBehind as exc:
        return Check("database", Status.WARN, f"{exc} (the bot upgrades it when it starts)")
    except (MigrationError, StoreError) as exc:
        return Check("database", Status.FAIL, str(exc))
    try:
        await asyncio.wait_for(store.check_writable(), WRITE_CHECK_SECONDS)
    except Exception as exc:  # TimeoutError, StoreError (a standby), asyncpg's errors
        return Check("database", Status.FAIL, f"cannot write {where}: {type(exc).__name__}: {exc}")
    finally:
        await store.close()
    line = f"{where}: schema version {latest_version()} (this code's), writable"
    return Check("database", Status.OK, line)


# -- Runway -------------------------------------------------------------------------------------


async def check_runway(settings: Settings, *, base_url: str | None = None) -> Check:
    """One cheap authenticated call through the bot's client, without retries."""
    rw = settings.runway
    if rw.provider == "simulator":
        return Check(
            "runway",
            Status.OK,
            "simulator: nothing to check (the bot serves it in-process)",
        )
    client = RunwayClient.from_settings(rw, base_url=base_url)
    client.retry.max_retries = 0  # one answer is the diagnosis
    where = client.base_url
    started = time.monotonic()
    try:
        async with client:
            if rw.provider == "cometapi":
                try:
                    await client.get_task(PROBE_TASK_ID)
                    answer = "a task"
                except TaskNotVisibleYet:  # the gateway looked the task up: the key is good
                    answer = "task_not_exist"
                what = f"GET /v1/tasks/<unknown id> answered {answer} (via {where})"
                note = "; the version header is only checked on creates"
            else:
                org = await client.organization()
                balance = "" if org.credit_balance is None else f", {org.credit_balance:g} credits"
                what = f"GET /v1/organization answered (via {where}{balance})"
                note = f", version {rw.api_version} accepted"
    except BalanceExhaustedError as exc:
        return Check(
            "runway",
            Status.FAIL,
            f"the key is accepted but the account's balance is used up ({exc.message})",
            elapsed_ms(started),
        )
    except AuthenticationError as exc:
        return Check(
            "runway",
            Status.FAIL,
            f"the key was refused ({exc.message}): check RUNWAY_API_KEY, RUNWAY_API_KEY_FILE "
            "or runway.api_key",
            elapsed_ms(started),
        )
    except RunwayValidationError as exc:
        return Check(
            "runway",
            Status.FAIL,
            f"the request was refused ({exc.describe()}): check runway.api_version "
            f"({rw.api_version})",
            elapsed_ms(started),
        )
    except NotFoundError as exc:
        return Check(
            "runway",
            Status.FAIL,
            f"{where} does not serve the API ({exc.message}): check runway.base_url",
            elapsed_ms(started),
        )
    except RateLimitedError as exc:
        return Check(
            "runway",
            Status.WARN,
            f"rate limited ({exc.message}): the key could not be checked now, try again later",
            elapsed_ms(started),
        )
    except RunwayError as exc:
        return Check("runway", Status.FAIL, f"no usable answer: {exc.message}", elapsed_ms(started))
    latency = elapsed_ms(started)
    return Check(
        "runway",
        Status.OK,
        f"the {rw.provider} key is accepted{note}: {what} in {latency} ms",
        latency,
    )


# -- the report ---------------------------------------------------------------------------------


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "[redacted]")
    return text


def report(
    checks: Sequence[Check], secrets: Sequence[str] = (), *, exit_code: int | None = None
) -> Outcome:
    """The outcome of the checks: exit 0 without a FAIL, else 1 (or ``exit_code``)."""
    clean = [Check(c.name, c.status, _scrub(c.message, secrets), c.latency_ms) for c in checks]
    counts = {s.value: sum(1 for c in clean if c.status is s) for s in Status}
    code = exit_code if exit_code is not None else (1 if counts["fail"] else 0)
    lines = [c.line() for c in clean]
    lines.append(f"{counts['ok']} ok, {counts['warn']} warnings, {counts['fail']} failures")
    data = {
        "ok": counts["fail"] == 0,
        "checks": [c.to_json() for c in clean],
        "summary": counts,
    }
    return Outcome(data, lines, exit_code=code)


Step = Callable[[], Awaitable[list[Check]]]


DiscordCheck = Callable[[Settings], Awaitable[list[Check]]]


async def run_doctor(config: str | Path, discord_check: DiscordCheck | None = None) -> Outcome:
    """Every check in order; a configuration that does not load stops there (exit 2).

    ``discord_check`` is the Discord layer's check (``bot.app.doctor_discord``): the core
    never imports discord, so the command line hands it in."""
    settings, checks = check_config(config)
    if settings is None:
        return report(checks, exit_code=2)
    secrets = [
        s.get_secret_value()
        for s in (settings.runway.api_key, settings.discord.token)
        if s is not None
    ]

    async def database() -> list[Check]:
        return [await check_database(settings)]

    async def runway() -> list[Check]:
        return [await check_runway(settings)]

    steps: list[tuple[str, Step]] = [("database", database), ("runway", runway)]
    if discord_check is not None:
        check = discord_check

        async def discord_() -> list[Check]:
            return await check(settings)

        steps.append(("discord", discord_))
    for name, step in steps:
        try:
            checks += await step()
        except Exception as exc:  # a check's own bug or an unforeseen error: one line
            checks.append(
                Check(name, Status.FAIL, f"the check failed: {type(exc).__name__}: {exc}")
            )
    return report(checks, secrets)
