"""Run the bot's CLI on a virtual clock (for end-to-end tests).

    python -m tests.e2e.runbot --time-factor 25 [--time-start S --time-epoch E] -- run ...

Everything after ``--`` goes to ``bot.cli.main`` unchanged. Before that, a
:class:`bot.clock.VirtualClock` running ``factor`` times faster than real time is installed
for the process, so ``runway-bot run`` serves on a :class:`bot.clock.VirtualTimeLoop`: the
worker's production schedule (5 s poll floor, 120 s lease, 60 s idle sleep), the Runway
client's timeouts, discord.py's sleeps and rate-limit waits, and every timestamp the bot stores
all run ``factor`` times faster, in proportion, as the Runway simulator at the same
``time_scale`` does. Nothing else about the bot changes. ``--time-start`` (a real
``time.monotonic()`` reading) and ``--time-epoch`` anchor the clock, so a bot killed and
started again carries on the same virtual time instead of going back to the real one.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, rest = args[:cut], args[cut + 1 :]
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.runbot")
    parser.add_argument("--time-factor", type=float, default=1.0)
    parser.add_argument("--time-start", type=float, default=None)
    parser.add_argument("--time-epoch", type=float, default=None)
    options = parser.parse_args(args)
    from bot import clock
    from bot.cli import main as bot_main

    if options.time_factor != 1.0:
        virtual = clock.VirtualClock(
            options.time_factor, start=options.time_start, epoch=options.time_epoch
        )
        clock.install(virtual)
    return bot_main(rest)


if __name__ == "__main__":
    raise SystemExit(main())
