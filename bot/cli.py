"""The ``runway-bot`` command line: run, simulate, check-config, sync-commands."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .config import ConfigError, Settings, load_settings, summarize

DEFAULT_CONFIG = "config.toml"


def _load_or_report(path: str) -> Settings | None:
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(f"invalid configuration in {path}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def _cmd_check_config(args: argparse.Namespace) -> int:
    settings = _load_or_report(args.config)
    if settings is None:
        return 2
    print(f"{args.config}: OK")
    for line in summarize(settings):
        print(f"  {line}")
    for warning in settings.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    settings = _load_or_report(args.config)
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


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .simulator.serve import serve_from_args

    return serve_from_args(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="runway-bot", description="A Discord bot that makes video with Runway."
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="connect to Discord and serve commands")
    run.add_argument("--config", default=DEFAULT_CONFIG)
    run.set_defaults(func=_cmd_run)

    check = sub.add_parser("check-config", help="validate a configuration file and summarize it")
    check.add_argument("--config", default=DEFAULT_CONFIG)
    check.set_defaults(func=_cmd_check_config)

    sync = sub.add_parser("sync-commands", help="register the slash commands with Discord")
    sync.add_argument("--config", default=DEFAULT_CONFIG)
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

    sim = sub.add_parser("simulate", help="serve the Runway simulator over HTTP")
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
    sim.add_argument("--config", default=None, help="take the model catalog from this config file")
    sim.set_defaults(func=_cmd_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``runway-bot`` and ``python -m bot``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    code: int = args.func(args)
    return code
