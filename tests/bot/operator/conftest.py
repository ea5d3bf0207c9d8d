"""A real bot database on disk and a config naming it, for running ``bot.cli.main``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.cli import main
from bot.config import Settings, load_settings
from bot.domain import Job, JobState
from bot.jobs import JobService
from bot.quota import QuotaService
from bot.store import jobs_repo
from bot.store.db import Store
from tests.bot.conftest import new_animate

T = TypeVar("T")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class BotDb:
    """The database of a bot that is not running (or is: nothing here holds its lock)."""

    config: Path
    path: Path
    settings: Settings
    capsys: pytest.CaptureFixture[str]

    def cli(self, *args: str) -> Result:
        self.capsys.readouterr()
        try:
            code = main([*args, "--config", str(self.config)])
        except SystemExit as exc:  # argparse: --help and argument mistakes
            code = exc.code if isinstance(exc.code, int) else 0
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def use(self, fn: Callable[[Store, QuotaService, JobService], Awaitable[T]]) -> T:
        async def go() -> T:
            store = await Store.open(self.path)
            try:
                quota = QuotaService(store, self.settings.quota, self.settings.models)
                return await fn(store, quota, JobService(self.settings, store, quota))
            finally:
                await store.close()

        return asyncio.run(go())

    def create(self, user_id: int = 1, **kw: Any) -> Job:
        async def go(store: Store, quota: QuotaService, jobs: JobService) -> Job:
            return await jobs.create(new_animate(user_id, **kw))

        return self.use(go)

    def set_state(self, job_id: int, state: JobState, **values: Any) -> None:
        async def go(store: Store, quota: QuotaService, jobs: JobService) -> None:
            async with store.transaction() as conn:
                await jobs_repo.update(conn, job_id, {"state": state.value, **values})

        self.use(go)

    def get(self, job_id: int) -> Job:
        async def go(store: Store, quota: QuotaService, jobs: JobService) -> Job | None:
            return await jobs.get(job_id)

        job = self.use(go)
        assert job is not None
        return job


@pytest.fixture
def bot_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> BotDb:
    data = tmp_path / "data"
    path = data / "runway-bot.sqlite3"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[runway]\nprovider = "simulator"\n[storage]\npath = "{path}"\n'
        "[quota]\ndefault_limit = 100\nmax_active_jobs_per_user = 5\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    db = BotDb(config, path, settings, capsys)

    async def create(store: Store, quota: QuotaService, jobs: JobService) -> None:
        return None

    data.mkdir()
    db.use(create)  # Store.open creates and migrates it, as `runway-bot run` does
    return db
