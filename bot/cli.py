"""The ``runway-bot`` command line: run, simulate, check-config, sync-commands, doctor, and the
operator commands (jobs, quota, backup) that work on the database beside a running bot."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from .config import ConfigError, Settings, check_warnings, load_settings, summarize
from .domain import UserError
from .logs import setup_from_cli
from .operator import OperatorError, Outcome, Services, open_services
from .operator import backup as op_backup
from .operator import doctor as op_doctor
from .operator import jobs as op_jobs
from .operator import migrate_store as op_migrate
from .operator import quota as op_quota

DEFAULT_CONFIG = "config.toml"
DIST_NAME = "runway-discord-bot"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

log = logging.getLogger(__name__)


def _load_or_report(path: str, *, check_paths: bool = False) -> Settings | None:
    try:
        return load_settings(path, check_paths=check_paths)
    except ConfigError as exc:
        print(f"invalid configuration in {path}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def _cmd_check_config(args: argparse.Namespace) -> int:
    settings = _load_or_report(args.config, check_paths=True)
    if settings is None:
        return 2
    print(f"{args.config}: OK")
    for line in summarize(settings):
        print(f"  {line}")
    for warning in check_warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    # the same checks as check-config, the database's directory too: refuse before connecting
    settings = _load_or_report(args.config, check_paths=True)
    if settings is None:
        return 2
    from .app import main_run  # imports discord: only when running the bot

    return main_run(settings)


def _cmd_sync(args: argparse.Namespace) -> int:
    settings = _load_or_report(args.config)
    if settings is None:
        return 2
    from .app import main_sync

    guild_id = args.guild
    if guild_id is None and not args.global_:
        guild_id = settings.discord.dev_guild_id
    return main_sync(settings, guild_id=guild_id, dry_run=args.dry_run)


def _cmd_playground(args: argparse.Namespace) -> int:
    from .playground.cli import main_playground  # imports discord: only for the playground

    return main_playground(port=args.port, open_browser=args.open, data=args.data)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .simulator.serve import serve_from_args

    return serve_from_args(args)


def package_version() -> str:
    """The installed package's version (``unknown`` when running from an uninstalled tree)."""
    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        return "unknown"


# -- the operator commands -------------------------------------------------------------------

Action = Callable[[Services, argparse.Namespace], Awaitable[Outcome]]


def _emit(args: argparse.Namespace, outcome: Outcome) -> int:
    if args.json:
        print(json.dumps(outcome.data, indent=2, sort_keys=False, ensure_ascii=False))
    else:
        for line in outcome.lines:
            print(line)
    return outcome.exit_code


