"""The model catalog shipped with the package (used when no config file names one)."""

from __future__ import annotations

import tomllib
from importlib import resources

from pydantic import TypeAdapter

from ..config import ModelSpec

_ADAPTER = TypeAdapter(tuple[ModelSpec, ...])


def default_catalog() -> tuple[ModelSpec, ...]:
    """Every model of the packaged default catalog, enabled or not."""
    text = resources.files("bot.runway").joinpath("default_catalog.toml").read_text("utf-8")
    return _ADAPTER.validate_python(tomllib.loads(text)["models"])
