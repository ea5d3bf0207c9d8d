"""The optional operations endpoint: ``/healthz`` and ``/metrics`` on a small aiohttp site.

Off by default (``[metrics] enabled``). ``RunwayBot.setup_hook`` starts it after the worker
and the bot stops it first on close. Nothing here imports discord: the bot is seen through
:class:`Gateway` (``discord.Client`` fits it), the database through :class:`WritableStore`
(``Store``) and the worker through :class:`WorkerProbe` (``Worker``).

``/healthz`` answers 200 ``{"ok": true, "checks": {...}}`` when the gateway is connected, the
database takes a write lock and the worker loop passed recently, else 503 with the failed
checks' reasons in ``"reasons"``. ``/metrics`` sets the scrape-time gauges (job table, bot-wide
daily counter) and returns the registry in the Prometheus text format.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiohttp import web

from .. import clock as clocks
from ..config import MetricsSettings
from ..jobs import JobService
from ..quota import QuotaService
from .metrics import CONTENT_TYPE_LATEST, Metrics

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 5.0

Refresh = Callable[[], Awaitable[None]]


class Gateway(Protocol):
    """What the health check reads of the Discord client."""

    def is_ready(self) -> bool: ...

    def is_closed(self) -> bool: ...

    @property
    def latency(self) -> float: ...


class WritableStore(Protocol):
    """A database that can say whether it takes writes now."""

    async def check_writable(self) -> None: ...


class WorkerProbe(Protocol):
    """What the health check reads of the worker."""

    @property
    def running(self) -> bool: ...

    @property
    def alive_within(self) -> float: ...

    last_pass: float | None


def gateway_problem(gateway: Gateway) -> str | None:
    """Why the Discord gateway is not usable, or None."""
    if gateway.is_closed():
        return "discord: the client is closed"
    if not gateway.is_ready():
        return "discord: the gateway is not ready (connecting or reconnecting)"
    latency = gateway.latency
    if not math.isfinite(latency):
        return "discord: no heartbeat acknowledged yet (latency unknown)"
    return None


async def database_problem(store: WritableStore, limit: float) -> str | None:
    """Why the database cannot be written, or None."""
    try:
        await asyncio.wait_for(store.check_writable(), limit)
    except TimeoutError:
        return f"database: no write lock within {limit:g}s"
    except Exception as exc:
        return f"database: not writable ({type(exc).__name__}: {exc})"
    return None


def worker_problem(worker: WorkerProbe | None, now: float | None = None) -> str | None:
    """Why the worker loop looks dead or stuck, or None."""
    if worker is None:
        return "worker: not started"
    if not worker.running:
        return "worker: the scheduler loop is not running"
    if worker.last_pass is None:
        return "worker: no scheduler pass yet"
    age = (clocks.monotonic() if now is None else now) - worker.last_pass
    if age > worker.alive_within:
        return f"worker: last scheduler pass {age:.0f}s ago (limit {worker.alive_within:.0f}s)"
    return None


def store_refresher(
    metrics: Metrics, jobs: JobService, quota: QuotaService, models: Sequence[str] = ()
) -> Refresh:
    """The scrape-time update: job table gauges and the bot-wide daily counter."""

    async def refresh() -> None:
        metrics.set_queue(await jobs.queue_stats(), models)
        used, reserved = await quota.bot_usage_today()
        metrics.set_daily(used, reserved)

    return refresh


class OpsServer:
    """The ``/healthz`` + ``/metrics`` site; ``start`` returns its URL, ``stop`` ends it."""

    def __init__(
        self,
        settings: MetricsSettings,
        metrics: Metrics,
        *,
        gateway: Gateway,
        store: WritableStore,
        worker: WorkerProbe | None,
        refresh: Refresh | None = None,
        check_timeout: float = CHECK_TIMEOUT_SECONDS,
    ) -> None:
        self._settings = settings
        self.metrics = metrics
        self._gateway = gateway
        self._store = store
        self.worker = worker
        self._refresh = refresh
        self._timeout = check_timeout
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        """The aiohttp application (two GET routes)."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self) -> str:
        """Listen on ``host:port`` (port 0: any free one); returns the base URL."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._settings.host, self._settings.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        sockets = [s for s in runner.addresses if isinstance(s, tuple)]
        self.port = int(sockets[0][1]) if sockets else self._settings.port
        host = self._settings.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    async def stop(self) -> None:
        """Stop listening (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Run every check: (healthy, the JSON body)."""
        checks = {
            "discord": gateway_problem(self._gateway),
            "database": await database_problem(self._store, self._timeout),
            "worker": worker_problem(self.worker),
        }
        reasons = [reason for reason in checks.values() if reason is not None]
        body: dict[str, Any] = {
            "ok": not reasons,
            "checks": {name: reason is None for name, reason in checks.items()},
        }
        if reasons:
            body["reasons"] = reasons
        return not reasons, body

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, body = await self.health()
        if not ok:
            log.debug("health check failed: %s", body["reasons"])
        return web.json_response(body, status=200 if ok else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        if self._refresh is not None:
            try:
                await asyncio.wait_for(self._refresh(), self._timeout)
            except Exception:  # the counters still say something; the gauges keep old values
                log.warning("refreshing the scrape-time metrics failed", exc_info=True)
        response = web.Response(body=self.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response
