"""RunwayBot starts the endpoint only when ``[metrics] enabled``, and stops it on close."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import RunwayBot
from bot.catalog import default_catalog
from bot.config import MetricsSettings, RunwaySettings, Settings, SimulatorSettings, parse_settings


def make_settings(tmp_path: Path, **metrics: Any) -> Settings:
    return Settings(
        models=default_catalog(),
        runway=RunwaySettings(
            provider="simulator", simulator=SimulatorSettings(time_scale=50.0, task_seconds=2)
        ),
        storage={"path": tmp_path / "data" / "bot.sqlite3"},  # type: ignore[arg-type]
        metrics=MetricsSettings(**metrics),
    )


def listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def test_the_endpoint_is_off_by_default() -> None:
    settings = parse_settings({}, environ={})
    assert settings.metrics == MetricsSettings()
    assert (settings.metrics.enabled, settings.metrics.host, settings.metrics.port) == (
        False,
        "127.0.0.1",
        9464,
    )
    on = parse_settings({"metrics": {"enabled": True, "port": 9100}}, environ={})
    assert on.metrics.enabled and on.metrics.port == 9100


async def test_nothing_listens_when_it_is_off(tmp_path: Path) -> None:
    if listening("127.0.0.1", 9464):
        pytest.skip("something else listens on 127.0.0.1:9464")
    bot = RunwayBot(make_settings(tmp_path))
    try:
        await bot.setup_hook()
        assert bot._worker is not None and bot._ops is None
        assert not listening("127.0.0.1", 9464)
    finally:
        await bot.close()


async def test_the_bot_serves_health_and_metrics_when_enabled(tmp_path: Path) -> None:
    bot = RunwayBot(make_settings(tmp_path, enabled=True, port=0))
    try:
        await bot.setup_hook()
        assert bot._ops is not None and bot._ops.port
        port = bot._ops.port
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/healthz") as response:
                body = await response.json()
            # Not logged in to Discord: only the gateway check fails.
            assert response.status == 503
            assert body["checks"] == {"discord": False, "database": True, "worker": True}
            async with session.get(url + "/metrics") as response:
                assert response.status == 200
                text = await response.text()
        assert 'runway_bot_queue_depth{model="gen4_turbo"} 0.0' in text
        assert 'runway_bot_daily_credits{kind="used"} 0.0' in text
        # the client shares the bot's registry: the organization call is timed there
        services = bot.services
        assert services is not None
        await services.runway.organization()
        async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as response:
            text = await response.text()
        assert (
            'runway_bot_runway_request_duration_seconds_count{method="GET",'
            'route="/v1/organization"} 1.0' in text
        )
    finally:
        await bot.close()
    await asyncio.sleep(0)
    assert not listening("127.0.0.1", port)


async def test_a_busy_port_is_logged_and_the_bot_runs_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = RunwayBot(make_settings(tmp_path, enabled=True, port=port))
        try:
            await bot.setup_hook()
            assert bot._ops is None and bot._worker is not None and bot._worker.running
            assert any("metrics endpoint cannot listen" in r.message for r in caplog.records)
        finally:
            await bot.close()
