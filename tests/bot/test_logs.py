"""Structured logs (bot/logs.py): job fields, text and JSON lines, redaction, configuration."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import cli
from bot.config import ConfigError, LoggingSettings, parse_settings
from bot.domain import JobState
from bot.logs import (
    JobContextFilter,
    JsonFormatter,
    Redactor,
    TextFormatter,
    configure_logging,
    current_job,
    job_context,
    set_job_context,
    setup_from_cli,
    update_job_context,
)
from bot.simulator import Fault
from tests.bot.conftest import image_input, new_animate
from tests.bot.worker.harness import Harness

TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.discord-token-for-tests"
API_KEY = "key_" + "0123456789abcdef" * 8


class Lines:
    """A handler on a private logger: the formatted lines, text or JSON."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.handler.addFilter(JobContextFilter())

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("tests.logs")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    log.handlers.clear()
    log.propagate = True
    log.setLevel(logging.NOTSET)


def _attach(log: logging.Logger, formatter: logging.Formatter) -> Lines:
    lines = Lines(formatter)
    log.addHandler(lines.handler)
    return lines


def test_text_lines_carry_the_job_fields_only_inside_a_job(logger: logging.Logger) -> None:
    out = _attach(logger, TextFormatter())
    logger.info("before")
    with job_context(7, user_id=1000, guild_id=55):
        logger.info("during %s", "poll")
    logger.info("after")
    before, during, after = out.lines()
    assert before.endswith("INFO    tests.logs: before")
    assert during.endswith("tests.logs: during poll job=7 user=1000 guild=55")
    assert after.endswith("tests.logs: after")
    assert current_job().job_id is None


def test_unknown_fields_are_left_out_of_text_and_null_in_json(logger: logging.Logger) -> None:
    text = _attach(logger, TextFormatter())
    js = _attach(logger, JsonFormatter())
    with job_context(3):  # a DM: no guild; user not read yet
        logger.warning("dm job")
    logger.warning("no job")
    assert text.lines()[0].endswith("dm job job=3")
    first, second = (json.loads(line) for line in js.lines())
    assert (first["job_id"], first["user_id"], first["guild_id"]) == (3, None, None)
    assert (second["job_id"], second["user_id"], second["guild_id"]) == (None, None, None)


def test_json_lines_parse_and_hold_every_field(logger: logging.Logger) -> None:
    out = _attach(logger, JsonFormatter())
    with job_context(12, user_id=4, guild_id=9):
        logger.error("line one\nline two")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("step failed")
    lines = out.lines()
    assert len(lines) == 2  # one object per line, newlines escaped
    plain, failed = (json.loads(line) for line in lines)
    assert plain["message"] == "line one\nline two"
    assert plain["level"] == "ERROR" and plain["logger"] == "tests.logs"
    assert plain["time"].endswith("Z") and "T" in plain["time"]
    assert (plain["job_id"], plain["user_id"], plain["guild_id"]) == (12, 4, 9)
    assert "exc_info" not in plain
    assert "ValueError: boom" in failed["exc_info"] and "Traceback" in failed["exc_info"]


async def test_tasks_created_inside_a_job_context_inherit_it(logger: logging.Logger) -> None:
    out = _attach(logger, JsonFormatter())

    async def step() -> None:
        await asyncio.sleep(0)
        logger.info("in task")

    async def own_job() -> None:
        set_job_context(99)  # a task's context is its own copy: no reset needed
        logger.info("other task")

    with job_context(5, user_id=6, guild_id=7):
        task = asyncio.create_task(step())
    await task
    await asyncio.create_task(own_job())
    logger.info("outside")
    docs = [json.loads(line) for line in out.lines()]
    assert [(d["message"], d["job_id"]) for d in docs] == [
        ("in task", 5),
        ("other task", 99),
        ("outside", None),
    ]
    assert (docs[0]["user_id"], docs[0]["guild_id"]) == (6, 7)


