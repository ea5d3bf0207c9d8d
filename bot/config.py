"""Configuration: a TOML file validated by pydantic, with secrets from the environment.

Environment variables (they override the file):

- ``DISCORD_TOKEN``: the bot token (``discord.token``).
- ``RUNWAY_API_KEY``: the Runway or CometAPI key (``runway.api_key``).
- ``RUNWAY_BOT_DATABASE``: the SQLite path (``storage.path``).
- ``RUNWAY_BOT_DATABASE_URL``: the PostgreSQL URL (``storage.url``; it holds a password).

``DISCORD_TOKEN_FILE``, ``RUNWAY_API_KEY_FILE`` and ``RUNWAY_BOT_DATABASE_URL_FILE`` name a file
(a Docker secret) whose stripped content is the secret; the direct variable wins when both are
set.

The model catalog is the packaged one (``bot.catalog``, ``bot/catalog/default.toml``) unless
the file has its own ``[[models]]`` entries, which then replace it whole.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

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
    "RUNWAY_BOT_DATABASE_URL": ("storage", "url"),
}

SECRET_FILES: tuple[str, ...] = ("DISCORD_TOKEN", "RUNWAY_API_KEY", "RUNWAY_BOT_DATABASE_URL")
"""Secrets that may also come from ``<NAME>_FILE`` (a file holding the secret)."""

RUNWAY_KEY_PATTERN = re.compile(r"key_[0-9a-fA-F]{128}")
DISCORD_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

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
    # Gateway shards: unset asks Discord how many (GET /gateway/bot); shard_ids needs a count.
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: tuple[int, ...] | None = None

    @field_validator("api_base", "gateway_url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError("must start with http://, https://, ws:// or wss://")
        return value

    @model_validator(mode="after")
    def _shards(self) -> DiscordSettings:
        ids = self.shard_ids
        if ids is None:
            return self
        if self.shard_count is None:
            raise ValueError("discord.shard_ids needs discord.shard_count")
        if not ids:
            raise ValueError("discord.shard_ids must not be empty")
        if len(set(ids)) != len(ids):
            raise ValueError("discord.shard_ids has duplicates")
        bad = [i for i in ids if not 0 <= i < self.shard_count]
        if bad:
            raise ValueError(
                f"discord.shard_ids {bad} out of range: each must be 0 to shard_count - 1"
                f" ({self.shard_count - 1})"
            )
        return self


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
    concurrency_overrides: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    # Tasks per model sent beyond its slots: they wait THROTTLED at Runway, so a freed slot
    # starts the next job at once (cancelling one of them there costs nothing).
    standby_per_model: int = Field(default=0, ge=0, le=4)
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
    """Where the database lives: the SQLite file at ``path`` (the default), or the PostgreSQL
    server at ``url`` (several bot processes sharing it); ``path``'s directory stays the data
    directory either way."""

    path: Path = Path("data/runway-bot.sqlite3")
    url: SecretStr | None = None  # postgresql://user:password@host:5432/database
    pool_size: int = Field(default=10, ge=1, le=100)  # PostgreSQL connections per process

    @field_validator("path", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty (the SQLite database file's path)")
        return value

    @field_validator("url", mode="before")
    @classmethod
    def _postgres_url(cls, value: Any) -> Any:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(text, str):
            return value
        if not text.strip():
            return None
        problem = postgres_url_problem(text.strip())
        if problem is not None:
            raise ValueError(problem)
        return text.strip()

    def describe(self) -> str:
        """The database in one line, without a password."""
        if self.url is None:
            return f"SQLite {self.path}"
        parts = urlsplit(self.url.get_secret_value())
        where = parts.hostname or "(local socket)"
        port = f":{parts.port}" if parts.port else ""
        database = parts.path.lstrip("/")
        return f"PostgreSQL {where}{port}/{database} (data directory {self.path.parent})"


def postgres_url_problem(url: str) -> str | None:
    """Why ``url`` is not a usable PostgreSQL URL (never repeating its password), or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a valid URL (expected postgresql://user:password@host:5432/database)"
    if parts.scheme not in ("postgresql", "postgres"):
        return (
            "must start with postgresql:// (only PostgreSQL is supported; leave it out to use "
            "the SQLite file at storage.path)"
        )
    if not parts.hostname and "host=" not in parts.query:
        return "names no server (postgresql://user:password@host:5432/database)"
    if not parts.path.strip("/"):
        return "names no database (add /database after the server)"
    if port == 0:
        return "has port 0"
    return None


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


class LoggingSettings(_Strict):
    """``[logging]``: ``format`` "text" (``time LEVEL logger: message job=N ...``) or "json"
    (one object per line); ``level`` (``--log-level`` wins over it). See :mod:`bot.logs`."""

    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("format", "level", mode="before")
    @classmethod
    def _case(cls, value: Any, info: Any) -> Any:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "level" else value.lower()


class Settings(_Strict):
    """The whole validated configuration."""

    discord: DiscordSettings = DiscordSettings()
    runway: RunwaySettings = RunwaySettings()
    storage: StorageSettings = StorageSettings()
    quota: QuotaSettings = QuotaSettings()
    metrics: MetricsSettings = MetricsSettings()
    logging: LoggingSettings = LoggingSettings()
    models: tuple[ModelSpec, ...] = Field(default_factory=default_catalog)
    """The catalog resolved for ``runway.provider``: the models it serves, its overrides
    applied, ``enabled`` true or false for it. The entries as written are ``catalog``: the
    file's ``[[models]]`` when it has any (they replace the packaged catalog whole), else the
    packaged catalog (``bot/catalog/default.toml``)."""

    _catalog: tuple[ModelSpec, ...] = PrivateAttr(default=())

    @field_validator("models", mode="before")
    @classmethod
    def _models_is_a_list(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            raise ValueError(
                "is a table, not a list of [[models]] entries: a [models.overrides.<provider>] "
                "goes last in a [[models]] entry (the file needs its own catalog for that)"
            )
        return value

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


Loc = tuple[int | str, ...]
Problem = tuple[Loc, str]

_PLACEHOLDER_KEY = "key_" + "0" * 128
"""Stands in for a missing Runway key while looking for the other problems (never used)."""


def _read_secret_file(env_name: str, file_name: str) -> tuple[str | None, str | None]:
    """The stripped secret in the file, or a problem line."""
    try:
        value = Path(file_name).read_text(encoding="utf-8").strip()
    except OSError as exc:
        return None, f"{env_name}_FILE: cannot read {file_name} ({exc.strerror or exc})"
    except UnicodeDecodeError:
        return None, f"{env_name}_FILE: {file_name} is not UTF-8 text"
    if not value:
        return None, f"{env_name}_FILE: {file_name} is empty"
    return value, None


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> list[Problem]:
    problems: list[Problem] = []
    for env_name, (section, key) in ENV_OVERRIDES.items():
        value: str | None = environ.get(env_name)
        file_name = environ.get(f"{env_name}_FILE") if env_name in SECRET_FILES else None
        if not value and file_name:
            value, problem = _read_secret_file(env_name, file_name)
            if problem is not None:
                problems.append(((section, key), problem))
        if value:
            section_data = data.setdefault(section, {})
            if isinstance(section_data, dict):
                section_data[key] = value
    return problems


def _related(a: Loc, b: Loc) -> bool:
    """Whether the problem at ``a`` (found later) may be a consequence of the one at ``b``."""
    if not a:  # the top level's checks are the catalog's, resolved for runway.provider
        return any(b[: len(p)] == p for p in (("models",), ("runway", "provider")))
    if len(a) == 1:  # a section's own check: only RunwaySettings' (the key it needs)
        return a == b[:1] and (a != ("runway",) or b[:2] in (("runway",), ("runway", "api_key")))
    if not b:
        return a[:1] == ("models",)
    if b == ("runway",):  # it was given a stand-in key: only the key's checks follow from it
        return a[:2] == ("runway", "api_key")
    return a[: len(b)] == b or b[: len(a)] == a


_DROP = object()


def _prune(work: dict[str, Any], loc: Loc) -> bool:
    """Take out what a problem is about, so the next round can check the rest."""
    path = [part for part in loc if part != "[key]"]
    if not path:
        return False
    node: Any = work
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return _prune(work, tuple(path[:-1]))
    last = path[-1]
    if len(path) == 1 and last == "runway" and isinstance(node.get(last), dict):
        if node[last].get("api_key") == _PLACEHOLDER_KEY:  # the key was not the problem
            del node[last]
        else:  # RunwaySettings' own check (the key it needs): the fields are fine
            node[last]["api_key"] = _PLACEHOLDER_KEY
        return True
    if isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        node[last] = _DROP
        return True
    if isinstance(node, dict) and last in node:
        del node[last]
        return True
    return _prune(work, tuple(path[:-1]))


def _validate_all(data: dict[str, Any], reported: list[Problem]) -> Settings | None:
    """Validate in rounds until nothing is left to find, so every problem comes out at once:
    pydantic skips a model's own checks when one of its fields fails. Each round takes out
    what was reported and tries again; problems that may only be consequences are dropped."""
    work = copy.deepcopy(data)
    for _ in range(20):
        try:
            return Settings.model_validate(work)
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
        progress = False
        for err in errors:
            loc: Loc = tuple(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if not any(_related(loc, seen) for seen, _ in reported):
                reported.append((loc, f"{_format_loc(loc, work)}: {msg}"))
        for err in errors:
            progress = _prune(work, tuple(err["loc"])) or progress
        if isinstance(work.get("models"), list):
            work["models"] = [m for m in work["models"] if m is not _DROP]
        if not progress:
            break
    try:  # the catalog itself is wrong: the other sections can still be checked
        return Settings.model_validate({k: v for k, v in work.items() if k != "models"})
    except ValidationError:
        return None


def storage_problem(path: Path) -> str | None:
    """Why the bot could not create or write its database at ``path`` (None when it can).
    Creates and removes a temporary file; never the database or its directory."""
    if path.is_dir():
        return f"{path} is a directory: give the database file's path"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return f"cannot write the database file {path}"
    directory = path.absolute().parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    if not directory.is_dir():
        return f"{directory} is not a directory: cannot create the database in it"
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".runway-bot-check-"):
            pass
    except OSError as exc:
        return f"cannot write in {directory} ({exc.strerror or exc})"
    return None


def _raw_model_ids(data: Mapping[str, Any]) -> set[str]:
    models = data.get("models")
    if not isinstance(models, list):
        return set()
    return {m["id"] for m in models if isinstance(m, Mapping) and isinstance(m.get("id"), str)}


def _checks(settings: Settings, data: Mapping[str, Any], check_paths: bool) -> list[Problem]:
    """What pydantic cannot see: the key's shape for its provider, concurrency overrides for
    models that do not exist, and (with ``check_paths``) whether the database can be written."""
    out: list[Problem] = []
    rw = settings.runway
    if rw.api_key is not None:
        key = rw.api_key.get_secret_value()
        where = "check RUNWAY_API_KEY, RUNWAY_API_KEY_FILE or runway.api_key"
        if not key.strip() or any(c.isspace() for c in key):
            out.append((("runway", "api_key"), f"is empty or has spaces in it ({where})"))
        elif rw.provider == "runway" and not RUNWAY_KEY_PATTERN.fullmatch(key):
            out.append(
                (
                    ("runway", "api_key"),
                    f"a Runway key is key_ followed by 128 hex digits ({where}; "
                    'a CometAPI key needs provider = "cometapi")',
                )
            )
    known = (
        _raw_model_ids(data)
        if isinstance(data.get("models"), list)
        else {m.id for m in settings.catalog}
    )
    for model_id in rw.concurrency_overrides:
        if model_id not in known:
            out.append(
                (
                    ("runway", "concurrency_overrides", model_id),
                    f"unknown model {model_id!r} (the catalog has {', '.join(sorted(known))})",
                )
            )
    if check_paths:
        problem = storage_problem(settings.storage.path)
        if problem is not None:
            out.append((("storage", "path"), problem))
    return out


def parse_settings(
    data: dict[str, Any], environ: Mapping[str, str] | None = None, *, check_paths: bool = False
) -> Settings:
    """Validate already-parsed TOML data (plus environment secrets) into Settings.

    Every problem is reported at once (``ConfigError.problems``, one line each, never a
    secret). ``check_paths`` also checks that the database's directory can be written."""
    problems = _apply_env(data, os.environ if environ is None else environ)
    reported: list[Problem] = [(loc, line) for loc, line in problems]
    settings = _validate_all(data, reported)
    if settings is not None:
        for loc, msg in _checks(settings, data, check_paths):
            if not any(_related(loc, seen) for seen, _ in reported):
                reported.append((loc, f"{_format_loc(loc, data)}: {msg}"))
    if reported:
        raise ConfigError([line for _, line in reported])
    assert settings is not None
    return settings


def check_warnings(settings: Settings) -> list[str]:
    """``check-config``'s warnings: ``Settings.warnings`` and a missing or odd Discord token."""
    out = settings.warnings()
    token = settings.discord.token
    if token is None:
        out.append(
            "discord.token is not set: run will refuse to start "
            "(set DISCORD_TOKEN, DISCORD_TOKEN_FILE or discord.token)"
        )
    elif not DISCORD_TOKEN_PATTERN.fullmatch(token.get_secret_value()):
        out.append(
            "discord.token does not look like a bot token (three parts separated by dots, "
            "from the Developer Portal's Bot page): Discord will likely refuse it"
        )
    return out


def load_settings(
    path: str | Path, environ: Mapping[str, str] | None = None, *, check_paths: bool = False
) -> Settings:
    """Read and validate a TOML configuration file (see :func:`parse_settings`)."""
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
    return parse_settings(data, environ, check_paths=check_paths)


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
        f"storage: {settings.storage.describe()}",
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
