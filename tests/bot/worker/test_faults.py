"""Every failure kind: Runway task failures, HTTP faults on create/poll/download, delivery."""

import asyncio
import logging

import pytest

from bot.domain import JobState, NewJob
from bot.ports import AlreadyTold, DeliveryFailed
from bot.simulator import Fault
from bot.worker.poll import LOST_AFTER_MISSES
from tests.bot.conftest import image_input, new_animate
from tests.bot.worker.harness import Harness, make_client, worker_settings


def _small(prompt: str = "a calm sea", user: int = 1) -> NewJob:
    return new_animate(user, prompt=prompt, duration=2, inputs=(image_input(640, 360),))


async def _finish(h: Harness, job_id: int, max_cycles: int = 80) -> None:
    w = h.workers[-1] if h.workers else h.worker()

    async def done() -> bool:
        return (await h.job(job_id)).delivered

    await h.run_until(w, done, max_cycles=max_cycles)


async def _quota(h: Harness) -> tuple[float, float]:
    s = await h.engine.quota.status(1000, 1)
    return s.used, s.reserved


@pytest.mark.parametrize(
    ("code", "words", "charge"),
    [
        ("SAFETY.INPUT.TEXT", "refused the prompt", False),
        ("SAFETY.OUTPUT.VIDEO", "blocked the result", True),
        ("INTERNAL.BAD_OUTPUT.CODE01", "quality", False),
        ("THIRD_PARTY.UNAVAILABLE", "try again", False),
        ("ASSET.INVALID", "could not read the input", False),
    ],
)
async def test_task_failures_are_explained_and_settled_by_policy(
    harness: Harness, code: str, words: str, charge: bool
) -> None:
    h = harness
    h.configure(worker_settings(quota={"charge_moderation_failures": charge}))
    job = await h.engine.jobs.create(_small(f"sea [sim:fail={code}]"))
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.FAILED and done.error_code == code
    assert done.error_text is not None and words in done.error_text.lower()
    assert h.port.visible() == [("failure", job.id, done.delivered_message_id)]
    moderation = code.startswith("SAFETY")
    expect_used = 10.0 if (moderation and charge) else 0.0
    assert await _quota(h) == (expect_used, 0)
    assert done.refunded is not (moderation and charge)


async def test_cancelled_elsewhere(harness: Harness) -> None:
    h = harness
    job = await h.engine.jobs.create(_small("sea [sim:cancel]"))
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.CANCELLED and done.error_code == "cancelled_remote"
    assert await _quota(h) == (0, 0)


async def test_user_cancel_of_a_running_job_cancels_at_runway(harness: Harness) -> None:
    h = harness
    w = h.worker()
    job = await h.engine.jobs.create(_small("sea [sim:seconds=600]"))
    await h.run_until(w, lambda: any(s.job.state is JobState.RUNNING for s in h.port.statuses))
    running = await h.job(job.id)
    assert running.provider_task_id is not None
    await h.engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
    await _finish(h, job.id)
    assert ("DELETE", f"/v1/tasks/{running.provider_task_id}") in h.sim.request_log
    assert h.sim.task_status(running.provider_task_id) == "CANCELLED"
    assert h.port.visible("failure") and not h.port.visible("clip")
    assert await _quota(h) == (0, 0)


async def test_a_cancel_not_yet_at_runway_keeps_the_slot_taken(harness: Harness) -> None:
    h = harness
    h.configure(worker_settings(max_concurrent_per_model=1))
    w = h.worker()
    first = await h.engine.jobs.create(_small("sea [sim:seconds=600]"))
    await h.run_until(
        w,
        lambda: any(
            s.job.id == first.id and s.job.state is JobState.RUNNING for s in h.port.statuses
        ),
    )
    task_id = (await h.job(first.id)).provider_task_id
    h.sim.add_fault(Fault(method="DELETE", path_prefix="/v1/tasks", status=503, times=2))
    await h.engine.jobs.cancel(first.id, actor_id=1, actor_is_admin=False)
    second = await h.engine.jobs.create(_small(user=2))
    await h.cycle(w, 6)
    # The DELETE failed: the first task still runs at Runway, so the only slot is taken.
    assert h.sim.task_status(task_id or "") == "RUNNING"
    assert (await h.job(second.id)).state is JobState.QUEUED
    await _finish(h, second.id)
    assert h.sim.task_status(task_id or "") == "CANCELLED"
    assert (await h.job(second.id)).state is JobState.SUCCEEDED


