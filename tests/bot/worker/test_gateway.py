"""Every dialect and fault of the CometAPI gateway, through the real client and worker against
the simulator: the job's end state, what the user is told, their quota and the bot-wide
counter, and never a second task for one job (docs/providers.md lists the sources)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain import Job, JobState, NewJob
from bot.simulator import Fault, RunwaySimulator, SimulatorOptions
from bot.simulator import dialects as sim_dialects
from bot.store.db import Store
from tests.bot.conftest import FakeClock, image_input, new_animate
from tests.bot.worker.harness import Harness, make_client, worker_settings

GATEWAY_KEY = "sk-gateway-test-key"
ESTIMATE = 10.0  # gen4_turbo, 2 s at 5 credits/s


def _job(prompt: str = "a calm sea") -> NewJob:
    return new_animate(1, prompt=prompt, duration=2, inputs=(image_input(640, 360),))


@contextlib.asynccontextmanager
async def _gateway(
    tmp_path: Path, store: Store, clock: FakeClock, **options: object
) -> AsyncIterator[Harness]:
    """A worker harness whose simulator speaks the gateway's dialect, and a cometapi client."""
    sim = RunwaySimulator(
        SimulatorOptions(
            provider="cometapi",
            task_seconds=12.0,
            pending_seconds=2.0,
            concurrency=2,
            task_not_exist_seconds=0.0,
            **options,  # type: ignore[arg-type]
        )
    )
    await sim.start()
    client = make_client(sim, provider="cometapi", api_key=GATEWAY_KEY)
    h = Harness(tmp_path, store, sim, client, clock, worker_settings())
    try:
        yield h
    finally:
        for w in h.workers:
            await w.abort()
        await client.close()
        await sim.stop()


@pytest.fixture
async def gw(tmp_path: Path, store: Store, clock: FakeClock) -> AsyncIterator[Harness]:
    async with _gateway(tmp_path, store, clock) as h:
        yield h


@pytest.fixture
async def gw_no_delete(tmp_path: Path, store: Store, clock: FakeClock) -> AsyncIterator[Harness]:
    async with _gateway(tmp_path, store, clock, delete_routed=False) as h:
        yield h


async def _run(h: Harness, prompt: str, *, cycles: int = 60) -> Job:
    """Create a job and cycle until the worker is done with it (posted, or given up)."""
    job = await h.engine.jobs.create(_job(prompt))
    w = h.worker()

    async def settled() -> bool:
        row = await h.store.fetchone("SELECT state, next_poll_at FROM jobs WHERE id = ?", (job.id,))
        return (
            row is not None
            and row[0] not in ("queued", "submitting", "running")
            and (row[1] is None)
        )

    await h.run_until(w, settled, max_cycles=cycles)
    return await h.job(job.id)


async def _user_quota(h: Harness) -> tuple[float, float]:
    status = await h.engine.quota.status(1000, 1)
    return status.used, status.reserved


def _creates(h: Harness) -> int:
    return sum(1 for m, p in h.sim.request_log if m == "POST" and p == "/v1/image_to_video")


async def assert_delivered_once(h: Harness, done: Job, *, posts: int = 1) -> None:
    assert done.state is JobState.SUCCEEDED and done.delivered, done
    assert h.port.visible() == [("clip", done.id, done.delivered_message_id)]
    assert await _user_quota(h) == (ESTIMATE, 0)
    assert (await h.engine.quota.bot_usage_today())[0] == ESTIMATE
    assert h.sim.created_ids == [done.provider_task_id], "one job, one task"
    assert _creates(h) == posts


async def assert_refunded_and_told(h: Harness, done: Job, *, bot_keeps: float) -> None:
    assert done.refunded and done.delivered, done
    assert h.port.visible() == [("failure", done.id, done.delivered_message_id)]
    assert await _user_quota(h) == (0, 0)
    assert await h.engine.quota.bot_usage_today() == (bot_keeps, 0)


