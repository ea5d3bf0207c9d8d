"""Iterating on a result, end to end: Vary, Edit prompt (also after a safety refusal), Continue
from the last frame and Restyle this clip, each a new job on the requester's quota."""

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
    message_text,
    notice_message,
    png,
    probe,
    thread_of,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

Json = Any
CLIP_BUTTONS = ["Vary (new seed)", "Edit prompt", "Continue from last frame", "Restyle this clip"]


async def animate(env: Env, place: Place, user: int, prompt: str, **options: Any) -> int:
    """/animate (2 s of gen4_turbo: 10 credits); the job id."""
    iid = await env.invoke(
        place,
        user,
        "animate",
        {"prompt": prompt, "duration": 2, **options},
        [("scene.png", png(), "image/png")],
    )
    return job_id_in(await env.reply_text(iid))


async def clip_of(env: Env, place: Place, job_id: int) -> Json:
    return await clip_message(env, int((await thread_of(env, place, job_id))["id"]))


async def modal_of(env: Env, interaction_id: str) -> Json:
    """The modal the bot answered a button press with."""

    async def opened() -> Json:
        data = await env.ctl.interaction(interaction_id)
        return data if data.get("answered") and data["callback_type"] is not None else None

    data = await wait_for(opened, f"the answer to interaction {interaction_id}")
    assert data["callback_type"] == 9, data
    return data["modal"]


def text_input(modal: Json) -> Json:
    """The modal's one text input (in an action row or a label)."""
    for component in modal["components"]:
        inner = component.get("components") or [component.get("component")]
        for item in inner:
            if item and item.get("type") == 4:
                return item
    raise AssertionError(f"no text input in {modal}")


async def test_the_clip_offers_every_way_to_iterate_to_its_owner_only(
    env: Env, place: Place
) -> None:
    alice, bob = place.members
    first = await animate(env, place, alice, "a red kite over dunes", seed=99)
    clip = await clip_of(env, place, first)
    assert list(buttons(clip)) == CLIP_BUTTONS
    assert "Credits charged: 10" in message_text(clip)
    before = await env.created()

    # Nobody else may spend the requester's quota, or open their modal.
    for label in CLIP_BUTTONS:
        pressed = await env.ctl.press_button(bob, int(clip["id"]), buttons(clip)[label])
        answer = await env.answer(pressed)
        assert answer["ephemeral"] and answer["callback_type"] != 9, answer
        assert "Only the person who started this job can" in await env.reply_text(pressed)
    assert await env.created() == before
    assert (await env.usage(place, bob))["Used"] == "0 credits"


async def test_edit_prompt_opens_the_prompt_and_starts_an_edited_job(
    env: Env, place: Place
) -> None:
    alice = place.members[0]
    first = await animate(env, place, alice, "a red kite over dunes", seed=99)
    clip = await clip_of(env, place, first)
    pressed = await env.ctl.press_button(alice, int(clip["id"]), buttons(clip)["Edit prompt"])
    modal = await modal_of(env, pressed)
    assert modal["custom_id"] == f"rw:modal:edit:{first}"
    assert text_input(modal)["value"] == "a red kite over dunes"  # prefilled

    submitted = await env.ctl.submit_modal(pressed, {"prompt": "a blue kite over snow"})
    reply = await env.reply_text(submitted)
    second = job_id_in(reply)
    assert second != first
    assert "About **10** credits; **180** credits left after it." in reply, reply
    again = await clip_of(env, place, second)
    assert mentioned(again) == [alice]
    assert "Made from: Edited prompt of job #" in message_text(again)
    row = await env.settled(second)
    assert (row["rerun_of"], row["origin"]) == (first, "edit")
    assert row["prompt"] == "a blue kite over snow"
    path, body = env.creates[-1]
    assert path == "/v1/image_to_video"
    assert (body["promptText"], body["seed"]) == ("a blue kite over snow", 99)  # same seed
    assert (await env.usage(place, alice))["Used"] == "20 credits"


