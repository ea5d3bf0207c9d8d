"""The runway-bot command line, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
    result = run_cli("check-config", "--config", "config.example.toml")
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
    result = run_cli("check-config", "--config", str(bad), env={"RUNWAY_API_KEY": "key_x"})
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
    result = run_cli("check-config", "--config", str(config), env={"RUNWAY_API_KEY": "key_x"})
    assert result.returncode == 0, result.stderr
    assert f"{config}: OK" in result.stdout
    assert "catalog: the file's [[models]] (in place of the packaged one)" in result.stdout
    assert result.stderr.splitlines() == [
        "warning: provider 'runway' has no enabled video_to_video model: "
        "/restyle will refuse every request"
    ]
