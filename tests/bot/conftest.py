"""Fixtures for the job engine tests: a real store (SQLite; PostgreSQL too in the suites of
``BOTH_BACKENDS``), a controllable clock, settings."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.catalog import default_catalog
from bot.config import QuotaSettings, Settings
from bot.domain import InputRole, Job, JobInput, JobKind, JobParams, NewJob
from bot.jobs import JobService
from bot.ports import DeliveryReceipt, Published, StatusUpdate
from bot.quota import QuotaService
from bot.simulator import RunwaySimulator, SimulatorOptions
from bot.store.db import Store
from bot.store.postgres.db import PgStore
from tests.pgcluster import (
    Cluster,
    Unavailable,
    create_database,
    create_template,
    drop_database,
    run_apart,
)

if TYPE_CHECKING:
    from tests.bot.worker.harness import Harness


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


REPO = Path(__file__).resolve().parents[2]
BOTH_BACKENDS = (
    "tests/bot/store/",
    "tests/bot/worker/",
    "tests/bot/test_quota.py",
    "tests/bot/test_jobs.py",
)
"""The suites whose ``store`` runs on SQLite and on PostgreSQL (test ids ``[sqlite]`` and
``[postgresql]``); elsewhere ``store`` is SQLite. ``@pytest.mark.sqlite_only`` opts a test out."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: runs on SQLite only (in BOTH_BACKENDS)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    rel = Path(str(metafunc.definition.path)).resolve().relative_to(REPO).as_posix()
    if metafunc.definition.get_closest_marker("sqlite_only") is not None:
        return
    if any(
        m.args and m.args[0] == "backend" for m in metafunc.definition.iter_markers("parametrize")
    ):
        return  # the test names its backend itself
    if any(rel.startswith(prefix) for prefix in BOTH_BACKENDS):
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[tuple[Cluster, str]]:
    """One PostgreSQL server for the session and a migrated template database (skips, saying
    why, when no server can be started)."""
    try:
        cluster = Cluster.start()
    except Unavailable as exc:
        if os.environ.get("RUNWAY_TEST_REQUIRE_POSTGRES"):  # CI (.ci/run): a skip would hide it
            pytest.fail(f"no PostgreSQL server: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        template = run_apart(create_template(cluster))
        yield cluster, template
    finally:
        cluster.stop()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql`` (see ``BOTH_BACKENDS``)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def pg_url(pg_cluster: tuple[Cluster, str]) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of its own for this test (dropped after)."""
    cluster, template = pg_cluster
    url = run_apart(create_database(cluster, template))
    try:
        yield url
    finally:
        run_apart(drop_database(cluster, url))


StoreOpener = Callable[[], Awaitable[Store]]


@pytest.fixture
async def open_store(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> AsyncIterator[StoreOpener]:
    """Opens one more store on this test's database (another process's view of it); the
    stores are closed after the test."""
    target = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    opened: list[Store] = []

    async def opener() -> Store:
        s: Store
        if target is not None:
            s = await PgStore.connect(target)
        else:
            s = await Store.open(tmp_path / "bot.sqlite3")
        opened.append(s)
        return s

    try:
        yield opener
    finally:
        for s in reversed(opened):
            await s.close()


@pytest.fixture
async def store(open_store: StoreOpener) -> Store:
    """The test's store: SQLite, or PostgreSQL in the suites of ``BOTH_BACKENDS``."""
    return await open_store()


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
        self.on_wake: Callable[[], None] = lambda: None  # a worker's wake, once there is one
        self.quota = QuotaService(store, settings.quota, settings.models, clock=clock)
        self.jobs = JobService(
            settings, store, self.quota, wake=self._wake, clock=clock, rng=random.Random(7)
        )

    def _wake(self) -> None:
        self.wakes += 1
        self.on_wake()


@pytest.fixture
def engine(settings: Settings, store: Store, clock: FakeClock) -> Engine:
    return Engine(settings, store, clock)


