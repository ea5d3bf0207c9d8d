"""``runway-bot doctor``: the configuration, database, Runway and Discord checks."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.app import doctor_discord
from bot.cli import main
from bot.fakediscord import FakeDiscord, FakeDiscordClient
from bot.fakediscord import rules as perms
from bot.operator.doctor import Status, check_database, check_runway, run_doctor
from bot.simulator import RunwaySimulator, SimulatorOptions
from bot.store.db import Store
from bot.store.schema import latest_version

KEY = "key_" + "ab" * 64
OTHER_KEY = "key_" + "cd" * 64
COMET_KEY = "sk-comet-doctor-secret"
NEEDED = (
    perms.VIEW_CHANNEL
    | perms.SEND_MESSAGES
    | perms.EMBED_LINKS
    | perms.ATTACH_FILES
    | perms.READ_MESSAGE_HISTORY
    | perms.CREATE_PUBLIC_THREADS
    | perms.SEND_MESSAGES_IN_THREADS
)


@pytest.fixture(autouse=True)
def _no_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISCORD_TOKEN", "DISCORD_TOKEN_FILE", "RUNWAY_API_KEY", "RUNWAY_API_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("RUNWAY_BOT_DATABASE", raising=False)


def _config(
    tmp_path: Path,
    *,
    provider: str = "simulator",
    base_url: str | None = None,
    key: str | None = None,
    token: str | None = None,
    api_base: str | None = None,
) -> Path:
    runway = [f'provider = "{provider}"']
    if base_url:
        runway.append(f'base_url = "{base_url}"')
    if key:
        runway.append(f'api_key = "{key}"')
    discord = []
    if token:
        discord.append(f'token = "{token}"')
    if api_base:
        discord.append(f'api_base = "{api_base}"')
    path = tmp_path / "config.toml"
    db = (tmp_path / "data" / "bot.sqlite3").as_posix()
    path.write_text(
        "[discord]\n"
        + "\n".join(discord)
        + "\n[runway]\n"
        + "\n".join(runway)
        + f'\n[storage]\npath = "{db}"\n',
        encoding="utf-8",
    )
    return path


async def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``bot.cli.main`` in a thread (it runs its own event loop) beside the test's servers."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _by_name(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [c for c in doc["checks"] if c["check"] == name]


# -- configuration and database ---------------------------------------------------------------


def test_a_config_that_does_not_load_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[runway]\nprovider = "nope"\n', encoding="utf-8")
    assert main(["doctor", "--config", str(bad)]) == 2
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"FAIL config: {bad} does not load: runway.provider")
    assert main(["doctor", "--config", str(bad), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["checks"][0]["status"] == "fail"


def test_json_shape_and_a_missing_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)  # the simulator, and no Discord token
    assert main(["doctor", "--config", str(config), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"ok", "checks", "summary"}
    assert doc["ok"] is False
    assert doc["summary"] == {"ok": 3, "warn": 1, "fail": 1}
    for check in doc["checks"]:
        assert set(check) <= {"check", "status", "message", "latency_ms"}
        assert check["status"] in ("ok", "warn", "fail")
    assert [c["check"] for c in doc["checks"]] == [
        "config",
        "config",
        "database",
        "runway",
        "discord",
    ]
    database = _by_name(doc, "database")[0]
    assert database["status"] == "ok" and "does not exist yet" in database["message"]
    assert not (tmp_path / "data" / "bot.sqlite3").exists()  # doctor never creates it
    assert _by_name(doc, "runway")[0]["message"] == (
        "simulator: nothing to check (the bot serves it in-process)"
    )
    assert _by_name(doc, "discord")[0]["status"] == "fail"
    assert main(["doctor", "--config", str(config)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"OK   config: {config} loads (provider simulator")
    assert lines[1].startswith("WARN config: discord.token is not set")
    assert lines[-2].startswith("FAIL discord: discord.token is not set")
    assert lines[-1] == "3 ok, 1 warnings, 1 failures"


async def test_database_current_newer_and_older(tmp_path: Path) -> None:
    from bot.config import load_settings

    settings = load_settings(_config(tmp_path))
    path = settings.storage.path
    path.parent.mkdir()
    store = await Store.open(path)
    await store.close()
    check = await check_database(settings)
    assert check.status is Status.OK
    assert check.message == f"{path}: schema version {latest_version()} (this code's), writable"

    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 5}")
    check = await check_database(settings)
    assert check.status is Status.FAIL
    assert check.message.startswith("the database is newer than this version of the bot")

    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() - 1}")
    check = await check_database(settings)
    assert check.status is Status.WARN and "older than this code's" in check.message


async def test_database_in_a_file_that_is_not_a_directory(tmp_path: Path) -> None:
    from bot.config import load_settings

    (tmp_path / "data").write_text("not a directory", encoding="utf-8")
    check = await check_database(load_settings(_config(tmp_path)))
    assert check.status is Status.FAIL and "is not a directory" in check.message


async def test_a_postgresql_database_is_checked_on_its_server(pg_url: str) -> None:
    from bot.config import Settings, StorageSettings
    from bot.store.postgres.db import PgStore

    def settings(url: str) -> Settings:
        return Settings(storage=StorageSettings.model_validate({"url": url}))

    check = await check_database(settings(pg_url))
    assert check.status is Status.OK, check.message
    assert check.message.startswith("PostgreSQL 127.0.0.1:")
    assert check.message.endswith(f"schema version {latest_version()} (this code's), writable")

    store = await PgStore.connect(pg_url)
    async with store.transaction() as conn:
        await conn.execute("UPDATE schema_version SET version = version - 1")
    await store.close()
    check = await check_database(settings(pg_url))
    assert check.status is Status.WARN and "older than this code" in check.message

    check = await check_database(settings("postgresql://bot:hunter2@127.0.0.1:1/bot"))
    assert check.status is Status.FAIL
    assert "cannot connect" in check.message and "hunter2" not in check.message


# -- Runway -----------------------------------------------------------------------------------


async def test_runway_good_key_wrong_key_and_version(tmp_path: Path) -> None:
    from bot.config import load_settings

    async with RunwaySimulator(SimulatorOptions(api_key=KEY)) as sim:
        good = load_settings(_config(tmp_path, provider="runway", base_url=sim.base_url, key=KEY))
        check = await check_runway(good)
        assert check.status is Status.OK, check.message
        assert check.message.startswith("the runway key is accepted, version 2024-11-06 accepted")
        assert check.latency_ms is not None and f"in {check.latency_ms} ms" in check.message

        wrong = load_settings(
            _config(tmp_path, provider="runway", base_url=sim.base_url, key=OTHER_KEY)
        )
        check = await check_runway(wrong)
        assert check.status is Status.FAIL
        assert check.message.startswith("the key was refused (GET /v1/organization: HTTP 401")
        assert OTHER_KEY not in check.message and KEY not in check.message

        versioned = good.model_copy(
            update={"runway": good.runway.model_copy(update={"api_version": "2020-01-01"})}
        )
        check = await check_runway(versioned)
        assert check.status is Status.FAIL and "runway.api_version (2020-01-01)" in check.message
    assert sim.request_log.count(("GET", "/v1/organization")) == 3  # no retries


async def test_runway_through_cometapi(tmp_path: Path) -> None:
    from bot.config import load_settings

    async with RunwaySimulator(SimulatorOptions(provider="cometapi", api_key=COMET_KEY)) as sim:
        good = load_settings(
            _config(tmp_path, provider="cometapi", base_url=sim.base_url, key=COMET_KEY)
        )
        check = await check_runway(good)
        assert check.status is Status.OK, check.message
        assert "answered task_not_exist" in check.message
        wrong = load_settings(
            _config(tmp_path, provider="cometapi", base_url=sim.base_url, key="sk-wrong")
        )
        check = await check_runway(wrong)
        assert check.status is Status.FAIL and check.message.startswith("the key was refused")
        assert "sk-wrong" not in check.message


async def test_runway_unreachable(tmp_path: Path) -> None:
    from bot.config import load_settings

    settings = load_settings(
        _config(tmp_path, provider="runway", base_url="http://127.0.0.1:9", key=KEY)
    )
    check = await check_runway(settings)
    assert check.status is Status.FAIL and "could not connect" in check.message


# -- Discord, and the whole command -----------------------------------------------------------


async def test_doctor_against_the_fakes_warns_about_a_channel_without_attach_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        RunwaySimulator(SimulatorOptions(api_key=KEY)) as sim,
        FakeDiscord() as fake,
        FakeDiscordClient(fake.base_url) as ctl,
    ):
        guild = int((await ctl.create_guild("Studio"))["id"])
        await ctl.create_channel(guild, "general", bot_permissions=NEEDED)
        await ctl.create_channel(guild, "clips", bot_permissions=NEEDED & ~perms.ATTACH_FILES)
        other = int((await ctl.create_guild("Quiet"))["id"])
        await ctl.create_channel(other, "lobby", bot_permissions=NEEDED)
        config = _config(
            tmp_path,
            provider="runway",
            base_url=sim.base_url,
            key=KEY,
            token=fake.token,
            api_base=fake.api_base,
        )
        code, out, err = await _cli(capsys, "doctor", "--config", str(config))
        assert code == 0, out + err
        lines = out.splitlines()
        assert lines[0].startswith("OK   config:")
        assert lines[1].startswith("OK   database:")
        assert lines[2].startswith("OK   runway: the runway key is accepted")
        assert lines[3].startswith("OK   discord: the token is accepted: logged in as ")
        assert f"application id {fake.application_id}" in lines[3]
        assert lines[4] == (
            f"WARN discord: guild 'Studio' ({guild}): 1 of 2 text channels miss permissions: "
            "#clips lacks Attach Files"
        )
        assert lines[5] == (
            f"OK   discord: guild 'Quiet' ({other}): every needed permission in its 1 text channels"
        )
        assert lines[-1] == "5 ok, 1 warnings, 0 failures"
        assert KEY not in out + err and fake.token not in out + err

        code, out, _ = await _cli(capsys, "doctor", "--config", str(config), "--json")
        assert code == 0
        doc = json.loads(out)
        assert doc["ok"] is True and doc["summary"] == {"ok": 5, "warn": 1, "fail": 0}
        assert isinstance(doc["checks"][2]["latency_ms"], int)
        assert KEY not in out and fake.token not in out
        assert fake.errors == []


async def test_doctor_with_a_wrong_discord_token_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeDiscord() as fake:
        token = "wrong.discord.token"
        config = _config(tmp_path, token=token, api_base=fake.api_base)
        outcome = await run_doctor(config, doctor_discord)
        assert outcome.exit_code == 1
        discord_lines = [line for line in outcome.lines if " discord: " in line]
        assert discord_lines == [
            "FAIL discord: the token was refused (401 Unauthorized): check DISCORD_TOKEN, "
            "DISCORD_TOKEN_FILE or discord.token (the Developer Portal's Bot page)"
        ]
        assert token not in json.dumps(outcome.data) and token not in "\n".join(outcome.lines)
        assert fake.errors == []
