"""t(): locale mapping, English fallback, nested translatable fields."""

from __future__ import annotations

import pytest

from bot.domain import JobError
from bot.i18n import MissingText, is_supported, normalize_locale, t, text


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("ja", "ja"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("es-ES", "es"),
        ("es-419", "es"),
        ("fr", "en"),  # no French catalogue: English
        ("pt-BR", "en"),
        ("zh-CN", "en"),
        ("ja_JP", "ja"),
        ("", "en"),
        (None, "en"),
        ("es", "es"),
    ],
)
def test_discord_locale_codes_map_to_catalogues(code: str | None, locale: str) -> None:
    assert normalize_locale(code) == locale


def test_an_enum_like_locale_is_read_by_its_value() -> None:
    class Locale:
        value = "es-ES"

    assert normalize_locale(Locale()) == "es"


def test_supported_names_and_codes() -> None:
    assert is_supported("ja") and is_supported("es-419") and not is_supported("de")


def test_lookup_formats_in_the_locale_and_falls_back_to_english() -> None:
    assert t("quota.period.day", "ja") == "本日"
    assert t("quota.period.day", "es-ES") == "hoy"
    assert t("quota.period.day", "de") == "today"
    assert t("quota.period.day", None) == "today"
    got = t("settings.too_many_channels", "ja", max=50)
    assert "50" in got and "チャンネル" in got


def test_a_key_english_lacks_is_an_error() -> None:
    with pytest.raises(MissingText):
        t("no.such.key", "ja")


def test_a_nested_text_is_rendered_in_the_readers_locale() -> None:
    fmt = {"needed": "5", "unit": text("unit.credits"), "left": "1", "limit": "9", "resets": "r"}
    assert "クレジット" in t("quota.not_enough.day", "ja", **fmt)
    assert "créditos" in t("quota.not_enough.day", "es-ES", **fmt)
    assert "5 credits" in t("quota.not_enough.day", "en-US", **fmt)


def test_an_error_with_a_key_speaks_every_language() -> None:
    err = JobError.of("quota.bad_bonus", code="bonus")
    assert err.message == "A bonus must be more than 0." and err.code == "bonus"
    assert err.text("ja") == t("quota.bad_bonus", "ja") != err.message
    assert JobError("plain").text("ja") == "plain"  # no key: English only


def test_catalog_refusals_read_in_the_members_language() -> None:
    from bot.catalog import default_catalog
    from bot.catalog.rules import pick_model, validate_params
    from bot.catalog.spec import Endpoint
    from bot.domain import JobParams

    catalog = default_catalog()
    with pytest.raises(JobError) as missing:
        pick_model(catalog, Endpoint.IMAGE_TO_VIDEO, "nope")
    assert missing.value.message.startswith("Model 'nope' is not available; choose one of: ")
    assert missing.value.text("ja").startswith("モデル 'nope' は使えません。")
    spec = next(m for m in catalog if m.id == "gen4_turbo")
    with pytest.raises(JobError) as duration:
        validate_params(spec, JobParams(model=spec.id, duration=70), "sea")
    assert "accepts durations 2-10 s; you asked for 70 s" in duration.value.message
    assert "2〜10 秒です。指定は 70 秒でした" in duration.value.text("ja")
    assert "acepta duraciones de 2-10 s; pediste 70 s" in duration.value.text("es-ES")