# -- create answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape", ["id", "id_cost", "task_id", "openai_video", "envelope_str", "envelope_obj"]
)
async def test_every_create_answer_shape_is_followed_to_the_clip(gw: Harness, shape: str) -> None:
    done = await _run(gw, f"waves [sim:create={shape}]")
    await assert_delivered_once(gw, done)


async def test_a_create_answer_without_any_id_is_in_doubt_and_said_so(gw: Harness) -> None:
    done = await _run(gw, "waves [sim:create=empty]")
    assert done.state is JobState.IN_DOUBT and done.error_code == "no_task_id"
    assert done.error_text is not None and "did not say which task" in done.error_text
    # The gateway billed a task the bot cannot follow: the user is refunded, the bot-wide
    # counter keeps it, and nothing is sent again on its own.
    await assert_refunded_and_told(gw, done, bot_keeps=ESTIMATE)
    for _ in range(10):
        await gw.cycle(gw.workers[-1], 30)
    assert len(gw.sim.created_ids) == 1 and _creates(gw) == 1


# -- task answers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "directives",
    [
        pytest.param("[sim:inner=null] [sim:url=result_url]", id="no-inner-task-result-url"),
        pytest.param("[sim:inner=stale] [sim:url=result_url]", id="stale-inner-task"),
        pytest.param("[sim:url=fail_reason]", id="url-in-fail-reason"),
        pytest.param("[sim:inner=stale] [sim:url=fail_reason]", id="stale-url-in-fail-reason"),
    ],
)
async def test_every_task_answer_shape_yields_the_clip(gw: Harness, directives: str) -> None:
    done = await _run(gw, f"a fox {directives}")
    await assert_delivered_once(gw, done)


async def test_a_result_on_the_gateway_itself_is_fetched_with_the_key(gw: Harness) -> None:
    done = await _run(gw, "a fox [sim:url=gateway]")
    await assert_delivered_once(gw, done)
    assert gw.sim.content_requests == {"with_key": 1, "without_key": 0}


async def test_a_success_with_no_url_anywhere_is_refunded_but_counted(gw: Harness) -> None:
    done = await _run(gw, "a fox [sim:inner=null]")
    assert done.state is JobState.FAILED and done.error_code == "no_output"
    await assert_refunded_and_told(gw, done, bot_keeps=ESTIMATE)


async def test_a_late_task_not_exist_does_not_lose_a_paid_clip(gw: Harness) -> None:
    done = await _run(gw, "a fox [sim:flicker=2]")
    await assert_delivered_once(gw, done)


async def test_the_gateways_timeout_sweep_is_a_plain_failure(gw: Harness) -> None:
    done = await _run(gw, "a fox [sim:sweep]")
    assert done.state is JobState.FAILED
    assert done.error_text is not None and "task timeout" not in done.error_text  # not raw
    await assert_refunded_and_told(gw, done, bot_keeps=0)
    assert _creates(gw) == 1


# -- refusals on create ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(sim_dialects.no_channel_503("gen4_turbo"), id="no-channel-503"),
        pytest.param(sim_dialects.runway_503(method="POST"), id="runway-503"),
        pytest.param(
            sim_dialects.fail_to_fetch(
                503,
                '{"error": "Service temporarily unavailable"}',
                method="POST",
                path_prefix="/v1/",
            ),
            id="relayed-runway-503",
        ),
        pytest.param(sim_dialects.final_429(), id="final-429-without-retry-after"),
    ],
)
async def test_refusals_that_started_nothing_are_sent_again_later(
    gw: Harness, fault: Fault
) -> None:
    gw.sim.add_fault(fault)
    done = await _run(gw, "busy day")
    await assert_delivered_once(gw, done, posts=2)  # the refused one, then the task
    assert gw.sim.faults == []


