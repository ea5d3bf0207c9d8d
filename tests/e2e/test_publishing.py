"""Publishing a job (its status message and thread) is a step the bot finishes whatever
happens: killed while the status post is held (Discord stored it, or never saw it), a 5xx after
Discord stored the status message or created the thread, a job cancelled at Runway while its
status is still being posted. Each time the member hears about the job exactly once, in the
job's one thread, and no status message is left with a live Cancel button."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import (
    Env,
    Place,
    buttons,
    clip_message,
    job_id_in,
    mentioned,
    notice_message,
    png,
    status_text,
    thread_of,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

Json = Any
RUN_SECONDS = 1000  # simulated; the tests move the simulator's clock instead of waiting


def _is_set(event: Any) -> Any:
    async def probe() -> bool:
        return bool(event.is_set())

    return probe


async def animate(env: Env, place: Place, user: int, prompt: str) -> str:
    return await env.invoke(
        place,
        user,
        "animate",
        {"prompt": prompt, "duration": 2, "ratio": "1280:720"},
        [("still.png", png(), "image/png")],
    )


def latest_job(env: Env, place: Place) -> int:
    rows = env.db.rows("SELECT id FROM jobs WHERE guild_id = ? ORDER BY id DESC", (place.guild_id,))
    assert rows, "no job was created"
    return int(rows[0]["id"])


async def status_posts(env: Env, place: Place, job_id: int) -> list[Json]:
    """The job's status messages in the place's channel (its embed title names the job)."""
    return [
        m
        for m in await env.ctl.messages(place.channel_id)
        if any((e.get("title") or "").endswith(f"· job #{job_id}") for e in m.get("embeds") or [])
    ]


async def no_live_buttons(env: Env, place: Place, job_id: int) -> None:
    """Once the job is final, no message in its channel or threads offers its Cancel."""
    cancel = f"rw:cancel:{job_id}"
    channels = [place.channel_id] + [int(t["id"]) for t in await env.ctl.threads(place.channel_id)]
    for channel_id in channels:
        for message in await env.ctl.messages(channel_id):
            assert cancel not in buttons(message).values(), message


async def one_status(env: Env, place: Place, job_id: int) -> Json:
    """Wait until the job has its status message; there is exactly one."""

    async def posted() -> list[Json]:
        return await status_posts(env, place, job_id)

    (status,) = await wait_for(posted, f"the status message of job #{job_id}")
    return status


@pytest.mark.parametrize(
    "after", [pytest.param(True, id="stored-not-recorded"), pytest.param(False, id="never-stored")]
)
async def test_kill_while_posting_the_status_then_restart_publishes_it_once(
    env: Env, place: Place, after: bool
) -> None:
    alice = place.members[0]
    before = env.sim.created_count
    hold = env.fake.hold("POST", f"/channels/{place.channel_id}/messages", after=after)
    await animate(env, place, alice, f"held [sim:seconds={RUN_SECONDS}]")
    await wait_for(_is_set(hold.reached), "the bot to post the status message")
    job_id = latest_job(env, place)

    async def running() -> bool:
        return env.db.job(job_id)["state"] == "running"

    await wait_for(running, "the job to reach Runway while its status post is held")
    env.bot.kill()
    hold.release.set()
    assert len(await status_posts(env, place, job_id)) == (1 if after else 0)
    assert env.db.job(job_id)["status_message_id"] is None

    await env.bot.start()
    # Published first: the stored message adopted (not doubled), or posted now, with a thread.
    status = await one_status(env, place, job_id)
    thread = await thread_of(env, place, job_id)
    assert int(thread["id"]) == int(status["id"])

    async def recorded() -> bool:
        row = env.db.job(job_id)
        return row["status_message_id"] == int(status["id"]) and row["thread_id"] == int(
            thread["id"]
        )

    await wait_for(recorded, "the status message and thread to be recorded")
    env.sim.advance(RUN_SECONDS)
    clip = await clip_message(env, int(thread["id"]))
    assert mentioned(clip) == [alice]
    row = await env.settled(job_id)
    assert row["state"] == "succeeded" and row["delivered_message_id"] == int(clip["id"])
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("settle", 10.0)]
    assert env.sim.created_count == before + 1

    async def finished() -> bool:
        return "Finished" in await status_text(env, int(status["id"]))

    await wait_for(finished, "the status message to say Finished")
    assert len(await status_posts(env, place, job_id)) == 1
    await no_live_buttons(env, place, job_id)


@pytest.mark.parametrize("status", [503, 500])
async def test_a_5xx_after_discord_stored_the_status_keeps_that_one_message(
    env: Env, place: Place, status: int
) -> None:
    """503: discord.py gives up and the bot finds the stored message; 500: discord.py repeats
    the post and Discord drops the repeat by its nonce."""
    alice = place.members[0]
    env.fake.hold("POST", f"/channels/{place.channel_id}/messages", after=True, status=status)
    iid = await animate(env, place, alice, "answered with an error")
    text = await env.reply_text(iid)
    job_id = job_id_in(text)
    assert "queued" in text and "try again" not in text, text
    status_message = await one_status(env, place, job_id)
    thread = await thread_of(env, place, job_id)
    assert int(thread["id"]) == int(status_message["id"])
    clip = await clip_message(env, int(thread["id"]))
    assert mentioned(clip) == [alice]
    row = await env.settled(job_id)
    assert row["status_message_id"] == int(status_message["id"])
    assert row["state"] == "succeeded"
    assert len(await status_posts(env, place, job_id)) == 1
    await no_live_buttons(env, place, job_id)


@pytest.mark.parametrize("status", [503, 500])
async def test_a_thread_created_before_a_5xx_is_found_and_used(
    env: Env, place: Place, status: int
) -> None:
    """503: the bot looks and finds the thread; 500: discord.py repeats the request, Discord
    answers 400 "a thread has already been created", and the bot finds it."""
    alice = place.members[0]
    env.fake.hold(
        "POST", rf"/channels/{place.channel_id}/messages/\d+/threads", after=True, status=status
    )
    iid = await animate(env, place, alice, "thread answered with an error")
    text = await env.reply_text(iid)
    job_id = job_id_in(text)
    assert "could not open a thread" not in text, text
    threads = await env.ctl.threads(place.channel_id)
    assert len(threads) == 1
    clip = await clip_message(env, int(threads[0]["id"]))
    assert mentioned(clip) == [alice]
    row = await env.settled(job_id)
    assert row["thread_id"] == int(threads[0]["id"])
    assert not [
        m
        for m in await env.ctl.messages(place.channel_id)
        if any(a["filename"].endswith(".mp4") for a in m["attachments"])
    ], "the clip went to the channel"


async def test_a_job_cancelled_at_runway_while_its_status_is_posted_is_told(
    env: Env, place: Place
) -> None:
    """Runway cancels the task while Discord is slow to answer the status post: the worker
    waits for the post (no grace, no giving up) and tells the member in the job's thread."""
    alice = place.members[0]
    hold = env.fake.hold("POST", f"/channels/{place.channel_id}/messages", after=True)
    iid = await animate(env, place, alice, "cancelled at once [sim:cancel]")
    await wait_for(_is_set(hold.reached), "the bot to post the status message")
    job_id = latest_job(env, place)

    async def cancelled() -> bool:
        return env.db.job(job_id)["state"] == "cancelled"

    await wait_for(cancelled, "Runway to cancel the task while the status post is held")
    assert env.db.job(job_id)["delivered_at"] is None
    hold.release.set()
    assert f"Job #{job_id}" in await env.reply_text(iid)
    status = await one_status(env, place, job_id)
    thread = await thread_of(env, place, job_id)
    notice = await notice_message(env, int(thread["id"]), job_id)
    assert mentioned(notice) == [alice]
    row = await env.settled(job_id)
    assert row["state"] == "cancelled" and row["delivered_message_id"] == int(notice["id"])
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("refund", 10.0)]

    async def shows_cancelled() -> bool:
        return "Cancelled" in await status_text(env, int(status["id"]))

    await wait_for(shows_cancelled, "the status message to say Cancelled")
    await no_live_buttons(env, place, job_id)
