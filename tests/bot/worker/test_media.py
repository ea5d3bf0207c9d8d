"""Media paths through the worker: restyle with a real video, last frames, upload of big
videos, CometAPI's late-visible tasks, outputs that are not video."""

import asyncio
import os
from pathlib import Path

from bot.domain import InputRole, JobKind, JobParams, JobState, NewJob
from bot.media import prepare_image, prepare_video, probe_video, sniff
from bot.runway.client import RunwayClient
from bot.simulator import RunwaySimulator, SimulatorOptions
from bot.store import jobs_repo
from bot.store.db import Store
from bot.worker.submission import build_request
from tests.bot.conftest import FakeClock, mp4_bytes, png_bytes
from tests.bot.worker.harness import Harness, worker_settings


async def _deliver(h: Harness, job_id: int) -> None:
    w = h.workers[-1] if h.workers else h.worker()

    async def done() -> bool:
        return (await h.job(job_id)).delivered

    await h.run_until(w, done)


async def test_restyle_a_real_video_with_a_reference(harness: Harness) -> None:
    h = harness
    video = await asyncio.to_thread(prepare_video, mp4_bytes(3.0), filename="in.mp4")
    ref = await asyncio.to_thread(
        prepare_image, png_bytes(800, 800), role=InputRole.REFERENCE, filename="ref.png"
    )
    job = await h.engine.jobs.create(
        NewJob(
            JobKind.RESTYLE, 1, 1000, 5, "make it snow", JobParams(model="gen4_aleph"), (video, ref)
        )
    )
    assert job.estimated_credits == 45  # 3 s x 15
    await _deliver(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.SUCCEEDED
    clip = h.port.clips[job.id]
    assert sniff(clip) == "video/mp4"
    info = await asyncio.to_thread(probe_video, clip)
    assert info.duration_seconds > 1.5


async def test_animate_with_a_last_frame_on_a_model_that_allows_it(harness: Harness) -> None:
    h = harness
    first = await asyncio.to_thread(prepare_image, png_bytes(1280, 720), filename="a.png")
    last = await asyncio.to_thread(
        prepare_image, png_bytes(1280, 720, (0, 0, 255)), role=InputRole.LAST_FRAME
    )
    job = await h.engine.jobs.create(
        NewJob(
            JobKind.ANIMATE,
            1,
            1000,
            5,
            "",
            JobParams(model="veo3.1_fast", duration=4),
            (first, last),
        )
    )
    assert job.params.ratio == "1280:720"
    await _deliver(h, job.id)
    assert (await h.job(job.id)).state is JobState.SUCCEEDED
    assert len(h.port.visible("clip")) == 1


async def test_a_video_too_big_for_a_data_uri_is_uploaded(harness: Harness) -> None:
    h = harness
    from bot.domain import JobInput

    big = JobInput(InputRole.VIDEO, "video/mp4", os.urandom(12_500_000), "big.mp4")
    request = await build_request(
        h.client, JobKind.RESTYLE, model="gen4_aleph", prompt="snow", ratio=None,
        duration=None, seed=1, audio=False, inputs=[big],
    )  # fmt: skip
    assert request.to_wire()["videoUri"].startswith("runway://")
    assert ("POST", "/v1/uploads") in h.sim.request_log


async def test_output_that_is_not_a_video_is_refused(harness: Harness) -> None:
    h = harness
    w = h.worker()
    job = await h.engine.jobs.create(
        NewJob(
            JobKind.ANIMATE, 1, 1000, 5, "sea", JobParams(model="gen4_turbo", duration=2),
            (await asyncio.to_thread(prepare_image, png_bytes(640, 360)),),
        )
    )  # fmt: skip
    for _ in range(40):
        await h.cycle(w)
        if (await h.job(job.id)).state is JobState.SUCCEEDED:
            break
    async with h.store.transaction() as conn:  # a link that answers JSON, not a clip
        await jobs_repo.update(conn, job.id, {"output_url": h.sim.base_url + "/_sim/state"})
    await _deliver(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.FAILED and done.error_code == "bad_output"
    assert done.refunded
    assert h.port.visible() == [("failure", job.id, done.delivered_message_id)]
    assert list((h.tmp_path / "work").iterdir()) == []


async def test_cometapi_tasks_not_visible_yet_are_waited_for(
    tmp_path: Path, store: Store, clock: FakeClock
) -> None:
    options = SimulatorOptions(provider="cometapi", task_not_exist_seconds=20.0)
    async with RunwaySimulator(options) as sim:
        client = RunwayClient(
            base_url=sim.base_url, api_key="comet-key", provider="cometapi", max_retries=0
        )
        h = Harness(tmp_path, store, sim, client, clock, worker_settings())
        try:
            job = await h.engine.jobs.create(
                NewJob(
                    JobKind.ANIMATE, 1, 1000, 5, "sea", JobParams(model="gen4_turbo", duration=2),
                    (await asyncio.to_thread(prepare_image, png_bytes(640, 360)),),
                )
            )  # fmt: skip
            await _deliver(h, job.id)
            done = await h.job(job.id)
            assert done.state is JobState.SUCCEEDED
            assert any(r[0] == "GET" and r[1].startswith("/v1/tasks/") for r in sim.request_log[:3])
        finally:
            for w in h.workers:
                await w.abort()
            await client.close()
    assert "comet-key" not in repr(client)