def _refuse(args: argparse.Namespace, message: str, code: str, exit_code: int) -> int:
    """One line on stderr; with ``--json`` also the error as the one document on stdout."""
    action = getattr(args, "jobs_command", None) or getattr(args, "quota_command", None)
    name = f"{args.command} {action}" if action else args.command
    print(f"runway-bot {name}: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False))
    return exit_code


def _operate(
    args: argparse.Namespace, produce: Callable[[Settings], Coroutine[Any, Any, Outcome]]
) -> int:
    settings = _load_or_report(args.config)
    if settings is None:
        if args.json:
            message = f"invalid configuration in {args.config}"
            print(json.dumps({"error": {"code": "config", "message": message}}))
        return 2
    try:
        outcome = asyncio.run(produce(settings))
    except OperatorError as exc:
        return _refuse(args, exc.message, exc.code, exc.exit_code)
    except UserError as exc:  # the services' refusals: their messages are safe to show
        return _refuse(args, exc.message, str(getattr(exc, "code", "invalid")), 2)
    except Exception as exc:  # never a traceback for the operator; --log-level DEBUG has it
        log.debug("operator command failed", exc_info=True)
        return _refuse(args, f"failed: {type(exc).__name__}: {exc}", "internal", 1)
    return _emit(args, outcome)


def _with_services(action: Action) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        async def produce(settings: Settings) -> Outcome:
            async with open_services(settings) as svc:
                return await action(svc, args)

        return _operate(args, produce)

    return command


async def _jobs_list(svc: Services, args: argparse.Namespace) -> Outcome:
    return await op_jobs.list_jobs(svc, user_id=args.user, state=args.state, limit=args.limit)


async def _jobs_show(svc: Services, args: argparse.Namespace) -> Outcome:
    return await op_jobs.show_job(svc, args.id)


async def _jobs_cancel(svc: Services, args: argparse.Namespace) -> Outcome:
    return await op_jobs.cancel_job(svc, args.id)


async def _jobs_retry(svc: Services, args: argparse.Namespace) -> Outcome:
    return await op_jobs.retry_job(svc, args.id, role_ids=args.role)


async def _quota_show(svc: Services, args: argparse.Namespace) -> Outcome:
    return await op_quota.show_quota(svc, args.guild, args.user, role_ids=args.role)


async def _quota_set(svc: Services, args: argparse.Namespace) -> Outcome:
    return await op_quota.set_quota(svc, args.guild, args.user, args.limit, role_ids=args.role)


async def _quota_grant(svc: Services, args: argparse.Namespace) -> Outcome:
    return await op_quota.grant_quota(svc, args.guild, args.user, args.amount, role_ids=args.role)


async def _quota_reset(svc: Services, args: argparse.Namespace) -> Outcome:
    return await op_quota.reset_quota(svc, args.guild, args.user, role_ids=args.role)


def _cmd_backup(args: argparse.Namespace) -> int:
    async def produce(settings: Settings) -> Outcome:
        return op_backup.run_backup(settings, Path(args.path), force=args.force, stderr=sys.stderr)

    return _operate(args, produce)


def _cmd_migrate_store(args: argparse.Namespace) -> int:
    target = args.to or os.environ.get("RUNWAY_BOT_DATABASE_URL", "")
    try:
        outcome = op_migrate.migrate_store(
            args.source, target, replace=args.replace, stderr=sys.stderr
        )
    except OperatorError as exc:
        return _refuse(args, exc.message, exc.code, exc.exit_code)
    except Exception as exc:  # never a traceback for the operator; --log-level DEBUG has it
        log.debug("migrate-store failed", exc_info=True)
        return _refuse(args, f"failed: {type(exc).__name__}: {exc}", "internal", 1)
    return _emit(args, outcome)


def _cmd_doctor(args: argparse.Namespace) -> int:
    try:
        from .app import doctor_discord  # the Discord layer, loaded only for this command

        outcome = asyncio.run(op_doctor.run_doctor(args.config, doctor_discord))
    except Exception as exc:  # never a traceback for the operator; --log-level DEBUG has it
        log.debug("doctor failed", exc_info=True)
        return _refuse(args, f"failed: {type(exc).__name__}", "internal", 1)
    return _emit(args, outcome)


# -- the parser --------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Argument mistakes as one line (and exit code 2), not the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _common(config_default: str | None) -> _Parser:
    """``--config`` and ``--log-level``, accepted before and after the sub-command.

    Both default to SUPPRESS so a value given after the sub-command wins and one given
    before it is not overwritten; :func:`main` fills in the defaults.
    """
    common = _Parser(add_help=False)
    if config_default is None:
        config_help = "take the model catalog from this configuration file (default: none)"
    else:
        config_help = (
            f"the configuration file (TOML; default: {config_default} in the working "
            "directory; the database is its storage.path, RUNWAY_BOT_DATABASE overrides it)"
        )
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=config_help)
    common.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=argparse.SUPPRESS,
        help="how much to log on stderr (default: INFO)",
    )
    return common


def _json_option() -> _Parser:
    parent = _Parser(add_help=False)
    parent.add_argument(
        "--json", action="store_true", help="print one JSON document instead of text"
    )
    return parent


