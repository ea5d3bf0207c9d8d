"""Run the bot's CLI with discord.py pointed at a running fake.

    python -m bot.fakediscord.launch --fake http://127.0.0.1:PORT -- run --config cfg.toml

Everything after ``--`` goes to ``bot.cli.main`` unchanged.
"""

from __future__ import annotations

import argparse
import sys

from bot.fakediscord.client import point_discord_py_at


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, rest = args[:cut], args[cut + 1 :]
    parser = argparse.ArgumentParser(prog="python -m bot.fakediscord.launch")
    parser.add_argument("--fake", required=True, help="the fake's base URL, http://127.0.0.1:PORT")
    options = parser.parse_args(args)
    point_discord_py_at(options.fake.rstrip("/"))
    from bot.cli import main as bot_main

    return bot_main(rest)


if __name__ == "__main__":
    raise SystemExit(main())
