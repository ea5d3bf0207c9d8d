"""``kill -9`` the bot at the worst moments, start it again: every clip is delivered exactly
once, the quota is settled once, and a create that may or may not have reached Runway is
reported in doubt with a Retry button instead of being sent twice."""

from __future__ import annotations

from typing import Any

import pytest

from bot.simulator import Fault
from tests.e2e.harness import (
    Env,
    Place,
    buttons,
    clip_message,
    job_id_in,
    mentioned,
    message_text,
    notice_message,
    png,
    probe,
    status_text,
    thread_of,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

Json = Any
RUN_SECONDS = 1000  # simulated; the tests move the simulator's clock instead of waiting
NONCE_WINDOW = 5 * 60  # how long Discord (and the fake) drops a repeated nonce


async def start_job(env: Env, place: Place, user: int, prompt: str) -> tuple[int, int]:
    """Start /animate (2 s, 10 credits); return (job id, thread id)."""
    iid = await env.invoke(
        place,
        user,
        "animate",
        {"prompt": prompt, "duration": 2, "ratio": "1280:720"},
        [("still.png", png(), "image/png")],
    )
    job_id = job_id_in(await env.reply_text(iid))
    thread = await thread_of(env, place, job_id)
    return job_id, int(thread["id"])


async def wait_rendering(env: Env, status_id: int) -> None:
    async def rendering() -> bool:
        return "Rendering" in await status_text(env, status_id)

    await wait_for(rendering, "the status message to show Rendering")


async def clips_in(env: Env, channel_id: int) -> list[Json]:
    return [
        m
        for m in await env.ctl.messages(channel_id)
        if any(a["filename"].endswith(".mp4") for a in m["attachments"])
    ]


async def assert_delivered_once(
    env: Env, place: Place, job_id: int, thread_id: int, user: int
) -> None:
    clip = await clip_message(env, thread_id)

    row = await env.settled(job_id)
    assert len(await clips_in(env, thread_id)) == 1, "the clip was posted more than once"
    assert row["delivered_message_id"] == int(clip["id"])
    assert mentioned(clip) == [user]
    info = probe(await env.ctl.file(clip["attachments"][0]["id"]))
    assert info.seconds == pytest.approx(2.0, abs=0.15)
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("settle", 10.0)]

    async def finished() -> bool:
        return "Finished" in await status_text(env, thread_id)

    await wait_for(finished, "the status message to say Finished")


async def test_kill_while_running_then_restart_delivers_each_clip_once(
    env: Env, place: Place
) -> None:
    alice, bob = place.members
    before = env.sim.created_count
    jobs = [
        (alice, *await start_job(env, place, alice, f"first [sim:seconds={RUN_SECONDS}]")),
        (bob, *await start_job(env, place, bob, f"second [sim:seconds={RUN_SECONDS}]")),
    ]
    for _, _, thread_id in jobs:
        await wait_rendering(env, thread_id)

    env.bot.kill()
    env.sim.advance(RUN_SECONDS)  # both tasks finish at Runway while the bot is down
    await env.bot.start()

    for user, job_id, thread_id in jobs:
        await assert_delivered_once(env, place, job_id, thread_id, user)
    assert env.sim.created_count == before + 2, "nothing was submitted again"
    assert (await env.usage(place, alice))["Used"] == "10 credits"
    assert (await env.usage(place, bob))["Used"] == "10 credits"


@pytest.mark.parametrize(
    "after", [pytest.param(True, id="posted-not-recorded"), pytest.param(False, id="before-post")]
)
async def test_kill_while_delivering_then_restart_posts_the_clip_once(
    env: Env, place: Place, after: bool
) -> None:
    alice = place.members[0]
    job_id, thread_id = await start_job(env, place, alice, f"deliver [sim:seconds={RUN_SECONDS}]")
    await wait_rendering(env, thread_id)
    # Hold the clip upload: after Discord stored the message (the bot never hears back), or
    # before Discord looked at it.
    hold = env.fake.hold("POST", f"/channels/{thread_id}/messages", after=after)
    env.sim.advance(RUN_SECONDS)
    await wait_for(_is_set(hold.reached), "the bot to upload the clip")
    env.bot.kill()
    hold.release.set()
    assert len(await clips_in(env, thread_id)) == (1 if after else 0)
    assert env.db.job(job_id)["delivered_at"] is None

    await env.bot.start()
    await assert_delivered_once(env, place, job_id, thread_id, alice)
    assert (await env.usage(place, alice))["Used"] == "10 credits"


async def test_a_clip_posted_before_a_long_outage_is_not_posted_again(
    env: Env, place: Place
) -> None:
    alice = place.members[0]
    job_id, thread_id = await start_job(env, place, alice, f"outage [sim:seconds={RUN_SECONDS}]")
    await wait_rendering(env, thread_id)
    # Discord stores the clip; the bot dies before it hears back, so nothing records it.
    hold = env.fake.hold("POST", f"/channels/{thread_id}/messages", after=True)
    env.sim.advance(RUN_SECONDS)
    await wait_for(_is_set(hold.reached), "the bot to upload the clip")
    env.bot.kill()
    hold.release.set()
    (clip,) = await clips_in(env, thread_id)
    assert env.db.job(job_id)["delivered_at"] is None
    # The bot stays down longer than Discord remembers the message's nonce.
    await env.ctl.advance(NONCE_WINDOW + 60)
    env.sim.advance(NONCE_WINDOW + 60)

    await env.bot.start()
    await assert_delivered_once(env, place, job_id, thread_id, alice)
    assert env.db.job(job_id)["delivered_message_id"] == int(clip["id"])
    assert "not posting again" in env.bot.log.read_text(), env.bot.tail()
    assert (await env.usage(place, alice))["Used"] == "10 credits"


