"""Run the fake standalone: python -m bot.fakediscord --port N [--token T] [--seed]."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from bot.fakediscord.server import DEFAULT_APPLICATION_ID, DEFAULT_TOKEN, FakeDiscord


async def _run(args: argparse.Namespace) -> None:
    fake = FakeDiscord(
        token=args.token, application_id=args.application_id, time_scale=args.time_scale
    )
    await fake.start(args.host, args.port)
    info = {
        "base_url": fake.base_url,
        "api_base": fake.api_base,
        "gateway_url": fake.gateway_url,
        "token": fake.token,
        "application_id": str(fake.application_id),
    }
    print(json.dumps(info), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.fakediscord")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--application-id", type=int, default=DEFAULT_APPLICATION_ID)
    parser.add_argument("--time-scale", type=float, default=1.0)
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
