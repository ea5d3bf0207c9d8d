"""Run the bot's CLI with the worker's timing schedule compressed (for end-to-end tests).

    python -m tests.e2e.runbot --worker-time-scale 0.04 -- run --config cfg.toml

Everything after ``--`` goes to ``bot.cli.main`` unchanged. The worker's poll floor
(5 s), lease (120 s) and longest idle sleep (60 s) are multiplied by the scale, so its whole
schedule (poll pace, back-off, lease expiry and the in-doubt sweep after a crash) shrinks in
proportion, as the Runway simulator's ``time_scale`` shrinks a task's run. Nothing else
about the bot changes.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def compress_worker_schedule(scale: float) -> None:
    """Make every :class:`bot.worker.Worker` built from now on use a scaled schedule."""
    from bot import worker
    from bot.worker.scheduling import MIN_POLL_SECONDS

    original = worker.Worker.__init__
    default_lease = 120.0
    default_idle = 60.0

    def init(self: worker.Worker, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("poll_floor_seconds", MIN_POLL_SECONDS * scale)
        kwargs.setdefault("lease_seconds", default_lease * scale)
        kwargs.setdefault("idle_seconds", default_idle * scale)
        original(self, *args, **kwargs)

    worker.Worker.__init__ = init  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, rest = args[:cut], args[cut + 1 :]
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.runbot")
    parser.add_argument("--worker-time-scale", type=float, default=1.0)
    options = parser.parse_args(args)
    if options.worker_time_scale != 1.0:
        compress_worker_schedule(options.worker_time_scale)
    from bot.cli import main as bot_main

    return bot_main(rest)


if __name__ == "__main__":
    raise SystemExit(main())
