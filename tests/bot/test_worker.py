import asyncio

from bot.domain import JobState
from bot.media import probe_video, sniff
from tests.bot.conftest import image_input, new_animate
from tests.bot.worker_harness import Harness


async def test_a_job_goes_from_queued_to_delivered(harness: Harness) -> None:
    h = harness
    w = h.worker()
    assert await w.recover() == 0
    job = await h.engine.jobs.create(new_animate(duration=2, inputs=(image_input(640, 360),)))
    await h.run_until(w, lambda: bool(h.port.visible()))
    done = await h.job(job.id)
    assert done.state is JobState.SUCCEEDED and done.delivered
    assert done.delivered_message_id == h.port.visible()[0][2]
    assert h.port.calls == [("clip", job.id, f"rwjob-{job.id}")]
    assert h.port.states_of(job.id) == ["submitting", "running", "succeeded"]
    clip = h.port.clips[job.id]
    assert sniff(clip) == "video/mp4"
    info = await asyncio.to_thread(probe_video, clip)
    assert 1.5 <= info.duration_seconds <= 2.5
    status = await h.engine.quota.status(1000, 1)
    assert (status.used, status.reserved) == (10, 0)
    assert done.charged_credits == 10
    assert h.sim.created_count == 1
    assert list((h.tmp_path / "work").iterdir()) == []  # temp files cleaned
