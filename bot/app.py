"""The bot: wires configuration, store, Runway client, worker and cogs together.

``main_run`` serves Discord until SIGTERM/SIGINT; ``main_sync`` registers (or, with
``dry_run``, prints) the application commands. Commands are never synced on start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import clock as clocks
from bot.config import DiscordSettings, Settings
from bot.instance import InstanceBusy, InstanceLock, acquire_instance, process_owner
from bot.operator.doctor import Check
from bot.ui.channels import channel_gate
from bot.ui.context import Services
from bot.ui.delivery import DiscordDelivery
from bot.ui.doctor import check_discord
from bot.ui.errors import handle_app_command_error
from bot.ui.translator import RunwayTranslator
from bot.ui.views import DYNAMIC_ITEMS

if TYPE_CHECKING:
    from bot.jobs import JobService
    from bot.ops.http import OpsServer
    from bot.ops.metrics import Metrics
    from bot.quota import QuotaService
    from bot.runway.client import RunwayClient
    from bot.simulator import RunwaySimulator
    from bot.store.db import Store
    from bot.worker import Worker

log = logging.getLogger(__name__)

# The bot never joins voice: silence discord.py's start-up warnings about voice libraries.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

COG_EXTENSIONS: tuple[str, ...] = (
    "cogs.generate",
    "cogs.jobs",
    "cogs.quota_admin",
    "cogs.owner",
    "cogs.help",
)


def apply_discord_overrides(discord_settings: DiscordSettings) -> None:
    """Point discord.py at another REST base and gateway (a proxy or the fake server).

    Must run before the first request: discord.py builds every route from ``Route.BASE``
    and opens its first gateway connection at ``DiscordWebSocket.DEFAULT_GATEWAY``.
    """
    if discord_settings.api_base:
        discord.http.Route.BASE = discord_settings.api_base.rstrip("/")
    if discord_settings.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(discord_settings.gateway_url)


class RunwayTree(app_commands.CommandTree["RunwayBot"]):
    """The command tree with one error handler for every application command."""

    async def interaction_check(self, interaction: discord.Interaction[RunwayBot], /) -> bool:
        """A server's channel allow-list (``/runway channels``) applies to every command."""
        return await channel_gate(interaction)

    async def on_error(
        self, interaction: discord.Interaction[RunwayBot], error: app_commands.AppCommandError
    ) -> None:
        await handle_app_command_error(interaction, error)


def shard_options(discord_settings: DiscordSettings) -> dict[str, Any]:
    """``shard_count``/``shard_ids`` for ``AutoShardedBot``: none means Discord picks the count
    (``GET /gateway/bot``) and this process runs every shard."""
    options: dict[str, Any] = {}
    if discord_settings.shard_count is not None:
        options["shard_count"] = discord_settings.shard_count
    if discord_settings.shard_ids is not None:
        options["shard_ids"] = list(discord_settings.shard_ids)
    return options


