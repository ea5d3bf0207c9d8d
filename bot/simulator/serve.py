"""``runway-bot simulate``: serve the simulator over HTTP until SIGINT/SIGTERM.

``bot.cli`` parses the command line; this module turns the parsed arguments into
``SimulatorOptions`` and serves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from ..catalog import default_catalog
from ..config import ConfigError, load_settings
from .server import RunwaySimulator, SimulatorOptions
from .tasks import parse_throttle

__all__ = ["serve_from_args"]


def serve_from_args(args: argparse.Namespace) -> int:
    """``runway-bot simulate``: serve the simulator until SIGINT/SIGTERM (the accepted key:
    --api-key, else RUNWAY_API_KEY, else any)."""
    try:
        # The models the simulated service serves, with its own limits (CometAPI's for
        # gen3a_turbo, say): that service's view of the catalog, whatever the bot enables.
        models = default_catalog(provider=args.provider)
        default_concurrency = 2
        if args.config:
            settings = load_settings(args.config)
            models = settings.catalog_for(args.provider)
            default_concurrency = settings.runway.simulator.concurrency_per_model
        concurrency = parse_throttle(args.throttle, default_concurrency)
    except ConfigError as exc:
        print(f"invalid configuration in {args.config}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    # A key from the environment stays out of ``ps``, unlike --api-key.
    api_key = args.api_key or os.environ.get("RUNWAY_API_KEY") or None
    options = SimulatorOptions(
        provider=args.provider,
        api_key=api_key,
        models=models,
        task_seconds=args.task_seconds,
        time_scale=args.time_scale,
        concurrency=concurrency,
    )

    async def serve() -> None:
        sim = RunwaySimulator(options)
        url = await sim.start(args.host, args.port)
        print(f"Runway simulator ({options.provider}) listening on {url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await sim.stop()

    asyncio.run(serve())
    return 0
