"""image_to_video tasks end to end through the real RunwayClient and the in-process simulator.

Phases, all on 127.0.0.1: create N tasks (data-URI input, at most 8 requests in flight),
poll them with GETs every 5 s (the worker's poll floor) until every task has succeeded,
download every output, then a burst of GETs on the
finished tasks to measure the API round trip alone. Clip rendering (PyAV, what the
simulator does per task) is also timed on its own, per clip-second. Client and simulator
run on one virtual clock ``FACTOR`` times faster than real time (``bot.clock.VirtualClock``:
task runs, the pauses between polling rounds and the client's timeouts alike), so clip
rendering dominates. Timings are real seconds. Peak RSS is ``resource.getrusage`` of this
process, which holds both client and simulator.
"""

from __future__ import annotations

import asyncio
import io
import sys
import tempfile
import time
from pathlib import Path

import _common as c
from PIL import Image

from bot import clock
from bot.domain import InputRole, JobInput
from bot.media import to_data_uri
from bot.runway.client import RunwayClient
from bot.runway.models import ImageToVideoRequest, TaskStatus
from bot.simulator import RunwaySimulator, SimulatorOptions, clipmaker

PARALLEL = 8
FACTOR = 50.0  # virtual seconds per real second
POLL_PAUSE = 5.0  # virtual seconds between polling rounds (the worker's floor)
WALL_LIMIT = 100.0  # real seconds: give up (and report) beyond this


def _photo(width: int, height: int) -> bytes:
    """A JPEG with a gradient and texture (compresses like a photo, not like a flat colour)."""
    grad = Image.linear_gradient("L").resize((width, height))
    texture = Image.effect_noise((width, height), 40)
    img = Image.merge("RGB", (grad, texture, Image.eval(grad, lambda v: 255 - v)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    return buf.getvalue()


def _render_rate(image: bytes, seconds: list[int]) -> tuple[float, float]:
    """Seconds of rendering per clip-second over clips of the given lengths (distinct seeds)."""
    started = time.perf_counter()
    for i, d in enumerate(seconds):
        clipmaker.image_to_video_clip(image, ratio="1280:720", duration=float(d), seed=9000 + i)
    elapsed = time.perf_counter() - started
    return elapsed / sum(seconds), elapsed


async def main(quick: bool) -> int:
    tasks_n, burst = (6, 100) if quick else (40, 1000)
    durations = [2] if quick else [2, 5, 10]
    image = _photo(1280, 720)
    item = JobInput(InputRole.IMAGE, "image/jpeg", image, "in.jpg", 1280, 720)
    uri = to_data_uri(item)
    # On the process clock (virtual). Output links must outlive the run: at this factor
    # Runway's hour passes in 72 s.
    options = SimulatorOptions(
        task_seconds=5.0, pending_seconds=1.0, concurrency=4, url_ttl_seconds=1e9
    )
    deadline = time.perf_counter() + WALL_LIMIT
    async with RunwaySimulator(options) as sim:
        client = RunwayClient(base_url=sim.base_url, api_key=c.SIM_KEY, max_retries=1)
        try:
            requests = [
                ImageToVideoRequest(
                    model="gen4_turbo",
                    prompt_image=uri,
                    prompt_text=f"a slow pan over the hills, take {i}",
                    ratio="1280:720",
                    duration=durations[i % len(durations)],
                    seed=i,
                )
                for i in range(tasks_n)
            ]
            started = time.perf_counter()
            ids = await c.gather_bounded(
                PARALLEL, [client.create_image_to_video(r) for r in requests]
            )
            create_s = time.perf_counter() - started

            pending = set(ids)
            gets = 0
            statuses_seen: dict[str, int] = {}
            outputs: dict[str, str] = {}
            poll_started = time.perf_counter()
            while pending and time.perf_counter() < deadline:
                found = await c.gather_bounded(
                    PARALLEL, [client.get_task(t) for t in sorted(pending)]
                )
                gets += len(found)
                for task in found:
                    statuses_seen[task.status.value] = statuses_seen.get(task.status.value, 0) + 1
                    if task.status.terminal:
                        pending.discard(task.id)
                        if task.status is TaskStatus.SUCCEEDED and task.output:
                            outputs[task.id] = task.output[0]
                if pending:
                    await asyncio.sleep(POLL_PAUSE)
            poll_s = time.perf_counter() - poll_started
            all_done_s = time.perf_counter() - started

            with tempfile.TemporaryDirectory(prefix="bench-pipe-") as tmp:
                started_dl = time.perf_counter()
                sizes = await c.gather_bounded(
                    PARALLEL,
                    [
                        client.download(url, Path(tmp) / f"{n}.mp4", max_bytes=64 << 20)
                        for n, url in enumerate(outputs.values())
                    ],
                )
                download_s = time.perf_counter() - started_dl

            finished = sorted(outputs)
            started_burst = time.perf_counter()
            if finished:
                await c.gather_bounded(
                    PARALLEL, [client.get_task(finished[i % len(finished)]) for i in range(burst)]
                )
            burst_s = time.perf_counter() - started_burst
        finally:
            await client.close()

    per_clip_second, render_s = await asyncio.to_thread(_render_rate, image, durations)
    clip_seconds = sum(r.duration or 0 for r in requests)
    creates_per_s = tasks_n / create_s
    gets_per_s = burst / burst_s if finished else 0.0
    c.emit(
        "simulator_pipeline",
        quick,
        {
            "tasks": tasks_n,
            "succeeded": len(outputs),
            "all_succeeded": len(outputs) == tasks_n,
            "sim_time_scale": FACTOR,
            "input_image_bytes": len(image),
            "creates_per_s": c.rounded(creates_per_s, 1),
            "create_phase_s": c.rounded(create_s),
            "poll_gets": gets,
            "poll_statuses_seen": statuses_seen,
            "poll_phase_s": c.rounded(poll_s),
            "end_to_end_s": c.rounded(all_done_s),
            "end_to_end_s_per_clip_second": c.rounded(all_done_s / clip_seconds, 4),
            "download_bytes_total": sum(sizes),
            "download_mb_per_s": c.rounded(sum(sizes) / 1e6 / download_s, 1),
            "get_burst": burst,
            "gets_per_s": c.rounded(gets_per_s, 1),
            "get_mean_ms_at_8_in_flight": c.ms(burst_s / burst * PARALLEL) if finished else None,
            "render_clip_seconds": sum(durations),
            "render_s": c.rounded(render_s),
            "render_s_per_clip_second": c.rounded(per_clip_second, 4),
            "render_speed_x_realtime": c.rounded(1 / per_clip_second, 2),
            "ratio_gets_vs_creates_per_s": c.rounded(gets_per_s / creates_per_s, 2),
            "peak_rss_kib": c.peak_rss_kib(),
        },
    )
    return 0 if len(outputs) == tasks_n else 1


if __name__ == "__main__":
    args = c.parse_args(__doc__ or "")
    sys.exit(clock.run(main(args.quick), clock.VirtualClock(FACTOR)))