def test_update_fills_user_and_guild_of_the_same_job_only() -> None:
    with job_context(1):
        update_job_context(2, user_id=20, guild_id=200)  # another job's record
        assert current_job().user_id is None
        update_job_context(1, user_id=10, guild_id=100)
        assert (current_job().user_id, current_job().guild_id) == (10, 100)
    update_job_context(1, user_id=10)  # no job in this context: nothing set
    assert current_job().job_id is None


# -- redaction -----------------------------------------------------------------------------


def test_redactor_removes_each_kind_of_secret() -> None:
    redact = Redactor([TOKEN, "sk-configured-secret", None, ""])
    payload = base64.b64encode(b"\x89PNG" + b"x" * 96).decode()
    text = (
        f"token {TOKEN}; key sk-configured-secret; Authorization: Bearer abc.DEF-123_x=; "
        f"other {API_KEY}; image data:image/png;base64,{payload} end"
    )
    out = redact(text)
    for secret in (TOKEN, "sk-configured-secret", "abc.DEF-123_x", API_KEY, payload):
        assert secret not in out
    assert "Bearer [redacted]" in out
    assert "data:image/png;base64,[data URI, 100 bytes] end" in out
    assert out.count("[redacted]") == 4
    assert redact("a plain line about job 4") == "a plain line about job 4"


def test_short_configured_secrets_are_not_used_to_mangle_text() -> None:
    assert Redactor(["ab"])("tab cab") == "tab cab"


@pytest.mark.parametrize("formatter", [TextFormatter, JsonFormatter])
def test_secrets_are_redacted_in_messages_arguments_and_tracebacks(
    logger: logging.Logger, formatter: type[TextFormatter] | type[JsonFormatter]
) -> None:
    out = _attach(logger, formatter(Redactor([TOKEN, API_KEY])))
    uri = "data:video/mp4;base64," + base64.b64encode(b"\0" * 30).decode()
    logger.info("token %s, key %s", TOKEN, API_KEY)
    logger.info("sent {'promptImage': '%s'}", uri)
    logger.info("headers {'Authorization': 'Bearer tok_live_123456'}")
    try:
        raise RuntimeError(f"request failed with {uri} and Bearer tok_in_traceback and {TOKEN}")
    except RuntimeError:
        logger.exception("step failed")
    text = out.stream.getvalue()
    for secret in (TOKEN, API_KEY, uri, "tok_live_123456", "tok_in_traceback"):
        assert secret not in text
    assert "[data URI, 30 bytes]" in text
    assert "RuntimeError" in text
    if formatter is JsonFormatter:
        docs = [json.loads(line) for line in out.lines()]
        assert "[data URI, 30 bytes]" in docs[-1]["exc_info"]
        assert "[redacted]" in docs[-1]["exc_info"]


# -- configuration ---------------------------------------------------------------------------