async def test_an_html_503_may_have_started_a_task_so_it_is_in_doubt(gw: Harness) -> None:
    gw.sim.add_fault(sim_dialects.html_503(method="POST"))
    done = await _run(gw, "busy day")
    assert done.state is JobState.IN_DOUBT and done.error_code == "in_doubt"
    await assert_refunded_and_told(gw, done, bot_keeps=ESTIMATE)
    assert gw.sim.created_ids == []


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        pytest.param(
            sim_dialects.insufficient_quota_403(), "balance", "balance is used up", id="balance"
        ),
        pytest.param(sim_dialects.invalid_key_401(method="POST"), "auth", "refused", id="key"),
        pytest.param(sim_dialects.runway_daily_limit_429(), "daily_limit", "daily", id="daily"),
    ],
)
async def test_account_refusals_on_create_fail_plainly_without_retrying(
    gw: Harness, fault: Fault, code: str, words: str, caplog: pytest.LogCaptureFixture
) -> None:
    gw.sim.add_fault(fault)
    done = await _run(gw, "anything")
    assert done.state is JobState.FAILED and done.error_code == code
    assert done.error_text is not None and words in done.error_text
    await assert_refunded_and_told(gw, done, bot_keeps=0)
    assert _creates(gw) == 1, "never retried"
    assert gw.sim.created_ids == []
    problem = (await gw.engine.jobs.queue_stats()).account_problem
    if code == "daily_limit":
        assert problem is None
    else:
        assert any(r.levelname == "ERROR" for r in caplog.records), "the operator is told"
        assert problem is not None and (problem.job_id, problem.code) == (done.id, code)


async def test_the_account_problem_clears_once_a_job_succeeds_again(gw: Harness) -> None:
    gw.sim.add_fault(sim_dialects.insufficient_quota_403())
    await _run(gw, "first")
    assert (await gw.engine.jobs.queue_stats()).account_problem is not None
    await _run(gw, "after the top-up")
    assert (await gw.engine.jobs.queue_stats()).account_problem is None


# -- refusals while polling --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        pytest.param(
            sim_dialects.insufficient_quota_403(method="GET", path_prefix="/v1/tasks/", times=1000),
            "balance",
            id="balance",
        ),
        pytest.param(
            sim_dialects.invalid_key_401(method="GET", path_prefix="/v1/tasks/", times=1000),
            "auth",
            id="key",
        ),
    ],
)
async def test_account_refused_while_polling_fails_the_job_instead_of_waiting_it_out(
    gw: Harness, fault: Fault, code: str
) -> None:
    gw.sim.add_fault(fault)
    done = await _run(gw, "anything")
    gw.sim.faults.clear()
    assert done.state is JobState.FAILED and done.error_code == code
    assert done.error_text is not None and "an admin must fix it" in done.error_text
    # The task runs on at the gateway and may be billed: the bot-wide counter keeps it.
    await assert_refunded_and_told(gw, done, bot_keeps=ESTIMATE)
    polls = [p for m, p in gw.sim.request_log if m == "GET" and p.startswith("/v1/tasks/")]
    assert 3 <= len(polls) <= 6, "given up after a few polls, not at the deadline"


async def test_an_upstream_error_while_polling_is_waited_out(gw: Harness) -> None:
    gw.sim.add_fault(sim_dialects.fail_to_fetch(502, "upstream bad gateway", times=3))
    done = await _run(gw, "anything")
    await assert_delivered_once(gw, done)


# -- cancel ------------------------------------------------------------------------------------


async def test_a_cancel_the_gateway_cannot_carry_out_is_reported_as_such(
    gw_no_delete: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = gw_no_delete
    job = await h.engine.jobs.create(_job("slow [sim:seconds=600]"))
    w = h.worker()
    await h.cycle(w, 0)
    running = await h.job(job.id)
    assert running.state is JobState.RUNNING and running.provider_task_id
    await h.engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)

    async def told() -> bool:
        return (await h.job(job.id)).delivered

    await h.run_until(w, told)
    done = await h.job(job.id)
    assert done.state is JobState.CANCELLED
    assert done.error_text is not None and "could not be asked to stop" in done.error_text
    assert "billed to the bot, not to you" in done.error_text
    assert h.sim.task_status(running.provider_task_id) == "RUNNING", "it really goes on"
    await assert_refunded_and_told(h, done, bot_keeps=ESTIMATE)
    assert any("cannot cancel" in r.getMessage() for r in caplog.records)