def _member_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--guild", type=int, required=True, metavar="G", help="the guild (server) id"
    )
    parser.add_argument("--user", type=int, required=True, metavar="U", help="the member's user id")
    parser.add_argument(
        "--role",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="a role id of the member, for role limits (repeat; the command line cannot ask "
        "Discord which roles the member has)",
    )


def _add_jobs(sub: Any, parents: list[_Parser]) -> None:
    jobs = sub.add_parser(
        "jobs",
        help="list, show, cancel or retry jobs (works while the bot runs)",
        description="Jobs in the database; works while the bot runs.",
        parents=parents[:1],
    )
    jsub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    lst = jsub.add_parser("list", help="the most recent jobs, newest first", parents=parents)
    lst.add_argument("--user", type=int, default=None, metavar="ID", help="only this user's jobs")
    lst.add_argument(
        "--state",
        default=None,
        help="only jobs in this state: queued, submitting, running, succeeded, failed, "
        "cancelled or in_doubt",
    )
    lst.add_argument("--limit", type=int, default=20, metavar="N", help="at most N jobs (20)")
    lst.set_defaults(func=_with_services(_jobs_list))
    show = jsub.add_parser("show", help="everything stored about one job", parents=parents)
    show.add_argument("id", type=int, metavar="ID", help="the job id")
    show.set_defaults(func=_with_services(_jobs_show))
    cancel = jsub.add_parser(
        "cancel",
        help="cancel a job as an admin: refunds at once; the running bot's worker cancels the "
        "task at Runway on its next pass",
        parents=parents,
    )
    cancel.add_argument("id", type=int, metavar="ID", help="the job id")
    cancel.set_defaults(func=_with_services(_jobs_cancel))
    retry = jsub.add_parser(
        "retry",
        help="a new job from a failed or in-doubt job's stored inputs and seed, for its own user "
        "(quota checked again)",
        parents=parents,
    )
    retry.add_argument("id", type=int, metavar="ID", help="the failed or in-doubt job's id")
    retry.add_argument(
        "--role",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="a role id of the user, for role limits (repeat)",
    )
    retry.set_defaults(func=_with_services(_jobs_retry))


