"""Translated texts: ``t(key, locale, **fmt)`` over the TOML catalogues in ``catalog/``.

No discord import: the core (failure notices, quota refusals) and the Discord layer share it.
"""

from .catalog import MissingText, Text, catalogue, keys, placeholders, t, text
from .locales import (
    DEFAULT_LOCALE,
    DISCORD_LOCALES,
    LOCALE_NAMES,
    SUPPORTED,
    is_supported,
    normalize_locale,
)

__all__ = [
    "DEFAULT_LOCALE",
    "DISCORD_LOCALES",
    "LOCALE_NAMES",
    "SUPPORTED",
    "MissingText",
    "Text",
    "catalogue",
    "is_supported",
    "keys",
    "normalize_locale",
    "placeholders",
    "t",
    "text",
]
