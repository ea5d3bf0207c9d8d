"""Structured logs: the job a line is about, text or JSON output, secrets never written.

- :func:`job_context` (or :func:`set_job_context`) records the job, user and guild the
  current task works on, in a :mod:`contextvars` variable; asyncio tasks copy the context
  when they are created, so setting it inside a job's task (or before creating tasks) marks
  every line logged there. :class:`JobContextFilter` copies the fields onto each
  :class:`logging.LogRecord` (``job_id``, ``user_id``, ``guild_id``; None when unset).
- :class:`TextFormatter` writes ``time LEVEL logger: message`` plus ``job=N user=U guild=G``
  for the fields that are set; :class:`JsonFormatter` one JSON object per line.
- :class:`Redactor` removes secrets from the whole formatted output (message, arguments and
  traceback): the configured Discord token and Runway key, ``Bearer <token>``,
  ``key_`` + 128 hex digits, and the payload of ``data:<mime>;base64,...`` URIs.
- :func:`configure_logging` installs all of it on the root logger; :func:`setup_from_cli` is
  what ``runway-bot`` calls (the ``[logging]`` table of the configuration, ``--log-level``
  winning over its ``level``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from .config import ConfigError, load_settings

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
FIELDS = ("job_id", "user_id", "guild_id")
_SHORT = {"job_id": "job", "user_id": "user", "guild_id": "guild"}
_SECRET_ENV = ("DISCORD_TOKEN", "RUNWAY_API_KEY")
_MIN_SECRET_LENGTH = 6  # shorter configured "secrets" would mangle ordinary words


@dataclass(frozen=True, slots=True)
class JobFields:
    """The job a log line is about; any field may be unknown."""

    job_id: int | None = None
    user_id: int | None = None
    guild_id: int | None = None


_current: ContextVar[JobFields | None] = ContextVar("runway_bot_job", default=None)


def current_job() -> JobFields:
    """The fields set in the current context (all None outside a job)."""
    return _current.get() or JobFields()


def set_job_context(
    job_id: int | None = None, *, user_id: int | None = None, guild_id: int | None = None
) -> Token[JobFields | None]:
    """Mark the rest of the current context (task) as working on this job.

    Returns the token for :func:`reset_job_context`; a task that ends with the job need not
    reset it (its context is its own copy).
    """
    return _current.set(JobFields(job_id, user_id, guild_id))


def update_job_context(
    job_id: int, *, user_id: int | None = None, guild_id: int | None = None
) -> None:
    """Add the user and guild once the job's record is read, if the context is about this
    job. Any other context (none, or another job's) is left as it is."""
    fields = _current.get()
    if fields is not None and fields.job_id == job_id:
        _current.set(
            replace(
                fields,
                user_id=fields.user_id if user_id is None else user_id,
                guild_id=fields.guild_id if guild_id is None else guild_id,
            )
        )


def reset_job_context(token: Token[JobFields | None]) -> None:
    """Undo a :func:`set_job_context`."""
    _current.reset(token)


@contextlib.contextmanager
def job_context(
    job_id: int | None = None, *, user_id: int | None = None, guild_id: int | None = None
) -> Iterator[JobFields]:
    """``with job_context(job_id=..., user_id=..., guild_id=...):`` marks the lines logged
    inside (and in tasks created inside) with these fields."""
    token = set_job_context(job_id, user_id=user_id, guild_id=guild_id)
    try:
        yield current_job()
    finally:
        _current.reset(token)


class JobContextFilter(logging.Filter):
    """Copies the current job fields onto every record (never drops one).

    Fields already on the record (``extra={"job_id": ...}``) are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        fields = current_job()
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, getattr(fields, name))
        return True


# -- redaction ----------------------------------------------------------------------------

_BEARER = re.compile(r"(?i)\b(Bearer)\s+[A-Za-z0-9\-._~+/]+=*")
_RUNWAY_KEY = re.compile(r"\bkey_[0-9a-fA-F]{128,}")
_DATA_URI = re.compile(
    r"\bdata:(?P<mime>[\w.+-]+/[\w.+-]+)(?P<params>(?:;[\w.+-]+=[\w.+-]+)*);base64,"
    r"(?P<payload>[A-Za-z0-9+/_-]+=*)"
)
REDACTED = "[redacted]"


def _data_uri(match: re.Match[str]) -> str:
    payload = match.group("payload")
    size = len(payload) * 3 // 4 - (len(payload) - len(payload.rstrip("=")))
    return f"data:{match.group('mime')}{match.group('params')};base64,[data URI, {size} bytes]"


class Redactor:
    """Removes known secrets, bearer tokens, Runway keys and data URI payloads from text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: tuple[str, ...] = ()
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str | None]) -> None:
        """The literal secrets to remove (longest first; short or empty ones are ignored)."""
        kept = {s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}
        self._secrets = tuple(sorted(kept, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if "data:" in text:
            text = _DATA_URI.sub(_data_uri, text)
        if "earer" in text or "EARER" in text:
            text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        if "key_" in text:
            text = _RUNWAY_KEY.sub("key_" + REDACTED, text)
        return text


# -- formatters ---------------------------------------------------------------------------


def _fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The record's fields; from the context when no :class:`JobContextFilter` set them."""
    fields = current_job()
    return {
        name: getattr(record, name) if hasattr(record, name) else getattr(fields, name)
        for name in FIELDS
    }


class TextFormatter(logging.Formatter):
    """Today's ``time LEVEL logger: message``, plus `` job=N user=U guild=G`` when set;
    the whole output (traceback included) redacted."""

    def __init__(self, redactor: Redactor | None = None, fmt: str = TEXT_FORMAT) -> None:
        super().__init__(fmt)
        self.redactor = redactor or Redactor()

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        extra = " ".join(
            f"{_SHORT[name]}={value}"
            for name, value in _fields_of(record).items()
            if value is not None
        )
        return f"{line} {extra}" if extra else line

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO-8601 UTC), level, logger, message, job_id,
    user_id, guild_id, and exc_info / stack_info text when present; every string redacted."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        doc: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redactor(record.getMessage()),
            **_fields_of(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exc_info"] = self.redactor(record.exc_text)
        if record.stack_info:
            doc["stack_info"] = self.redactor(self.formatStack(record.stack_info))
        return json.dumps(doc, ensure_ascii=False, default=str)


# -- installation -------------------------------------------------------------------------


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (tests replace it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


_MARK = "_runway_bot_handler"


def level_number(level: str | int) -> int:
    """``"DEBUG"`` ... ``"CRITICAL"`` (any case) or a number; unknown names mean INFO."""
    if isinstance(level, int):
        return level
    value = logging.getLevelName(str(level).upper())
    return value if isinstance(value, int) else logging.INFO


def configure_logging(
    level: str | int = "INFO",
    fmt: LogFormat = "text",
    *,
    secrets: Iterable[str | None] = (),
    stream: TextIO | None = None,
    force: bool = False,
) -> logging.Handler | None:
    """Install the handler (formatter, job fields, redaction) on the root logger.

    Like :func:`logging.basicConfig`, it leaves a root logger that already has someone
    else's handlers alone unless ``force`` (a handler installed here before is replaced).
    Returns the handler, or None when nothing was installed.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _MARK, False)]
    if len(ours) < len(root.handlers) and not force:
        return None
    for old in ours:
        root.removeHandler(old)
    handler: logging.Handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    setattr(handler, _MARK, True)
    redactor = Redactor(secrets)
    handler.setFormatter(JsonFormatter(redactor) if fmt == "json" else TextFormatter(redactor))
    handler.addFilter(JobContextFilter())
    root.addHandler(handler)
    root.setLevel(level_number(level))
    return handler


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The secrets given through the environment (they may not reach the settings)."""
    env = os.environ if environ is None else environ
    return [env[name] for name in _SECRET_ENV if env.get(name)]


def setup_from_cli(
    config_path: str | None,
    cli_level: str | None,
    *,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> logging.Handler | None:
    """Configure logging for ``runway-bot``: format and level from the configuration's
    ``[logging]`` table when it loads (a broken file is the command's to report; then the
    defaults apply), ``--log-level`` winning over ``level``; the configured token and key,
    and those in the environment, redacted."""
    fmt: LogFormat = "text"
    level = "INFO"
    secrets = env_secrets(environ)
    if config_path is not None and os.path.isfile(config_path):
        try:
            settings = load_settings(config_path, environ)
        except ConfigError:
            pass
        else:
            fmt, level = settings.logging.format, settings.logging.level
            for secret in (settings.discord.token, settings.runway.api_key):
                if secret is not None:
                    secrets.append(secret.get_secret_value())
    return configure_logging(cli_level or level, fmt, secrets=secrets, stream=stream)
