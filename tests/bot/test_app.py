"""The bot wiring: dry-run command payloads, Discord URL overrides, start-up and shutdown."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import discord
import pytest
import yarl
from PIL import Image
from pydantic import ValidationError

from bot.app import RunwayBot, apply_discord_overrides, command_payloads, main_run, main_sync
from bot.catalog import default_catalog
from bot.config import (
    DiscordSettings,
    RunwaySettings,
    Settings,
    SimulatorSettings,
    load_settings,
)
from bot.fakediscord import FakeDiscord, FakeDiscordClient
from bot.ui.views import DYNAMIC_ITEMS

NAME = re.compile(r"^[-_\w]{1,32}$")
MANAGE_GUILD = discord.Permissions(manage_guild=True).value
ADMINISTRATOR = discord.Permissions(administrator=True).value


def make_settings(tmp_path: Path, **discord_fields: Any) -> Settings:
    return Settings(
        models=default_catalog(),
        discord=DiscordSettings(**discord_fields),
        runway=RunwaySettings(
            provider="simulator", simulator=SimulatorSettings(time_scale=50.0, task_seconds=2)
        ),
        storage={"path": tmp_path / "data" / "bot.sqlite3"},  # type: ignore[arg-type]
    )


@pytest.fixture
def payloads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main_sync(make_settings(tmp_path), guild_id=None, dry_run=True) == 0
    data: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return data


def by_name(payloads: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in payloads}


def options(command: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["name"]: o for o in command.get("options", [])}


def walk(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield payload
    for option in payload.get("options", []):
        yield from walk(option)


def test_dry_run_lists_every_command(payloads: list[dict[str, Any]]) -> None:
    names = {(p["name"], p["type"]) for p in payloads}
    assert names == {
        ("animate", 1),
        ("restyle", 1),
        ("jobs", 1),
        ("cancel", 1),
        ("usage", 1),
        ("quota", 1),
        ("runway", 1),
        ("help", 1),
        ("Animate this image", 3),
    }


def test_descriptions_and_names_fit_discord_limits(payloads: list[dict[str, Any]]) -> None:
    for payload in payloads:
        for node in walk(payload):
            if node is payload and payload["type"] == 3:
                assert "description" not in node or node["description"] == ""
                assert 1 <= len(node["name"]) <= 32
                continue
            assert NAME.match(node["name"]), node["name"]
            assert 1 <= len(node["description"]) <= 100, node["name"]
            assert len(node.get("options", [])) <= 25
            for choice in node.get("choices", []):
                assert 1 <= len(choice["name"]) <= 100


def test_animate_options(payloads: list[dict[str, Any]]) -> None:
    animate = by_name(payloads)["animate"]
    opts = options(animate)
    assert list(opts) == ["image", "prompt", "model", "duration", "ratio", "seed", "last_frame"]
    assert opts["image"]["type"] == 11 and opts["image"]["required"] is True
    assert opts["prompt"]["required"] is True
    assert opts["model"]["autocomplete"] is True
    assert opts["ratio"]["autocomplete"] is True
    assert opts["model"]["max_length"] == 64 and opts["ratio"]["max_length"] == 32
    assert opts["duration"]["autocomplete"] is True
    assert opts["seed"]["min_value"] == 0 and opts["seed"]["max_value"] == 4_294_967_295
    assert opts["last_frame"]["type"] == 11 and opts["last_frame"]["required"] is False
    assert animate["contexts"] == [0]  # servers only: not shown in DMs (allow_dms is off)
    assert animate["integration_types"] == [0]
    assert animate["default_member_permissions"] is None


def test_restyle_options(payloads: list[dict[str, Any]]) -> None:
    opts = options(by_name(payloads)["restyle"])
    assert list(opts) == ["video", "prompt", "reference", "model", "seed"]
    assert opts["video"]["type"] == 11


def test_quota_group_is_guild_only_and_hints_manage_server(
    payloads: list[dict[str, Any]],
) -> None:
    quota = by_name(payloads)["quota"]
    assert quota["default_member_permissions"] == MANAGE_GUILD
    assert quota["contexts"] == [0]
    assert quota["dm_permission"] is False
    subs = options(quota)
    assert list(subs) == [
        "set", "clear", "role", "default", "reset", "grant", "show", "top", "list", "log",
    ]  # fmt: skip
    assert all(sub["type"] == 1 for sub in subs.values())
    assert options(subs["role"])["role"]["type"] == 8
    assert options(subs["set"])["user"]["type"] == 6
    assert options(subs["grant"])["amount"]["type"] == 10


def test_runway_group_hints_manage_server_and_offers_scopes(
    payloads: list[dict[str, Any]],
) -> None:
    runway = by_name(payloads)["runway"]
    # Server admins set the budget, channels and language here; status and sync check owners.
    assert runway["default_member_permissions"] == MANAGE_GUILD
    assert set(options(runway)) == {
        "channels", "status", "sync", "budget", "cost-confirm", "language",
    }  # fmt: skip
    assert set(options(options(runway)["channels"])) == {"add", "remove", "list"}
    scope = options(options(runway)["sync"])["scope"]
    assert [c["value"] for c in scope["choices"]] == ["here", "global", "clear-here"]


def test_cancel_autocompletes_job_ids(payloads: list[dict[str, Any]]) -> None:
    job = options(by_name(payloads)["cancel"])["job"]
    assert job["type"] == 4 and job["autocomplete"] is True


def test_sync_without_token_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main_sync(make_settings(tmp_path), guild_id=None, dry_run=False) == 2
    assert "DISCORD_TOKEN" in capsys.readouterr().err
    assert main_run(make_settings(tmp_path)) == 2


def test_overrides_point_discord_py_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    apply_discord_overrides(
        DiscordSettings(
            api_base="http://127.0.0.1:8990/api/v10/", gateway_url="ws://127.0.0.1:8990/gateway"
        )
    )
    route = discord.http.Route("GET", "/users/@me")
    assert route.url == "http://127.0.0.1:8990/api/v10/users/@me"
    assert (
        yarl.URL("ws://127.0.0.1:8990/gateway") == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    )


def test_no_overrides_leave_discord_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    before = discord.http.Route.BASE
    apply_discord_overrides(DiscordSettings())
    assert before == discord.http.Route.BASE


async def test_setup_hook_wires_everything_and_close_releases_it(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    bot = RunwayBot(settings)
    try:
        await bot.setup_hook()
        services = bot.services
        assert services is not None
        assert services.delivery is not None and services.runway is not None
        assert bot._simulator is not None and bot._simulator.base_url.startswith("http://127.")
        patterns = bot._connection._view_store._dynamic_items.values()
        assert set(DYNAMIC_ITEMS) <= set(patterns)
        assert {c.name for c in bot.tree.get_commands()} >= {"animate", "quota", "runway"}
        assert set(bot.cogs) == {
            "GenerateCog",
            "JobsCog",
            "QuotaAdminCog",
            "OwnerCog",
            "HelpCog",
        }
        stats = await services.jobs.queue_stats()
        assert sum(stats.by_state.values()) == 0
        org = await services.runway.organization()  # the client really reaches the simulator
        assert org.credit_balance is not None
    finally:
        await bot.close()
    assert bot.services is None
    assert bot._closed_services
    assert (tmp_path / "data" / "bot.sqlite3").exists()


def _config_toml(tmp_path: Path, api_base: str, gateway_url: str) -> Path:
    path = tmp_path / "config.toml"  # no [[models]]: the packaged catalog
    path.write_text(
        f"""