NO_CHANNEL = '{"error": {"message": "No available channel", "type": "new_api_error"}}'
RELAYED_503 = '{"code": "fail_to_fetch_task", "message": "{\\"error\\": \\"busy\\"}"}'


@pytest.mark.parametrize(
    ("provider", "body", "requeued"),
    [
        pytest.param("runway", None, True, id="runway-json-error"),
        pytest.param("cometapi", None, True, id="runway-json-error-through-the-gateway"),
        pytest.param("cometapi", NO_CHANNEL, True, id="gateway-has-no-channel"),
        pytest.param("cometapi", RELAYED_503, True, id="gateway-relays-runways-503"),
        pytest.param("runway", "<html>503 Service Unavailable</html>", False, id="html-runway"),
        pytest.param("cometapi", "<html>bad gateway</html>", False, id="html-gateway"),
        pytest.param("cometapi", '{"detail": "?"}', False, id="unknown-json"),
    ],
)
async def test_a_503_on_create_requeues_only_when_its_body_is_load_shedding(
    harness: Harness, provider: str, body: str | None, requeued: bool
) -> None:
    """Only the provider's own load-shedding answer proves nothing started; a 503 from
    anything in between may come after the request went on (in doubt, never resent)."""
    h = harness
    settings = worker_settings()
    h.configure(
        settings.model_copy(
            update={"runway": settings.runway.model_copy(update={"provider": provider})}
        )
    )
    h.sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", status=503, body=body))
    job = await h.engine.jobs.create(_small())
    await h.cycle(h.worker(), 0)
    state = (await h.job(job.id)).state
    assert state is (JobState.QUEUED if requeued else JobState.IN_DOUBT)
    if not requeued:
        assert (await h.job(job.id)).error_code == "in_doubt"


async def test_user_cancel_of_a_queued_job_never_reaches_runway(harness: Harness) -> None:
    h = harness
    job = await h.engine.jobs.create(_small())
    await h.engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
    await _finish(h, job.id)
    assert h.sim.created_count == 0 and h.port.visible("failure")


async def test_deadline_fails_and_cancels_at_runway(harness: Harness) -> None:
    h = harness
    h.configure(worker_settings(task_deadline_minutes=1))
    job = await h.engine.jobs.create(_small("sea [sim:seconds=900]"))
    await _finish(h, job.id, max_cycles=40)
    done = await h.job(job.id)
    assert done.state is JobState.FAILED and done.error_code == "deadline"
    assert done.error_text and "1 minutes" in done.error_text
    assert h.sim.task_status(done.provider_task_id or "") == "CANCELLED"
    assert await _quota(h) == (0, 0)
    # Runway ran the task for a while and may bill it: the bot-wide counter keeps it.
    assert await h.engine.quota.bot_usage_today() == (done.estimated_credits, 0)


async def test_throttled_tasks_wait_and_finish(harness: Harness) -> None:
    h = harness
    job = await h.engine.jobs.create(_small("sea [sim:throttle=40]"))
    await _finish(h, job.id)
    assert any(s.throttled for s in h.port.statuses if s.job.id == job.id)
    assert (await h.job(job.id)).state is JobState.SUCCEEDED


@pytest.mark.parametrize("status", [429, 503])
async def test_create_refused_for_load_goes_back_to_the_queue(
    harness: Harness, status: int
) -> None:
    h = harness
    h.sim.add_fault(
        Fault(
            method="POST", path_prefix="/v1/image_to_video", status=status, retry_after=20, times=3
        )
    )
    job = await h.engine.jobs.create(_small())
    w = h.worker()
    await h.cycle(w, 0)
    assert (await h.job(job.id)).state is JobState.QUEUED
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.SUCCEEDED and h.sim.created_count == 1
    assert done.attempts >= 2
    assert await _quota(h) == (10, 0)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(method="POST", path_prefix="/v1/image_to_video", status=500),
        Fault(method="POST", path_prefix="/v1/image_to_video", status=502),
        Fault(method="POST", path_prefix="/v1/image_to_video", status=504),
        Fault(method="POST", path_prefix="/v1/image_to_video", drop_connection=True),
        Fault(method="POST", path_prefix="/v1/image_to_video", status=200, body="{not json"),
    ],
    ids=["500", "502", "504", "dropped", "malformed"],
)
async def test_create_that_may_have_reached_runway_is_in_doubt(
    harness: Harness, fault: Fault
) -> None:
    h = harness
    h.sim.add_fault(fault)
    job = await h.engine.jobs.create(_small())
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.IN_DOUBT and done.error_code == "in_doubt"
    assert done.attempts == 1  # never resubmitted silently
    assert h.port.visible("failure")
    assert await _quota(h) == (0, 0)


