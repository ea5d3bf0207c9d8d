"""Cost first and a status that lives, end to end: the estimate and what is left, the server's
confirmation threshold (Confirm / Cancel), Discord timestamps, the input's preview, and saying
what the bot changed (a trimmed clip, an auto ratio)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.harness import (
    Env,
    Place,
    buttons,
    clip_message,
    job_id_in,
    last_message,
    message_text,
    mp4,
    png,
    thread_of,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

Json = Any


async def set_threshold(env: Env, place: Place, credits: int) -> None:
    iid = await env.invoke(place, place.owner_id, "runway cost-confirm", {"credits": credits})
    assert str(credits) in await env.reply_text(iid)


async def ask(env: Env, place: Place, user: int, prompt: str) -> tuple[str, Json]:
    """/animate of 2 s (10 credits) that should stop at the confirmation; its prompt message."""
    iid = await env.invoke(
        place, user, "animate", {"prompt": prompt, "duration": 2}, [("a.png", png(), "image/png")]
    )
    answer = await env.answer(iid)
    prompt_message = last_message(answer)
    assert answer["ephemeral"], answer
    return iid, prompt_message


async def followup_text(env: Env, interaction_id: str) -> str:
    """The text of the first follow-up to an interaction (after the question was updated)."""

    async def sent() -> Json:
        data = await env.ctl.interaction(interaction_id)
        return data if data["followups"] else None

    data = await wait_for(sent, f"a follow-up to interaction {interaction_id}")
    return message_text(data["followups"][0])


async def test_above_the_threshold_a_job_waits_for_confirm(env: Env, place: Place) -> None:
    alice = place.members[0]
    await set_threshold(env, place, 5)
    before = await env.created()
    _, question = await ask(env, place, alice, "a lantern")
    text = message_text(question)
    assert text == (
        "This job costs about **10** credits, more than this server's confirmation threshold "
        "of **5**. About **10** credits; **190** credits left after it. Start it?"
    )
    assert list(buttons(question)) == ["Confirm", "Cancel"]
    assert await env.created() == before  # nothing sent, nothing reserved
    assert (await env.usage(place, alice))["Used"] == "0 credits"
    assert env.db.rows("SELECT id FROM jobs WHERE guild_id = ?", (place.guild_id,)) == []

    pressed = await env.ctl.press_button(alice, int(question["id"]), buttons(question)["Confirm"])
    answer = await env.answer(pressed)
    assert answer["callback_type"] == 7  # the question itself becomes "Starting the job…"
    assert message_text(answer["callback"]["data"]) == "Starting the job…"
    assert answer["callback"]["data"]["components"] == []
    reply = await followup_text(env, pressed)
    job_id = job_id_in(reply)
    assert "About **10** credits; **190** credits left after it." in reply
    clip = await clip_message(env, int((await thread_of(env, place, job_id))["id"]))
    assert "Credits charged: 10" in message_text(clip)
    await env.settled(job_id)
    assert (await env.usage(place, alice))["Used"] == "10 credits"


async def test_cancel_at_the_confirmation_changes_nothing(env: Env, place: Place) -> None:
    alice = place.members[0]
    await set_threshold(env, place, 0)
    before = await env.created()
    _, question = await ask(env, place, alice, "a lantern")
    pressed = await env.ctl.press_button(alice, int(question["id"]), buttons(question)["Cancel"])
    answer = await env.answer(pressed)
    assert answer["callback_type"] == 7  # the question itself is updated
    assert "Nothing was started and nothing was charged." in message_text(
        answer["callback"]["data"]
    )
    assert await env.created() == before
    assert env.db.rows("SELECT id FROM jobs WHERE guild_id = ?", (place.guild_id,)) == []
    assert (await env.usage(place, alice))["Used"] == "0 credits"


async def test_the_status_shows_runway_timestamps_and_a_preview(env: Env, place: Place) -> None:
    alice = place.members[0]
    iid = await env.invoke(
        place,
        alice,
        "animate",
        {"prompt": "a kite [sim:seconds=600]", "duration": 2},
        [("kite.png", png(), "image/png")],
    )
    reply = await env.reply_text(iid)
    job_id = job_id_in(reply)
    assert "About **10** credits; **190** credits left after it." in reply
    assert "was chosen by `auto`" in reply
    status_id = int((await thread_of(env, place, job_id))["id"])

    async def submitted() -> str | None:
        text = message_text(await env.ctl.message(status_id))
        return text if "Submitted to Runway" in text or "Rendering" in text else None

    text = await wait_for(submitted, "the status to say the job is at Runway")
    created = int(env.db.job(job_id)["created_at"])
    assert f"Started: <t:{created}:R>" in text  # moves on its own, without edits
    assert "Left after it: 190 credits" in text
    status = await env.ctl.message(status_id)
    (preview,) = status["attachments"]
    assert preview["filename"] == f"preview-{job_id}.jpg"
    assert status["embeds"][0]["thumbnail"]["url"] == f"attachment://preview-{job_id}.jpg"
    env.sim.advance(700)
    await clip_message(env, status_id)
    await env.settled(job_id)


async def test_a_trimmed_clip_is_said_everywhere(env: Env, place: Place) -> None:
    alice = place.members[0]
    iid = await env.invoke(
        place, alice, "restyle", {"prompt": "as ink"}, [("long.mp4", mp4(12.0), "video/mp4")]
    )
    reply = await env.reply_text(iid)
    job_id = job_id_in(reply)
    note = "Used the first 5 s of your 12 s clip: the model reads no more."
    assert note in reply, reply
    assert "About **75** credits" in reply  # billed for 5 s, not 12
    thread_id = int((await thread_of(env, place, job_id))["id"])
    assert note in message_text(await env.ctl.message(thread_id))
    clip = await clip_message(env, thread_id)
    assert note in message_text(clip)
    await env.settled(job_id)


async def test_a_reencoded_clip_says_its_size_before_and_after(env: Env, place: Place) -> None:
    alice = place.members[0]
    iid = await env.invoke(
        place,
        alice,
        "animate",
        {"prompt": "waves [sim:big=12]", "duration": 2, "ratio": "1280:720"},
        [("sea.png", png(), "image/png")],
    )
    job_id = job_id_in(await env.reply_text(iid))
    clip = await clip_message(env, int((await thread_of(env, place, job_id))["id"]))
    (attachment,) = clip["attachments"]
    match = re.search(
        r"Re-encoded from ([\d.]+) MB to ([\d.]+) (MB|KB) to fit this server's upload limit\.",
        message_text(clip),
    )
    assert match, message_text(clip)
    before = float(match[1]) * 1e6
    after = float(match[2]) * (1e6 if match[3] == "MB" else 1e3)
    assert before > 10 * 1024 * 1024  # what Runway made: over the guild's 10 MiB
    assert after == pytest.approx(attachment["size"], rel=0.06)  # what was posted
    await env.settled(job_id)
