"""/animate, /restyle and the message menu, end to end: what the requester and others see."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.harness import (
    Env,
    Place,
    buttons,
    job_id_in,
    message_text,
    mp4,
    png,
    probe,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

Json = Any


async def thread_of(env: Env, place: Place, job_id: int) -> Json:
    """The job's thread under the place's channel (named after the job)."""

    async def find() -> Json:
        for thread in await env.ctl.threads(place.channel_id):
            if f"Job #{job_id} " in thread["name"]:
                return thread
        return None

    return await wait_for(find, f"the thread of job #{job_id}")


async def clip_message(env: Env, channel_id: int) -> Json:
    """The bot's message carrying an .mp4 in a channel or thread."""

    async def find() -> Json:
        for message in await env.ctl.messages(channel_id):
            if any(a["filename"].endswith(".mp4") for a in message["attachments"]):
                return message
        return None

    return await wait_for(find, f"a clip in channel {channel_id}")


async def status_edits(env: Env, channel_id: int, message_id: int) -> list[str]:
    """Every edit of the status message the fake accepted, as text."""
    path = f"/channels/{channel_id}/messages/{message_id}"
    return [
        message_text(call["body"])
        for call in await env.ctl.calls()
        if call["method"] == "PATCH" and call["path"] == path and call["status"] == 200
    ]


async def status_text(env: Env, message_id: int) -> str:
    return message_text(await env.ctl.message(message_id))


def mentioned(message: Json) -> list[int]:
    return [int(u["id"]) for u in message["mentions"]]


async def test_animate_happy_path(env: Env, place: Place) -> None:
    alice, bob = place.members
    before = await env.created()
    iid = await env.invoke(
        place,
        alice,
        "animate",
        {"prompt": "a lighthouse at dusk [sim:seconds=600]", "duration": 2, "ratio": "1280:720"},
        [("lighthouse.png", png(), "image/png")],
    )
    answer = await env.answer(iid)
    assert answer["ephemeral"]
    confirmation = message_text(answer["followups"][-1])
    job_id = job_id_in(confirmation)
    assert "queued" in confirmation
    thread = await thread_of(env, place, job_id)
    assert str(thread["id"]) in confirmation  # the link points at the thread
    status_id = int(thread["id"])  # a thread made from a message has the message's id
    status = await env.ctl.message(status_id)
    assert int(status["channel_id"]) == place.channel_id
    assert status["mentions"] == [], "the public status message pings nobody"
    assert "Cancel" in buttons(status)

    # The task runs 600 simulated seconds: the status message shows its progress.
    await wait_for(
        lambda: _contains(status_text(env, status_id), "Rendering"), "the status to show Rendering"
    )
    assert await env.created() == before + 1
    env.sim.advance(300)
    await wait_for(
        lambda: _percent_at_least(status_text(env, status_id), 40), "progress of at least 40 %"
    )
    env.sim.advance(400)

    clip = await clip_message(env, int(thread["id"]))
    assert mentioned(clip) == [alice] and bob not in mentioned(clip)
    assert clip["mention_everyone"] is False and clip["mention_roles"] == []
    assert f"<@{alice}>" in clip["content"]
    (attachment,) = clip["attachments"]
    info = probe(await env.ctl.file(attachment["id"]))
    assert (info.width, info.height) == (640, 360)  # 1280:720 as the simulator renders it
    assert info.seconds == pytest.approx(2.0, abs=0.15)
    assert "Rerun with a new seed" in buttons(clip)

    await wait_for(
        lambda: _contains(status_text(env, status_id), "Finished"), "the status to say Finished"
    )
    edits = await status_edits(env, place.channel_id, status_id)
    assert any("Rendering" in e and "%" in e for e in edits), edits
    assert "Finished" in edits[-1]
    assert "Cancel" not in buttons(await env.ctl.message(status_id))

    # Nobody else got a message that pings them; the quota is charged once.
    for channel in (place.channel_id, int(thread["id"])):
        for message in await env.ctl.messages(channel):
            assert set(mentioned(message)) <= {alice}
    usage = await env.usage(place, alice)
    assert usage["Used"] == "10 credits", usage  # gen4_turbo: 5 credits/s x 2 s
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("settle", 10.0)]
    assert (await env.usage(place, bob))["Used"] == "0 credits"
    assert await env.created() == before + 1


async def test_restyle_with_reference(env: Env, place: Place) -> None:
    alice = place.members[0]
    before = await env.created()
    iid = await env.invoke(
        place,
        alice,
        "restyle",
        {"prompt": "as a watercolour painting"},
        [("walk.mp4", mp4(2.0, 320, 240), "video/mp4"), ("style.png", png(), "image/png")],
        attachment_options=["video", "reference"],
    )
    job_id = job_id_in(await env.reply_text(iid))
    thread = await thread_of(env, place, job_id)
    clip = await clip_message(env, int(thread["id"]))
    assert mentioned(clip) == [alice]
    info = probe(await env.ctl.file(clip["attachments"][0]["id"]))
    assert info.seconds == pytest.approx(2.0, abs=0.2)
    assert info.width * 3 == info.height * 4  # the clip keeps the input's 4:3 shape
    assert await env.created() == before + 1
    row = env.db.job(job_id)
    assert row["kind"] == "restyle" and row["model"] == "gen4_aleph"
    usage = await env.usage(place, alice)
    assert usage["Used"] == "30 credits", usage  # gen4_aleph: 15 credits/s x 2 s of input


async def _contains(text: Any, needle: str) -> bool:
    return needle in await text


async def _percent_at_least(text: Any, percent: int) -> bool:
    match = re.search(r"(\d+)%", await text)
    return match is not None and int(match.group(1)) >= percent
