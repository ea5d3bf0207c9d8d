"""The packaged catalog (bot/catalog/default.toml): what ships, per provider."""

import tomllib
from pathlib import Path

import pytest

from bot.catalog import PROVIDERS, Endpoint, Provider, default_catalog, default_catalog_text
from bot.config import load_settings

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config.example.toml"


def test_the_example_config_loads_to_exactly_the_packaged_catalog() -> None:
    # The seven models are written once: config.example.toml has no [[models]] of its own.
    assert "models" not in tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    settings = load_settings(EXAMPLE, environ={})
    assert settings.uses_packaged_catalog
    assert default_catalog() == settings.catalog  # the entries as written, overrides included
    for provider in PROVIDERS:
        assert default_catalog(provider) == settings.catalog_for(provider)
    assert default_catalog(settings.runway.provider) == settings.models


def test_the_packaged_file_is_package_data() -> None:
    path = ROOT / "bot" / "catalog" / "default.toml"
    assert default_catalog_text() == path.read_text(encoding="utf-8")
    assert not (ROOT / "bot" / "runway" / "default_catalog.toml").exists()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "*.toml" in pyproject["tool"]["setuptools"]["package-data"]["bot.catalog"]


def test_packaged_catalog_has_the_documented_models() -> None:
    ids = [m.id for m in default_catalog()]
    assert ids == [
        "gen4_turbo",
        "gen4.5",
        "gen3a_turbo",
        "veo3.1",
        "veo3.1_fast",
        "gen4_aleph",
        "aleph2",
    ]


# Who serves what: the runwayml SDK 5.24 (image_to_video / video_to_video create params)
# for Runway direct, CometAPI's pages (shared/reference/seeds) for the gateway.
SERVED = {
    "runway": ["gen4_turbo", "gen4.5", "veo3.1", "veo3.1_fast", "aleph2"],
    "cometapi": ["gen4_turbo", "gen3a_turbo", "veo3.1", "veo3.1_fast", "gen4_aleph"],
    "simulator": [
        "gen4_turbo",
        "gen4.5",
        "gen3a_turbo",
        "veo3.1",
        "veo3.1_fast",
        "gen4_aleph",
        "aleph2",
    ],
}

DEFAULTS = {
    "runway": ("gen4_turbo", "aleph2"),
    "cometapi": ("gen4_turbo", "gen4_aleph"),
    "simulator": ("gen4_turbo", "gen4_aleph"),
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_provider_gets_its_models_and_one_for_each_command(provider: Provider) -> None:
    catalog = default_catalog(provider)
    assert [m.id for m in catalog] == SERVED[provider]
    assert all(m.enabled for m in catalog)
    assert all(m.overrides == {} and isinstance(m.enabled, bool) for m in catalog)
    first = {
        endpoint: next(m.id for m in catalog if m.enabled and m.endpoint is endpoint)
        for endpoint in Endpoint
    }
    assert (first[Endpoint.IMAGE_TO_VIDEO], first[Endpoint.VIDEO_TO_VIDEO]) == DEFAULTS[provider]


def test_gen3a_turbo_takes_cometapi_limits_only_through_cometapi() -> None:
    (comet,) = [m for m in default_catalog("cometapi") if m.id == "gen3a_turbo"]
    # CometAPI's gen3a_turbo page: eight ratios, prompt <= 512 characters, seed 0-999999999.
    assert comet.ratios == (
        "1280:720",
        "720:1280",
        "1104:832",
        "832:1104",
        "960:960",
        "1584:672",
        "1280:768",
        "768:1280",
    )
    assert (comet.prompt_max_utf16, comet.seed_max, comet.durations) == (512, 999_999_999, (5, 10))
    (sim,) = [m for m in default_catalog("simulator") if m.id == "gen3a_turbo"]
    assert (sim.ratios, sim.prompt_max_utf16, sim.seed_max) == (
        ("1280:768", "768:1280"),
        1000,
        4_294_967_295,
    )
    assert "gen3a_turbo" not in [m.id for m in default_catalog("runway")]


def test_runway_direct_no_longer_serves_the_retired_models() -> None:
    by_id = {m.id: m for m in default_catalog()}
    assert by_id["gen3a_turbo"].providers == ("cometapi",)
    assert by_id["gen4_aleph"].providers == ("cometapi",)
    assert by_id["aleph2"].providers == ("runway",)
    assert by_id["gen4.5"].providers == ("runway",)
