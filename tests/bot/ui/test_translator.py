"""Command localisation: every command string has its catalogue entry in every language,
the dry-run payloads carry the localisations Discord needs, and the reply locales."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.app import RunwayBot, main_sync
from bot.catalog import default_catalog
from bot.config import Settings
from bot.guild_settings import GuildSettings
from bot.i18n import SUPPORTED, catalogue
from bot.ui.translator import (
    RunwayTranslator,
    command_key,
    key_for,
    member_locale,
    public_locale,
    slug,
)

TRANSLATED = {"ja": "ja", "es-ES": "es", "es-419": "es"}


class Recorder(app_commands.Translator):
    """Records the key and English text of every string discord.py asks to translate."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}
        self.unkeyed: list[str] = []

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContext[Any, Any],
    ) -> str | None:
        if locale is discord.Locale.japanese:
            key = key_for(string, context)
            if key is None:
                self.unkeyed.append(string.message)
            else:
                self.seen[key] = string.message
        return None


@pytest.fixture(scope="module")
def strings() -> Recorder:
    import asyncio

    async def collect() -> Recorder:
        bot = RunwayBot(Settings(models=default_catalog()), mode="sync")
        await bot.load_cogs()
        recorder = Recorder()
        for command in bot.tree.get_commands():
            await command.get_translated_payload(bot.tree, recorder)
        return recorder

    return asyncio.run(collect())


def test_keys_follow_the_command_tree() -> None:
    assert command_key("quota set") == "cmd.quota.set"
    assert command_key("runway cost-confirm") == "cmd.runway.cost_confirm"
    assert slug("Animate this image") == "animate_this_image"


def test_every_command_string_is_in_english_as_written(strings: Recorder) -> None:
    english = catalogue("en")
    assert len(strings.seen) > 50
    missing = sorted(k for k in strings.seen if k not in english)
    assert not missing, f"en.toml lacks {missing}"
    stale = {k: (v, english[k]) for k, v in strings.seen.items() if english[k] != v}
    assert not stale, f"en.toml differs from the code (update every catalogue): {stale}"


@pytest.mark.parametrize("locale", [loc for loc in SUPPORTED if loc != "en"])
def test_every_command_string_is_translated(strings: Recorder, locale: str) -> None:
    texts = catalogue(locale)
    missing = sorted(k for k in strings.seen if k not in texts)
    assert not missing, f"{locale}.toml lacks {missing}"


def test_only_names_that_are_not_words_go_untranslated(strings: Recorder) -> None:
    # model labels and language names stay as they are; every word has a key
    assert all(not text.islower() or ":" in text for text in strings.unkeyed), strings.unkeyed


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main_sync(Settings(models=default_catalog()), guild_id=None, dry_run=True) == 0
    data: list[dict[str, Any]] = json.loads(out.getvalue())
    return data


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for option in node.get("options", []) or []:
        yield from _walk(option)


def _is_name(text: str) -> bool:
    """Discord's rule for chat command and option names (lower case where a case exists)."""
    return (
        1 <= len(text) <= 32
        and text == text.lower()
        and all(c in "-_" or unicodedata.category(c)[0] in "LN" for c in text)
    )


def test_dry_run_payloads_carry_the_localisations(payloads: list[dict[str, Any]]) -> None:
    nodes = [n for p in payloads for n in _walk(p)]
    assert len(nodes) > 50
    for node in nodes:
        names = node.get("name_localizations") or {}
        assert set(names) == set(TRANSLATED), (node["name"], names)
        assert "fr" not in names and "en-US" not in names  # English is the default itself
        if node.get("type") == 3 and node is not None and "description" not in node:
            continue
        if node.get("description"):
            descriptions = node.get("description_localizations") or {}
            assert set(descriptions) == set(TRANSLATED), node["name"]
            for locale, text in descriptions.items():
                assert 1 <= len(text) <= 100, (node["name"], locale, text)
        assert names["ja"] != node["name"] or node["name"] == "runway"  # really translated


def test_localised_names_are_valid_and_distinct(payloads: list[dict[str, Any]]) -> None:
    for payload in payloads:
        for node in _walk(payload):
            is_menu = node is payload and payload.get("type") != 1
            for locale, name in (node.get("name_localizations") or {}).items():
                assert is_menu or _is_name(name), (node["name"], locale, name)
            siblings = [o for o in node.get("options", []) or []]
            for locale in TRANSLATED:
                local = [
                    (o.get("name_localizations") or {}).get(locale, o["name"]) for o in siblings
                ]
                assert len(local) == len(set(local)), (node["name"], locale, local)
            for choice in node.get("choices", []) or []:
                for text in (choice.get("name_localizations") or {}).values():
                    assert 1 <= len(text) <= 100


