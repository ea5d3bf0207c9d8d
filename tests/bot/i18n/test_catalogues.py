"""Every catalogue is complete: same keys as English, same placeholders, every key the code
uses exists; texts format without error."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.i18n import DEFAULT_LOCALE, SUPPORTED, catalogue, keys, placeholders

ROOT = Path(__file__).resolve().parents[3]
OTHERS = [loc for loc in SUPPORTED if loc != DEFAULT_LOCALE]


def test_english_is_the_default_and_every_locale_ships_a_catalogue() -> None:
    assert DEFAULT_LOCALE == "en" and len(SUPPORTED) >= 3
    for locale in SUPPORTED:
        assert catalogue(locale), f"{locale}.toml is missing or empty"


@pytest.mark.parametrize("locale", OTHERS)
def test_every_key_is_translated_and_none_is_extra(locale: str) -> None:
    missing = sorted(keys() - keys(locale))
    extra = sorted(keys(locale) - keys())
    assert not missing, f"{locale}.toml lacks {missing}"
    assert not extra, f"{locale}.toml has keys English does not: {extra}"


@pytest.mark.parametrize("locale", OTHERS)
def test_placeholders_are_the_same_in_every_language(locale: str) -> None:
    english, other = catalogue(DEFAULT_LOCALE), catalogue(locale)
    differ = {
        key: (sorted(placeholders(english[key])), sorted(placeholders(other[key])))
        for key in english
        if key in other and placeholders(english[key]) != placeholders(other[key])
    }
    assert not differ, f"{locale}.toml placeholders differ: {differ}"


@pytest.mark.parametrize("locale", SUPPORTED)
def test_every_text_formats_with_its_own_placeholders(locale: str) -> None:
    for key, source in catalogue(locale).items():
        source.format(**{name: "x" for name in placeholders(source)})  # raises on bad braces
        assert source.strip(), f"{locale}:{key} is empty"


@pytest.mark.parametrize("locale", OTHERS)
def test_translations_are_not_left_in_english(locale: str) -> None:
    english, other = catalogue(DEFAULT_LOCALE), catalogue(locale)
    same = [
        k for k in english if english[k] == other.get(k) and any(c.isalpha() for c in english[k])
    ]
    # a few texts are the same in every language (names, codes); most must not be
    assert len(same) <= max(3, len(english) // 20), f"{locale}.toml copies English: {same}"


KEY_SHAPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")


def _literal_keys() -> tuple[set[str], set[str]]:
    """Strings in the code shaped like catalogue keys of a catalogue namespace (``quota.x``),
    and the constant heads of f-strings that build keys (``f"state.{...}"``)."""
    namespaces = {key.split(".", 1)[0] for key in keys()}
    found: set[str] = set()
    prefixes: set[str] = set()
    for folder in ("bot", "cogs"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text("utf-8"))
            parts = {
                id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    value = node.value
                    if id(node) in parts:
                        continue
                    if KEY_SHAPE.fullmatch(value) and value.split(".", 1)[0] in namespaces:
                        found.add(value)
                elif isinstance(node, ast.JoinedStr) and node.values:
                    head = node.values[0]
                    if isinstance(head, ast.Constant) and isinstance(head.value, str):
                        value = head.value
                        namespace = value.split(".", 1)[0]
                        if namespace in namespaces and "." in value and " " not in value:
                            prefixes.add(value)
    return found, prefixes


def test_every_key_the_code_uses_exists_in_english() -> None:
    found, prefixes = _literal_keys()
    assert found, "the scan found no keys: it is broken"
    english = keys()
    assert not sorted(found - english), f"keys used but not in en.toml: {sorted(found - english)}"
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in english), f"no key starts with {prefix!r}"


def test_every_enumerated_value_has_its_words() -> None:
    """Keys built from enums (``state.<value>``...) exist for every member, in English (the
    other catalogues follow from the tests above)."""
    from bot.config import QuotaPeriod, QuotaUnit
    from bot.domain import JobKind, JobState, Origin

    english = keys()
    wanted = (
        [f"state.{s.value}" for s in JobState]
        + [f"owner.state.{s.value}" for s in JobState]
        + [f"kind.{k.value}" for k in JobKind]
        + [f"kind_title.{k.value}" for k in JobKind]
        + [f"origin.{o.value}" for o in Origin]
        + [f"unit.{u.value}" for u in QuotaUnit]
        + [f"quota.period.{p.value}" for p in QuotaPeriod]
        + [f"quota.per.{p.value}" for p in QuotaPeriod]
        + [f"quota.not_enough.{p.value}" for p in QuotaPeriod]
        + [f"button.{a}" for a in ("cancel", "rerun", "retry", "edit", "continue", "restyle")]
        + [f"job.only_requester_{o.value}" for o in Origin]
    )
    assert not sorted(set(wanted) - english)
