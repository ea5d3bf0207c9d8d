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
