"""Configuration loading: good files, bad files, environment secrets."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.catalog import Endpoint, ModelSpec, default_catalog
from bot.config import (
    ConfigError,
    QuotaUnit,
    Settings,
    load_settings,
    parse_settings,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"
RUNWAY_KEY = "key_" + "0" * 128

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
    assert [m.id for m in settings.enabled_models(Endpoint.VIDEO_TO_VIDEO)] == [
        "gen4_aleph",
        "aleph2",
    ]
    assert settings.warnings() == []
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


def test_duplicate_and_empty_models(tmp_path: Path) -> None:
    assert problems_of(write(tmp_path, MINIMAL_MODEL * 2)) == [
        "(top level): model id 'gen4_turbo' appears twice"
    ]
    assert problems_of(write(tmp_path, "models = []\n")) == [
        "(top level): the model catalog is empty: add at least one [[models]] entry"
    ]


@pytest.mark.parametrize("provider", ["runway", "cometapi", "simulator"])
def test_a_file_without_models_gets_the_packaged_catalog(tmp_path: Path, provider: str) -> None:
    text = f'[runway]\nprovider = "{provider}"\n'
    settings = load_settings(write(tmp_path, text), environ={"RUNWAY_API_KEY": RUNWAY_KEY})
    assert settings.uses_packaged_catalog
    assert settings.catalog == default_catalog()
    assert settings.models == default_catalog(provider)
    assert load_settings(write(tmp_path, ""), environ={}).catalog == default_catalog()
    assert Settings().catalog == default_catalog()


def test_the_files_models_replace_the_packaged_catalog_whole(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL_MODEL), environ={})
    assert not settings.uses_packaged_catalog
    assert [m.id for m in settings.catalog] == ["gen4_turbo"]
    assert settings.model("veo3.1") is None


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


# -- models per provider ---------------------------------------------------------------------


def _spec(model_id: str, **fields: object) -> dict[str, object]:
    return {**_model_dict(), "id": model_id, **fields}


def _settings(provider: str, *models: dict[str, object]) -> Settings:
    runway: dict[str, object] = {"provider": provider}
    if provider != "simulator":
        runway["api_key"] = RUNWAY_KEY
    return parse_settings({"runway": runway, "models": list(models)}, environ={})


def _problems(provider: str, *models: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        _settings(provider, *models)
    return info.value.problems


@pytest.mark.parametrize("provider", ["runway", "cometapi", "simulator"])
def test_enabled_true_false_and_lists(provider: str) -> None:
    settings = _settings(
        provider,
        _spec("everywhere"),
        _spec("nowhere", enabled=False),
        _spec("direct", providers=["runway"]),
        _spec("gateway", providers=["cometapi"], enabled=True),
        _spec("comet_only", enabled=["cometapi"]),
        _spec("sim_only", providers=[], enabled=["simulator"]),
        _spec("real_only", enabled=["runway", "cometapi"]),
    )
    served = {m.id: m.enabled for m in settings.models}
    expected = {
        "runway": {"everywhere", "nowhere", "direct", "comet_only", "real_only"},
        "cometapi": {"everywhere", "nowhere", "gateway", "comet_only", "real_only"},
        "simulator": {
            *("everywhere", "nowhere", "direct", "gateway", "comet_only", "sim_only"),
            "real_only",
        },
    }[provider]
    assert set(served) == expected  # a model the provider does not serve is not there at all
    on = {
        "runway": {"everywhere", "direct", "real_only"},
        "cometapi": {"everywhere", "gateway", "comet_only", "real_only"},
        "simulator": {"everywhere", "direct", "gateway", "sim_only"},
    }[provider]
    assert {k for k, v in served.items() if v} == on
    assert all(isinstance(m.enabled, bool) for m in settings.models)
    assert settings.model("everywhere") is not None
    assert [m.id for m in settings.catalog] == [
        "everywhere",
        *("nowhere", "direct", "gateway", "comet_only", "sim_only", "real_only"),
    ]


def test_a_model_without_providers_is_served_everywhere() -> None:
    spec = ModelSpec.model_validate(_model_dict())
    assert spec.providers == ("runway", "cometapi")
    assert all(spec.enabled_for(p) for p in ("runway", "cometapi", "simulator"))
    assert spec.for_provider("cometapi") is spec  # nothing to resolve: the same object


def test_overrides_apply_only_for_their_provider() -> None:
    gen3a = _spec(
        "gen3a_turbo",
        providers=["cometapi"],
        ratios=["1280:768", "768:1280"],
        durations=[5, 10],
        overrides={
            "cometapi": {"ratios": ["1280:720", "1280:768"], "prompt_max_utf16": 512},
            "simulator": {"credits_per_second": 0},
        },
    )
    comet = _settings("cometapi", gen3a).model("gen3a_turbo")
    assert comet is not None
    assert (comet.ratios, comet.prompt_max_utf16, comet.credits_per_second) == (
        ("1280:720", "1280:768"),
        512,
        5,
    )
    assert comet.overrides == {} and comet.durations == (5, 10)
    sim = _settings("simulator", gen3a).model("gen3a_turbo")
    assert sim is not None
    assert (sim.ratios, sim.prompt_max_utf16, sim.credits_per_second) == (
        ("1280:768", "768:1280"),
        1000,
        0,
    )


def test_an_override_can_set_a_field_that_defaults_to_none() -> None:
    aleph = _spec(
        "gen4_aleph",
        endpoint="video_to_video",
        overrides={"cometapi": {"billed_input_seconds": 5, "max_input_seconds": 30}},
    )
    comet = _settings("cometapi", aleph).model("gen4_aleph")
    direct = _settings("runway", aleph).model("gen4_aleph")
    assert comet is not None and direct is not None
    assert (comet.billed_input_seconds, comet.max_input_seconds) == (5, 30)
    assert (direct.billed_input_seconds, direct.max_input_seconds) == (None, None)


def test_resolved_settings_stay_frozen_and_validate_again_to_the_same() -> None:
    settings = _settings("cometapi", _spec("a", overrides={"cometapi": {"seed_max": 9}}))
    (spec,) = settings.models
    with pytest.raises(ValueError, match="frozen"):
        spec.seed_max = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):
        settings.models = ()  # type: ignore[misc]
    again = Settings.model_validate(settings.model_dump())
    assert again.models == settings.models
    assert settings.catalog[0].overrides["cometapi"].seed_max == 9


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            _spec("gen4.5", providers=["runway"], enabled=["runway", "cometapi"]),
            "models[gen4.5].enabled: 'cometapi' does not serve this model "
            "(its providers: 'runway'): add it to providers or remove it from enabled",
        ),
        (
            _spec("solo", providers=[], enabled=["runway"]),
            "models[solo].enabled: 'runway' does not serve this model "
            "(its providers: none (the simulator only)): add it to providers or remove it "
            "from enabled",
        ),
        (
            _spec("x", enabled="yes"),
            "models[x].enabled: must be true, false or a list of provider names",
        ),
        (
            _spec("x", enabled=["openai"]),
            "models[x].enabled: unknown provider 'openai': use 'runway', 'cometapi', 'simulator'",
        ),
        (
            _spec("x", providers=["cometapi", "simulator"]),
            "models[x].providers: 'simulator' serves every model: "
            "list only 'runway' and/or 'cometapi'",
        ),
        (
            _spec("x", providers="runway"),
            "models[x].providers: must be a list of 'runway' and/or 'cometapi'",
        ),
        (
            _spec("x", providers=["cometapi"], overrides={"runway": {"ratios": ["1:1"]}}),
            "models[x].overrides: 'runway' does not serve this model "
            "(its providers: 'cometapi'): remove overrides.runway",
        ),
        (
            _spec("x", overrides={"openai": {}}),
            "models[x].overrides.openai: Input should be 'runway', 'cometapi' or 'simulator'",
        ),
        (
            _spec("x", overrides={"cometapi": {"id": "y"}}),
            "models[x].overrides.cometapi.id: Extra inputs are not permitted",
        ),
        (
            _spec("x", overrides={"cometapi": {"ratios": ["wide"]}}),
            "models[x].overrides.cometapi.ratios: ratio 'wide' must look like '1280:720'",
        ),
        (
            _spec("x", overrides={"cometapi": {"durations": [10]}}),
            "models[x]: with overrides.cometapi: default_duration 5 is not one of [10]",
        ),
    ],
)
def test_bad_provider_fields_are_one_line_naming_model_and_provider(
    model: dict[str, object], expected: str
) -> None:
    # The catalog is checked whole, whichever provider is configured.
    for provider in ("runway", "simulator"):
        assert _problems(provider, model, _spec("ok")) == [expected]


def test_a_provider_with_no_enabled_model_is_refused() -> None:
    assert _problems("runway", _spec("gateway", providers=["cometapi"])) == [
        "(top level): no model is enabled for provider 'runway' "
        "(see each model's providers and enabled)"
    ]
    assert _problems("cometapi", _spec("x", enabled=["runway"])) == [
        "(top level): no model is enabled for provider 'cometapi' "
        "(see each model's providers and enabled)"
    ]


def test_an_endpoint_without_a_model_is_a_warning() -> None:
    settings = _settings(
        "runway",
        _spec("gen4_turbo"),
        _spec("gen4_aleph", endpoint="video_to_video", providers=["cometapi"]),
    )
    assert settings.warnings() == [
        "provider 'runway' has no enabled video_to_video model: /restyle will refuse every request"
    ]
    assert settings.model("gen4_aleph") is None
    assert [m.id for m in settings.catalog_for("cometapi") if m.enabled] == [
        "gen4_turbo",
        "gen4_aleph",
    ]


@pytest.mark.parametrize("provider", ["runway", "cometapi", "simulator"])
def test_the_example_enables_both_commands_for_every_provider(provider: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'provider = "simulator"', f'provider = "{provider}"', 1
    )
    settings = parse_settings(tomllib.loads(text), environ={"RUNWAY_API_KEY": RUNWAY_KEY})
    assert settings.runway.provider == provider
    assert settings.warnings() == []
    animate = settings.default_model(Endpoint.IMAGE_TO_VIDEO)
    restyle = settings.default_model(Endpoint.VIDEO_TO_VIDEO)
    assert animate is not None and restyle is not None
    assert (animate.id, restyle.id) == {
        "runway": ("gen4_turbo", "aleph2"),
        "cometapi": ("gen4_turbo", "gen4_aleph"),
        "simulator": ("gen4_turbo", "gen4_aleph"),
    }[provider]
    assert len(settings.catalog) == 7


def test_a_model_label_too_long_for_discord_is_refused(tmp_path: Path) -> None:
    long_label = "A very long marketing name for a video model, far too long for Discord"
    text = MINIMAL_MODEL.replace('id = "gen4_turbo"', f'id = "gen4_turbo"\nlabel = "{long_label}"')
    (problem,) = problems_of(write(tmp_path, text))
    assert problem.startswith("models[gen4_turbo]") and "at most 60" in problem, problem


def test_concurrency_overrides_name_known_models_with_at_least_one_slot(tmp_path: Path) -> None:
    text = '[runway]\nconcurrency_overrides = { "gen9" = 2, "gen4_turbo" = 0 }\n' + MINIMAL_MODEL
    problems = problems_of(write(tmp_path, text))
    assert any("unknown model 'gen9'" in p for p in problems), problems
    assert any("gen4_turbo" in p and "concurrency_overrides" in p for p in problems), problems


def test_models_written_as_a_table_get_a_clear_message(tmp_path: Path) -> None:
    text = '[models]\nid = "gen4_turbo"\n'
    (problem,) = problems_of(write(tmp_path, text))
    assert "[[models]]" in problem, problem


def test_storage_defaults_to_the_sqlite_file(tmp_path: Path) -> None:
    storage = load_settings(write(tmp_path, MINIMAL_MODEL), environ={}).storage
    assert storage.url is None
    assert storage.describe() == f"SQLite {storage.path}"


def test_a_postgresql_url_from_a_secret_file_is_never_shown(tmp_path: Path) -> None:
    secret = tmp_path / "db-url"
    secret.write_text("postgresql://bot:hunter2@db.internal:5433/runway\n")
    env = {"RUNWAY_BOT_DATABASE_URL_FILE": str(secret)}
    storage = load_settings(write(tmp_path, MINIMAL_MODEL), environ=env).storage
    assert storage.url is not None
    assert storage.url.get_secret_value() == "postgresql://bot:hunter2@db.internal:5433/runway"
    assert "hunter2" not in repr(storage) and "hunter2" not in storage.describe()
    assert storage.describe().startswith("PostgreSQL db.internal:5433/runway")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://bot:hunter2@db/runway", "must start with postgresql://"),
        ("postgresql://bot:hunter2@/runway", "names no server"),
        ("postgresql://bot:hunter2@db:5432", "names no database"),
        ("postgresql://bot:hunter2@db:99999/runway", "is not a valid URL"),
    ],
)
def test_a_bad_postgresql_url_is_one_line_without_the_password(
    tmp_path: Path, url: str, expected: str
) -> None:
    text = f'[storage]\nurl = "{url}"\n' + MINIMAL_MODEL
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 1 and problems[0].startswith("storage.url: "), problems
    assert expected in problems[0] and "hunter2" not in problems[0]
