"""Through CometAPI: a task reads as ``task_not_exist`` for a while after it is created."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import EnvOptions
from tests.e2e.harness import (
    Env,
    Place,
    clip_message,
    job_id_in,
    mentioned,
    png,
    probe,
    thread_of,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

# Simulated seconds (4 s of real time at the harness's factor of 25): the bot polls every 5
# simulated seconds while a task is not found, so it surely polls inside the window; shorter
# than the worker's 120 s lost window, so it never gives the task up even on a stalled machine.
# The test then ends the window by moving the simulator's clock, so it never waits it out.
HIDDEN_SECONDS = 100.0


@pytest.fixture(scope="module")
def env_options() -> EnvOptions:
    return EnvOptions(provider="cometapi", task_not_exist_seconds=HIDDEN_SECONDS)


async def test_task_not_exist_right_after_create_is_waited_out(env: Env, place: Place) -> None:
    alice = place.members[0]
    # The task is created after this, so it reads as task_not_exist at least until
    # started + HIDDEN_SECONDS.
    started = env.sim.clock.now()
    iid = await env.invoke(
        place,
        alice,
        "animate",
        {"prompt": "through the gateway", "duration": 2, "ratio": "1280:720"},
        [("gate.png", png(), "image/png")],
    )
    job_id = job_id_in(await env.reply_text(iid))
    task_id = await wait_for(lambda: _task_id(env), "the task to be created")

    # While the gateway still says task_not_exist, the bot keeps polling instead of giving up.
    async def polled_while_hidden() -> bool:
        hidden = env.sim.clock.now() - started < HIDDEN_SECONDS
        assert hidden, "the bot never polled while the task was hidden"
        return any(m == "GET" and p == f"/v1/tasks/{task_id}" for m, p in env.sim.request_log)

    await wait_for(polled_while_hidden, "a poll during the task_not_exist window")
    env.sim.advance(HIDDEN_SECONDS)  # the gateway now shows the task

    thread = await thread_of(env, place, job_id)
    clip = await clip_message(env, int(thread["id"]))
    assert mentioned(clip) == [alice]
    info = probe(await env.ctl.file(clip["attachments"][0]["id"]))
    assert info.seconds == pytest.approx(2.0, abs=0.15)
    assert env.sim.created_count == 1
    row = await env.settled(job_id)
    assert row["state"] == "succeeded" and row["delivered_message_id"] == int(clip["id"])
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("settle", 10.0)]
    assert (await env.usage(place, alice))["Used"] == "10 credits"


async def _task_id(env: Env) -> str | None:
    tasks = env.sim.state()["tasks"]
    return next(iter(tasks), None)
