"""Loading the catalogues and looking texts up, with English as the fallback."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from .locales import DEFAULT_LOCALE, normalize_locale


@dataclass(frozen=True, slots=True)
class Text:
    """A text to translate later, in whatever locale its reader has: a value of ``t()``'s
    fields (``unit=text("unit.credits")``) or a message held by an error."""

    key: str
    fmt: Mapping[str, object] = field(default_factory=dict)

    def render(self, locale: object) -> str:
        """The text in ``locale``."""
        return t(self.key, locale, **self.fmt)


def text(key: str, /, **fmt: object) -> Text:
    """A :class:`Text` with keyword fields."""
    return Text(key, fmt)


class MissingText(KeyError):
    """A key that not even the English catalogue has: a bug, caught by the catalogue tests."""


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, key + "."))
        elif isinstance(value, str):
            out[key] = value
        else:
            raise TypeError(f"catalogue entry {key} is not a string")
    return out


@cache
def catalogue(locale: str) -> Mapping[str, str]:
    """Every text of one shipped catalogue, by dotted key (empty when there is none)."""
    folder = resources.files("bot.i18n").joinpath("catalog")
    entry = folder.joinpath(f"{locale}.toml")
    if not entry.is_file():
        return {}
    return _flatten(tomllib.loads(entry.read_text("utf-8")))


def keys(locale: str = DEFAULT_LOCALE) -> frozenset[str]:
    """The keys a catalogue holds."""
    return frozenset(catalogue(locale))


def placeholders(source: str) -> frozenset[str]:
    """The ``{name}`` fields a catalogue text formats."""
    return frozenset(
        name.split(".", 1)[0].split("[", 1)[0]
        for _, name, _, _ in string.Formatter().parse(source)
        if name
    )


def t(key: str, locale: object, /, **fmt: object) -> str:
    """The text ``key`` in ``locale`` (a Discord code, catalogue name or None), formatted
    with ``fmt``; English when the locale has no such text."""
    found = catalogue(normalize_locale(locale)).get(key)
    if found is None:
        found = catalogue(DEFAULT_LOCALE).get(key)
        if found is None:
            raise MissingText(key)
    values = {k: v.render(locale) if isinstance(v, Text) else v for k, v in fmt.items()}
    return found.format(**values)
