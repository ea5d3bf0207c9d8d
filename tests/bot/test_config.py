"""Configuration loading: good files, bad files, environment secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import (
    ConfigError,
    Endpoint,
    QuotaUnit,
    load_settings,
    parse_settings,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"

MINIMAL_MODEL = """
[[models]]
id = "gen4_turbo"
endpoint = "image_to_video"
ratios = ["1280:720"]
durations = [5, 10]
default_duration = 5
credits_per_second = 5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=environ or {})
    return info.value.problems


def test_example_config_is_valid() -> None:
    settings = load_settings(EXAMPLE, environ={})
    assert settings.runway.provider == "simulator"
    assert settings.quota.unit is QuotaUnit.CREDITS
    assert [m.id for m in settings.enabled_models(Endpoint.VIDEO_TO_VIDEO)] == ["gen4_aleph"]
    assert settings.default_model(Endpoint.IMAGE_TO_VIDEO) is not None
    gen45 = settings.model("gen4.5")
    assert gen45 is not None and gen45.prompt_required and gen45.credits_per_second == 12


def test_minimal_config_uses_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL_MODEL), environ={})
    assert settings.quota.default_limit is None  # unlimited unless configured
    assert settings.runway.resolved_base_url() is None  # simulator runs in-process


def test_secrets_come_from_environment(tmp_path: Path) -> None:
    text = '[runway]\nprovider = "runway"\n' + MINIMAL_MODEL
    env = {"DISCORD_TOKEN": "tok-abc", "RUNWAY_API_KEY": "key_" + "a" * 128}
    settings = load_settings(write(tmp_path, text), environ=env)
    assert settings.discord.token is not None
    assert settings.discord.token.get_secret_value() == "tok-abc"
    assert settings.runway.resolved_base_url() == "https://api.dev.runwayml.com"
    assert "key_" not in repr(settings)
    assert "tok-abc" not in repr(settings)


def test_cometapi_default_base_url(tmp_path: Path) -> None:
    text = '[runway]\nprovider = "cometapi"\napi_key = "sk-x"\n' + MINIMAL_MODEL
    settings = load_settings(write(tmp_path, text), environ={})
    assert settings.runway.resolved_base_url() == "https://api.cometapi.com/runwayml"


def test_real_provider_without_key_is_one_clear_line(tmp_path: Path) -> None:
    text = '[runway]\nprovider = "runway"\n' + MINIMAL_MODEL
    assert problems_of(write(tmp_path, text)) == [
        "runway: provider 'runway' needs an api key (set RUNWAY_API_KEY or runway.api_key)"
    ]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('[runway]\nprovider = "openai"\n', "runway.provider: Input should be"),
        ("[quota]\ndefault_limit = -5\n", "quota.default_limit: Input should be greater"),
        ('[quota]\nperiod = "year"\n', "quota.period: Input should be"),
        ('[discord]\nowner_ids = ["abc"]\n', "discord.owner_ids[0]: Input should be a valid"),
        ('[discord]\napi_base = "ftp://x"\n', "discord.api_base: must start with"),
        ("[runway]\ntimeout = 3\n", "runway.timeout: Extra inputs are not permitted"),
    ],
)
def test_bad_fields_name_path_and_reason(tmp_path: Path, snippet: str, expected: str) -> None:
    problems = problems_of(write(tmp_path, snippet + MINIMAL_MODEL))
    assert len(problems) == 1
    assert problems[0].startswith(expected), problems


def test_bad_model_entries_are_named_by_id(tmp_path: Path) -> None:
    text = MINIMAL_MODEL.replace('ratios = ["1280:720"]', 'ratios = ["wide"]') + (
        '\n[[models]]\nid = "veo"\nendpoint = "image_to_video"\nratios = ["1280:720"]\n'
        "durations = [4]\ndefault_duration = 8\ncredits_per_second = 1\n"
    )
    problems = problems_of(write(tmp_path, text))
    assert problems == [
        "models[gen4_turbo].ratios: ratio 'wide' must look like '1280:720'",
        "models[veo]: default_duration 8 is not one of [4]",
    ]


def test_duplicate_and_missing_models(tmp_path: Path) -> None:
    assert problems_of(write(tmp_path, MINIMAL_MODEL * 2)) == [
        "(top level): model id 'gen4_turbo' appears twice"
    ]
    assert problems_of(write(tmp_path, "")) == ["models: Field required"]


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert problems_of(missing) == [f"{missing}: file not found"]
    broken = write(tmp_path, "[discord\n")
    (line,) = problems_of(broken)
    assert line.startswith(f"{broken}: not valid TOML")


def test_secret_never_in_problems(tmp_path: Path) -> None:
    text = '[discord]\ntoken = 12345\n[runway]\napi_key = ["key_secretvalue"]\n' + MINIMAL_MODEL
    problems = problems_of(write(tmp_path, text))
    joined = "\n".join(problems)
    assert "secretvalue" not in joined and "12345" not in joined
    assert any(p.startswith("discord.token:") for p in problems)
    assert any(p.startswith("runway.api_key:") for p in problems)


def test_parse_settings_applies_env_over_file() -> None:
    data = {"discord": {"token": "from-file"}, "models": [_model_dict()]}
    settings = parse_settings(data, environ={"DISCORD_TOKEN": "from-env"})
    assert settings.discord.token is not None
    assert settings.discord.token.get_secret_value() == "from-env"


def test_concurrency_overrides() -> None:
    data = {
        "runway": {"max_concurrent_per_model": 2, "concurrency_overrides": {"gen4_turbo": 5}},
        "models": [_model_dict()],
    }
    settings = parse_settings(data, environ={})
    assert settings.runway.concurrency_for("gen4_turbo") == 5
    assert settings.runway.concurrency_for("veo3.1") == 2


def _model_dict() -> dict[str, object]:
    return {
        "id": "gen4_turbo",
        "endpoint": "image_to_video",
        "ratios": ["1280:720"],
        "durations": [5],
        "default_duration": 5,
        "credits_per_second": 5,
    }