def test_japanese_payload_reads_japanese(payloads: list[dict[str, Any]]) -> None:
    quota = next(p for p in payloads if p["name"] == "quota")
    assert quota["name_localizations"]["ja"] == "クォータ"
    assert quota["description_localizations"]["es-ES"] == "Gestiona las cuotas de vídeo."
    reset = next(o for o in quota["options"] if o["name"] == "reset")
    bonus = next(o for o in reset["options"] if o["name"] == "bonus")
    assert {c["name"]: c["name_localizations"]["ja"] for c in bonus["choices"]} == {
        "keep": "残す",
        "clear": "消す",
    }
    menu = next(p for p in payloads if p["type"] == 3)
    assert menu["name_localizations"]["es-419"] == "Animar esta imagen"


async def test_the_translator_leaves_english_and_unknown_languages_alone() -> None:
    translator = RunwayTranslator()
    command = app_commands.Command(
        name="usage", description="Your video quota in this server.", callback=_usage
    )
    context = app_commands.TranslationContext(
        app_commands.TranslationContextLocation.command_description, command
    )
    text = app_commands.locale_str(command.description)
    assert (
        await translator.translate(text, discord.Locale.japanese, context)
        == (catalogue("ja")["cmd.usage.description"])
    )
    assert await translator.translate(text, discord.Locale.american_english, context) is None
    assert await translator.translate(text, discord.Locale.french, context) is None
    keyed = app_commands.locale_str("x", key="quota.period.day")
    assert await translator.translate(keyed, discord.Locale.spain_spanish, context) == "hoy"


async def _usage(interaction: discord.Interaction[Any]) -> None:
    return None


class _Interaction:
    def __init__(self, locale: discord.Locale) -> None:
        self.locale = locale


def test_member_and_public_locales() -> None:
    assert member_locale(_Interaction(discord.Locale.japanese)) == "ja"  # type: ignore[arg-type]
    assert member_locale(_Interaction(discord.Locale.latin_american_spanish)) == "es"  # type: ignore[arg-type]
    assert member_locale(_Interaction(discord.Locale.german)) == "en"  # type: ignore[arg-type]
    assert public_locale(discord.Locale.japanese) == "ja"
    assert public_locale(None) == "en"
    assert public_locale(discord.Locale.japanese, GuildSettings(1, locale="es")) == "es"
    assert public_locale(discord.Locale.japanese, GuildSettings(1)) == "ja"


def test_the_catalogues_live_in_the_package() -> None:
    folder = Path(__file__).resolve().parents[3] / "bot" / "i18n" / "catalog"
    assert {p.stem for p in folder.glob("*.toml")} == set(SUPPORTED)
    pyproject = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text("utf-8")
    assert '"bot.i18n" = ["catalog/*.toml"]' in pyproject


async def test_public_messages_use_the_servers_override_then_its_language(
    tmp_path: Path,
) -> None:
    from unittest.mock import MagicMock

    from bot.ui.translator import guild_locale, interaction_public_locale
    from tests.cogs.conftest import make_harness

    h = await make_harness(tmp_path)
    try:
        gid = h.guild_id
        assert await guild_locale(h.bot, None) == "en"
        assert await guild_locale(h.bot, gid) == "en"  # not cached, no override
        interaction, _ = h.interaction()
        interaction.guild_locale = discord.Locale.japanese
        assert await interaction_public_locale(interaction) == "ja"
        await h.quota.guilds.update(gid, 1, locale="es")
        assert await guild_locale(h.bot, gid) == "es"
        assert await interaction_public_locale(interaction) == "es"
        dm, _ = h.interaction(guild_id=None)
        dm.locale = discord.Locale.japanese
        assert await interaction_public_locale(dm) == "ja"  # a DM is the member's own
        guild = MagicMock(spec_set=discord.Guild)
        guild.preferred_locale = discord.Locale.japanese
        h.bot.get_guild = lambda guild_id: guild if guild_id == gid + 1 else None  # type: ignore[method-assign]
        assert await guild_locale(h.bot, gid + 1) == "ja"
    finally:
        await h.store.close()


def test_top_level_names_stay_distinct_in_every_language(payloads: list[dict[str, Any]]) -> None:
    for kind in (1, 3):
        same_kind = [p for p in payloads if p.get("type", 1) == kind]
        for locale in TRANSLATED:
            names = [(p.get("name_localizations") or {}).get(locale, p["name"]) for p in same_kind]
            assert len(names) == len(set(names)), (locale, names)
