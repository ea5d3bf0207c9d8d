"""When Runway refuses, stalls or loses things: the user gets the clip or a plain reason, and
the quota ends where it should."""

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
    thread_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

Json = Any


async def animate(env: Env, place: Place, user: int, prompt: str) -> tuple[int, int]:
    """Start /animate (2 s, 10 credits); return (job id, thread id)."""
    iid = await env.invoke(
        place,
        user,
        "animate",
        {"prompt": prompt, "duration": 2, "ratio": "1280:720"},
        [("scene.png", png(), "image/png")],
    )
    job_id = job_id_in(await env.reply_text(iid))
    thread = await thread_of(env, place, job_id)
    return job_id, int(thread["id"])


def task_requests(env: Env, method: str, prefix: str) -> int:
    return sum(1 for m, p in env.sim.request_log if m == method and p.startswith(prefix))


async def test_moderation_failure_is_explained_and_refunded(env: Env, place: Place) -> None:
    alice, bob = place.members
    job_id, thread_id = await animate(env, place, alice, "something [sim:fail=SAFETY.INPUT.TEXT]")
    notice = await notice_message(env, thread_id, job_id)
    text = message_text(notice)
    assert f"Job #{job_id} failed" in text
    assert "safety filter refused the prompt" in text, text
    assert "The 10 credits reserved for it went back to your quota." in text, text
    assert "SAFETY.INPUT.TEXT" not in text  # Runway's raw code is not shown for known families
    assert mentioned(notice) == [alice] and bob not in mentioned(notice)
    assert list(buttons(notice)) == ["Edit prompt"]  # Retry would be refused the same way
    assert not any(a for a in notice["attachments"])
    assert (await env.settled(job_id))["delivered_message_id"] == int(notice["id"])
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("refund", 10.0)]
    usage = await env.usage(place, alice)
    assert usage["Used"] == "0 credits" and "In progress" not in usage, usage


async def test_429_storm_on_create_ends_with_the_clip_charged_once(env: Env, place: Place) -> None:
    alice = place.members[0]
    before = env.sim.created_count
    posts_before = task_requests(env, "POST", "/v1/image_to_video")
    env.sim.add_fault(
        Fault(method="POST", path_prefix="/v1/image_to_video", status=429, retry_after=0.2, times=6)
    )
    job_id, thread_id = await animate(env, place, alice, "a busy day")
    clip = await clip_message(env, thread_id)
    assert mentioned(clip) == [alice]
    assert probe(await env.ctl.file(clip["attachments"][0]["id"])).seconds == pytest.approx(
        2.0, abs=0.15
    )
    assert task_requests(env, "POST", "/v1/image_to_video") - posts_before == 7
    assert env.sim.created_count == before + 1
    await env.settled(job_id)
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("settle", 10.0)]
    assert (await env.usage(place, alice))["Used"] == "10 credits"


async def test_5xx_storms_while_submitting_and_polling_end_with_the_clip(
    env: Env, place: Place
) -> None:
    alice = place.members[0]
    before = env.sim.created_count
    # 503 on create is load shedding (nothing started): sent again later.
    env.sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", status=503, times=3))
    # 502/500 while polling: reads are retried, then polled again later.
    env.sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks/", status=502, times=4))
    env.sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks/", status=500, times=4))
    job_id, thread_id = await animate(env, place, alice, "storm")
    clip = await clip_message(env, thread_id)
    assert mentioned(clip) == [alice]
    assert env.sim.faults == [], "every scripted fault was met"
    assert env.sim.created_count == before + 1
    await env.settled(job_id)
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("settle", 10.0)]
    assert (await env.usage(place, alice))["Used"] == "10 credits"


async def test_500_on_create_is_in_doubt_refunded_and_retry_works(env: Env, place: Place) -> None:
    alice = place.members[0]
    # A 500 after the create was sent may mean the task exists: never sent again on its own.
    env.sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", status=500, times=1))
    before = env.sim.created_count
    job_id, thread_id = await animate(env, place, alice, "maybe")
    notice = await notice_message(env, thread_id, job_id)
    text = message_text(notice)
    assert f"Job #{job_id} was interrupted" in text, text
    assert "went back to your quota" in text, text
    assert mentioned(notice) == [alice]
    assert (await env.settled(job_id))["state"] == "in_doubt"
    assert env.sim.created_count == before
    assert (await env.usage(place, alice))["Used"] == "0 credits"

    retry = await env.ctl.press_button(alice, int(notice["id"]), buttons(notice)["Retry"])
    second = job_id_in(await env.reply_text(retry))
    assert second != job_id
    second_thread = await thread_of(env, place, second)
    clip = await clip_message(env, int(second_thread["id"]))
    assert mentioned(clip) == [alice]
    await env.settled(second)
    assert env.sim.created_count == before + 1
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("refund", 10.0)]
    assert env.db.ledger(second) == [("reserve", 10.0), ("settle", 10.0)]
    assert (await env.usage(place, alice))["Used"] == "10 credits"


async def test_expired_output_url_is_refreshed_and_the_clip_delivered(
    env: Env, place: Place
) -> None:
    alice = place.members[0]
    # The output link answers 403 (expired) twice; the bot fetches fresh links from the task.
    env.sim.add_fault(Fault(method="GET", path_prefix="/_outputs/", status=403, times=2))
    job_id, thread_id = await animate(env, place, alice, "late pickup")
    clip = await clip_message(env, thread_id)
    assert probe(await env.ctl.file(clip["attachments"][0]["id"])).seconds == pytest.approx(
        2.0, abs=0.15
    )
    assert env.sim.faults == []
    assert task_requests(env, "GET", "/_outputs/") >= 3
    await env.settled(job_id)
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("settle", 10.0)]
    assert (await env.usage(place, alice))["Used"] == "10 credits"


async def test_output_that_never_downloads_gets_a_plain_reason(env: Env, place: Place) -> None:
    alice = place.members[0]
    env.sim.add_fault(Fault(method="GET", path_prefix="/_outputs/", status=403, times=1000))
    try:
        job_id, thread_id = await animate(env, place, alice, "lost")
        notice = await notice_message(env, thread_id, job_id)
    finally:
        env.sim.faults.clear()
    text = message_text(notice)
    assert f"Job #{job_id} failed" in text, text
    assert "could not be downloaded" in text, text
    assert mentioned(notice) == [alice]
    # Runway made the clip, but the user never got it: the reservation is refunded.
    assert (await env.settled(job_id))["error_code"] == "download_failed"
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("refund", 10.0)]
    used = (await env.usage(place, alice))["Used"]
    assert "went back to your quota" in text and used == "0 credits", (text, used)