[discord]
api_base = "{api_base}"
gateway_url = "{gateway_url}"

[runway]
provider = "simulator"

[runway.simulator]
time_scale = 5.0

[storage]
path = "{(tmp_path / "data" / "bot.sqlite3").as_posix()}"
""",
        encoding="utf-8",
    )
    return path


async def _read_until(stream: asyncio.StreamReader, needle: str, seen: list[str]) -> None:
    while True:
        line = await stream.readline()
        if not line:
            raise AssertionError("the bot exited early:\n" + "".join(seen))
        seen.append(line.decode(errors="replace"))
        if needle in seen[-1]:
            return


@pytest.mark.timeout(90)
async def test_run_serves_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """`runway-bot run` against the fake Discord: a job in flight, SIGTERM, exit 0, no lease."""
    async with FakeDiscord() as fake, FakeDiscordClient(fake.base_url) as ctl:
        user = int((await ctl.create_user("alice"))["id"])
        guild = int((await ctl.create_guild("G", owner_id=user))["id"])
        channel = int((await ctl.create_channel(guild, "general"))["id"])
        await ctl.add_member(guild, user)
        config = _config_toml(tmp_path, fake.api_base, fake.gateway_url)
        await ctl.register_commands(await command_payloads(load_settings(config)))
        env = {**os.environ, "DISCORD_TOKEN": fake.token}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        assert proc.stdout is not None
        seen: list[str] = []
        try:
            await asyncio.wait_for(_read_until(proc.stdout, "connected as", seen), 45)
            interaction = await ctl.invoke_command(
                user,
                guild,
                channel,
                "animate",
                {"prompt": "slow [sim:seconds=600]"},
                [("a.png", _png(), "image/png")],
                attachment_options=["image"],
            )
            await ctl.wait_for_followups(interaction, 1, within=20)
            await asyncio.wait_for(_read_until(proc.stdout, "submitted as task", seen), 20)
            proc.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(proc.stdout.read(), 45)
            seen.append(rest.decode(errors="replace"))
            code = await asyncio.wait_for(proc.wait(), 10)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        output = "".join(seen)
        assert code == 0, output
        assert "SIGTERM received: shutting down" in output
        assert "Traceback" not in output
        await ctl.assert_no_invalid_requests()

    db = await aiosqlite.connect(tmp_path / "data" / "bot.sqlite3")
    try:
        rows = list(await db.execute_fetchall("SELECT state, lease_owner FROM jobs"))
    finally:
        await db.close()
    assert rows == [("running", None)]


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1280, 720), (40, 90, 200)).save(buf, format="PNG")
    return buf.getvalue()


async def _cli(config: Path, token: str, command: str, *extra: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--log-level",
        "ERROR",
        command,
        "--config",
        str(config),
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "DISCORD_TOKEN": token},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


@pytest.mark.timeout(120)
async def test_sync_commands_registers_globally_or_per_guild(tmp_path: Path) -> None:
    async with FakeDiscord() as fake, FakeDiscordClient(fake.base_url) as ctl:
        guild = int((await ctl.create_guild("G"))["id"])
        config = _config_toml(tmp_path, fake.api_base, fake.gateway_url)
        expected = {p["name"] for p in await command_payloads(load_settings(config))}

        code, out = await _cli(config, fake.token, "sync-commands", "--guild", str(guild))
        assert code == 0, out
        assert f"synced {len(expected)} commands to guild {guild}" in out
        state = await ctl.state()
        assert {c["name"] for c in state["guild_commands"][str(guild)]} == expected
        assert state["global_commands"] == []

        code, out = await _cli(config, fake.token, "sync-commands")
        assert code == 0, out
        assert "every server (global)" in out
        state = await ctl.state()
        assert {c["name"] for c in state["global_commands"]} == expected
        await ctl.assert_no_invalid_requests()
        # sync only logs in over REST: the sharded client never opened a gateway connection
        assert [e for e in fake.gateway_log if e["dir"] == "connect"] == []

        code, out = await _cli(config, "not-the-token", "sync-commands")
        assert code == 1
        assert "refused the bot token" in out


@pytest.mark.timeout(120)
async def test_sync_commands_defaults_to_the_dev_guild(tmp_path: Path) -> None:
    async with FakeDiscord() as fake, FakeDiscordClient(fake.base_url) as ctl:
        guild = int((await ctl.create_guild("Dev"))["id"])
        config = _config_toml(tmp_path, fake.api_base, fake.gateway_url)
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("[discord]\n", f"[discord]\ndev_guild_id = {guild}\n"))

        code, out = await _cli(config, fake.token, "sync-commands")
        assert code == 0, out
        assert f"to guild {guild}" in out
        assert (await ctl.state())["global_commands"] == []

        code, out = await _cli(config, fake.token, "sync-commands", "--global")
        assert code == 0, out
        assert "every server (global)" in out
        assert (await ctl.state())["global_commands"] != []
        await ctl.assert_no_invalid_requests()


@pytest.mark.timeout(120)
async def test_in_process_against_the_fake_discord(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole wiring once: /animate -> status + thread -> clip in the thread; owner sync."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    async with FakeDiscord() as fake, FakeDiscordClient(fake.base_url) as ctl:
        owner = int((await ctl.create_user("owner"))["id"])
        guild = int((await ctl.create_guild("G", owner_id=owner))["id"])
        channel = int((await ctl.create_channel(guild, "general"))["id"])
        await ctl.add_member(guild, owner)
        settings = Settings(
            models=default_catalog(),
            discord=DiscordSettings(
                token=fake.token,
                api_base=fake.api_base,
                gateway_url=fake.gateway_url,
                owner_ids=(owner,),
            ),
            runway=RunwaySettings(
                provider="simulator",
                simulator=SimulatorSettings(time_scale=40.0, task_seconds=10),
            ),
            storage={"path": tmp_path / "bot.sqlite3"},  # type: ignore[arg-type]
        )
        apply_discord_overrides(settings.discord)
        await ctl.register_commands(await command_payloads(settings))
        bot = RunwayBot(settings)
        runner = asyncio.create_task(bot.start(fake.token))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), 20)
            interaction = await ctl.invoke_command(
                owner,
                guild,
                channel,
                "animate",
                {"prompt": "waves @everyone"},
                [("a.png", _png(), "image/png")],
                attachment_options=["image"],
            )
            answered = await ctl.wait_for_followups(interaction, 1, within=20)
            assert answered["callback_type"] == 5  # deferred, ephemeral
            threads = await ctl.wait_until(lambda: ctl.threads(channel), bool, within=10)
            thread = int(threads[0]["id"])
            assert str(thread) in answered["followups"][0]["content"]
            posted = await ctl.wait_until(
                lambda: ctl.messages(thread),
                lambda ms: any(m["attachments"] for m in ms),
                within=40,
            )
            clip = next(m for m in posted if m["attachments"])
            assert clip["content"] == f"<@{owner}> your clip is ready."
            assert [u["id"] for u in clip["mentions"]] == [str(owner)]
            assert clip["mention_everyone"] is False
            status = await ctl.wait_until(
                lambda: ctl.messages(channel),
                lambda ms: any(
                    m["embeds"] and m["embeds"][0]["description"].startswith("Finished\n")
                    for m in ms
                ),
                within=10,
            )
            assert status

            sync = await ctl.invoke_command(owner, guild, channel, "runway sync")
            await ctl.wait_for_followups(sync, 1, within=20)
            state = await ctl.state()
            names = {c["name"] for c in state["guild_commands"][str(guild)]}
            assert {"animate", "quota", "runway", "Animate this image"} <= names
            await ctl.assert_no_invalid_requests()
        finally:
            await bot.close()
            await asyncio.wait_for(runner, 20)


def test_shards_are_automatic_by_default(tmp_path: Path) -> None:
    bot = RunwayBot(make_settings(tmp_path))
    assert isinstance(bot, discord.AutoShardedClient)
    assert bot.shard_count is None  # discord.py asks GET /gateway/bot
    assert bot.shard_ids is None  # and runs every shard


def test_shard_settings_reach_the_sharded_client(tmp_path: Path) -> None:
    bot = RunwayBot(make_settings(tmp_path, shard_count=4))
    assert (bot.shard_count, bot.shard_ids) == (4, None)
    bot = RunwayBot(make_settings(tmp_path, shard_count=4, shard_ids=(1, 3)), mode="sync")
    assert (bot.shard_count, bot.shard_ids) == (4, [1, 3])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"shard_count": 0}, "greater than or equal to 1"),
        ({"shard_ids": (0,)}, "needs discord.shard_count"),
        ({"shard_count": 2, "shard_ids": ()}, "must not be empty"),
        ({"shard_count": 2, "shard_ids": (0, 0)}, "duplicates"),
        ({"shard_count": 2, "shard_ids": (0, 2)}, "out of range"),
        ({"shard_count": 2, "shard_ids": (-1,)}, "out of range"),
    ],
)
def test_shard_settings_are_validated(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DiscordSettings(**fields)


@pytest.mark.timeout(120)
async def test_two_shards_each_serve_their_guilds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """shard_count = 2: one IDENTIFY per shard, each guild on shard (id >> 22) % 2, both serve."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    async with FakeDiscord() as fake, FakeDiscordClient(fake.base_url) as ctl:
        user = int((await ctl.create_user("member"))["id"])
        guilds: dict[int, int] = {}  # shard id -> guild id
        while len(guilds) < 2:  # ids carry the creation millisecond: wait for both parities
            gid = int((await ctl.create_guild("G", owner_id=user))["id"])
            guilds.setdefault((gid >> 22) % 2, gid)
            await asyncio.sleep(0.001)
        channels = {}
        for gid in guilds.values():
            channels[gid] = int((await ctl.create_channel(gid, "general"))["id"])
            await ctl.add_member(gid, user)
        settings = Settings(
            models=default_catalog(),
            discord=DiscordSettings(
                token=fake.token,
                api_base=fake.api_base,
                gateway_url=fake.gateway_url,
                shard_count=2,
            ),
            storage={"path": tmp_path / "bot.sqlite3"},  # type: ignore[arg-type]
        )
        apply_discord_overrides(settings.discord)
        await ctl.register_commands(await command_payloads(settings))
        bot = RunwayBot(settings)
        runner = asyncio.create_task(bot.start(fake.token))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), 20)
            assert sorted(s.shard for s in fake.sessions.values()) == [(0, 2), (1, 2)]
            assert sorted(bot.shards) == [0, 1]
            for shard_id, gid in guilds.items():
                guild = bot.get_guild(gid)
                assert guild is not None and guild.shard_id == shard_id
            assert bot.is_ready() and bot.latency >= 0
            for gid in guilds.values():
                usage = await ctl.invoke_command(user, gid, channels[gid], "usage")
                answered = await ctl.wait_for_followups(usage, 1, within=20)
                assert answered["callback_type"] == 5
            await ctl.assert_no_invalid_requests()
        finally:
            await bot.close()
            await asyncio.wait_for(runner, 20)


