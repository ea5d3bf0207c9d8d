"""Configuration: a TOML file validated by pydantic, with secrets from the environment.

Environment variables (they override the file):

- ``DISCORD_TOKEN``: the bot token (``discord.token``).
- ``RUNWAY_API_KEY``: the Runway or CometAPI key (``runway.api_key``).
- ``RUNWAY_BOT_DATABASE``: the SQLite path (``storage.path``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
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

SEED_MAX = 4_294_967_295

Provider = Literal["runway", "cometapi", "simulator"]
"""Where the bot sends its tasks: Runway direct, the CometAPI gateway or the built-in simulator."""

PROVIDERS: tuple[Provider, ...] = get_args(Provider)
SERVICES: tuple[Provider, ...] = ("runway", "cometapi")
"""The real services a model can be served by; the simulator serves every model."""


class Endpoint(StrEnum):
    """Which Runway endpoint a model is served from."""

    IMAGE_TO_VIDEO = "image_to_video"
    VIDEO_TO_VIDEO = "video_to_video"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_ratios(value: tuple[str, ...]) -> tuple[str, ...]:
    for ratio in value:
        parts = ratio.split(":")
        if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError(f"ratio {ratio!r} must look like '1280:720'")
    return value


def _names(value: Any, allowed: tuple[str, ...], what: str) -> tuple[Provider, ...]:
    """A TOML list of provider names, checked with one readable message."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be {what}")
    for name in value:
        if name not in allowed:
            raise ValueError(
                f"unknown provider {name!r}: use {', '.join(repr(a) for a in allowed)}"
            )
    out: tuple[Provider, ...] = tuple(dict.fromkeys(value))
    return out


