"""Command names and descriptions in the member's language, and the locales replies use.

The catalogue key of every command string is derived from where it sits, so cogs write plain
English (``description="..."``) and discord.py wraps it in a ``locale_str``:

* ``cmd.<command path>.name`` / ``.description`` (``cmd.quota.set.description``),
* ``cmd.<command path>.opt.<parameter>.name`` / ``.description``,
* ``menu.<slug>.name`` for message and user menus,
* ``choice.<slug>`` for a choice whose name is a word (``here``, ``global``).

A ``locale_str(..., key="...")`` names its key itself. English is the code's own text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot.i18n import DEFAULT_LOCALE, DISCORD_LOCALES, SUPPORTED, catalogue, normalize_locale, t

from .context import ServicesUnavailable, services_of

if TYPE_CHECKING:
    from bot.guild_settings import GuildSettings

_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """``"Animate this image"`` -> ``animate_this_image``."""
    return _SLUG.sub("_", text.lower()).strip("_")


def command_key(qualified_name: str) -> str:
    """The key prefix of a slash command or group (``quota set`` -> ``cmd.quota.set``)."""
    return "cmd." + ".".join(part.replace("-", "_") for part in qualified_name.split())


def key_for(
    string: app_commands.locale_str, context: app_commands.TranslationContext[Any, Any]
) -> str | None:
    """The catalogue key of a command string, or None when it has none (a model label)."""
    explicit = string.extras.get("key")
    if isinstance(explicit, str):
        return explicit
    data = context.data
    location = context.location
    if location in (Where.command_name, Where.command_description):
        if isinstance(data, app_commands.ContextMenu):
            return f"menu.{slug(data.name)}.name"
        field = "name" if location is Where.command_name else "description"
        return f"{command_key(data.qualified_name)}.{field}"
    if location in (Where.group_name, Where.group_description):
        field = "name" if location is Where.group_name else "description"
        return f"{command_key(data.qualified_name)}.{field}"
    if location in (Where.parameter_name, Where.parameter_description):
        field = "name" if location is Where.parameter_name else "description"
        return f"{command_key(data.command.qualified_name)}.opt.{data.name}.{field}"
    if location is Where.choice_name:
        name = str(data.name)
        return f"choice.{slug(name)}" if re.fullmatch(r"[a-z][a-z -]*", name) else None
    return None


class RunwayTranslator(app_commands.Translator):
    """Reads command strings from the i18n catalogues; English stays the code's text."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContext[Any, Any],
    ) -> str | None:
        """The text for ``locale``, or None (Discord then shows the English default)."""
        target = _exact(locale)
        if target in ("", DEFAULT_LOCALE):
            return None
        key = key_for(string, context)
        if key is None:
            return None
        return catalogue(target).get(key)


def _exact(locale: discord.Locale) -> str:
    """The catalogue a Discord locale maps to, or "" when it has none of its own (a French
    member is not sent the English fallback as a "translation")."""
    code = locale.value
    return DISCORD_LOCALES.get(code, code if code in SUPPORTED else "")


def member_locale(interaction: discord.Interaction[Any]) -> str:
    """The catalogue for the member's own Discord language (ephemeral replies)."""
    return normalize_locale(getattr(interaction, "locale", None))


def public_locale(
    guild_locale: discord.Locale | str | None, settings: GuildSettings | None = None
) -> str:
    """The catalogue for messages everyone in a server sees: the server's override
    (``/runway language``), else its Discord language (Community servers set it), else en."""
    if settings is not None and settings.locale:
        return settings.locale
    return normalize_locale(guild_locale)


def tr(interaction: discord.Interaction[Any], key: str, /, **fmt: object) -> str:
    """Catalogue text ``key`` in the member's own language."""
    return t(key, member_locale(interaction), **fmt)


async def guild_locale(client: discord.Client, guild_id: int | None) -> str:
    """The catalogue for a server's public messages (status, clip, notices) when no
    interaction is at hand: its ``/runway language`` override, else its Discord language."""
    if guild_id is None:
        return DEFAULT_LOCALE
    guild = client.get_guild(guild_id)
    try:
        settings = await services_of(client).quota.guilds.get(guild_id)
    except ServicesUnavailable:  # starting or stopping: the server's own language
        settings = None
    return public_locale(guild.preferred_locale if guild is not None else None, settings)


async def interaction_public_locale(interaction: discord.Interaction[Any]) -> str:
    """The catalogue for a public message sent while answering ``interaction``."""
    if interaction.guild_id is None:
        return member_locale(interaction)
    settings = await services_of(interaction.client).quota.guilds.get(interaction.guild_id)
    return public_locale(getattr(interaction, "guild_locale", None), settings)
