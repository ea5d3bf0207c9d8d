"""/animate, /restyle and the message menu, end to end: what the requester and others see."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.harness import (
    Env,
    Place,
    buttons,
    clip_message,
    huge_png_header,
    job_id_in,
    mentioned,
    message_text,
    mp4,
    png,
    probe,
    public_messages,
    status_edits,
    status_text,
    thread_of,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

Json = Any


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
    assert "Vary (new seed)" in buttons(clip)

    await wait_for(
        lambda: _contains(status_text(env, status_id), "Finished"), "the status to say Finished"
    )
    edits = await status_edits(env, place.channel_id, status_id)
    assert any("Rendering" in e and "%" in e for e in edits), edits
    assert "Finished" in edits[-1]
    assert "Cancel" not in buttons(await env.ctl.message(status_id))

    # Nobody else got a message that pings them; the quota is charged once.
    await env.settled(job_id)
    for channel in (place.channel_id, int(thread["id"])):
        for message in await env.ctl.messages(channel):
            assert set(mentioned(message)) <= {alice}
    usage = await env.usage(place, alice)
    assert usage["Used"] == "10 credits", usage  # gen4_turbo: 5 credits/s x 2 s
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("settle", 10.0)]
    assert (await env.usage(place, bob))["Used"] == "0 credits"
    assert await env.created() == before + 1
    path, body = env.creates[-1]
    assert path == "/v1/image_to_video"
    assert (body["model"], body["ratio"], body["duration"]) == ("gen4_turbo", "1280:720", 2)
    assert body["promptText"] == "a lighthouse at dusk [sim:seconds=600]"
    assert body["promptImage"].startswith("data:image/")


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
    row = await env.settled(job_id)
    assert row["state"] == "succeeded" and row["delivered_message_id"] == int(clip["id"])
    assert row["kind"] == "restyle" and row["model"] == "gen4_aleph"
    path, body = env.creates[-1]
    assert path == "/v1/video_to_video"
    assert body["model"] == "gen4_aleph" and body["promptText"] == "as a watercolour painting"
    assert body["videoUri"].startswith(("data:video/mp4", "runway://"))
    (reference,) = body["references"]
    assert reference["type"] == "image" and reference["uri"].startswith("data:image/")
    usage = await env.usage(place, alice)
    assert usage["Used"] == "30 credits", usage  # gen4_aleph: 15 credits/s x 2 s of input


async def _contains(text: Any, needle: str) -> bool:
    return needle in await text


async def _percent_at_least(text: Any, percent: int) -> bool:
    match = re.search(r"(\d+)%", await text)
    return match is not None and int(match.group(1)) >= percent


async def test_message_menu_opens_a_prompt_modal(env: Env, place: Place) -> None:
    alice, bob = place.members
    posted = await env.ctl.post_message(
        place.channel_id, bob, "look at this", [("harbour.png", png(), "image/png")]
    )
    menu = await env.ctl.message_command(alice, "Animate this image", int(posted["id"]))
    opened = await env.ctl.wait_for_response(menu, within=30)
    assert opened["callback_type"] == 9, opened  # a modal
    assert opened["modal"]["title"] == "Animate this image"
    submitted = await env.ctl.submit_modal(menu, {"prompt": "boats bobbing"}, user_id=alice)
    job_id = job_id_in(await env.reply_text(submitted))
    thread = await thread_of(env, place, job_id)
    clip = await clip_message(env, int(thread["id"]))
    assert mentioned(clip) == [alice]  # the one who asked, not the image's author
    info = probe(await env.ctl.file(clip["attachments"][0]["id"]))
    assert (info.width, info.height) == (640, 360)  # ratio "auto": closest to the 16:9 image
    assert info.seconds == pytest.approx(5.0, abs=0.15)  # the default duration
    row = await env.settled(job_id)
    assert (row["prompt"], row["user_id"], row["model"]) == ("boats bobbing", alice, "gen4_turbo")
    assert (await env.usage(place, alice))["Used"] == "25 credits"
    assert (await env.usage(place, bob))["Used"] == "0 credits"


async def test_over_quota_is_refused_clearly_and_nothing_reaches_runway(
    env: Env, place: Place
) -> None:
    alice = place.members[0]
    set_limit = await env.invoke(
        place, place.owner_id, "quota set", {"user": str(alice), "limit": "5"}
    )
    assert "limit of 5 credits" in await env.reply_text(set_limit)
    before, posts = await env.created(), posts_to_runway(env)
    iid = await env.invoke(
        place,
        alice,
        "animate",
        {"prompt": "a fox", "duration": 2},
        [("fox.png", png(), "image/png")],
    )
    answer = await env.answer(iid)
    assert answer["ephemeral"]
    text = message_text(
        answer["followups"][-1] if answer["followups"] else answer["callback"]["data"]
    )
    assert "Not enough quota" in text and "**0** of **5** credits" in text, text
    assert "needs **10**" in text and "resets" in text, text
    assert await env.created() == before
    assert posts_to_runway(env) == posts
    assert await public_messages(env, place.channel_id) == []
    assert await env.ctl.threads(place.channel_id) == []
    assert env.db.usage(place.guild_id, alice) == (0.0, 0.0)
    assert env.db.rows("SELECT id FROM jobs WHERE user_id = ?", (alice,)) == []


BAD_IMAGES = [
    pytest.param(
        ("notes.png", b"shopping list: eggs, milk, bread\n" * 20, "image/png"),
        "That file is called .png but it is actually",
        id="text-renamed-png",
    ),
    pytest.param(("empty.png", b"", "image/png"), "The image is empty.", id="empty"),
    pytest.param(
        ("broken.png", png()[:300], "image/png"),
        "This image is damaged or incomplete",
        id="corrupt",
    ),
    pytest.param(
        ("bomb.png", huge_png_header(), "image/png"), "far too many pixels", id="huge-dimensions"
    ),
    pytest.param(
        ("clip.mp4", mp4(2.0), "video/mp4"),
        "That file is an MP4 video, not an image.",  # judged by content, not declared type
        id="video-for-animate",
    ),
]


def posts_to_runway(env: Env) -> int:
    return sum(1 for method, path in env.sim.request_log if method == "POST")


async def assert_refused_without_effect(
    env: Env, place: Place, user: int, iid: str, expected: str, before: int, posts: int
) -> None:
    answer = await env.answer(iid)
    assert answer["ephemeral"], answer
    text = message_text(
        answer["followups"][-1] if answer["followups"] else answer["callback"]["data"]
    )
    assert expected in text, text
    assert await env.created() == before, "nothing may be sent to Runway"
    assert posts_to_runway(env) == posts, "no upload or create may reach Runway"
    assert env.db.usage(place.guild_id, user) == (0.0, 0.0), "no quota may be spent"
    assert await public_messages(env, place.channel_id) == []
    usage = await env.usage(place, user)
    assert usage["Used"] == "0 credits" and "In progress" not in usage


@pytest.mark.parametrize(("attachment", "expected"), BAD_IMAGES)
async def test_bad_image_is_refused_with_a_specific_reason(
    env: Env, place: Place, attachment: tuple[str, bytes, str], expected: str
) -> None:
    alice = place.members[0]
    before, posts = await env.created(), posts_to_runway(env)
    iid = await env.invoke(place, alice, "animate", {"prompt": "move", "duration": 2}, [attachment])
    await assert_refused_without_effect(env, place, alice, iid, expected, before, posts)


BAD_VIDEOS = [
    pytest.param(
        {"model": "aleph2"},
        ("long.mp4", mp4(31.0, 64, 48, fps=2), "video/mp4"),
        "the model accepts at most 30 s",
        id="video-too-long",
    ),
    pytest.param(
        {},
        ("still.png", png(), "image/png"),
        "That file is a PNG image, not a video.",  # judged by content, not declared type
        id="image-for-restyle",
    ),
    pytest.param(
        {},
        ("movie.mp4", b"this is not a movie at all\n" * 40, "video/mp4"),
        "That file is called .mp4 but it is actually",
        id="text-renamed-mp4",
    ),
]


@pytest.mark.parametrize(("options", "attachment", "expected"), BAD_VIDEOS)
async def test_bad_video_is_refused_with_a_specific_reason(
    env: Env,
    place: Place,
    options: dict[str, Any],
    attachment: tuple[str, bytes, str],
    expected: str,
) -> None:
    alice = place.members[0]
    before, posts = await env.created(), posts_to_runway(env)
    iid = await env.invoke(
        place,
        alice,
        "restyle",
        {"prompt": "as claymation", **options},
        [attachment],
        attachment_options=["video"],
    )
    await assert_refused_without_effect(env, place, alice, iid, expected, before, posts)


async def test_clip_over_the_upload_limit_is_reencoded_to_fit(env: Env, place: Place) -> None:
    alice = place.members[0]
    iid = await env.invoke(
        place,
        alice,
        "animate",
        {"prompt": "waves [sim:big=12]", "duration": 2, "ratio": "1280:720"},
        [("sea.png", png(), "image/png")],
    )
    job_id = job_id_in(await env.reply_text(iid))
    thread = await thread_of(env, place, job_id)
    clip = await clip_message(env, int(thread["id"]))
    (attachment,) = clip["attachments"]
    assert attachment["size"] <= 10 * 1024 * 1024  # the guild's limit (boost tier 0)
    info = probe(await env.ctl.file(attachment["id"]))
    assert info.seconds == pytest.approx(2.0, abs=0.15)
    assert info.width * 9 == info.height * 16
    assert mentioned(clip) == [alice]
    await env.settled(job_id)
    refused = [c for c in await env.ctl.calls() if c["status"] == 413]
    assert refused == [], "the bot must fit the clip before uploading, not after a 413"
    assert (await env.usage(place, alice))["Used"] == "10 credits"


ALL_THE_BOT_NEEDS = {
    "VIEW_CHANNEL": 1 << 10,
    "SEND_MESSAGES": 1 << 11,
    "EMBED_LINKS": 1 << 14,
    "ATTACH_FILES": 1 << 15,
    "READ_MESSAGE_HISTORY": 1 << 16,
    "CREATE_PUBLIC_THREADS": 1 << 35,
    "SEND_MESSAGES_IN_THREADS": 1 << 38,
}


async def allow_all_but(env: Env, place: Place, missing: str) -> None:
    """Give the channel every permission the bot needs except ``missing``; wait until the
    bot has seen it."""
    allowed = sum(bit for name, bit in ALL_THE_BOT_NEEDS.items() if name != missing)
    await env.ctl.set_channel_permissions(place.channel_id, allowed)
    await env.barrier(place)


async def test_missing_thread_permission_falls_back_to_the_channel(env: Env, place: Place) -> None:
    alice = place.members[0]
    await allow_all_but(env, place, "CREATE_PUBLIC_THREADS")
    iid = await env.invoke(
        place,
        alice,
        "animate",
        {"prompt": "rain", "duration": 2},
        [("rain.png", png(), "image/png")],
    )
    text = await env.reply_text(iid)
    assert "**Create Public Threads**" in text, text
    assert "the clip will be posted in the channel" in text, text
    job_id = job_id_in(text)
    clip = await clip_message(env, place.channel_id)
    assert mentioned(clip) == [alice]
    assert (await env.settled(job_id))["delivered_message_id"] == int(clip["id"])
    assert await env.ctl.threads(place.channel_id) == []
    assert (await env.usage(place, alice))["Used"] == "10 credits"


async def test_a_job_that_finishes_before_its_thread_exists_still_delivers_into_it(
    env: Env, place: Place
) -> None:
    alice = place.members[0]
    # Discord is slow to answer the status message: the task finishes at Runway meanwhile.
    hold = env.fake.hold("POST", f"/channels/{place.channel_id}/messages", after=True)
    iid = await env.invoke(
        place, alice, "animate", {"prompt": "quick", "duration": 2}, [("q.png", png(), "image/png")]
    )
    await wait_for(_is_set(hold.reached), "the status message to be posted")

    async def finished_at_runway() -> bool:
        rows = env.db.rows("SELECT state FROM jobs WHERE user_id = ?", (alice,))
        return bool(rows) and rows[0]["state"] == "succeeded"

    await wait_for(finished_at_runway, "the job to succeed before its thread exists")
    hold.release.set()
    job_id = job_id_in(await env.reply_text(iid))
    thread = await thread_of(env, place, job_id)
    clip = await clip_message(env, int(thread["id"]))
    assert mentioned(clip) == [alice]
    # The status message carries only the input's preview; the clip went into the thread.
    clips_in_channel = [
        m
        for m in await public_messages(env, place.channel_id)
        if any(not a["filename"].startswith("preview-") for a in m["attachments"])
    ]
    assert clips_in_channel == []
    assert (await env.settled(job_id))["delivered_message_id"] == int(clip["id"])


def _is_set(event: Any) -> Any:
    async def check() -> bool:
        return bool(event.is_set())

    return check


async def test_message_menu_on_a_message_without_an_image(env: Env, place: Place) -> None:
    alice, bob = place.members
    posted = await env.ctl.post_message(place.channel_id, bob, "just words")
    before, posts = await env.created(), posts_to_runway(env)
    menu = await env.ctl.message_command(alice, "Animate this image", int(posted["id"]))
    answer = await env.answer(menu)
    assert answer["ephemeral"] and answer["callback_type"] == 4, answer
    assert "That message has no image attached." in message_text(answer["callback"]["data"])
    assert (await env.created(), posts_to_runway(env)) == (before, posts)


async def test_rerun_button_starts_a_new_job_with_a_new_seed(env: Env, place: Place) -> None:
    alice, bob = place.members
    iid = await env.invoke(
        place,
        alice,
        "animate",
        {"prompt": "again", "duration": 2, "seed": 1234},
        [("a.png", png(), "image/png")],
    )
    first = job_id_in(await env.reply_text(iid))
    clip = await clip_message(env, int((await thread_of(env, place, first))["id"]))
    rerun = buttons(clip)["Vary (new seed)"]

    # Someone else may not rerun it (on their quota or the requester's).
    before = await env.created()
    refused = await env.ctl.press_button(bob, int(clip["id"]), rerun)
    text = await env.reply_text(refused)
    assert "Only the person who started this job can rerun it." in text, text
    assert await env.created() == before

    pressed = await env.ctl.press_button(alice, int(clip["id"]), rerun)
    second = job_id_in(await env.reply_text(pressed))
    assert second != first
    again = await clip_message(env, int((await thread_of(env, place, second))["id"]))
    assert mentioned(again) == [alice]
    old, new = await env.settled(first), await env.settled(second)
    assert new["rerun_of"] == first and new["user_id"] == alice
    assert old["seed"] == 1234 and new["seed"] != 1234
    assert env.creates[-1][1]["seed"] == new["seed"]
    assert (await env.usage(place, alice))["Used"] == "20 credits"
    assert (await env.usage(place, bob))["Used"] == "0 credits"


async def test_missing_attach_files_is_named_before_anything_starts(env: Env, place: Place) -> None:
    alice = place.members[0]
    await allow_all_but(env, place, "ATTACH_FILES")
    before, posts = await env.created(), posts_to_runway(env)
    iid = await env.invoke(
        place, alice, "animate", {"prompt": "x", "duration": 2}, [("x.png", png(), "image/png")]
    )
    await assert_refused_without_effect(
        env, place, alice, iid, "I am missing the **Attach Files** permission", before, posts
    )


async def _start_rendering(env: Env, place: Place, user: int) -> tuple[int, int]:
    """Start a 600 s /animate and wait until it renders; returns (job id, thread id)."""
    iid = await env.invoke(
        place,
        user,
        "animate",
        {"prompt": "slow [sim:seconds=600]", "duration": 2},
        [("s.png", png(), "image/png")],
    )
    job_id = job_id_in(await env.reply_text(iid))
    thread_id = int((await thread_of(env, place, job_id))["id"])
    await wait_for(
        lambda: _contains(status_text(env, thread_id), "Rendering"), "the job to be rendering"
    )
    return job_id, thread_id


async def test_thread_permission_lost_before_delivery_is_named_to_the_requester(
    env: Env, place: Place
) -> None:
    alice, bob = place.members
    job_id, thread_id = await _start_rendering(env, place, alice)
    # An admin takes away the bot's right to post in threads while the clip is being made.
    await allow_all_but(env, place, "SEND_MESSAGES_IN_THREADS")
    env.sim.advance(600)

    async def told() -> list[Json]:
        return [
            m
            for m in await public_messages(env, place.channel_id)
            if "Send Messages in Threads" in m["content"]
        ]

    message, *_ = await wait_for(told, "the requester to be told which permission is missing")
    assert f"job #{job_id}" in message["content"], message["content"]
    # Only the missing one: without it Discord denies Embed Links and Attach Files implicitly.
    assert "missing the **Send Messages in Threads** permission in" in message["content"]
    assert mentioned(message) == [alice] and bob not in mentioned(message)

    row = await env.settled(job_id)
    assert (row["state"], row["error_code"]) == ("failed", "delivery_failed"), dict(row)
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("refund", 10.0)]
    assert await env.ctl.messages(thread_id) == []
    told_again = await told()
    assert len(told_again) == 1, "\n".join(m["content"] for m in told_again)


@pytest.mark.parametrize("dms_open", [True, False])
async def test_when_the_bot_may_post_nowhere_the_requester_is_told_by_dm(
    env: Env, place: Place, dms_open: bool
) -> None:
    alice, bob = place.members
    await env.ctl.direct_messages(alice, open=dms_open)
    job_id, thread_id = await _start_rendering(env, place, alice)
    # An admin leaves the bot only reading: it may post neither in the thread nor the channel.
    reading = ALL_THE_BOT_NEEDS["VIEW_CHANNEL"] | ALL_THE_BOT_NEEDS["READ_MESSAGE_HISTORY"]
    await env.ctl.set_channel_permissions(place.channel_id, reading)
    await env.barrier(place)
    env.sim.advance(600)

    row = await env.settled(job_id)
    assert (row["state"], row["error_code"]) == ("failed", "delivery_failed"), dict(row)
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("refund", 10.0)]
    assert await env.ctl.messages(thread_id) == []
    dm = await env.ctl.direct_messages(alice)
    assert dm["channel_id"] is not None, "the bot never opened a DM with the requester"
    told = await env.ctl.messages(int(dm["channel_id"]))
    if dms_open:
        (message,) = told
        assert f"job #{job_id}" in message["content"], message["content"]
        assert "**Send Messages in Threads**" in message["content"], message["content"]
        assert mentioned(message) == [alice]
    else:
        assert told == []
        assert "could not tell the user about missing permissions" in env.bot.log.read_text()
    assert (await env.ctl.direct_messages(bob))["channel_id"] is None
    await env.ctl.direct_messages(alice, open=True)


async def test_restyle_of_a_long_video_uses_and_bills_its_first_seconds(
    env: Env, place: Place
) -> None:
    alice = place.members[0]
    iid = await env.invoke(
        place,
        alice,
        "restyle",
        {"prompt": "in the style of a woodcut"},
        [("long.mp4", mp4(8.0, 320, 240), "video/mp4")],
        attachment_options=["video"],
    )
    job_id = job_id_in(await env.reply_text(iid))
    clip = await clip_message(env, int((await thread_of(env, place, job_id))["id"]))
    info = probe(await env.ctl.file(clip["attachments"][0]["id"]))
    assert info.seconds == pytest.approx(5.0, abs=0.2)  # gen4_aleph uses the first 5 s
    await env.settled(job_id)
    assert env.db.ledger(job_id) == [("reserve", 75.0), ("settle", 75.0)]  # 15 credits/s x 5 s
    assert (await env.usage(place, alice))["Used"] == "75 credits"


async def test_without_embed_links_the_command_names_the_permission(env: Env, place: Place) -> None:
    alice = place.members[0]
    await allow_all_but(env, place, "EMBED_LINKS")
    before, posts = await env.created(), posts_to_runway(env)
    iid = await env.invoke(
        place, alice, "animate", {"prompt": "x", "duration": 2}, [("x.png", png(), "image/png")]
    )
    await assert_refused_without_effect(
        env, place, alice, iid, "I am missing the **Embed Links** permission", before, posts
    )


async def test_embed_links_lost_while_rendering_the_member_still_reads_everything(
    env: Env, place: Place
) -> None:
    """Discord drops embeds without Embed Links: the bot says it all in words instead."""
    alice = place.members[0]
    iid = await env.invoke(
        place,
        alice,
        "animate",
        {"prompt": "a quiet harbour [sim:seconds=600]", "duration": 2, "seed": 77},
        [("h.png", png(), "image/png")],
    )
    job_id = job_id_in(await env.reply_text(iid))
    thread_id = int((await thread_of(env, place, job_id))["id"])
    await wait_for(
        lambda: _contains(status_text(env, thread_id), "Rendering"), "the job to be rendering"
    )
    await allow_all_but(env, place, "EMBED_LINKS")
    env.sim.advance(300)

    async def progress_in_words() -> bool:
        status = await env.ctl.message(thread_id)
        return status["embeds"] == [] and "%" in str(status["content"])

    await wait_for(progress_in_words, "the status message to show its progress as text")
    env.sim.advance(400)

    clip = await clip_message(env, thread_id)
    assert clip["embeds"] == []
    assert clip["content"].startswith(f"<@{alice}> your clip is ready."), clip["content"]
    assert "**Seed:** 77" in clip["content"], clip["content"]
    assert mentioned(clip) == [alice]
    assert "Vary (new seed)" in buttons(clip)
    row = await env.settled(job_id)
    assert (row["state"], row["delivered_message_id"]) == ("succeeded", int(clip["id"]))
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("settle", 10.0)]
    status = await env.ctl.message(thread_id)
    assert "Finished" in str(status["content"]) and status["embeds"] == []