@pytest.fixture
def root_alone() -> Iterator[logging.Logger]:
    """The root logger as it is after :func:`_alone`, restored afterwards."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = saved
    root.setLevel(level)


def _alone(root: logging.Logger) -> None:
    """Drop the root handlers (pytest adds its own at the start of each test body)."""
    root.handlers.clear()


def test_logging_settings_default_and_validate() -> None:
    assert parse_settings({}, environ={}).logging == LoggingSettings(format="text", level="INFO")
    parsed = parse_settings({"logging": {"format": "JSON", "level": "debug"}}, environ={})
    assert (parsed.logging.format, parsed.logging.level) == ("json", "DEBUG")
    with pytest.raises(ConfigError, match=r"logging\.format"):
        parse_settings({"logging": {"format": "xml"}}, environ={})


def test_config_selects_json_and_its_secrets_are_redacted(
    tmp_path: Path, root_alone: logging.Logger
) -> None:
    _alone(root_alone)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[logging]\nformat = "json"\nlevel = "WARNING"\n[runway]\napi_key = "{API_KEY}"\n',
        encoding="utf-8",
    )
    stream = io.StringIO()
    setup_from_cli(str(config), None, stream=stream, environ={"DISCORD_TOKEN": TOKEN})
    log = logging.getLogger("tests.logsetup.config")
    log.info("not shown")
    with job_context(8, user_id=2, guild_id=3):
        log.warning("key %s token %s", API_KEY, TOKEN)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    (line,) = lines
    doc = json.loads(line)
    assert doc["message"] == "key [redacted] token [redacted]"
    assert (doc["job_id"], doc["user_id"], doc["guild_id"]) == (8, 2, 3)
    assert root_alone.level == logging.WARNING


def test_cli_log_level_wins_over_the_config(tmp_path: Path, root_alone: logging.Logger) -> None:
    _alone(root_alone)
    config = tmp_path / "config.toml"
    config.write_text('[logging]\nlevel = "ERROR"\n', encoding="utf-8")
    stream = io.StringIO()
    setup_from_cli(str(config), "DEBUG", stream=stream, environ={})
    assert root_alone.level == logging.DEBUG
    logging.getLogger("tests.logsetup.cli").debug("shown")
    assert stream.getvalue().rstrip().endswith("tests.logsetup.cli: shown")


def test_a_broken_or_missing_config_falls_back_to_text_info(
    tmp_path: Path, root_alone: logging.Logger
) -> None:
    _alone(root_alone)
    bad = tmp_path / "bad.toml"
    bad.write_text('[logging]\nformat = "xml"\n', encoding="utf-8")
    for path in (str(bad), str(tmp_path / "missing.toml"), None):
        stream = io.StringIO()
        setup_from_cli(path, None, stream=stream, environ={})
        assert root_alone.level == logging.INFO
        logging.getLogger("tests.logsetup.fallback").info("plain")
        assert stream.getvalue().rstrip().endswith("tests.logsetup.fallback: plain")
    assert len(root_alone.handlers) == 1  # each call replaced the previous handler


def test_the_cli_configures_logging_from_the_config_and_option(
    tmp_path: Path, root_alone: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    _alone(root_alone)
    config = tmp_path / "config.toml"
    config.write_text('[logging]\nformat = "json"\nlevel = "ERROR"\n', encoding="utf-8")
    assert cli.main(["check-config", "--config", str(config)]) == 0
    assert root_alone.level == logging.ERROR
    (handler,) = root_alone.handlers
    assert isinstance(handler.formatter, JsonFormatter)
    assert cli.main(["--log-level", "DEBUG", "check-config", "--config", str(config)]) == 0
    assert root_alone.level == logging.DEBUG
    logging.getLogger("tests.logsetup.main").debug("to stderr")
    assert json.loads(capsys.readouterr().err.splitlines()[-1])["message"] == "to stderr"


def test_someone_elses_root_handlers_are_left_alone(root_alone: logging.Logger) -> None:
    _alone(root_alone)
    other = logging.NullHandler()
    root_alone.addHandler(other)
    assert configure_logging("DEBUG") is None
    assert root_alone.handlers == [other]
    assert configure_logging("DEBUG", force=True) is not None
    assert len(root_alone.handlers) == 2


# -- the worker --------------------------------------------------------------------------------


async def test_a_line_logged_during_a_poll_names_the_job(harness: Harness) -> None:
    h = harness
    worker_log = logging.getLogger("bot.worker")
    out = Lines(JsonFormatter())
    worker_log.addHandler(out.handler)
    try:
        job = await h.engine.jobs.create(
            new_animate(1000, duration=2, inputs=(image_input(640, 360),))
        )
        w = h.worker()
        await h.cycle(w, 0)  # submitted
        assert (await h.job(job.id)).state is JobState.RUNNING
        h.sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks", status=500, times=4))
        for _ in range(5):
            await h.cycle(w)
    finally:
        worker_log.removeHandler(out.handler)
    docs = [json.loads(line) for line in out.lines()]
    polls = [d for d in docs if d["message"].startswith(f"poll of job {job.id} failed")]
    assert polls, (docs, h.sim.request_log)
    assert all(d["job_id"] == job.id for d in polls)
    assert all(d["user_id"] == 1000 and d["guild_id"] == job.guild_id for d in polls)
