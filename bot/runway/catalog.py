"""The model catalog shipped with the package (used when no config file names one)."""

from __future__ import annotations

import tomllib
from importlib import resources

from pydantic import TypeAdapter

from ..config import ModelSpec, Provider, resolve_catalog

_ADAPTER = TypeAdapter(tuple[ModelSpec, ...])


def default_catalog(provider: Provider | None = None) -> tuple[ModelSpec, ...]:
    """Every model of the packaged default catalog, enabled or not.

    Without a provider: the entries as written (``providers``, ``enabled`` lists and
    ``overrides`` included). With one: the catalog as that provider serves it, like
    ``Settings.models`` (only its models, its overrides applied, ``enabled`` a bool).
    """
    text = resources.files("bot.runway").joinpath("default_catalog.toml").read_text("utf-8")
    entries = _ADAPTER.validate_python(tomllib.loads(text)["models"])
    if provider is None:
        return entries
    return resolve_catalog(entries, provider)