async def test_create_timeout_is_in_doubt(harness: Harness) -> None:
    h = harness
    h.client = make_client(h.sim)
    h.client._request_timeout = 0.3
    h.sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", status=200, delay=1.0))
    job = await h.engine.jobs.create(_small())
    try:
        await _finish(h, job.id)
    finally:
        await h.client.close()
    assert (await h.job(job.id)).state is JobState.IN_DOUBT


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault(method="POST", path_prefix="/v1/image_to_video", status=400), "rejected"),
        (Fault(method="POST", path_prefix="/v1/image_to_video", status=401), "auth"),
    ],
)
async def test_create_refused_for_good_fails(harness: Harness, fault: Fault, code: str) -> None:
    h = harness
    h.sim.add_fault(fault)
    job = await h.engine.jobs.create(_small())
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.FAILED and done.error_code == code
    assert await _quota(h) == (0, 0)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(method="GET", path_prefix="/v1/tasks", status=500, times=4),
        Fault(method="GET", path_prefix="/v1/tasks", status=429, retry_after=30, times=2),
        Fault(method="GET", path_prefix="/v1/tasks", status=200, body="{not json", times=3),
        Fault(method="GET", path_prefix="/v1/tasks", drop_connection=True, times=3),
    ],
    ids=["500", "429", "malformed", "dropped"],
)
async def test_transient_poll_errors_back_off_and_recover(harness: Harness, fault: Fault) -> None:
    h = harness
    job = await h.engine.jobs.create(_small())
    w = h.worker()
    await h.cycle(w, 0)
    h.sim.add_fault(fault)
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.SUCCEEDED and h.sim.created_count == 1
    assert len(h.port.visible("clip")) == 1


async def test_a_task_runway_forgot_fails_after_several_misses_over_a_window(
    harness: Harness,
) -> None:
    h = harness
    job = await h.engine.jobs.create(_small())
    w = h.worker()
    await h.cycle(w, 0)
    h.sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks", status=404, times=1000))
    try:
        await _finish(h, job.id)
    finally:
        h.sim.faults.clear()
    done = await h.job(job.id)
    assert done.state is JobState.FAILED and done.error_code == "lost"
    misses = [m for m, p in h.sim.request_log if m == "GET" and p.startswith("/v1/tasks/")]
    assert len(misses) >= LOST_AFTER_MISSES
    assert await _quota(h) == (0, 0)
    # Runway may have made (and billed) it: the bot-wide counter keeps the estimate.
    assert await h.engine.quota.bot_usage_today() == (done.estimated_credits, 0)


async def test_a_task_missing_for_a_moment_is_not_lost(harness: Harness) -> None:
    """Two 404s in a row (a replica that has not seen the task) do not lose a paid clip."""
    h = harness
    job = await h.engine.jobs.create(_small())
    w = h.worker()
    await h.cycle(w, 0)
    await h.cycle(w, 6)  # seen once at Runway
    h.sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks", status=404, times=2))
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.SUCCEEDED and done.delivered
    assert h.sim.faults == []
    assert await _quota(h) == (done.estimated_credits, 0)