async def test_kill_while_submitting_ends_in_doubt_with_a_retry_button(
    env: Env, place: Place
) -> None:
    alice = place.members[0]
    posts = _posts(env)
    # Runway takes its time to answer the create: the bot dies while it is in flight.
    env.sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", status=200, delay=600))
    try:
        job_id, thread_id = await start_job(env, place, alice, "in flight")

        async def create_in_flight() -> bool:
            return _posts(env) > posts

        await wait_for(create_in_flight, "the create request to reach Runway")
        assert env.db.job(job_id)["state"] == "submitting"
        env.bot.kill()
    finally:
        env.sim.faults.clear()
    created = env.sim.created_count
    await env.bot.start()

    notice = await notice_message(env, thread_id, job_id)
    text = message_text(notice)
    assert f"Job #{job_id} was interrupted" in text, text
    assert "cannot tell whether Runway received it" in text, text
    assert "went back to your quota" in text, text
    assert mentioned(notice) == [alice]
    assert (await env.settled(job_id))["state"] == "in_doubt"
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("refund", 10.0)]
    assert _posts(env) == posts + 1, "a create in doubt is never sent again on its own"
    assert (await env.usage(place, alice))["Used"] == "0 credits"

    async def shows_interrupted() -> bool:
        return "Interrupted" in await status_text(env, thread_id)

    await wait_for(shows_interrupted, "the status message to show Interrupted")

    retry = await env.ctl.press_button(alice, int(notice["id"]), buttons(notice)["Retry"])
    second = job_id_in(await env.reply_text(retry))
    second_thread = await thread_of(env, place, second)
    await assert_delivered_once(env, place, second, int(second_thread["id"]), alice)
    assert env.sim.created_count == created + 1
    assert (await env.usage(place, alice))["Used"] == "10 credits"


async def test_kill_before_the_create_was_sent_requeues_and_delivers_once(
    env: Env, place: Place
) -> None:
    alice = place.members[0]
    created, posts = env.sim.created_count, _posts(env)
    # Runway is busy for two minutes: the job goes back to the queue, its status is posted.
    env.sim.add_fault(
        Fault(method="POST", path_prefix="/v1/image_to_video", status=429, retry_after=120)
    )
    # Its next submit redraws the status ("Sending to Runway…") before it sends the create:
    # holding that edit stops the bot where nothing has reached Runway yet.
    hold = env.fake.hold(
        "PATCH", r"/channels/\d+/messages/\d+", after=False, body="Sending to Runway"
    )
    try:
        job_id, thread_id = await start_job(env, place, alice, "before the create")
        await wait_for(_is_set(hold.reached), "the bot to redraw the status before the create")
        row = env.db.job(job_id)
        # Usually the second attempt (the first had no status to redraw yet); the first one
        # if the status was posted before the job was claimed. Nothing of this one was sent.
        refused = _posts(env) - posts
        assert (row["state"], row["create_sent_at"]) == ("submitting", None)
        assert refused in (0, 1) and row["attempts"] == refused + 1
        env.bot.kill()
    finally:
        env.fake.release_all()
        env.sim.faults.clear()
    await env.bot.start()

    await assert_delivered_once(env, place, job_id, thread_id, alice)
    assert _posts(env) == posts + refused + 1 and env.sim.created_count == created + 1
    assert env.db.job(job_id)["attempts"] == refused + 2
    assert "before its create was sent: requeued" in env.bot.log.read_text(), env.bot.tail()
    assert (await env.usage(place, alice))["Used"] == "10 credits"


def _posts(env: Env) -> int:
    return sum(1 for m, p in env.sim.request_log if m == "POST" and p == "/v1/image_to_video")


def _is_set(event: Any) -> Any:
    async def check() -> bool:
        return bool(event.is_set())

    return check


async def test_output_link_that_expired_while_the_bot_was_down_is_refreshed(
    env: Env, place: Place
) -> None:
    alice = place.members[0]
    job_id, thread_id = await start_job(env, place, alice, f"expiring [sim:seconds={RUN_SECONDS}]")
    await wait_rendering(env, thread_id)
    # The bot has the finished task's output link when it dies (killed while uploading).
    hold = env.fake.hold("POST", f"/channels/{thread_id}/messages", after=False)
    env.sim.advance(RUN_SECONDS)
    await wait_for(_is_set(hold.reached), "the bot to upload the clip")
    env.bot.kill()
    hold.release.set()
    stored = env.db.job(job_id)["output_url"]
    assert stored and "/_outputs/" in stored
    env.sim.expire_outputs()  # every link issued so far now answers 403, as after a long outage

    await env.bot.start()
    await assert_delivered_once(env, place, job_id, thread_id, alice)
    assert "expired; fetching a fresh one" in env.bot.log.read_text(), env.bot.tail()
    assert env.db.job(job_id)["output_url"] != stored
    assert (await env.usage(place, alice))["Used"] == "10 credits"
