"""Configuration: a TOML file validated by pydantic, with secrets from the environment.

Environment variables (they override the file):

- ``DISCORD_TOKEN``: the bot token (``discord.token``).
- ``RUNWAY_API_KEY``: the Runway or CometAPI key (``runway.api_key``).
- ``RUNWAY_BOT_DATABASE``: the SQLite path (``storage.path``).

The model catalog is the packaged one (``bot.catalog``, ``bot/catalog/default.toml``) unless
the file has its own ``[[models]]`` entries, which then replace it whole.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .catalog import (
    COMMANDS,
    PROVIDERS,
    Endpoint,
    ModelSpec,
    Provider,
    default_catalog,
    resolve_catalog,
)

ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "DISCORD_TOKEN": ("discord", "token"),
    "RUNWAY_API_KEY": ("runway", "api_key"),
    "RUNWAY_BOT_DATABASE": ("storage", "path"),
}

DEFAULT_BASE_URLS: dict[str, str] = {
    "runway": "https://api.dev.runwayml.com",
    "cometapi": "https://api.cometapi.com/runwayml",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiscordSettings(_Strict):
    """How the bot connects to Discord."""

    token: SecretStr | None = None
    owner_ids: tuple[int, ...] = ()
    dev_guild_id: int | None = None
    api_base: str | None = None
    gateway_url: str | None = None
    allow_dms: bool = False
    status_edit_interval_seconds: float = Field(default=3.0, ge=0.5)

    @field_validator("api_base", "gateway_url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError("must start with http://, https://, ws:// or wss://")
        return value


class SimulatorSettings(_Strict):
    """The built-in Runway simulator used by provider ``simulator``."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    task_seconds: float = Field(default=20.0, gt=0)
    time_scale: float = Field(default=1.0, gt=0)
    concurrency_per_model: int = Field(default=2, ge=1)


class RunwaySettings(_Strict):
    """Which Runway provider to use and how to talk to it."""

    provider: Provider = "simulator"
    base_url: str | None = None
    api_key: SecretStr | None = None
    api_version: str = "2024-11-06"
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    request_timeout_seconds: float = Field(default=60.0, gt=0)
    upload_timeout_seconds: float = Field(default=300.0, gt=0)
    download_timeout_seconds: float = Field(default=300.0, gt=0)
    download_min_bytes_per_second: float = Field(default=64 * 1024, ge=0)
    max_retries: int = Field(default=4, ge=0, le=10)
    max_concurrent_per_model: int = Field(default=1, ge=1)
    concurrency_overrides: dict[str, int] = Field(default_factory=dict)
    task_deadline_minutes: float = Field(default=30.0, gt=0)
    task_not_exist_grace_seconds: float = Field(default=60.0, ge=0)
    max_output_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    simulator: SimulatorSettings = SimulatorSettings()

    @field_validator("base_url")
    @classmethod
    def _base_url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _key_required(self) -> RunwaySettings:
        if self.provider != "simulator" and self.api_key is None:
            raise ValueError(
                f"provider {self.provider!r} needs an api key "
                "(set RUNWAY_API_KEY or runway.api_key)"
            )
        return self

    def resolved_base_url(self) -> str | None:
        """The configured base URL, or the provider's default (None for the simulator)."""
        if self.base_url:
            return self.base_url
        return DEFAULT_BASE_URLS.get(self.provider)

    def concurrency_for(self, model_id: str) -> int:
        """How many tasks of this model the bot keeps in flight at Runway at once."""
        return self.concurrency_overrides.get(model_id, self.max_concurrent_per_model)


class StorageSettings(_Strict):
    """Where the SQLite database lives."""

    path: Path = Path("data/runway-bot.sqlite3")


class QuotaUnit(StrEnum):
    """What a quota counts."""

    CREDITS = "credits"
    JOBS = "jobs"


class QuotaPeriod(StrEnum):
    """How often usage resets (UTC)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class QuotaSettings(_Strict):
    """Per-user quota defaults and the operator's safety cap."""

    unit: QuotaUnit = QuotaUnit.CREDITS
    period: QuotaPeriod = QuotaPeriod.DAY
    default_limit: int | None = Field(default=None, ge=0)
    charge_moderation_failures: bool = False
    daily_credit_cap: int | None = Field(default=None, ge=0)
    max_active_jobs_per_user: int = Field(default=3, ge=1)