async def test_expired_output_url_is_refreshed(harness: Harness) -> None:
    h = harness
    w = h.worker()
    job = await h.engine.jobs.create(_small())

    async def succeeded() -> bool:
        return (await h.job(job.id)).state is JobState.SUCCEEDED

    # run until success is recorded; the download is the next step
    for _ in range(40):
        await h.cycle(w, 6.0)
        if await succeeded():
            break
    assert not (await h.job(job.id)).delivered
    h.sim.expire_outputs()
    await _finish(h, job.id)
    log = h.sim.request_log
    first_output = next(i for i, r in enumerate(log) if r[1].startswith("/_outputs/"))
    assert any(r[0] == "GET" and r[1].startswith("/v1/tasks/") for r in log[first_output:])
    assert len([r for r in log if r[1].startswith("/_outputs/")]) == 2
    assert len(h.port.visible("clip")) == 1


async def test_output_larger_than_allowed_is_explained(harness: Harness) -> None:
    h = harness
    h.configure(worker_settings(max_output_bytes=2000))
    job = await h.engine.jobs.create(_small())
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.FAILED and done.error_code == "output_too_large"
    assert h.port.visible() == [("failure", job.id, done.delivered_message_id)]
    assert await _quota(h) == (0, 0)  # the user never got the clip: refunded
    # ... but Runway billed it, so the bot-wide daily counter (the operator's budget) keeps it
    assert await h.engine.quota.bot_usage_today() == (10, 0)
    assert list((h.tmp_path / "work").iterdir()) == []


async def test_delivery_retries_transient_failures(harness: Harness) -> None:
    h = harness
    h.port.failures = [DeliveryFailed("discord 503"), DeliveryFailed("discord 503")]
    job = await h.engine.jobs.create(_small())
    await _finish(h, job.id)
    assert [c[0] for c in h.port.calls] == ["clip", "clip", "clip"]
    assert len(h.port.visible("clip")) == 1


async def test_permanent_delivery_failure_sends_a_notice_instead(harness: Harness) -> None:
    h = harness
    h.port.failures = [DeliveryFailed("missing permissions", permanent=True)]
    job = await h.engine.jobs.create(_small())
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.error_code == "delivery_failed" and done.error_text
    assert "missing permissions" in done.error_text
    assert [c[0] for c in h.port.calls] == ["clip", "failure"]
    assert h.port.visible() == [("failure", job.id, done.delivered_message_id)]
    assert done.refunded and await _quota(h) == (0, 0)


async def test_cancel_while_the_create_is_in_flight_cancels_the_new_task(
    harness: Harness,
) -> None:
    h = harness
    h.sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", status=200, delay=0.5))
    job = await h.engine.jobs.create(_small())
    w = h.worker()
    await w.run_once()
    async with asyncio.timeout(10):
        while not any(r[0] == "POST" for r in h.sim.request_log):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    cancelled = await h.engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
    assert cancelled.state is JobState.CANCELLED
    await w.drain()
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.CANCELLED and done.provider_task_id is not None
    assert ("DELETE", f"/v1/tasks/{done.provider_task_id}") in h.sim.request_log
    assert h.sim.task_status(done.provider_task_id) == "CANCELLED"
    assert h.port.visible("failure") and not h.port.visible("clip")
    assert await _quota(h) == (0, 0)


async def _wait_for_create(h: Harness) -> None:
    async with asyncio.timeout(10):
        while not any(r[0] == "POST" for r in h.sim.request_log):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_cancel_while_a_create_times_out_settles_the_job_in_doubt(
    harness: Harness,
) -> None:
    h = harness
    h.client = make_client(h.sim)
    h.client._request_timeout = 0.3
    h.sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", status=200, delay=1.0))
    job = await h.engine.jobs.create(_small())
    w = h.worker()
    try:
        await w.run_once()
        await _wait_for_create(h)
        await h.engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
        await w.drain()
        await _finish(h, job.id)
    finally:
        await h.client.close()
    done = await h.job(job.id)
    assert done.state is JobState.IN_DOUBT and done.error_code == "in_doubt"
    assert done.provider_task_id is None and done.attempts == 1  # never resent
    row = await h.store.fetchone("SELECT remote_cancel FROM jobs")
    assert row is not None and row[0] == 0
    assert [r for r in h.sim.request_log if r[0] == "POST"] == [("POST", "/v1/image_to_video")]
    assert h.port.visible("failure") and not h.port.visible("clip")
    assert done.refunded and await _quota(h) == (0, 0)
    used, reserved = await h.engine.quota.bot_usage_today()
    assert used == done.estimated_credits > 0 and reserved == 0  # Runway may bill it
    assert (await h.engine.jobs.queue_stats()).in_flight_by_model == {}


