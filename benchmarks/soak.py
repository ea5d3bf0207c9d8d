"""Soak: the real bot process under members, faults on both sides and kill -9 restarts.

    python benchmarks/soak.py --minutes 10 --members 200 --seed 1 --factor 10

The bot runs as ``runway-bot run`` in a child process on a virtual clock ``--factor`` times
faster than real time (``tests/e2e/runbot.py``, production constants unchanged); the fake
Discord and the Runway simulator (same factor) run in this process on 127.0.0.1. Members in
three guilds issue /animate, /restyle, the "Animate this image" menu, /usage and /jobs, press
Cancel, Rerun and Retry (their own buttons and others'), and guild owners change quotas.
Faults come from both sides (``_soak_faults``): Runway 429/5xx, timeouts, malformed bodies,
moderation failures, expired output URLs and the gateway dialects; Discord 429s, 5xx after
storing, missing permissions, deleted threads and held calls. The bot is killed with SIGKILL
at random and in the known windows (during the create, the status post, the interaction
ack, the clip upload, and at boot), at least ``--kills-per-10min`` times per ten minutes.

At the end faults stop, the bot drains, and ``_soak_checks`` prints one JSON object: jobs by
final state and the figures that must be zero (lost, posted twice, created twice, quota
drift, stuck, unanswered while connected, secrets), plus the worst recovery time after a
restart. Exit status 1 on any violation (listed under ``violations``). Loopback only; the
whole run is bounded by ``--minutes`` plus ``--drain-seconds`` plus a fixed setup bound, and
a hard timeout ends it whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _soak_checks as checks  # noqa: E402
from _soak_faults import FaultMaker  # noqa: E402
from _soak_world import World, build_world  # noqa: E402

SETUP_BOUND_S = 240.0  # starting the world and the bot; a bound, never a target


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Soak the bot under members, faults and kill -9.")
    p.add_argument("--minutes", type=float, default=10.0, help="soak length in real minutes")
    p.add_argument("--members", type=int, default=200, help="members over the three guilds")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--factor", type=float, default=10.0, help="virtual clock speed-up")
    p.add_argument("--provider", choices=("runway", "cometapi"), default="cometapi")
    p.add_argument("--actions-per-second", type=float, default=1.5, help="all members together")
    p.add_argument("--kills-per-10min", type=float, default=28.0)
    p.add_argument("--drain-seconds", type=float, default=240.0, help="bound on the final drain")
    p.add_argument("--workdir", type=Path, default=None, help="keep logs and the database here")
    return p.parse_args(argv)


async def killer(world: World, rng: random.Random, until: float, per_10min: float) -> None:
    """Kill -9 the bot on a schedule, cycling through the windows, and start it again."""
    windows = ["random", "create", "status_post", "ack", "upload", "boot"]
    mean = 600.0 / per_10min
    i = rng.randrange(len(windows))
    while True:
        # The restart takes time too: aim the next kill so the rate holds.
        await asyncio.sleep(max(1.0, rng.uniform(0.4 * mean, 1.2 * mean)))
        if time.monotonic() >= until:
            return
        window = windows[i % len(windows)]
        i += 1
        await world.kill_in_window(window, rng)


async def soak(options: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(options.seed)
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    world = await asyncio.wait_for(
        build_world(
            workdir,
            members=options.members,
            factor=options.factor,
            provider=options.provider,
            seed=options.seed,
        ),
        SETUP_BOUND_S,
    )
    try:
        soak_started = time.monotonic()
        until = soak_started + options.minutes * 60
        faults = FaultMaker(world, random.Random(rng.random()))
        tasks = [
            asyncio.create_task(world.members_act(random.Random(rng.random()), until, options)),
            asyncio.create_task(faults.run(until)),
            asyncio.create_task(
                killer(world, random.Random(rng.random()), until, options.kills_per_10min)
            ),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        soak_seconds = time.monotonic() - soak_started
        await faults.stop()
        drain = await world.drain(options.drain_seconds)
        report = checks.report(world, drain)
        report.update(
            {
                "benchmark": "soak",
                "minutes": options.minutes,
                "soak_seconds": round(soak_seconds, 1),
                "total_seconds": round(time.monotonic() - started, 1),
                "members": options.members,
                "guilds": len(world.places),
                "seed": options.seed,
                "factor": options.factor,
                "provider": options.provider,
                "faults_injected": dict(sorted(faults.counts.items())),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "workdir": str(workdir),
            }
        )
        report["kills_per_10min"] = round(report["kills"] / max(soak_seconds, 1.0) * 600, 1)
        return report
    finally:
        await world.close()


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    hard = SETUP_BOUND_S + options.minutes * 60 + options.drain_seconds + 120
    try:
        report = asyncio.run(asyncio.wait_for(soak(options), hard))
    except TimeoutError:
        print(json.dumps({"benchmark": "soak", "violations": ["hard timeout"]}))
        return 1
    print(json.dumps(report))
    return 1 if report["violations"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
