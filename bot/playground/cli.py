"""``runway-bot playground``: start everything, print the page's URL, serve until Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
import webbrowser
from pathlib import Path

from bot.instance import InstanceBusy
from bot.playground.session import Playground


async def _serve(playground: Playground, open_browser: bool) -> int:
    started = time.monotonic()
    try:
        url = await playground.start()
    except InstanceBusy as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"the playground cannot start: {exc}", file=sys.stderr)
        if playground.port:
            print(f"(is port {playground.port} in use? try --port 0)", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        took = time.monotonic() - started
        print(f"Runway bot playground: {url}  (ready in {took:.1f} s; Ctrl-C stops it)", flush=True)
        if playground.data_dir is not None:
            print(f"data directory: {playground.data_dir}", flush=True)
        if open_browser:
            webbrowser.open(url)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await playground.stop()
    return 0


def main_playground(*, port: int, open_browser: bool, data: str | None) -> int:
    """Run the playground on 127.0.0.1 until SIGINT or SIGTERM; returns the exit code."""
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # one line per request
    playground = Playground(Path(data) if data else None, port=port)
    return asyncio.run(_serve(playground, open_browser))