async def test_vary_keeps_everything_but_the_seed(env: Env, place: Place) -> None:
    alice = place.members[0]
    first = await animate(env, place, alice, "waves", seed=5, ratio="1280:720")
    clip = await clip_of(env, place, first)
    pressed = await env.ctl.press_button(alice, int(clip["id"]), buttons(clip)["Vary (new seed)"])
    second = job_id_in(await env.reply_text(pressed))
    await clip_of(env, place, second)
    row = await env.settled(second)
    assert (row["rerun_of"], row["origin"]) == (first, "rerun")
    body = env.creates[-1][1]
    assert (body["promptText"], body["ratio"]) == ("waves", "1280:720")
    assert body["seed"] == row["seed"] != 5


async def test_continue_animates_the_clips_last_frame(env: Env, place: Place) -> None:
    alice = place.members[0]
    first = await animate(env, place, alice, "a slow pan", ratio="1280:720")
    clip = await clip_of(env, place, first)
    pressed = await env.ctl.press_button(
        alice, int(clip["id"]), buttons(clip)["Continue from last frame"]
    )
    reply = await env.reply_text(pressed)
    second = job_id_in(reply)
    assert "was chosen by `auto`" in reply, reply  # the ratio comes from the frame
    result = await clip_of(env, place, second)
    assert "Made from: Continues job #" in message_text(result)
    row = await env.settled(second)
    assert (row["rerun_of"], row["origin"], row["kind"]) == (first, "continue", "animate")
    path, body = env.creates[-1]
    assert path == "/v1/image_to_video"
    assert body["promptImage"].startswith("data:image/")
    assert (body["promptText"], body["ratio"]) == ("a slow pan", "1280:720")  # 640x360 frame
    assert probe(await env.ctl.file(result["attachments"][0]["id"])).seconds == pytest.approx(
        2.0, abs=0.15
    )


async def test_restyle_this_clip_asks_for_a_prompt_and_restyles_it(env: Env, place: Place) -> None:
    alice = place.members[0]
    first = await animate(env, place, alice, "a city at night", ratio="1280:720")
    clip = await clip_of(env, place, first)
    pressed = await env.ctl.press_button(alice, int(clip["id"]), buttons(clip)["Restyle this clip"])
    modal = await modal_of(env, pressed)
    assert modal["custom_id"] == f"rw:modal:restyle:{first}"
    assert text_input(modal)["value"] == "a city at night"
    submitted = await env.ctl.submit_modal(pressed, {"prompt": "as a pencil drawing"})
    second = job_id_in(await env.reply_text(submitted))
    result = await clip_of(env, place, second)
    assert "Made from: Restyles job #" in message_text(result)
    row = await env.settled(second)
    assert (row["rerun_of"], row["origin"], row["kind"]) == (first, "restyle", "restyle")
    path, body = env.creates[-1]
    assert path == "/v1/video_to_video"
    assert body["promptText"] == "as a pencil drawing"
    # gen4_aleph: 15 credits/s for the 2 s clip, plus the 10 of the first job.
    assert (await env.usage(place, alice))["Used"] == "40 credits"


async def test_after_a_safety_refusal_edit_prompt_replaces_retry(env: Env, place: Place) -> None:
    alice = place.members[0]
    first = await animate(env, place, alice, "bad words [sim:fail=SAFETY.INPUT.TEXT]", seed=3)
    thread_id = int((await thread_of(env, place, first))["id"])
    notice = await notice_message(env, thread_id, first)
    assert list(buttons(notice)) == ["Edit prompt"]  # Retry would be refused the same way
    await env.settled(first)
    pressed = await env.ctl.press_button(alice, int(notice["id"]), buttons(notice)["Edit prompt"])
    modal = await modal_of(env, pressed)
    assert text_input(modal)["value"] == "bad words [sim:fail=SAFETY.INPUT.TEXT]"
    submitted = await env.ctl.submit_modal(pressed, {"prompt": "kind words"})
    second = job_id_in(await env.reply_text(submitted))
    await clip_of(env, place, second)
    row = await env.settled(second)
    assert (row["rerun_of"], row["origin"], row["state"]) == (first, "edit", "succeeded")
    assert env.creates[-1][1]["promptText"] == "kind words"
    assert (await env.usage(place, alice))["Used"] == "10 credits"  # the refusal was refunded
