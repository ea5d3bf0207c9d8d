"""One playground: the fake Discord, a seeded server, the real bot (with its built-in Runway
simulator) connected to it, and the web page, all in this process and event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app import RunwayBot, apply_discord_overrides
from bot.config import Settings, parse_settings
from bot.fakediscord import FakeDiscord, FakeDiscordClient
from bot.instance import InstanceLock, acquire_instance
from bot.playground.web import Seeded, make_app

log = logging.getLogger(__name__)

READY_SECONDS = 60.0
DATABASE_NAME = "runway-bot.sqlite3"


@dataclass(frozen=True)
class Pace:
    """How fast the simulated Runway works: a task takes ``task_seconds / time_scale`` real
    seconds (8 s by default, so a clip shows within seconds and its progress is visible)."""

    task_seconds: float = 20.0
    time_scale: float = 2.5
    status_edit_seconds: float = 1.0


def playground_settings(fake: FakeDiscord, data_dir: Path, pace: Pace = Pace()) -> Settings:
    """The bot's settings: the fake's token and URLs, the simulator, a database in ``data_dir``.

    The environment is ignored, so a real ``DISCORD_TOKEN`` or ``RUNWAY_API_KEY`` never
    leaks into the playground."""
    data: dict[str, Any] = {
        "discord": {
            "token": fake.token,
            "api_base": fake.api_base,
            "gateway_url": fake.gateway_url,
            "status_edit_interval_seconds": pace.status_edit_seconds,
        },
        "runway": {
            "provider": "simulator",
            "simulator": {"task_seconds": pace.task_seconds, "time_scale": pace.time_scale},
        },
        "storage": {"path": str(data_dir / DATABASE_NAME)},
    }
    return parse_settings(data, environ={}, check_paths=True)


async def seed(ctl: FakeDiscordClient) -> Seeded:
    """A server owned by the admin, with a member and one text channel."""
    admin = await ctl.create_user("Ada")
    member = await ctl.create_user("Milo")
    guild = await ctl.create_guild("Runway Playground", owner_id=int(admin["id"]))
    guild_id = int(guild["id"])
    await ctl.add_member(guild_id, int(member["id"]))
    channel = await ctl.create_channel(guild_id, "general")
    return Seeded(
        guild_id=guild_id,
        channel_id=int(channel["id"]),
        member_id=int(member["id"]),
        admin_id=int(admin["id"]),
    )


class Playground:
    """Start with :meth:`start` (returns the page's URL), end with :meth:`stop`."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        pace: Pace = Pace(),
    ) -> None:
        self.host = host
        self.port = port
        self.pace = pace
        self._given_dir = data_dir
        self.data_dir: Path | None = None
        self.fake: FakeDiscord | None = None
        self.ctl: FakeDiscordClient | None = None
        self.bot: RunwayBot | None = None
        self.seeded: Seeded | None = None
        self.url = ""
        self._instance: InstanceLock | None = None
        self._connection: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Bring everything up; the page is served once the bot is connected."""
        try:
            return await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> str:
        if self._given_dir is not None:
            self._given_dir.mkdir(parents=True, exist_ok=True)
            self.data_dir = self._given_dir
        else:
            self.data_dir = Path(tempfile.mkdtemp(prefix="runway-playground-"))
        self._instance = acquire_instance(self.data_dir)
        self.fake = FakeDiscord()
        await self.fake.start()
        self.ctl = FakeDiscordClient(self.fake.base_url)
        self.seeded = await seed(self.ctl)
        settings = playground_settings(self.fake, self.data_dir, self.pace)
        apply_discord_overrides(settings.discord)
        self.bot = bot = RunwayBot(settings, owner=self._instance.owner)
        await bot.login(self.fake.token)  # runs setup_hook: store, simulator, worker, cogs
        synced = await bot.tree.sync()  # the page's forms come from what the fake registered
        log.info("playground: %d commands synced to the fake Discord", len(synced))
        self._connection = asyncio.create_task(bot.connect(), name="playground-gateway")
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, self._connection}, timeout=READY_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if self._connection in done:
                self._connection.result()  # raises why the bot could not connect
            raise TimeoutError(f"the bot did not connect to the fake Discord in {READY_SECONDS} s")
        app = make_app(self.ctl, self.seeded)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else self.port
        self.url = f"http://{self.host}:{port}/"
        return self.url

    async def stop(self) -> None:
        """Stop the page, the bot (worker, simulator, store), the fake; remove a throwaway dir."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.bot is not None:
            await self.bot.close()
            self.bot = None
        if self._connection is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connection
            self._connection = None
        if self.ctl is not None:
            await self.ctl.close()
            self.ctl = None
        if self.fake is not None:
            await self.fake.stop()
            self.fake = None
        if self._instance is not None:
            self._instance.release()
            self._instance = None
        if self._given_dir is None and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
