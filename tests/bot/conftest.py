"""Fixtures for the job engine tests: a real SQLite store, a controllable clock, settings."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import QuotaSettings, Settings
from bot.domain import InputRole, JobInput, JobKind, JobParams, NewJob
from bot.jobs import JobService
from bot.quota import QuotaService
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


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A real PNG image made with Pillow."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def image_input(width: int = 1280, height: int = 720) -> JobInput:
    """A prepared image input (what media.prepare_image returns)."""
    return JobInput(
        role=InputRole.IMAGE,
        mime="image/png",
        data=png_bytes(width, height),
        filename="in.png",
        width=width,
        height=height,
    )


def new_animate(
    user_id: int = 1,
    *,
    guild_id: int | None = 1000,
    model: str = "gen4_turbo",
    prompt: str = "a calm sea",
    duration: int | None = 5,
    ratio: str | None = None,
    seed: int | None = None,
    inputs: tuple[JobInput, ...] | None = None,
    roles: tuple[int, ...] = (),
) -> NewJob:
    """A NewJob for /animate with sensible defaults."""
    return NewJob(
        kind=JobKind.ANIMATE,
        user_id=user_id,
        guild_id=guild_id,
        channel_id=55,
        prompt=prompt,
        params=JobParams(model=model, ratio=ratio, duration=duration, seed=seed),
        inputs=inputs if inputs is not None else (image_input(),),
        user_role_ids=roles,
    )


class Engine:
    """QuotaService + JobService on one store, with a wake counter."""

    def __init__(self, settings: Settings, store: Store, clock: FakeClock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.wakes = 0
        self.quota = QuotaService(store, settings.quota, settings.models, clock=clock)
        self.jobs = JobService(
            settings, store, self.quota, wake=self._wake, clock=clock, rng=random.Random(7)
        )

    def _wake(self) -> None:
        self.wakes += 1


@pytest.fixture
def engine(settings: Settings, store: Store, clock: FakeClock) -> Engine:
    return Engine(settings, store, clock)