async def test_cancel_while_a_create_fails_for_sure_leaves_nothing_pending(
    harness: Harness,
) -> None:
    h = harness
    h.sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", status=400, delay=0.5))
    job = await h.engine.jobs.create(_small())
    w = h.worker()
    await w.run_once()
    await _wait_for_create(h)
    await h.engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
    await w.drain()
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.CANCELLED and done.provider_task_id is None
    row = await h.store.fetchone("SELECT remote_cancel FROM jobs")
    assert row is not None and row[0] == 0
    assert await h.engine.quota.bot_usage_today() == (0, 0)


async def test_a_refused_key_while_polling_is_waited_out(harness: Harness) -> None:
    h = harness
    job = await h.engine.jobs.create(_small())
    w = h.worker()
    await h.cycle(w, 0)
    h.sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks", status=401, times=2))
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.SUCCEEDED and len(h.port.visible("clip")) == 1


async def test_delivery_gives_up_after_repeated_transient_failures(harness: Harness) -> None:
    h = harness
    h.port.failures = [DeliveryFailed("discord 503") for _ in range(8)]
    job = await h.engine.jobs.create(_small())
    await _finish(h, job.id, max_cycles=200)
    done = await h.job(job.id)
    assert done.error_code == "delivery_failed"
    assert [c[0] for c in h.port.calls] == ["clip"] * 8 + ["failure"]
    assert h.port.visible() == [("failure", job.id, done.delivered_message_id)]


async def test_an_undeliverable_failure_notice_is_dropped_not_retried_forever(
    harness: Harness,
) -> None:
    h = harness
    h.port.failures = [DeliveryFailed("channel deleted", permanent=True)]
    job = await h.engine.jobs.create(_small())
    await h.engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
    w = h.worker()
    for _ in range(5):
        await h.cycle(w)
    assert h.port.calls == [("failure", job.id, f"rwjob-{job.id}")]
    row = await h.store.fetchone("SELECT next_poll_at, delivered_at FROM jobs")
    assert row is not None and tuple(row) == (None, None)


async def test_a_notice_the_requester_already_read_is_dropped_without_an_error(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    caplog.set_level(logging.INFO, logger="bot.worker")
    h.port.failures = [AlreadyTold("told in the command's answer")]
    job = await h.engine.jobs.create(_small())
    await h.engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
    w = h.worker()
    for _ in range(3):
        await h.cycle(w)
    assert h.port.calls == [("failure", job.id, f"rwjob-{job.id}")]
    row = await h.store.fetchone("SELECT next_poll_at, delivered_at FROM jobs")
    assert row is not None and tuple(row) == (None, None)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert f"job {job.id}: no notice posted: told in the command's answer" in caplog.text


async def test_cancel_during_a_failing_poll_is_not_delayed_by_the_back_off(
    harness: Harness,
) -> None:
    h = harness
    job = await h.engine.jobs.create(_small("sea [sim:seconds=600]"))
    w = h.worker()
    await h.cycle(w, 0)
    task_id = (await h.job(job.id)).provider_task_id
    h.sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks", status=500, delay=0.3, times=2))
    h.clock.advance(30)
    h.sim.advance(30)
    await w.run_once()
    async with asyncio.timeout(10):
        while not any(r[0] == "GET" for r in h.sim.request_log[-2:]):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await h.engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
    await w.drain()
    await h.cycle(w, 0)  # no time passes: the remote cancel is due at once
    assert ("DELETE", f"/v1/tasks/{task_id}") in h.sim.request_log
    await h.cycle(w, 0)
    assert h.port.visible("failure")


async def test_a_bug_while_preparing_fails_the_job_and_refunds_instead_of_in_doubt(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug in request building")

    monkeypatch.setattr("bot.worker.submit.build_request", broken)
    job = await h.engine.jobs.create(_small())
    await _finish(h, job.id)
    done = await h.job(job.id)
    assert done.state is JobState.FAILED and done.error_code == "prepare_failed"
    assert h.sim.created_count == 0
    assert await _quota(h) == (0, 0)
