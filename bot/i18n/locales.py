"""Discord locale codes and the catalogues that serve them."""

from __future__ import annotations

DEFAULT_LOCALE = "en"

# The catalogues shipped in ``bot/i18n/catalog/<name>.toml``.
SUPPORTED: tuple[str, ...] = ("en", "ja", "es")

# Discord's locale codes (``Interaction.locale``, ``Guild.preferred_locale``) -> catalogue.
DISCORD_LOCALES: dict[str, str] = {
    "en-US": "en",
    "en-GB": "en",
    "ja": "ja",
    "es-ES": "es",
    "es-419": "es",
}

# What a locale is called in its own language (for admin commands and messages).
LOCALE_NAMES: dict[str, str] = {"en": "English", "ja": "日本語", "es": "Español"}


def normalize_locale(locale: object) -> str:
    """The catalogue for a Discord locale (an enum value or code) or catalogue name; en if
    none fits.

    ``discord.Locale`` members are ``str`` subclasses whose value is the code, so they pass
    here without this module importing discord.
    """
    if locale is None:
        return DEFAULT_LOCALE
    code = str(getattr(locale, "value", locale)).strip()
    if code in SUPPORTED:
        return code
    if code in DISCORD_LOCALES:
        return DISCORD_LOCALES[code]
    base = code.replace("_", "-").split("-", 1)[0].lower()
    return base if base in SUPPORTED else DEFAULT_LOCALE


def is_supported(locale: str) -> bool:
    """Whether ``locale`` names a shipped catalogue or a Discord code mapped to one."""
    return locale in SUPPORTED or locale in DISCORD_LOCALES
