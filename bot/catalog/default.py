"""The packaged model catalog (``default.toml``): the one place the shipped models are written.

The bot uses it when the config file has no ``[[models]]`` of its own; the simulator serves it
when given no config file.
"""

from __future__ import annotations

import tomllib
from importlib import resources

from pydantic import TypeAdapter

from .spec import ModelSpec, Provider, resolve_catalog

DEFAULT_CATALOG_FILE = "default.toml"
"""The packaged catalog's file name inside the ``bot.catalog`` package."""

_ADAPTER = TypeAdapter(tuple[ModelSpec, ...])


def default_catalog_text() -> str:
    """The packaged catalog file as written (TOML: its comments and ``[[models]]`` entries)."""
    return resources.files("bot.catalog").joinpath(DEFAULT_CATALOG_FILE).read_text("utf-8")


def default_catalog(provider: Provider | None = None) -> tuple[ModelSpec, ...]:
    """Every model of the packaged default catalog, enabled or not.

    Without a provider: the entries as written (``providers``, ``enabled`` lists and
    ``overrides`` included). With one: the catalog as that provider serves it, like
    ``Settings.models`` (only its models, its overrides applied, ``enabled`` a bool).
    """
    entries = _ADAPTER.validate_python(tomllib.loads(default_catalog_text())["models"])
    if provider is None:
        return entries
    return resolve_catalog(entries, provider)