@pytest.mark.timeout(120)
async def test_buttons_keep_working_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A status message posted by one bot process is cancelled through the next one."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    async with FakeDiscord() as fake, FakeDiscordClient(fake.base_url) as ctl:
        user = int((await ctl.create_user("alice"))["id"])
        guild = int((await ctl.create_guild("G", owner_id=user))["id"])
        channel = int((await ctl.create_channel(guild, "general"))["id"])
        await ctl.add_member(guild, user)
        settings = make_settings(
            tmp_path, token=fake.token, api_base=fake.api_base, gateway_url=fake.gateway_url
        )
        apply_discord_overrides(settings.discord)
        await ctl.register_commands(await command_payloads(settings))

        async def run_bot() -> tuple[RunwayBot, asyncio.Task[None]]:
            bot = RunwayBot(settings)
            task = asyncio.create_task(bot.start(fake.token))
            await asyncio.wait_for(bot.wait_until_ready(), 20)
            return bot, task

        first, first_task = await run_bot()
        try:
            interaction = await ctl.invoke_command(
                user,
                guild,
                channel,
                "animate",
                {"prompt": "slow [sim:seconds=900]"},
                [("a.png", _png(), "image/png")],
                attachment_options=["image"],
            )
            await ctl.wait_for_followups(interaction, 1, within=20)
        finally:
            await first.close()
            await asyncio.wait_for(first_task, 20)
        (status,) = [m for m in await ctl.messages(channel) if m["embeds"]]
        assert status["components"][0]["components"][0]["custom_id"] == "rw:cancel:1"

        second, second_task = await run_bot()
        try:
            press = await ctl.press_button(user, int(status["id"]), "rw:cancel:1")
            done = await ctl.wait_for_followups(press, 1, within=20)
            assert done["followups"][-1]["content"].startswith("Job #1 is cancelled.")
            redrawn = await ctl.message(int(status["id"]))
            assert redrawn["embeds"][0]["description"].startswith("Cancelled")
            assert redrawn["components"] == []
            await ctl.assert_no_invalid_requests()
        finally:
            await second.close()
            await asyncio.wait_for(second_task, 20)


async def test_run_reports_an_unreachable_discord(tmp_path: Path) -> None:
    """Nothing listens on the configured API base: a clear error and exit code 1."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = _config_toml(
        tmp_path, f"http://127.0.0.1:{port}/api/v10", f"ws://127.0.0.1:{port}/gateway"
    )
    for command in ("run", "sync-commands"):
        code, out = await _cli(config, "token", command)
        assert code == 1, out
        assert "could not reach Discord" in out
        assert "Traceback" not in out
