"""20 users each send 3 commands at the same moment: every interaction is acknowledged within
Discord's 3 seconds (the fake refuses late callbacks with 10062), and every clip arrives once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.harness import Env, job_id_in, message_text, mp4, png, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

USERS = 20


async def test_twenty_users_three_commands_at_once(env: Env) -> None:
    place = await env.place(members=USERS)
    image = png()
    video = mp4(2.0)
    before = env.sim.created_count
    # One bot-token request in 30 answered 429 (seeded), with Discord's headers: the bot
    # waits them out; interaction callbacks are exempt, as in Discord.
    await env.ctl.rate_limits(realistic=False, share=1 / 30, seed=8)
    try:
        await _run_twenty_users(env, place, image, video, before)
    finally:
        await env.ctl.rate_limits(realistic=False)
    limited = [c for c in await env.ctl.calls() if c["status"] == 429]
    assert limited, "the share of 429s was met"


async def _run_twenty_users(env: Env, place: Any, image: bytes, video: bytes, before: int) -> None:

    # All 60 interactions are created at once, before the bot can answer most of them.
    invoked: list[tuple[int, str, str]] = []
    results = await asyncio.gather(
        *(_invoke_three(env, place, user, image, video) for user in place.members)
    )
    for user, three in zip(place.members, results, strict=True):
        invoked += [(user, name, iid) for name, iid in three]
    assert len(invoked) == 3 * USERS

    jobs: dict[int, int] = {}
    for user, name, iid in invoked:
        summary = await env.ctl.wait_for_response(iid, within=60)
        assert summary["rejected"] == [], (name, summary["rejected"])  # e.g. 10062: too late
        assert summary["callback_type"] in (4, 5), (name, summary["callback_type"])
        assert summary["ephemeral"], name
        text = await env.reply_text(iid)
        if name == "usage":
            assert "Your quota in this server" in text, text
        else:
            job_id = job_id_in(text)
            assert "queued" in text, text
            jobs[job_id] = user
    assert len(jobs) == 2 * USERS
    delays = [env.fake.ack_delays[int(iid)] for _, _, iid in invoked]
    print(f"acknowledged {len(delays)} interactions, slowest after {max(delays):.2f} s")

    await _wait_all_delivered(env, place.guild_id, len(jobs))
    for thread in await env.ctl.threads(place.channel_id):
        clips = await _clips_in(env, thread)
        assert len(clips) == 1, thread["name"]
        job_id = int(thread["name"].split("#")[1].split(" ")[0])
        assert [int(u["id"]) for u in clips[0]["mentions"]] == [jobs[job_id]]
    assert len(await env.ctl.threads(place.channel_id)) == len(jobs)
    assert env.sim.created_count == before + len(jobs)
    for user in place.members:
        assert env.db.usage(place.guild_id, user) == (40.0, 0.0)  # 10 (animate) + 30 (restyle)
    bad = [c for c in await env.ctl.calls() if c["status"] == 404 and "interactions" in c["path"]]
    assert bad == [], [message_text(c.get("response") or {}) for c in bad]


async def _invoke_three(
    env: Env, place: Any, user: int, image: bytes, video: bytes
) -> list[tuple[str, str]]:
    animate = env.invoke(
        place,
        user,
        "animate",
        {"prompt": f"user {user} animates", "duration": 2, "ratio": "1280:720"},
        [("me.png", image, "image/png")],
    )
    restyle = env.invoke(
        place,
        user,
        "restyle",
        {"prompt": f"user {user} restyles"},
        [("me.mp4", video, "video/mp4")],
        attachment_options=["video"],
    )
    usage = env.invoke(place, user, "usage")
    ids = await asyncio.gather(animate, restyle, usage)
    return list(zip(("animate", "restyle", "usage"), ids, strict=True))


async def test_discord_rate_limits_slow_the_bot_down_but_lose_nothing(env: Env) -> None:
    """With per-route buckets like Discord's (3 requests per 2 s here), the global limit of 50
    requests per second, one request in 20 answered 429 at random (seeded) and the first
    three message posts answered 429 for certain, the bot waits the limits out and every
    member of six simultaneous jobs still gets exactly one clip in their thread."""
    await env.ctl.rate_limits(
        realistic=True, limit=3, seconds=2.0, global_per_second=50, share=0.05, seed=3
    )
    await env.ctl.rate_limit(
        "/channels/{channel_id}/messages", method="POST", count=3, retry_after=0.5
    )
    try:
        place = await env.place(members=6)
        image = png()
        ids = await asyncio.gather(
            *(
                env.invoke(
                    place,
                    user,
                    "animate",
                    {"prompt": f"user {user} waves", "duration": 2, "ratio": "1280:720"},
                    [("me.png", image, "image/png")],
                )
                for user in place.members
            )
        )
        jobs: dict[int, int] = {}
        for user, iid in zip(place.members, ids, strict=True):
            summary = await env.ctl.wait_for_response(iid, within=60)
            assert summary["rejected"] == [], summary["rejected"]
            jobs[job_id_in(await env.reply_text(iid))] = user

        await _wait_all_delivered(env, place.guild_id, len(jobs))
        limited = [
            c
            for c in await env.ctl.calls()
            if c["status"] == 429 and c["method"] == "POST" and c["path"].endswith("/messages")
        ]
        assert len(limited) >= 3
        threads = await env.ctl.threads(place.channel_id)
        assert len(threads) == len(jobs)
        for thread in threads:
            assert len(await _clips_in(env, thread)) == 1, thread["name"]
    finally:
        await env.ctl.rate_limits(realistic=False)


async def _wait_all_delivered(env: Env, guild_id: int, count: int) -> None:
    """Wait until ``count`` jobs of the guild have succeeded and been delivered."""

    async def all_delivered() -> bool:
        rows = env.db.rows(
            "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND delivered_at IS NOT NULL"
            " AND state = 'succeeded'",
            (guild_id,),
        )
        return int(rows[0][0]) == count

    await wait_for(all_delivered, "every clip to be delivered", within=240, interval=0.5)


async def _clips_in(env: Env, thread: Any) -> list[Any]:
    """The messages in a thread that carry an MP4 file."""
    return [
        m
        for m in await env.ctl.messages(int(thread["id"]))
        if any(a["filename"].endswith(".mp4") for a in m["attachments"])
    ]
