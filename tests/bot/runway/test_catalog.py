from pathlib import Path

from bot.config import load_settings
from bot.runway.catalog import default_catalog

ROOT = Path(__file__).resolve().parents[3]


def test_packaged_catalog_matches_example_config() -> None:
    settings = load_settings(ROOT / "config.example.toml", environ={})
    assert default_catalog() == settings.models


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
