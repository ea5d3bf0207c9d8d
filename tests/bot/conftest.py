"""Fixtures for the job engine tests: a real SQLite store, a controllable clock, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import QuotaSettings, Settings
from bot.runway.catalog import default_catalog
from bot.store.db import Store


class FakeClock:
    """A wall clock the test moves by hand (epoch seconds)."""

    def __init__(self, start: datetime = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "bot.sqlite3")
    try:
        yield s
    finally:
        await s.close()


def make_settings(**quota: object) -> Settings:
    """Settings with the packaged catalog and the given quota fields."""
    return Settings(models=default_catalog(), quota=QuotaSettings.model_validate(quota))


@pytest.fixture
def settings() -> Settings:
    return make_settings(default_limit=100, max_active_jobs_per_user=3)