class MetricsSettings(_Strict):
    """The optional HTTP endpoint with ``/healthz`` and ``/metrics`` (Prometheus); off by
    default. Keep it on 127.0.0.1 (or a private network): it has no authentication."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)


class Settings(_Strict):
    """The whole validated configuration."""

    discord: DiscordSettings = DiscordSettings()
    runway: RunwaySettings = RunwaySettings()
    storage: StorageSettings = StorageSettings()
    quota: QuotaSettings = QuotaSettings()
    metrics: MetricsSettings = MetricsSettings()
    models: tuple[ModelSpec, ...] = Field(default_factory=default_catalog)
    """The catalog resolved for ``runway.provider``: the models it serves, its overrides
    applied, ``enabled`` true or false for it. The entries as written are ``catalog``: the
    file's ``[[models]]`` when it has any (they replace the packaged catalog whole), else the
    packaged catalog (``bot/catalog/default.toml``)."""

    _catalog: tuple[ModelSpec, ...] = PrivateAttr(default=())
    _packaged: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _resolve_models(self) -> Settings:
        self._packaged = "models" not in self.model_fields_set
        if not self.models:
            raise ValueError("the model catalog is empty: add at least one [[models]] entry")
        seen: set[str] = set()
        for spec in self.models:
            if spec.id in seen:
                raise ValueError(f"model id {spec.id!r} appears twice")
            seen.add(spec.id)
        provider = self.runway.provider
        resolved = resolve_catalog(self.models, provider)
        if not any(m.enabled for m in resolved):
            raise ValueError(
                f"no model is enabled for provider {provider!r} "
                "(see each model's providers and enabled)"
            )
        self._catalog = self.models
        # The one place the effective catalog is made: everything downstream reads
        # ``models``. Settings stays frozen to its users; this runs once, at validation.
        object.__setattr__(self, "models", resolved)
        return self

    @property
    def catalog(self) -> tuple[ModelSpec, ...]:
        """The ``[[models]]`` entries as written, for every provider."""
        return self._catalog or self.models

    @property
    def uses_packaged_catalog(self) -> bool:
        """Whether the catalog is the packaged one (the file has no ``[[models]]``)."""
        return self._packaged

    def catalog_for(self, provider: Provider) -> tuple[ModelSpec, ...]:
        """The catalog as another provider would see it (``models`` is the configured one's)."""
        return resolve_catalog(self.catalog, provider)

    def warnings(self) -> list[str]:
        """Things that load but look unintended: an endpoint without an enabled model."""
        out: list[str] = []
        for endpoint, command in COMMANDS.items():
            if not self.enabled_models(endpoint):
                out.append(
                    f"provider {self.runway.provider!r} has no enabled {endpoint.value} model: "
                    f"{command} will refuse every request"
                )
        return out

    def model(self, model_id: str) -> ModelSpec | None:
        """The catalog entry for an id, or None."""
        for spec in self.models:
            if spec.id == model_id:
                return spec
        return None

    def enabled_models(self, endpoint: Endpoint | None = None) -> list[ModelSpec]:
        """Enabled catalog entries, optionally for one endpoint, in file order."""
        return [
            m for m in self.models if m.enabled and (endpoint is None or m.endpoint is endpoint)
        ]

    def default_model(self, endpoint: Endpoint) -> ModelSpec | None:
        """The first enabled model of an endpoint."""
        models = self.enabled_models(endpoint)
        return models[0] if models else None


class ConfigError(Exception):
    """The configuration could not be loaded; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _format_loc(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = None
            if isinstance(node, list | tuple) and 0 <= item < len(node):
                entry = node[item]
                if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
                    label = entry["id"]
                node = entry
            else:
                node = None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{label or item}]"]
        elif item != "[key]":  # pydantic's marker for a bad dict key: the key names itself
            parts.append(item)
            node = node.get(item) if isinstance(node, Mapping) else None
    return ".".join(parts) or "(top level)"


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for env_name, (section, key) in ENV_OVERRIDES.items():
        value = environ.get(env_name)
        if value:
            section_data = data.setdefault(section, {})
            if isinstance(section_data, dict):
                section_data[key] = value


def parse_settings(data: dict[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Validate already-parsed TOML data (plus environment secrets) into Settings."""
    _apply_env(data, os.environ if environ is None else environ)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{_format_loc(tuple(err['loc']), data)}: {msg}")
        raise ConfigError(problems) from None


def load_settings(path: str | Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate a TOML configuration file."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"]) from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"]) from None
    return parse_settings(data, environ)


def summarize(settings: Settings) -> list[str]:
    """Human-readable summary lines for ``check-config`` (never includes secrets)."""
    rw = settings.runway
    q = settings.quota
    limit = "unlimited" if q.default_limit is None else str(q.default_limit)
    lines = [
        f"discord: token {'set' if settings.discord.token else 'MISSING'}, "
        f"owners {list(settings.discord.owner_ids) or 'none'}, "
        f"dev guild {settings.discord.dev_guild_id or 'none'}, "
        f"DMs {'allowed' if settings.discord.allow_dms else 'refused'}",
        f"runway: provider {rw.provider}, base URL {rw.resolved_base_url() or '(in-process)'}, "
        f"api key {'set' if rw.api_key else 'not set'}, version {rw.api_version}, "
        f"{rw.max_concurrent_per_model} in flight per model",
        f"storage: {settings.storage.path}",
        f"quota: {limit} {q.unit.value} per user per {q.period.value}"
        + (f", bot-wide cap {q.daily_credit_cap} credits/day" if q.daily_credit_cap else ""),
        "catalog: "
        + (
            "the packaged one (the file has no [[models]])"
            if settings.uses_packaged_catalog
            else "the file's [[models]] (in place of the packaged one)"
        ),
        f"models for provider {rw.provider} ({len(settings.enabled_models())} enabled, "
        f"{len(settings.models)} served, {len(settings.catalog)} in the catalog):",
    ]
    served = {m.id: m for m in settings.models}
    for entry in settings.catalog:
        m = served.get(entry.id)
        if m is None:
            where = ", ".join(entry.providers) or "the simulator only"
            lines.append(
                f"  [n/a] {entry.id:<12} {entry.endpoint.value:<14} "
                f"not served by {rw.provider} (served by {where})"
            )
            continue
        state = "on " if m.enabled else "off"
        if m.endpoint is Endpoint.IMAGE_TO_VIDEO:
            shape = f"ratios {','.join(m.ratios)}; durations {','.join(map(str, m.durations))}s"
        else:
            shape = "follows input video"
        own = f" ({rw.provider} overrides)" if rw.provider in entry.overrides else ""
        lines.append(
            f"  [{state}] {m.id:<12} {m.endpoint.value:<14} "
            f"{m.credits_per_second:g} credits/s; {shape}{own}"
        )
    lines.append("enabled per provider:")
    for provider in PROVIDERS:
        ids = [m.id for m in settings.catalog_for(provider) if m.enabled]
        mark = " (configured)" if provider == rw.provider else ""
        lines.append(f"  {provider + mark + ':':<24} {', '.join(ids) or 'none'}")
    return lines