class ModelOverride(_Strict):
    """What one provider documents differently for a model (``[models.overrides.<provider>]``).

    Only the limits and prices can differ; a field left out keeps the model's own value.
    """

    label: str | None = None
    ratios: tuple[str, ...] | None = None
    durations: tuple[int, ...] | None = None
    default_duration: int | None = None
    prompt_max_utf16: int | None = Field(default=None, ge=1)
    prompt_required: bool | None = None
    supports_reference: bool | None = None
    max_references: int | None = Field(default=None, ge=0)
    supports_last_frame: bool | None = None
    supports_audio: bool | None = None
    credits_per_second: float | None = Field(default=None, ge=0)
    audio_credits_per_second: float | None = Field(default=None, ge=0)
    max_input_seconds: float | None = Field(default=None, gt=0)
    billed_input_seconds: float | None = Field(default=None, gt=0)
    seed_max: int | None = Field(default=None, ge=0, le=SEED_MAX)

    @field_validator("ratios")
    @classmethod
    def _ratios_look_like_w_h(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else _check_ratios(value)


class ModelSpec(_Strict):
    """One entry of the model catalog: what a Runway model accepts and what it costs.

    ``providers`` lists the real services that serve the model (the simulator serves every
    model). ``enabled`` is true (wherever served), false, or the providers it is enabled for.
    ``overrides`` holds what a provider documents differently. ``Settings.models`` holds the
    entries resolved for the configured provider (see ``for_provider``): there ``enabled`` is
    a plain bool and ``overrides`` is empty.
    """

    id: str = Field(min_length=1)
    endpoint: Endpoint
    label: str = ""
    providers: tuple[Provider, ...] = SERVICES
    enabled: bool | tuple[Provider, ...] = True
    ratios: tuple[str, ...] = ()
    durations: tuple[int, ...] = ()
    default_duration: int | None = None
    prompt_max_utf16: int = Field(default=1000, ge=1)
    prompt_required: bool = False
    supports_reference: bool = False
    max_references: int = Field(default=0, ge=0)
    supports_last_frame: bool = False
    supports_audio: bool = False
    credits_per_second: float = Field(ge=0)
    audio_credits_per_second: float | None = Field(default=None, ge=0)
    max_input_seconds: float | None = Field(default=None, gt=0)
    billed_input_seconds: float | None = Field(default=None, gt=0)
    seed_max: int = Field(default=SEED_MAX, ge=0, le=SEED_MAX)
    overrides: dict[Provider, ModelOverride] = Field(default_factory=dict)

    @field_validator("providers", mode="before")
    @classmethod
    def _providers_are_services(cls, value: Any) -> tuple[Provider, ...]:
        if isinstance(value, list | tuple) and "simulator" in value:
            raise ValueError("'simulator' serves every model: list only 'runway' and/or 'cometapi'")
        return _names(value, SERVICES, "a list of 'runway' and/or 'cometapi'")

    @field_validator("enabled", mode="before")
    @classmethod
    def _enabled_shape(cls, value: Any) -> bool | tuple[Provider, ...]:
        if isinstance(value, bool):
            return value
        return _names(value, PROVIDERS, "true, false or a list of provider names")

    @field_validator("enabled")
    @classmethod
    def _enabled_where_served(
        cls, value: bool | tuple[Provider, ...], info: ValidationInfo
    ) -> bool | tuple[Provider, ...]:
        served = info.data.get("providers")
        if isinstance(value, tuple) and served is not None:
            for name in value:
                if name != "simulator" and name not in served:
                    hint = "add it to providers or remove it from enabled"
                    raise ValueError(f"{_not_served(name, served)}: {hint}")
        return value

    @field_validator("overrides")
    @classmethod
    def _overrides_where_served(
        cls, value: dict[Provider, ModelOverride], info: ValidationInfo
    ) -> dict[Provider, ModelOverride]:
        served = info.data.get("providers")
        if served is not None:
            for name in value:
                if name != "simulator" and name not in served:
                    raise ValueError(f"{_not_served(name, served)}: remove overrides.{name}")
        return value

    @field_validator("ratios")
    @classmethod
    def _ratios_look_like_w_h(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_ratios(value)

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.endpoint is Endpoint.IMAGE_TO_VIDEO:
            if not self.ratios:
                raise ValueError("an image_to_video model needs at least one ratio")
            if not self.durations:
                raise ValueError("an image_to_video model needs at least one duration")
            if self.default_duration is None:
                raise ValueError("an image_to_video model needs a default_duration")
            if self.default_duration not in self.durations:
                raise ValueError(
                    f"default_duration {self.default_duration} is not one of {list(self.durations)}"
                )
        if self.supports_reference and self.max_references < 1:
            raise ValueError("supports_reference needs max_references >= 1")
        if self.audio_credits_per_second is not None and not self.supports_audio:
            raise ValueError("audio_credits_per_second is set but supports_audio is false")
        for name in self.overrides:
            try:
                self.for_provider(name)
            except ValidationError as exc:
                err = exc.errors(include_input=False, include_url=False)[0]
                where = ".".join(str(part) for part in err["loc"])
                msg = err["msg"].removeprefix("Value error, ")
                raise ValueError(
                    f"with overrides.{name}: {where + ': ' if where else ''}{msg}"
                ) from None
        return self

    @property
    def display_name(self) -> str:
        """The label when one is set, else the id."""
        return self.label or self.id

    def served_by(self, provider: Provider) -> bool:
        """Whether the provider serves this model (the simulator serves every model)."""
        return provider == "simulator" or provider in self.providers

    def enabled_for(self, provider: Provider) -> bool:
        """Whether the model is enabled when the bot uses this provider."""
        if not self.served_by(provider):
            return False
        if isinstance(self.enabled, bool):
            return self.enabled
        return provider in self.enabled

    def for_provider(self, provider: Provider) -> ModelSpec | None:
        """This model as the provider serves it (its overrides applied, ``enabled`` a bool),
        or None when the provider does not serve it."""
        if not self.served_by(provider):
            return None
        enabled = self.enabled_for(provider)
        if not self.overrides and self.enabled is enabled:
            return self
        data = self.model_dump(exclude={"enabled", "overrides"})
        override = self.overrides.get(provider)
        if override is not None:
            data.update(override.model_dump(exclude_unset=True))
        return ModelSpec.model_validate({**data, "enabled": enabled})

    def ratio_aspects(self) -> dict[str, float]:
        """Each allowed ratio with its width/height aspect."""
        out: dict[str, float] = {}
        for ratio in self.ratios:
            w, h = ratio.split(":")
            out[ratio] = int(w) / int(h)
        return out


def _not_served(name: str, served: tuple[str, ...]) -> str:
    listed = ", ".join(repr(p) for p in served) or "none (the simulator only)"
    return f"{name!r} does not serve this model (its providers: {listed})"


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


class Settings(_Strict):
    """The whole validated configuration."""

    discord: DiscordSettings = DiscordSettings()
    runway: RunwaySettings = RunwaySettings()
    storage: StorageSettings = StorageSettings()
    quota: QuotaSettings = QuotaSettings()
    models: tuple[ModelSpec, ...]
    """The catalog resolved for ``runway.provider``: the models it serves, its overrides
    applied, ``enabled`` true or false for it. The file's own entries are ``catalog``."""

    _catalog: tuple[ModelSpec, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _resolve_models(self) -> Settings:
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

    def catalog_for(self, provider: Provider) -> tuple[ModelSpec, ...]:
        """The catalog as another provider would see it (``models`` is the configured one's)."""
        return resolve_catalog(self.catalog, provider)

    def warnings(self) -> list[str]:
        """Things that load but look unintended: an endpoint without an enabled model."""
        out: list[str] = []
        for endpoint, command in _COMMANDS.items():
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


_COMMANDS: dict[Endpoint, str] = {
    Endpoint.IMAGE_TO_VIDEO: "/animate",
    Endpoint.VIDEO_TO_VIDEO: "/restyle",
}


def resolve_catalog(catalog: tuple[ModelSpec, ...], provider: Provider) -> tuple[ModelSpec, ...]:
    """The catalog as one provider serves it: only its models, its overrides applied,
    ``enabled`` true or false for it (what ``Settings.models`` holds)."""
    return tuple(s for s in (m.for_provider(provider) for m in catalog) if s is not None)


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