class RecordingPort:
    """A DeliveryPort for tests: records calls, de-duplicates by nonce like Discord does.

    ``failures`` holds exceptions to raise (in order) on the next deliver calls;
    ``hang_after_confirm`` makes the next delivery post its message and then never
    return (what a crash right after Discord confirmed looks like).
    """

    def __init__(self) -> None:
        self.statuses: list[StatusUpdate] = []
        self.calls: list[tuple[str, int, str]] = []
        self.messages: dict[str, tuple[str, int, int]] = {}  # nonce -> (kind, job id, msg id)
        self.clips: dict[int, bytes] = {}
        self.failures: list[Exception] = []
        self.hang_after_confirm = False
        self.confirmed = asyncio.Event()
        self.clock: FakeClock | None = None
        self.times: list[float] = []  # clock time of each status update (when clock is set)
        # publish(): (job id, orphan) per call; ``status_posts``: the status message posted
        # (thread: same id) per job; ``refuse_status``: the channel refuses it (Published with
        # no message); ``still_posting``: the job's command is still posting (None unless orphan).
        self.publishes: list[tuple[int, bool]] = []
        self.refuse_status = False
        self.publish_errors: list[Exception] = []  # raised (in order) by the next publish calls
        self.still_posting: set[int] = set()
        self.status_posts: dict[int, int] = {}
        self._next_id = 9000

    async def publish(self, job: Job, *, orphan: bool) -> Published | None:
        self.publishes.append((job.id, orphan))
        if self.publish_errors:
            raise self.publish_errors.pop(0)
        if job.id in self.still_posting and not orphan:
            return None
        if self.refuse_status:
            return Published(None)
        if job.id not in self.status_posts:  # a second call finds the first post
            self._next_id += 1
            self.status_posts[job.id] = self._next_id
        return Published(self.status_posts[job.id], self.status_posts[job.id])

    async def status_changed(self, update: StatusUpdate) -> None:
        self.statuses.append(update)
        if self.clock is not None:
            self.times.append(self.clock())

    def _post(self, kind: str, job: Job, nonce: str) -> DeliveryReceipt:
        self.calls.append((kind, job.id, nonce))
        if self.failures:
            raise self.failures.pop(0)
        if nonce not in self.messages:
            self._next_id += 1
            self.messages[nonce] = (kind, job.id, self._next_id)
        return DeliveryReceipt(self.messages[nonce][2])

    async def _maybe_hang(self) -> None:
        if self.hang_after_confirm:
            self.hang_after_confirm = False
            self.confirmed.set()
            await asyncio.Event().wait()

    async def deliver_clip(self, job: Job, clip: Path, nonce: str) -> DeliveryReceipt:
        data = await asyncio.to_thread(clip.read_bytes)
        receipt = self._post("clip", job, nonce)
        self.clips.setdefault(job.id, data)
        await self._maybe_hang()
        return receipt

    async def deliver_failure(self, job: Job, nonce: str) -> DeliveryReceipt:
        receipt = self._post("failure", job, nonce)
        await self._maybe_hang()
        return receipt

    def visible(self, kind: str | None = None) -> list[tuple[str, int, int]]:
        """The messages a Discord user would see."""
        return [m for m in self.messages.values() if kind is None or m[0] == kind]

    def states_of(self, job_id: int) -> list[str]:
        """The successive states reported for a job (repeats collapsed)."""
        out: list[str] = []
        for s in self.statuses:
            if s.job.id == job_id and (not out or out[-1] != s.job.state.value):
                out.append(s.job.state.value)
        return out


@pytest.fixture
async def sim() -> AsyncIterator[RunwaySimulator]:
    s = RunwaySimulator(SimulatorOptions(task_seconds=12.0, pending_seconds=2.0, concurrency=2))
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


@pytest.fixture
async def harness(
    tmp_path: Path, store: Store, sim: RunwaySimulator, clock: FakeClock
) -> AsyncIterator[Harness]:
    from tests.bot.worker.harness import Harness, make_client, worker_settings

    client = make_client(sim)
    h = Harness(tmp_path, store, sim, client, clock, worker_settings())
    try:
        yield h
    finally:
        for w in h.workers:
            await w.abort()
        await client.close()


def mp4_bytes(seconds: float = 2.0, size: tuple[int, int] = (320, 240), fps: int = 12) -> bytes:
    """A real H.264 MP4 clip made with PyAV (a moving gradient)."""
    import io

    import av
    from PIL import Image

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(round(seconds * fps)):
            img = Image.new("RGB", size, (i * 9 % 255, 80, 160))
            for packet in stream.encode(av.VideoFrame.from_image(img)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()
