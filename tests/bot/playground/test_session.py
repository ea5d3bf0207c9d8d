"""One playground in this event loop: the bot syncs its commands into the fake, a kept data
directory keeps the database, and stopping releases everything."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from bot.app import command_payloads
from bot.fakediscord import FakeDiscord
from bot.instance import InstanceBusy, acquire_instance
from bot.playground.session import DATABASE_NAME, Playground, playground_settings


async def test_start_sync_serve_and_stop_with_a_kept_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "kept"
    playground = Playground(data, port=0)
    url = await playground.start()
    try:
        assert url.startswith("http://127.0.0.1:")
        assert playground.fake is not None and playground.ctl is not None
        settings = playground_settings(playground.fake, data)
        expected = {c["name"] for c in await command_payloads(settings)}
        registered = {c["name"] for c in (await playground.ctl.state())["global_commands"]}
        assert registered == expected  # the page's forms come from exactly these
        with pytest.raises(InstanceBusy):
            acquire_instance(data)  # the data directory is locked while it runs
        async with aiohttp.ClientSession() as http, http.get(url + "api/channels") as resp:
            assert resp.status == 200
            assert (await resp.json())["channel"]["name"] == "general"
    finally:
        await playground.stop()
    assert (data / DATABASE_NAME).exists()  # --data keeps the database
    acquire_instance(data).release()  # and the lock is gone


async def test_the_settings_ignore_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "a-real-token")
    monkeypatch.setenv("RUNWAY_API_KEY", "a-real-key")
    async with FakeDiscord() as fake:
        settings = playground_settings(fake, tmp_path)
    assert settings.discord.token is not None
    assert settings.discord.token.get_secret_value() == fake.token
    assert settings.runway.provider == "simulator"
    assert settings.storage.path == tmp_path / DATABASE_NAME
