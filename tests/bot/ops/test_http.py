"""The operations endpoint over real HTTP on 127.0.0.1: /healthz and its reasons, /metrics."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import MetricsSettings
from bot.ops.http import OpsServer, WorkerProbe, store_refresher, worker_problem
from bot.ops.metrics import Metrics
from bot.store.db import Store
from tests.bot.conftest import image_input, new_animate
from tests.bot.worker.harness import Harness


@dataclass
class FakeGateway:
    """Stands in for the discord.py client."""

    ready: bool = True
    closed: bool = False
    latency: float = 0.042

    def is_ready(self) -> bool:
        return self.ready

    def is_closed(self) -> bool:
        return self.closed


@dataclass
class FakeWorker:
    """Stands in for the worker: a loop that passed ``age`` seconds ago."""

    running: bool = True
    alive_within: float = 160.0
    last_pass: float | None = field(default_factory=time.monotonic)


class BrokenStore:
    """A database that refuses the write lock."""

    async def check_writable(self) -> None:
        import sqlite3

        raise sqlite3.OperationalError("attempt to write a readonly database")


class HangingStore:
    """A database whose write lock never comes (another writer holds it)."""

    async def check_writable(self) -> None:
        await asyncio.sleep(3600)


Serve = Callable[..., Awaitable[tuple[OpsServer, str]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[OpsServer] = []

    async def start(**kw: Any) -> tuple[OpsServer, str]:
        metrics = kw.pop("metrics", None) or Metrics()
        kw.setdefault("gateway", FakeGateway())
        kw.setdefault("worker", FakeWorker())
        server = OpsServer(MetricsSettings(enabled=True, port=0), metrics, **kw)
        url = await server.start()
        servers.append(server)
        return server, url

    try:
        yield start
    finally:
        for server in servers:
            await server.stop()


async def get(url: str) -> tuple[int, Any, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body, text


async def test_healthz_is_200_when_all_is_well(serve: Serve, store: Store) -> None:
    server, url = await serve(store=store)
    assert url.startswith("http://127.0.0.1:") and server.port and server.port > 0
    status, body, _ = await get(url + "/healthz")
    assert status == 200
    assert body == {"ok": True, "checks": {"discord": True, "database": True, "worker": True}}


@pytest.mark.parametrize(
    ("gateway", "needle"),
    [
        (FakeGateway(ready=False), "not ready"),
        (FakeGateway(closed=True), "closed"),
        (FakeGateway(latency=math.inf), "latency unknown"),
        (FakeGateway(latency=math.nan), "latency unknown"),
    ],
)
async def test_healthz_is_503_when_the_gateway_is_down(
    serve: Serve, store: Store, gateway: FakeGateway, needle: str
) -> None:
    _, url = await serve(store=store, gateway=gateway)
    status, body, _ = await get(url + "/healthz")
    assert status == 503
    assert body["ok"] is False
    assert body["checks"] == {"discord": False, "database": True, "worker": True}
    assert len(body["reasons"]) == 1
    assert body["reasons"][0].startswith("discord:") and needle in body["reasons"][0]


async def test_healthz_is_503_when_the_database_refuses_writes(serve: Serve) -> None:
    _, url = await serve(store=BrokenStore())
    status, body, _ = await get(url + "/healthz")
    assert status == 503
    assert body["checks"]["database"] is False
    assert body["reasons"] == [
        "database: not writable (OperationalError: attempt to write a readonly database)"
    ]


async def test_healthz_is_503_when_the_database_is_closed(serve: Serve, tmp_path: Path) -> None:
    closed = await Store.open(tmp_path / "closed.sqlite3")
    await closed.close()
    _, url = await serve(store=closed)
    status, body, _ = await get(url + "/healthz")
    assert status == 503
    assert body["checks"] == {"discord": True, "database": False, "worker": True}
    assert body["reasons"][0].startswith("database: not writable")


async def test_healthz_is_503_when_the_write_lock_does_not_come(serve: Serve) -> None:
    _, url = await serve(store=HangingStore(), check_timeout=0.2)
    status, body, _ = await get(url + "/healthz")
    assert status == 503
    assert body["reasons"] == ["database: no write lock within 0.2s"]


async def test_the_real_store_check_leaves_no_transaction_open(store: Store) -> None:
    await store.check_writable()
    await store.check_writable()
    async with store.transaction() as conn:  # a BEGIN left open would make this fail
        await conn.execute("SELECT 1")


@pytest.mark.parametrize(
    ("worker", "needle"),
    [
        (FakeWorker(last_pass=time.monotonic() - 1000), "last scheduler pass"),
        (FakeWorker(running=False), "not running"),
        (FakeWorker(last_pass=None), "no scheduler pass yet"),
        (None, "not started"),
    ],
)
async def test_healthz_is_503_when_the_worker_stalls(
    serve: Serve, store: Store, worker: FakeWorker | None, needle: str
) -> None:
    _, url = await serve(store=store, worker=worker)
    status, body, _ = await get(url + "/healthz")
    assert status == 503
    assert body["checks"] == {"discord": True, "database": True, "worker": False}
    assert body["reasons"][0].startswith("worker:") and needle in body["reasons"][0]


async def test_healthz_lists_every_reason_at_once(serve: Serve) -> None:
    _, url = await serve(
        store=BrokenStore(), gateway=FakeGateway(ready=False), worker=FakeWorker(running=False)
    )
    status, body, _ = await get(url + "/healthz")
    assert status == 503
    assert body["checks"] == {"discord": False, "database": False, "worker": False}
    assert [r.split(":")[0] for r in body["reasons"]] == ["discord", "database", "worker"]


async def test_the_real_worker_records_its_passes(harness: Harness) -> None:
    w = harness.worker(idle_seconds=0.05, lease_seconds=30.0)
    probe: WorkerProbe = w
    assert w.alive_within == pytest.approx(2 * 0.05 + 10.0)
    assert worker_problem(probe) == "worker: the scheduler loop is not running"
    await w.start()
    try:
        first = w.last_pass
        assert first is not None
        await asyncio.sleep(0.3)  # several idle passes
        assert w.last_pass is not None and w.last_pass > first
        assert worker_problem(probe) is None
        assert worker_problem(probe, now=w.last_pass + w.alive_within + 1) is not None
    finally:
        await w.stop()
    assert not w.running
    assert worker_problem(probe) == "worker: the scheduler loop is not running"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page: (name, sorted labels) -> value."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


FAMILIES = {
    "runway_bot_jobs",
    "runway_bot_queue_depth",
    "runway_bot_jobs_in_flight",
    "runway_bot_undelivered_jobs",
    "runway_bot_daily_credits",
    "runway_bot_submissions",
    "runway_bot_polls",
    "runway_bot_runway_request_duration_seconds",
    "runway_bot_credits_reserved",
    "runway_bot_credits_charged",
    "runway_bot_credits_refunded",
    "runway_bot_delivery_failures",
}


async def test_metrics_lists_every_family_in_the_text_format(serve: Serve, store: Store) -> None:
    _, url = await serve(store=store)
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert names == FAMILIES
    got = samples(text)
    assert got[("runway_bot_submissions_total", (("outcome", "in_doubt"),))] == 0
    assert got[("runway_bot_polls_total", (("outcome", "succeeded"),))] == 0
    assert got[("runway_bot_jobs", (("state", "queued"),))] == 0  # no refresh: defaults


async def test_metrics_move_as_a_job_is_created_run_and_settled(
    serve: Serve, harness: Harness
) -> None:
    h = harness
    metrics = Metrics()
    # One registry for the whole engine, as RunwayBot wires it.
    h.client.metrics = metrics
    h.engine.quota.metrics = metrics
    w = h.worker(metrics=metrics)
    refresh = store_refresher(metrics, h.engine.jobs, h.engine.quota, ["gen4_turbo", "gen4.5"])
    _, url = await serve(store=h.store, metrics=metrics, worker=None, refresh=refresh)

    async def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, _, text = await get(url + "/metrics")
        assert status == 200
        return samples(text)

    before = await scrape()
    assert before[("runway_bot_queue_depth", (("model", "gen4_turbo"),))] == 0
    assert before[("runway_bot_queue_depth", (("model", "gen4.5"),))] == 0
    assert before[("runway_bot_credits_reserved_total", ())] == 0

    job = await h.engine.jobs.create(new_animate(duration=2, inputs=(image_input(640, 360),)))
    queued = await scrape()
    assert queued[("runway_bot_jobs", (("state", "queued"),))] == 1
    assert queued[("runway_bot_queue_depth", (("model", "gen4_turbo"),))] == 1
    assert queued[("runway_bot_credits_reserved_total", ())] == job.estimated_credits == 10
    assert queued[("runway_bot_daily_credits", (("kind", "reserved"),))] == 10
    assert queued[("runway_bot_daily_credits", (("kind", "used"),))] == 0

    await w.run_once()
    await w.drain()
    running = await scrape()
    assert running[("runway_bot_submissions_total", (("outcome", "submitted"),))] == 1
    assert running[("runway_bot_queue_depth", (("model", "gen4_turbo"),))] == 0
    assert running[("runway_bot_jobs_in_flight", (("model", "gen4_turbo"),))] == 1
    create = (("method", "POST"), ("route", "/v1/image_to_video"))
    assert running[("runway_bot_runway_request_duration_seconds_count", create)] == 1

    await h.run_until(w, h.delivered_all)
    done = await scrape()
    assert done[("runway_bot_jobs", (("state", "succeeded"),))] == 1
    assert done[("runway_bot_jobs", (("state", "queued"),))] == 0
    assert done[("runway_bot_jobs_in_flight", (("model", "gen4_turbo"),))] == 0
    assert done[("runway_bot_polls_total", (("outcome", "succeeded"),))] == 1
    assert done[("runway_bot_credits_charged_total", ())] == 10
    assert done[("runway_bot_credits_refunded_total", ())] == 0
    assert done[("runway_bot_daily_credits", (("kind", "used"),))] == 10
    assert done[("runway_bot_daily_credits", (("kind", "reserved"),))] == 0
    task = (("method", "GET"), ("route", "/v1/tasks/{id}"))
    assert done[("runway_bot_runway_request_duration_seconds_count", task)] >= 1
    assert done[("runway_bot_undelivered_jobs", ())] == 0
    # no raw task id ever becomes a label value
    routes = {dict(labels).get("route") for _, labels in done} - {None}
    assert {r for r in routes if r and r.startswith("/v1/tasks/")} == {"/v1/tasks/{id}"}


async def test_a_cancel_counts_as_a_refund(harness: Harness) -> None:
    h = harness
    metrics = h.engine.quota.metrics
    job = await h.engine.jobs.create(new_animate(duration=2, inputs=(image_input(640, 360),)))
    await h.engine.jobs.cancel(job.id, actor_id=job.user_id, actor_is_admin=False)
    got = samples(metrics.render().decode())
    assert got[("runway_bot_credits_reserved_total", ())] == 10
    assert got[("runway_bot_credits_refunded_total", ())] == 10
    assert got[("runway_bot_credits_charged_total", ())] == 0


def test_event_counters_count() -> None:
    m = Metrics()
    for outcome in ("submitted", "requeued", "requeued", "in_doubt", "failed"):
        m.submission(outcome)
    m.delivery_failed("clip", gave_up=False)
    m.delivery_failed("notice", gave_up=True)
    m.runway_request("GET", "/v1/organization", 0.2)
    got = samples(m.render().decode())
    assert got[("runway_bot_submissions_total", (("outcome", "requeued"),))] == 2
    assert got[("runway_bot_submissions_total", (("outcome", "in_doubt"),))] == 1
    clip = (("kind", "clip"), ("outcome", "retrying"))
    notice = (("kind", "notice"), ("outcome", "gave_up"))
    assert got[("runway_bot_delivery_failures_total", clip)] == 1
    assert got[("runway_bot_delivery_failures_total", notice)] == 1
    org = (("le", "0.25"), ("method", "GET"), ("route", "/v1/organization"))
    assert got[("runway_bot_runway_request_duration_seconds_bucket", org)] == 1


def test_each_bot_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()  # the global registry would refuse the second set
    a.submission("submitted")
    assert (
        samples(b.render().decode())[("runway_bot_submissions_total", (("outcome", "submitted"),))]
        == 0
    )
