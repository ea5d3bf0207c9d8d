"""Shared helpers for the benchmarks: argument parsing, JSON output, timing, RSS, fixtures.

Every benchmark runs on 127.0.0.1 only, is bounded in count and time, and prints exactly one
JSON object to stdout (diagnostics go to stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import resource
import sys
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image

from bot import clock
from bot.catalog import default_catalog
from bot.config import QuotaSettings, RunwaySettings, Settings
from bot.domain import InputRole, Job, JobInput, JobKind, JobParams, NewJob
from bot.ports import DeliveryFailed, DeliveryReceipt, Published, StatusUpdate

T = TypeVar("T")

# A well-formed key the simulator accepts; never a real one.
SIM_KEY = "key_" + "0b" * 64


def parse_args(description: str) -> argparse.Namespace:
    """The common command line: ``--quick`` for the small smoke-test size."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small, fast run (smoke test)")
    return parser.parse_args()


def emit(name: str, quick: bool, results: dict[str, Any]) -> None:
    """Print the one JSON object of a benchmark run."""
    out = {
        "benchmark": name,
        "quick": quick,
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        **results,
    }
    sys.stdout.write(json.dumps(out, sort_keys=False) + "\n")
    sys.stdout.flush()


def log(message: str) -> None:
    """A progress line on stderr (stdout carries only the JSON)."""
    print(message, file=sys.stderr, flush=True)


async def gather_bounded(limit: int, awaitables: Sequence[Awaitable[T]]) -> list[T]:
    """Await all, at most ``limit`` at a time; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(item: Awaitable[T]) -> T:
        async with gate:
            return await item

    return list(await asyncio.gather(*(one(a) for a in awaitables)))


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank on sorted values); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]


def rss_kib() -> int:
    """The current resident set size of this process, in KiB (Linux /proc)."""
    return rss_kib_of(os.getpid())


def rss_kib_of(pid: int) -> int:
    """The current resident set size of a process, in KiB (0 if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def peak_rss_kib() -> int:
    """The peak resident set size of this process so far, in KiB (ru_maxrss on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded for JSON."""
    return round(seconds * 1000, 3)


def rounded(value: float, digits: int = 3) -> float:
    """A float rounded for JSON."""
    return round(value, digits)


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (60, 120, 200)) -> bytes:
    """A plain PNG made with Pillow."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def image_input(width: int = 640, height: int = 360) -> JobInput:
    """A prepared image input, as media.prepare_image would return it."""
    return JobInput(
        role=InputRole.IMAGE,
        mime="image/png",
        data=png_bytes(width, height),
        filename="in.png",
        width=width,
        height=height,
    )


def animate(
    user_id: int,
    item: JobInput,
    *,
    guild_id: int = 1000,
    model: str = "gen4_turbo",
    duration: int = 2,
    prompt: str = "a calm sea at dawn",
) -> NewJob:
    """A NewJob for /animate."""
    return NewJob(
        kind=JobKind.ANIMATE,
        user_id=user_id,
        guild_id=guild_id,
        channel_id=55,
        prompt=prompt,
        params=JobParams(model=model, duration=duration),
        inputs=(item,),
    )


def settings(*, quota: dict[str, Any] | None = None, **runway: Any) -> Settings:
    """Settings with the packaged catalog, the simulator provider and the given overrides."""
    return Settings(
        models=default_catalog(),
        runway=RunwaySettings.model_validate({"provider": "simulator", **runway}),
        quota=QuotaSettings.model_validate(quota or {}),
    )


class CountingPort:
    """A DeliveryPort that records what a Discord user would see, keeping only small facts.

    De-duplicates by nonce like Discord does. It keeps sizes, not clip bytes, so it does not
    itself grow with the clips it is handed (the memory benchmark relies on that).
    """

    def __init__(self, edit_seconds: float = 0.0) -> None:
        self.edit_seconds = edit_seconds  # how long a status edit takes (Discord's round trip)
        self.status_updates = 0
        self.clips: dict[int, int] = {}  # job id -> clip size in bytes
        self.failures: dict[int, str] = {}  # job id -> error code
        self.delivered_at: dict[int, float] = {}  # job id -> clock.now() at delivery
        self._messages: dict[str, int] = {}
        self._next_id = 1

    def forget(self) -> None:
        """Drop what was recorded so far (keeps the counters); for long runs."""
        self.clips.clear()
        self.failures.clear()
        self.delivered_at.clear()
        self._messages.clear()

    async def publish(self, job: Job, *, orphan: bool) -> Published | None:
        return Published(None)  # no status messages here: results go "to the channel"

    async def status_changed(self, update: StatusUpdate) -> None:
        self.status_updates += 1
        if self.edit_seconds:
            await asyncio.sleep(self.edit_seconds)

    def _post(self, nonce: str) -> DeliveryReceipt:
        if nonce not in self._messages:
            self._messages[nonce] = self._next_id
            self._next_id += 1
        return DeliveryReceipt(self._messages[nonce])

    async def deliver_clip(self, job: Job, clip: Path, nonce: str) -> DeliveryReceipt:
        size = (await asyncio.to_thread(clip.stat)).st_size
        if size == 0:
            raise DeliveryFailed("empty clip", permanent=True)
        self.clips[job.id] = size
        self.delivered_at.setdefault(job.id, clock.now())
        return self._post(nonce)

    async def deliver_failure(self, job: Job, nonce: str) -> DeliveryReceipt:
        self.failures[job.id] = job.error_code or "?"
        self.delivered_at.setdefault(job.id, clock.now())
        return self._post(nonce)
