"""Delivery memory: clips of 5, 50 and 300 MB through the real delivery path, peak RSS growth.

Each clip goes through what the bot does with a finished task's output, in a fresh child
process per clip (so one clip's memory never hides another's):

1. ``RunwayClient.download`` (``bot/runway/downloads.py``) streams it from a loopback HTTP
   server to a file in the work directory (as the worker's delivery step does);
2. ``DiscordDelivery.deliver_clip`` (``bot/ui/delivery.py``) fits it to the guild's upload
   limit with ``bot.media.fit_clip`` (a PyAV re-encode when it is too big) and posts it with
   discord.py to the fake Discord (``bot.fakediscord.FakeDiscord``, in the parent process)
   on 127.0.0.1, which checks the upload against the guild's limit.

The 5 and 50 MB clips go to a boost tier 3 guild (100 MiB uploads) and are uploaded as they
are; the 300 MB clip is over that limit and is re-encoded to fit it; a busy 12 s 720p clip
(about 19 MB of real picture data) goes to an unboosted guild and is re-encoded to fit
10 MiB. The 5/50/300 MB clips are a real clipmaker clip grown with an MP4 ``free`` box, so
download and upload move every byte while the re-encode stays cheap.

The child samples its own ``VmRSS`` every 5 ms from a thread and also reads ``VmHWM`` (peak,
reset through ``/proc/self/clear_refs`` just before the clip): growth = peak during the clip
minus RSS just before it, after a warm-up: a small clip delivered as it is, and one small
re-encode (libraries and codec tables set up once, as in a bot that has run a while); the
busy clip is also measured without that re-encode (the first one of a fresh process).
Exit 1 if a delivery fails or a posted file does not match; the 64 MiB target is reported,
not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import struct
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as c

MIB = 1024 * 1024
MB = 1_000_000
TARGET_GROWTH_MIB = 64
CHILD_TIMEOUT_S = 600
TIER3_LIMIT = 100 * MIB  # what discord.py and the fake allow a boost tier 3 guild


@dataclass(frozen=True)
class Case:
    """One clip to deliver: its file, and which guild it goes to."""

    name: str
    path: Path
    tier: int
    warm_codecs: bool = True  # re-encode a small clip first, as a bot that has done one


# -- clips ----------------------------------------------------------------------------------


def padded_clip(base: bytes, dest: Path, size: int) -> Path:
    """A valid MP4 of exactly ``size`` bytes: ``base`` then a ``free`` box, written in chunks."""
    missing = size - len(base)
    if missing < 8:
        raise ValueError("size must leave room for a free box")
    chunk = bytes(4 * MIB)
    with dest.open("wb") as out:
        out.write(base)
        out.write(struct.pack(">I", missing) + b"free")
        left = missing - 8
        while left > 0:
            out.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
    return dest


def make_clips(tmp: Path, quick: bool) -> tuple[Path, list[Case]]:
    """The warm-up clip and the measured cases."""
    from media_fit import busy_video  # the benchmarks' own busy-clip generator

    from bot.simulator.clipmaker import image_to_video_clip

    base = image_to_video_clip(c.png_bytes(640, 360), ratio="1280:720", duration=3.0)
    warm = tmp / "warm.mp4"
    warm.write_bytes(base)
    # Quick: one clip posted as it is, one over the 10 MiB limit (re-encoded).
    sized = [(2, 0), (12, 0)] if quick else [(5, 3), (50, 3), (300, 3)]
    cases = [
        Case(f"{mb}MB", padded_clip(base, tmp / f"clip-{mb}MB.mp4", mb * MB), tier)
        for mb, tier in sized
    ]
    if not quick:
        busy = tmp / "busy.mp4"
        busy_video(busy, (1280, 720), 24, 12.0)
        cases.append(Case("busy_fit_10MiB", busy, 0))
        # The same, as the very first re-encode of a fresh process (codec set-up included).
        cases.append(Case("busy_fit_10MiB_first_reencode", busy, 0, warm_codecs=False))
    return warm, cases


# -- the child: one clip through download + fit + upload ------------------------------------


class RssSampler:
    """Samples this process's VmRSS from a thread; ``peak_kib`` is the highest seen."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, c.rss_kib())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.peak_kib = c.rss_kib()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, c.rss_kib())


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Deliver ``spec['url']`` to ``spec['channel_id']`` after a warm-up; report memory."""
    import discord

    from bot.app import apply_discord_overrides
    from bot.catalog import default_catalog
    from bot.config import DiscordSettings, Settings
    from bot.domain import Job, JobKind, JobParams, JobState
    from bot.media import MediaError, fit_clip
    from bot.runway.client import RunwayClient
    from bot.ui.delivery import DiscordDelivery

    apply_discord_overrides(
        DiscordSettings(api_base=spec["api_base"], gateway_url=spec["gateway_url"])
    )
    intents = discord.Intents.default()
    client = discord.Client(intents=intents)
    await client.login(spec["token"])
    starter = asyncio.create_task(client.connect())
    work = Path(spec["workdir"])
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    settings = Settings(models=default_catalog())
    runway = RunwayClient(base_url=spec["clip_base"], api_key=c.SIM_KEY, provider="simulator")
    try:
        async with asyncio.timeout(30):
            await client.wait_until_ready()
        delivery = DiscordDelivery(client, settings, work / "fit")
        channel = client.get_channel(int(spec["channel_id"]))
        assert isinstance(channel, discord.TextChannel), channel
        status = await channel.send("status")
        when = datetime.now(UTC)

        def job(job_id: int) -> Job:
            return Job(
                id=job_id,
                kind=JobKind.ANIMATE,
                state=JobState.SUCCEEDED,
                user_id=42,
                guild_id=channel.guild.id,
                channel_id=channel.id,
                prompt="a calm sea",
                params=JobParams(model="gen4_turbo", ratio="1280:720", duration=5),
                created_at=when,
                updated_at=when,
                status_message_id=status.id,
                estimated_credits=25.0,
                charged_credits=25.0,
                quota_amount=25.0,
            )

        async def deliver(job_id: int, url: str) -> dict[str, Any]:
            dest = work / f"job-{job_id}.part"
            started = time.perf_counter()
            size = await runway.download(url, dest, max_bytes=settings.runway.max_output_bytes)
            downloaded = time.perf_counter()
            receipt = await delivery.deliver_clip(job(job_id), dest, f"rwjob-{job_id}")
            done = time.perf_counter()
            dest.unlink(missing_ok=True)
            return {
                "downloaded_bytes": size,
                "message_id": receipt.message_id,
                "download_s": c.rounded(downloaded - started, 2),
                "fit_and_upload_s": c.rounded(done - downloaded, 2),
            }

        first = int(spec["first_job_id"])  # unique per child: Discord de-duplicates nonces
        await deliver(first, spec["warm_url"])  # imports, connection pools: warm
        if spec["warm_codecs"]:  # decoder and libx264 set up once, as in a bot that has run
            warm = work / "warm.mp4"
            await runway.download(
                spec["warm_url"], warm, max_bytes=settings.runway.max_output_bytes
            )
            budget = max(1, warm.stat().st_size // 2)
            with contextlib.suppress(MediaError):
                fitted = await asyncio.to_thread(fit_clip, warm, budget, work / "fit")
                fitted.unlink(missing_ok=True)
            warm.unlink()
        gc.collect()
        hwm_reset = _reset_peak()
        before = c.rss_kib()
        with RssSampler() as sampler:
            result = await deliver(first + 1, spec["url"])
        hwm = _status_kib("VmHWM")
        peak = max(sampler.peak_kib, hwm) if hwm_reset else sampler.peak_kib
        return {
            **result,
            "rss_before_kib": before,
            "rss_peak_kib": peak,
            "rss_growth_mib": c.rounded((peak - before) / 1024, 1),
            "vmhwm_used": hwm_reset,
            "leftover_files": await asyncio.to_thread(_files_in, work),
        }
    finally:
        await runway.close()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await starter


# -- the parent: servers, clips, one child per case -----------------------------------------


async def clip_server(root: Path) -> tuple[Any, str]:
    """Serve ``root``'s files on 127.0.0.1 (streamed from disk), like a CDN for outputs."""
    from aiohttp import web

    async def serve(request: web.Request) -> web.StreamResponse:
        path = root / request.match_info["name"]
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": "video/mp4"})

    app = web.Application()
    app.router.add_get("/clips/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--child",
        json.dumps(spec),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CHILD_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return {"error": f"child timed out after {CHILD_TIMEOUT_S} s"}
    if proc.returncode != 0:
        return {"error": f"child exited {proc.returncode}: {err.decode()[-2000:]}"}
    lines = [line for line in out.decode().splitlines() if line.strip()]
    return dict(json.loads(lines[-1]))


async def main(quick: bool) -> int:
    from bot.fakediscord import FakeDiscord, FakeDiscordClient

    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        warm, cases = await asyncio.to_thread(make_clips, tmp, quick)
        clips_s = time.perf_counter() - started
        runner, clip_base = await clip_server(tmp)
        results: dict[str, Any] = {}
        ok = True
        try:
            async with FakeDiscord() as fake, FakeDiscordClient(fake.base_url) as ctl:
                channels = {}
                for tier in (0, 3):
                    guild = await ctl.create_guild(f"tier {tier}", premium_tier=tier)
                    chan = await ctl.create_channel(int(guild["id"]), "clips")
                    channels[tier] = int(chan["id"])
                for n, case in enumerate(cases):
                    c.log(f"delivery: {case.name}")
                    spec = {
                        "api_base": fake.api_base,
                        "gateway_url": fake.gateway_url,
                        "token": fake.token,
                        "channel_id": channels[case.tier],
                        "clip_base": clip_base,
                        "warm_url": f"{clip_base}/clips/{warm.name}",
                        "url": f"{clip_base}/clips/{case.path.name}",
                        "workdir": str(tmp / f"work-{case.name}"),
                        "first_job_id": 10 * n + 1,
                        "warm_codecs": case.warm_codecs,
                    }
                    result = await run_child(spec)
                    if "error" in result:
                        ok = False
                        results[case.name] = result
                        continue
                    message = await ctl.message(result["message_id"])
                    files = message.get("attachments") or []
                    posted = int(files[0]["size"]) if files else 0
                    limit = TIER3_LIMIT if case.tier == 3 else 10 * MIB
                    source = case.path.stat().st_size
                    fits = 0 < posted <= limit
                    same = posted == source if source <= limit else posted < source
                    ok = ok and fits and same and result["downloaded_bytes"] == source
                    ok = ok and not result["leftover_files"]
                    results[case.name] = {
                        "clip_bytes": source,
                        "guild_upload_limit_bytes": limit,
                        "posted_bytes": posted,
                        "re_encoded": posted != source,
                        "codecs_warmed_first": case.warm_codecs,
                        "posted_fits": fits,
                        **result,
                    }
        finally:
            await runner.cleanup()
    growths = [r["rss_growth_mib"] for r in results.values() if "rss_growth_mib" in r]
    c.emit(
        "delivery",
        quick,
        {
            "cases": results,
            "clips_made_s": c.rounded(clips_s, 1),
            "max_rss_growth_mib": max(growths) if growths else None,
            "target_growth_mib": TARGET_GROWTH_MIB,
            "growth_target_met": bool(growths) and max(growths) < TARGET_GROWTH_MIB,
            "all_delivered": ok,
        },
    )
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__ or "")
    parser.add_argument("--quick", action="store_true", help="small, fast run (smoke test)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(json.loads(args.child)))), flush=True)
        sys.exit(0)
    sys.exit(asyncio.run(main(args.quick)))