def _add_quota(sub: Any, parents: list[_Parser]) -> None:
    quota = sub.add_parser(
        "quota",
        help="show or change one member's quota in a guild (works while the bot runs)",
        description="One member's quota in one guild; works while the bot runs.",
        parents=parents[:1],
    )
    qsub = quota.add_subparsers(dest="quota_command", required=True, metavar="ACTION")
    show = qsub.add_parser("show", help="limit, use and what is left this period", parents=parents)
    _member_options(show)
    show.set_defaults(func=_with_services(_quota_show))
    put = qsub.add_parser("set", help="override the member's limit", parents=parents)
    _member_options(put)
    put.add_argument(
        "--limit",
        required=True,
        metavar="N|unlimited|blocked",
        help=f"the new limit: {op_quota.LIMIT_HELP}",
    )
    put.set_defaults(func=_with_services(_quota_set))
    grant = qsub.add_parser(
        "grant", help="add a bonus on top of the limit for this period", parents=parents
    )
    _member_options(grant)
    grant.add_argument("amount", metavar="AMOUNT", help="the bonus, more than 0 (quota units)")
    grant.set_defaults(func=_with_services(_quota_grant))
    reset = qsub.add_parser(
        "reset",
        help="forget the member's use and bonus this period (active jobs stay reserved)",
        parents=parents,
    )
    _member_options(reset)
    reset.set_defaults(func=_with_services(_quota_reset))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    common = _common(DEFAULT_CONFIG)
    operator = [common, _json_option()]
    parser = _Parser(
        prog="runway-bot",
        description="A Discord bot that makes video with Runway.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="connect to Discord and serve commands", parents=[common])
    run.set_defaults(func=_cmd_run)

    check = sub.add_parser(
        "check-config", help="validate a configuration file and summarize it", parents=[common]
    )
    check.set_defaults(func=_cmd_check_config)

    sync = sub.add_parser(
        "sync-commands", help="register the slash commands with Discord", parents=[common]
    )
    scope = sync.add_mutually_exclusive_group()
    scope.add_argument("--guild", type=int, default=None, help="sync to one guild only (instant)")
    scope.add_argument(
        "--global",
        dest="global_",
        action="store_true",
        help="sync globally even when discord.dev_guild_id is set",
    )
    sync.add_argument(
        "--dry-run", action="store_true", help="print the command payloads as JSON, send nothing"
    )
    sync.set_defaults(func=_cmd_sync)

    _add_jobs(sub, operator)
    _add_quota(sub, operator)

    backup = sub.add_parser(
        "backup",
        help="copy the database to PATH with SQLite's online backup (safe while the bot runs)",
        parents=operator,
    )
    backup.add_argument("path", metavar="PATH", help="the backup file to write")
    backup.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    backup.set_defaults(func=_cmd_backup)

    migrate = sub.add_parser(
        "migrate-store",
        help="copy a stopped bot's SQLite database into PostgreSQL and check the copy",
        description="Copies every table (jobs and their inputs, limits, usage, ledger, server "
        "settings, audit), then compares row counts and credit totals; exit 0 when they match, "
        "1 when not, 2 when refused (a bot holds the source, the target holds data).",
        parents=operator,
    )
    migrate.add_argument(
        "--from", dest="source", required=True, metavar="sqlite:PATH", help="the SQLite file"
    )
    migrate.add_argument(
        "--to",
        metavar="URL",
        help="postgresql://user:password@host/database (default: RUNWAY_BOT_DATABASE_URL, "
        "which keeps the password out of the process list)",
    )
    migrate.add_argument(
        "--replace", action="store_true", help="delete what the target database holds first"
    )
    migrate.set_defaults(func=_cmd_migrate_store)

    doctor = sub.add_parser(
        "doctor",
        help="check the configuration, database, Runway key and Discord token and permissions",
        description="One line per check (OK, WARN or FAIL); exit 0 without a FAIL, 1 with one, "
        "2 when the configuration does not load. Never prints a secret.",
        parents=operator,
    )
    doctor.set_defaults(func=_cmd_doctor)

    play = sub.add_parser(
        "playground",
        help="try the bot in a browser: a local Discord, the Runway simulator and the bot, "
        "no token or account needed",
    )
    play.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=argparse.SUPPRESS,
        help="how much to log on stderr (default: INFO)",
    )
    play.add_argument("--port", type=int, default=8080, help="the page's port on 127.0.0.1")
    play.add_argument("--open", action="store_true", help="open the page in a browser")
    play.add_argument(
        "--data", metavar="DIR", default=None, help="keep the database here (default: throwaway)"
    )
    play.set_defaults(func=_cmd_playground, config_default=None)

    sim = sub.add_parser(
        "simulate", help="serve the Runway simulator over HTTP", parents=[_common(None)]
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--provider", choices=["runway", "cometapi"], default="runway")
    sim.add_argument(
        "--api-key",
        default=None,
        help="accept only this key; when not given, the RUNWAY_API_KEY environment variable "
        "is used if set (prefer it: a command-line key shows in ps), else any key is accepted",
    )
    sim.add_argument("--task-seconds", type=float, default=20.0)
    sim.add_argument("--time-scale", type=float, default=1.0)
    sim.add_argument(
        "--throttle",
        default=None,
        help="per-model concurrency before THROTTLED, e.g. '2' or 'gen4_turbo=1,veo3.1=3'",
    )
    sim.set_defaults(func=_cmd_simulate, config_default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``runway-bot`` and ``python -m bot``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits (SystemExit) for --help, --version and mistakes
    if not hasattr(args, "config"):
        args.config = getattr(args, "config_default", DEFAULT_CONFIG)
    # [logging] from the configuration; --log-level wins over its level (bot.logs)
    setup_from_cli(args.config, getattr(args, "log_level", None))
    if not hasattr(args, "log_level"):
        args.log_level = "INFO"
    code: int = args.func(args)
    return code