class RunwayBot(commands.AutoShardedBot):
    """The Discord bot, sharded (``discord.shard_count``/``shard_ids``, else automatic).

    ``mode="sync"`` loads only the commands (no store, worker, Runway) and never opens a
    shard: it only logs in over REST.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        mode: Literal["run", "sync"] = "run",
        owner: str | None = None,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=RunwayTree,
            allowed_mentions=discord.AllowedMentions.none(),
            **shard_options(settings.discord),
        )
        self.settings = settings
        self.mode = mode
        # Names the worker's leases; stable across restarts when it comes from bot.instance.
        self.owner = owner or process_owner()
        self.services: Services | None = None
        self._store: Store | None = None
        self._runway: RunwayClient | None = None
        self._simulator: RunwaySimulator | None = None
        self._worker: Worker | None = None
        self._delivery: DiscordDelivery | None = None
        self._metrics: Metrics | None = None
        self._ops: OpsServer | None = None
        self._closed_services = False
        self._loop_bound = False  # discord.py's loop-bound set-up has run

    async def load_cogs(self) -> None:
        """Load every feature cog (their commands need no services to be defined)."""
        await self.tree.set_translator(RunwayTranslator())  # localised names and descriptions
        for name in COG_EXTENSIONS:
            await self.load_extension(name)

    def _wake_worker(self) -> None:
        if self._worker is not None:
            self._worker.wake()

    async def setup_hook(self) -> None:
        """Open the store and Runway, start the worker, load cogs, register the buttons."""
        if self.mode == "sync":
            await self.load_cogs()
            return
        from bot.jobs import JobService
        from bot.ops.metrics import Metrics
        from bot.quota import QuotaService
        from bot.store.connect import open_store
        from bot.worker import Worker
        from bot.worker.loop import LEASE_SECONDS

        settings = self.settings
        data_dir = settings.storage.path.parent
        data_dir.mkdir(parents=True, exist_ok=True)
        workdir = data_dir / "work"
        workdir.mkdir(parents=True, exist_ok=True)

        self._store = store = await open_store(settings.storage)
        self._metrics = metrics = Metrics()
        quota = QuotaService(store, settings.quota, settings.models, metrics=metrics)
        # The worker's owner id marks the jobs this process's commands post (bot.worker.loop).
        jobs = JobService(
            settings,
            store,
            quota,
            wake=self._wake_worker,
            publisher=self.owner,
            publish_lease=LEASE_SECONDS,
        )
        self._runway = client = await self._open_runway()
        self._delivery = delivery = DiscordDelivery(self, settings, workdir)
        self.services = Services(
            settings=settings, jobs=jobs, quota=quota, delivery=delivery, runway=client
        )
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        await self.load_cogs()
        if self._closed_services:
            return  # a shutdown signal arrived while starting
        self._worker = Worker(
            settings,
            store,
            client,
            delivery,
            owner=self.owner,
            workdir=workdir,
            quota=quota,
            metrics=metrics,
        )
        await self._worker.start()
        if store.backend == "postgresql":
            # Jobs created or cancelled by another process wake this worker (LISTEN/NOTIFY).
            await store.listen(self._wake_worker)
        if settings.metrics.enabled:
            await self._start_ops(jobs, quota)
        log.info(
            "ready to serve: provider %s, %d models enabled",
            settings.runway.provider,
            len(settings.enabled_models()),
        )

    async def _start_ops(self, jobs: JobService, quota: QuotaService) -> None:
        """Serve ``/healthz`` and ``/metrics`` (``[metrics] enabled``); a port that cannot be
        bound is logged, and the bot runs on without the endpoint."""
        from bot.ops.http import OpsServer, store_refresher

        assert self._store is not None and self._metrics is not None
        models = [m.id for m in self.settings.enabled_models()]
        ops = OpsServer(
            self.settings.metrics,
            self._metrics,
            gateway=self,
            store=self._store,
            worker=self._worker,
            refresh=store_refresher(self._metrics, jobs, quota, models),
        )
        where = f"{self.settings.metrics.host}:{self.settings.metrics.port}"
        try:
            url = await ops.start()
        except OSError as exc:
            log.error("the metrics endpoint cannot listen on %s: %s", where, exc)
            return
        if self._closed_services:  # a shutdown signal arrived while it started
            await ops.stop()
            return
        self._ops = ops
        log.info("health and metrics on %s/healthz and %s/metrics", url, url)

    async def _open_runway(self) -> RunwayClient:
        from bot.runway.client import RunwayClient

        runway = self.settings.runway
        if runway.provider != "simulator":
            return RunwayClient.from_settings(runway, metrics=self._metrics)
        from bot.simulator import RunwaySimulator, SimulatorOptions

        sim_settings = runway.simulator
        self._simulator = RunwaySimulator(
            SimulatorOptions(
                models=self.settings.models,
                task_seconds=sim_settings.task_seconds,
                time_scale=sim_settings.time_scale,
                concurrency=sim_settings.concurrency_per_model,
            )
        )
        url = await self._simulator.start(sim_settings.host, sim_settings.port)
        log.info("built-in Runway simulator listening on %s", url)
        return RunwayClient.from_settings(runway, base_url=url, metrics=self._metrics)

    async def _close_services(self) -> None:
        if self._closed_services:
            return
        self._closed_services = True
        steps: list[tuple[str, Callable[[], Awaitable[None]] | None]] = [
            ("metrics endpoint", self._ops.stop if self._ops is not None else None),
            ("worker", self._worker.stop if self._worker is not None else None),
            ("status edits", self._delivery.close if self._delivery is not None else None),
            ("Runway client", self._runway.close if self._runway is not None else None),
            ("simulator", self._simulator.stop if self._simulator is not None else None),
            ("store", self._store.close if self._store is not None else None),
        ]
        for name, stop in steps:
            if stop is None:
                continue
            try:
                await stop()
            except Exception:
                log.exception("stopping the %s failed", name)
        self.services = None

    async def _async_setup_hook(self) -> None:
        await super()._async_setup_hook()
        self._loop_bound = True

    async def close(self) -> None:
        """Stop the worker (leases released), close Runway and the database, then Discord."""
        await self._close_services()
        if not self._loop_bound:
            # Never entered nor logged in (setup_hook driven directly, or a signal during
            # start): AutoShardedClient.close needs the queue that this set-up creates.
            await self._async_setup_hook()
        await super().close()

    async def on_ready(self) -> None:
        """Log who we are once every shard is ready."""
        user = self.user
        log.info(
            "connected as %s (%s) in %d guilds over %d shards (ids %s of %s)",
            user,
            user.id if user else "?",
            len(self.guilds),
            len(self.shards),
            sorted(self.shards),
            self.shard_count,
        )

    async def on_shard_ready(self, shard_id: int) -> None:
        """Log each shard as it becomes ready."""
        log.info("shard %d of %s ready", shard_id, self.shard_count)


async def _serve(settings: Settings, token: str, owner: str) -> int:
    bot = RunwayBot(settings, owner=owner)
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Task[None]] = []

    def on_signal(signame: str) -> None:
        log.info("%s received: shutting down", signame)
        if not closing:
            closing.append(loop.create_task(bot.close()))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure:
        log.error("Discord refused the bot token (check DISCORD_TOKEN)")
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused the gateway intents this bot asked for")
        return 1
    except (discord.HTTPException, discord.GatewayNotFound, aiohttp.ClientError, OSError) as exc:
        log.error("could not reach Discord: %s", exc)
        return 1
    finally:
        if closing:
            await closing[0]
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0


def main_run(settings: Settings) -> int:
    """``runway-bot run``: serve until SIGTERM or SIGINT; returns the exit code."""
    if settings.discord.token is None:
        print("no Discord token: set DISCORD_TOKEN or discord.token", file=sys.stderr)
        return 2
    instance: InstanceLock | None = None
    if settings.storage.url is None:
        try:
            instance = acquire_instance(settings.storage.path.parent)
        except InstanceBusy as exc:
            print(str(exc), file=sys.stderr)
            return 2
    # PostgreSQL is shared by several processes: no lock, and leases named per process.
    owner = instance.owner if instance is not None else process_owner()
    apply_discord_overrides(settings.discord)
    for warning in settings.warnings():
        log.warning("configuration: %s", warning)
    try:
        token = settings.discord.token.get_secret_value()
        # On the process clock: the system one, or a virtual one a harness installed.
        return clocks.run(_serve(settings, token, owner))
    finally:
        if instance is not None:
            instance.release()


async def command_payloads(settings: Settings) -> list[dict[str, Any]]:
    """The application commands exactly as they would be sent to Discord, built offline."""
    bot = RunwayBot(settings, mode="sync")
    await bot.load_cogs()
    translator = bot.tree.translator
    assert translator is not None
    return [
        await command.get_translated_payload(bot.tree, translator)
        for command in bot.tree.get_commands()
    ]


async def _sync(settings: Settings, token: str, guild_id: int | None) -> int:
    bot = RunwayBot(settings, mode="sync")
    try:
        async with bot:
            await bot.login(token)
            guild = discord.Object(guild_id) if guild_id is not None else None
            if guild is not None:
                bot.tree.copy_global_to(guild=guild)
            synced = await bot.tree.sync(guild=guild)
    except discord.LoginFailure:
        print("Discord refused the bot token (check DISCORD_TOKEN)", file=sys.stderr)
        return 1
    except discord.HTTPException as exc:
        print(f"Discord refused the commands: HTTP {exc.status}: {exc.text}", file=sys.stderr)
        return 1
    except (aiohttp.ClientError, OSError) as exc:
        print(f"could not reach Discord: {exc}", file=sys.stderr)
        return 1
    where = f"guild {guild_id}" if guild_id is not None else "every server (global)"
    print(f"synced {len(synced)} commands to {where}: {', '.join(c.name for c in synced)}")
    return 0


def main_sync(settings: Settings, guild_id: int | None, dry_run: bool) -> int:
    """``runway-bot sync-commands``: register the commands, or print their payloads."""
    if dry_run:
        payloads = asyncio.run(command_payloads(settings))
        print(json.dumps(payloads, indent=2, sort_keys=True))
        return 0
    if settings.discord.token is None:
        print("no Discord token: set DISCORD_TOKEN or discord.token", file=sys.stderr)
        return 2
    apply_discord_overrides(settings.discord)
    return asyncio.run(_sync(settings, settings.discord.token.get_secret_value(), guild_id))


async def doctor_discord(settings: Settings) -> list[Check]:
    """``runway-bot doctor``'s Discord checks (the token, each guild's permissions)."""
    return await check_discord(settings)
