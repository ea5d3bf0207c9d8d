"""Fixtures: one fake Discord + Runway simulator + bot subprocess per test module.

Modules mark themselves ``pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]``
so their tests share the module's event loop (where the fake and the simulator run). A module
changes the setup by overriding the ``env_options`` fixture.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from bot.clock import VirtualClock
from bot.fakediscord import FakeDiscordClient
from bot.simulator import RunwaySimulator, SimulatorOptions
from tests.e2e.harness import (
    RUNWAY_KEY,
    TIME_FACTOR,
    BotProcess,
    Db,
    Env,
    HoldingFakeDiscord,
    Place,
    catalog_of,
    command_payloads,
    write_config,
)


@dataclass
class EnvOptions:
    """What a module's world looks like."""

    provider: str = "runway"
    task_seconds: float = 3.0
    pending_seconds: float = 1.0
    sim_concurrency: int = 4
    task_not_exist_seconds: float = 3.0
    config: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="session")
def commands(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The bot's application commands (``sync-commands --dry-run``), computed once."""
    tmp = tmp_path_factory.mktemp("commands")
    config = write_config(
        tmp / "config.toml",
        fake_url="http://127.0.0.1:9",
        runway_url="http://127.0.0.1:9",
        database=tmp / "unused.sqlite3",
    )
    return command_payloads(config)


@pytest.fixture(scope="module")
def env_options() -> EnvOptions:
    return EnvOptions()


@contextlib.asynccontextmanager
async def make_env(
    tmp: Path, commands: list[dict[str, Any]], options: EnvOptions
) -> AsyncIterator[Env]:
    """Start the fake, the simulator and the bot; tear them down and check the fake's logs."""
    clock = VirtualClock(TIME_FACTOR)
    fake = HoldingFakeDiscord()
    # The fake speaks to a bot on the virtual clock: discord.py heartbeats from a thread on
    # real time, so the interval it is given is the virtual one's real length; rate-limit
    # waits are announced in the bot's seconds.
    fake.settings.heartbeat_interval_ms = round(fake.settings.heartbeat_interval_ms / clock.factor)
    fake.limiter.time_factor = clock.factor
    await fake.start()
    ctl = FakeDiscordClient(fake.base_url)
    sim: RunwaySimulator | None = None
    bot: BotProcess | None = None
    try:
        await ctl.register_commands(commands)
        database = tmp / "data" / "bot.sqlite3"
        config = tmp / "config.toml"
        write_config(
            config, fake_url=fake.base_url, runway_url="http://127.0.0.1:9", database=database
        )
        sim = RunwaySimulator(
            SimulatorOptions(
                provider="cometapi" if options.provider == "cometapi" else "runway",
                models=catalog_of(config),
                task_seconds=options.task_seconds,
                pending_seconds=options.pending_seconds,
                time_scale=clock.factor,
                concurrency=options.sim_concurrency,
                task_not_exist_seconds=options.task_not_exist_seconds,
            )
        )
        creates = record_creates(sim)
        url = await sim.start()
        write_config(
            config,
            fake_url=fake.base_url,
            runway_url=url,
            database=database,
            provider=options.provider,
            **options.config,
        )
        bot = BotProcess(config, tmp, clock)
        await bot.start()
        yield Env(
            fake=fake,
            ctl=ctl,
            sim=sim,
            bot=bot,
            db=Db(database),
            config=config,
            workdir=tmp,
            creates=creates,
        )
    finally:
        fake.release_all()
        exit_code = await bot.stop() if bot is not None else None
        await ctl.close()
        if sim is not None:
            await sim.stop()
        await fake.stop()
    log = bot.log_text() if bot is not None else ""
    assert exit_code in (None, 0), f"the bot did not stop cleanly on SIGTERM ({exit_code})"
    if bot is not None and bot.logs:
        assert Db(tmp / "data" / "bot.sqlite3").drift() == [], "the quota books drifted"
    assert RUNWAY_KEY not in log, "the Runway API key appeared in the bot's log"
    assert fake.invalid == [], fake.invalid
    assert fake.errors == [], fake.errors


def record_creates(sim: RunwaySimulator) -> list[tuple[str, Any]]:
    """Keep the JSON body of every create request the simulator receives: (path, body)."""
    creates: list[tuple[str, Any]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "POST" and request.path in CREATE_PATHS:
            with contextlib.suppress(ValueError):
                creates.append((request.path, await request.json()))
        response: web.StreamResponse = await handler(request)
        return response

    sim.app.middlewares.insert(0, record)
    return creates


CREATE_PATHS = ("/v1/image_to_video", "/v1/video_to_video")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(
    tmp_path_factory: pytest.TempPathFactory,
    commands: list[dict[str, Any]],
    env_options: EnvOptions,
) -> AsyncIterator[Env]:
    async with make_env(tmp_path_factory.mktemp("e2e"), commands, env_options) as world:
        yield world


@pytest_asyncio.fixture(loop_scope="module")
async def place(env: Env) -> Place:
    """A fresh guild (own quotas, own channel) for one test."""
    if env.bot.proc is None or env.bot.proc.poll() is not None:
        await env.bot.start()  # a previous test failed while the bot was down
    return await env.place()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def _bot_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if request.node.stash.get(_FAILED, False) and "env" in request.fixturenames:
        world: Env = request.getfixturevalue("env")
        print("---- bot log (tail) ----")
        print(world.bot.tail(120))
        print(f"---- full logs in {world.workdir} ----")
