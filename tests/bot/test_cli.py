"""The runway-bot command line, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNWAY_KEY = "key_" + "0" * 128
DISCORD_TOKEN = "MTIz.abc.def-_g"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "RUNWAY_API_KEY")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_summarizes_the_example() -> None:
    result = run_cli(
        "check-config", "--config", "config.example.toml", env={"DISCORD_TOKEN": DISCORD_TOKEN}
    )
    assert result.returncode == 0, result.stderr
    assert "config.example.toml: OK" in result.stdout
    assert "provider simulator" in result.stdout
    assert "gen4_turbo" in result.stdout and "gen4_aleph" in result.stdout
    assert "catalog: the packaged one (the file has no [[models]])" in result.stdout
    assert result.stderr == ""  # no warnings: both commands have a model


def test_check_config_reports_each_problem_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    secret = "key_" + "f" * 128
    bad.write_text(
        f'[runway]\nprovider = "nope"\napi_key = "{secret}"\n[quota]\nperiod = "year"\n'
        "[[models]]\nid = 'x'\nendpoint = 'image_to_video'\ncredits_per_second = 1\n"
        'ratios = ["1:1"]\ndurations = [5]\ndefault_duration = 5\n',
        encoding="utf-8",
    )
    result = run_cli("check-config", "--config", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"invalid configuration in {bad}:"
    assert lines[1].strip().startswith("runway.provider: Input should be")
    assert lines[2].strip().startswith("quota.period: Input should be")
    assert len(lines) == 3
    assert "Traceback" not in result.stderr
    assert secret not in result.stderr + result.stdout


def test_check_config_never_prints_secrets(tmp_path: Path) -> None:
    secret = "key_" + "e" * 128
    result = run_cli(
        "check-config",
        "--config",
        "config.example.toml",
        env={"RUNWAY_API_KEY": secret, "DISCORD_TOKEN": "discord-secret-token"},
    )
    assert result.returncode == 0
    assert secret not in result.stdout + result.stderr
    assert "discord-secret-token" not in result.stdout + result.stderr
    assert "token set" in result.stdout


def test_missing_config_file_is_one_line() -> None:
    result = run_cli("check-config", "--config", "does-not-exist.toml")
    assert result.returncode == 2
    assert "does-not-exist.toml: file not found" in result.stderr
    assert "Traceback" not in result.stderr


def _example_for(tmp_path: Path, provider: str) -> Path:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    path = tmp_path / f"{provider}.toml"
    path.write_text(text.replace('provider = "simulator"', f'provider = "{provider}"', 1))
    return path


def test_check_config_shows_what_the_provider_serves(tmp_path: Path) -> None:
    config = _example_for(tmp_path, "cometapi")
    result = run_cli("check-config", "--config", str(config), env={"RUNWAY_API_KEY": "sk-x"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "models for provider cometapi (5 enabled, 5 served, 7 in the catalog):" in out
    assert "[n/a] gen4.5       image_to_video not served by cometapi (served by runway)" in out
    assert "[n/a] aleph2       video_to_video not served by cometapi (served by runway)" in out
    gen3a = next(line for line in out.splitlines() if "gen3a_turbo " in line)
    assert "1280:720" in gen3a and "1280:768" in gen3a and "(cometapi overrides)" in gen3a
    enabled = {
        line.split(":")[0].strip(): line.split(":", 1)[1].strip()
        for line in out.split("enabled per provider:\n", 1)[1].splitlines()
    }
    assert enabled == {
        "runway": "gen4_turbo, gen4.5, veo3.1, veo3.1_fast, aleph2",
        "cometapi (configured)": "gen4_turbo, gen3a_turbo, veo3.1, veo3.1_fast, gen4_aleph",
        "simulator": "gen4_turbo, gen4.5, gen3a_turbo, veo3.1, veo3.1_fast, gen4_aleph, aleph2",
    }


MODEL = (
    "[[models]]\nid = '{id}'\nendpoint = '{endpoint}'\ncredits_per_second = 1\n"
    'ratios = ["1:1"]\ndurations = [5]\ndefault_duration = 5\n{extra}\n'
)


def test_check_config_refuses_a_model_enabled_where_not_served(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[runway]\nprovider = "runway"\n'
        + MODEL.format(id="gen4_turbo", endpoint="image_to_video", extra="")
        + MODEL.format(
            id="gen4_aleph",
            endpoint="video_to_video",
            extra='providers = ["cometapi"]\nenabled = ["runway"]',
        ),
        encoding="utf-8",
    )
    result = run_cli("check-config", "--config", str(bad), env={"RUNWAY_API_KEY": RUNWAY_KEY})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"invalid configuration in {bad}:",
        "  models[gen4_aleph].enabled: 'runway' does not serve this model "
        "(its providers: 'cometapi'): add it to providers or remove it from enabled",
    ]
    assert result.stdout == ""


def test_check_config_warns_when_a_command_has_no_model(tmp_path: Path) -> None:
    config = tmp_path / "animate-only.toml"
    config.write_text(
        '[runway]\nprovider = "runway"\n'
        + MODEL.format(id="gen4_turbo", endpoint="image_to_video", extra="")
        + MODEL.format(
            id="gen4_aleph", endpoint="video_to_video", extra='providers = ["cometapi"]'
        ),
        encoding="utf-8",
    )
    env = {"RUNWAY_API_KEY": RUNWAY_KEY, "DISCORD_TOKEN": DISCORD_TOKEN}
    result = run_cli("check-config", "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    assert f"{config}: OK" in result.stdout
    assert "catalog: the file's [[models]] (in place of the packaged one)" in result.stdout
    assert result.stderr.splitlines() == [
        "warning: provider 'runway' has no enabled video_to_video model: "
        "/restyle will refuse every request"
    ]


# -- global options, --version, help (through bot.cli.main) ------------------------------------


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    from bot.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out == f"runway-bot {version('runway-discord-bot')}\n"
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("runway-bot ")


def test_global_options_are_accepted_after_the_sub_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import build_parser, main

    config = str(ROOT / "config.example.toml")
    args = build_parser().parse_args(["run", "--log-level", "debug", "--config", "x.toml"])
    assert (args.log_level, args.config) == ("DEBUG", "x.toml")
    assert main(["check-config", "--log-level", "debug", "--config", config]) == 0
    assert main(["--config", config, "--log-level", "WARNING", "check-config"]) == 0
    assert "config.example.toml: OK" in capsys.readouterr().out
    # after the sub-command wins over before it
    missing = str(tmp_path / "missing.toml")
    assert main(["--config", config, "check-config", "--config", missing]) == 2
    assert f"{missing}: file not found" in capsys.readouterr().err
    # `run --log-level DEBUG` parses (and stops at the missing file, not at the arguments)
    assert main(["run", "--log-level", "DEBUG", "--config", missing]) == 2
    err = capsys.readouterr().err
    assert "file not found" in err and "unrecognized arguments" not in err
    # nested operator commands take them too
    assert main(["jobs", "list", "--log-level", "ERROR", "--config", missing]) == 2


def test_bad_arguments_are_one_line_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    for argv in (["--log-level", "LOUD", "check-config"], ["jobs", "show", "x"]):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(": error: " in line for line in err)
    assert "invalid int value: 'x'" in err[1]


def test_help_documents_the_config_default_and_the_operator_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    top = " ".join(capsys.readouterr().out.split())
    for name in ("run", "check-config", "sync-commands", "jobs", "quota", "backup", "simulate"):
        assert name in top
    assert "default: config.toml in the working directory" in top
    assert "--version" in top
    with pytest.raises(SystemExit):
        main(["jobs", "cancel", "--help"])
    sub = " ".join(capsys.readouterr().out.split())
    assert "--json" in sub and "--config PATH" in sub and "--log-level" in sub


def test_operator_commands_never_print_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from bot.cli import main
    from bot.store.db import Store

    secret, token = "key_" + "d" * 64, "discord-secret-token"
    monkeypatch.setenv("RUNWAY_API_KEY", secret)
    monkeypatch.setenv("DISCORD_TOKEN", token)
    db = tmp_path / "db.sqlite3"
    monkeypatch.setenv("RUNWAY_BOT_DATABASE", str(db))

    async def create() -> None:
        await (await Store.open(db)).close()

    asyncio.run(create())
    config = str(ROOT / "config.example.toml")
    for args in (
        ["jobs", "list", "--json"],
        ["jobs", "show", "1"],
        ["quota", "show", "--guild", "1", "--user", "2", "--json"],
        ["backup", str(tmp_path / "b.sqlite3")],
    ):
        main([*args, "--config", config])
        captured = capsys.readouterr()
        assert secret not in captured.out + captured.err
        assert token not in captured.out + captured.err


# -- configuration that cannot lie: every problem at once, the same checks for run ------------


def _check(
    capsys: pytest.CaptureFixture[str], config: Path, monkeypatch: pytest.MonkeyPatch, **env: str
) -> tuple[int, str, str]:
    from bot.cli import main

    for name in ("DISCORD_TOKEN", "RUNWAY_API_KEY", "DISCORD_TOKEN_FILE", "RUNWAY_API_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("RUNWAY_BOT_DATABASE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["check-config", "--config", str(config)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_three_problems_in_three_sections_print_three_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    secret = "not-a-runway-key-" + "9" * 20
    config = tmp_path / "bad.toml"
    config.write_text(
        f'[runway]\nprovider = "runway"\napi_key = "{secret}"\n'
        f'[quota]\nperiod = "year"\n[storage]\npath = "{blocker}/db.sqlite3"\n',
        encoding="utf-8",
    )
    code, out, err = _check(capsys, config, monkeypatch, DISCORD_TOKEN=DISCORD_TOKEN)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[0] == f"invalid configuration in {config}:"
    assert len(lines) == 4, err
    assert lines[1].strip().startswith("quota.period: Input should be")
    assert lines[2].strip().startswith("runway.api_key: a Runway key is key_ followed by 128 hex")
    assert lines[3].strip() == f"storage.path: {blocker} is not a directory: " + (
        "cannot create the database in it"
    )
    assert secret not in err and "Traceback" not in err


def test_checks_after_a_field_error_come_out_in_the_same_round(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # RunwaySettings' own check (the key) and the catalog's (duplicate ids) used to wait for
    # every field to be valid: they now come out with the field errors
    config = tmp_path / "bad.toml"
    config.write_text(
        '[runway]\nprovider = "runway"\nmax_retries = 99\n'
        "concurrency_overrides = { nope = 2 }\n"
        "[metrics]\nport = -1\n"
        + MODEL.format(id="a", endpoint="image_to_video", extra="")
        + MODEL.format(id="a", endpoint="image_to_video", extra=""),
        encoding="utf-8",
    )
    code, _, err = _check(capsys, config, monkeypatch)
    assert code == 2
    problems = [line.strip() for line in err.strip().splitlines()[1:]]
    assert [p.split(":")[0] for p in problems] == [
        "runway.max_retries",
        "metrics.port",
        "runway",
        "(top level)",
        "runway.concurrency_overrides.nope",
    ], problems
    assert "needs an api key" in problems[2]
    assert "model id 'a' appears twice" in problems[3]
    assert "unknown model 'nope'" in problems[4]


def test_missing_discord_token_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "ok.toml"
    config.write_text(f'[storage]\npath = "{tmp_path}/db/bot.sqlite3"\n', encoding="utf-8")
    code, out, err = _check(capsys, config, monkeypatch)
    assert code == 0 and f"{config}: OK" in out
    assert "warning: discord.token is not set: run will refuse to start" in err
    code, _, err = _check(capsys, config, monkeypatch, DISCORD_TOKEN="no dots here")
    assert code == 0 and "discord.token does not look like a bot token" in err
    assert "no dots here" not in err
    assert not (tmp_path / "db").exists()  # checked, not created


def test_secret_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[runway]\nprovider = "runway"\n[storage]\npath = "{tmp_path}/bot.sqlite3"\n',
        encoding="utf-8",
    )
    key_file = tmp_path / "key"
    key_file.write_text(RUNWAY_KEY + "\n", encoding="utf-8")
    token_file = tmp_path / "token"
    token_file.write_text(DISCORD_TOKEN + "\n", encoding="utf-8")
    code, out, err = _check(
        capsys,
        config,
        monkeypatch,
        RUNWAY_API_KEY_FILE=str(key_file),
        DISCORD_TOKEN_FILE=str(token_file),
    )
    assert code == 0, err
    assert "token set" in out and "api key set" in out and err == ""
    missing = tmp_path / "nope"
    code, _, err = _check(capsys, config, monkeypatch, RUNWAY_API_KEY_FILE=str(missing))
    assert code == 2
    assert err.strip().splitlines()[1:] == [
        f"  RUNWAY_API_KEY_FILE: cannot read {missing} (No such file or directory)"
    ]


def test_run_refuses_an_unusable_storage_path_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\npath = "{blocker}/sub/db.sqlite3"\n', encoding="utf-8")
    monkeypatch.setenv("DISCORD_TOKEN", DISCORD_TOKEN)
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"invalid configuration in {config}:",
        f"  storage.path: {blocker} is not a directory: cannot create the database in it",
    ]
    result = run_cli(
        "run", "--config", str(config), env={"RUNWAY_BOT_DATABASE": "", "DISCORD_TOKEN": "a.b.c"}
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2
