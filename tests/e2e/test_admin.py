"""Admin quota commands and the Cancel button: who may do what."""

from __future__ import annotations

from typing import Any

import pytest

from bot.fakediscord.client import ControlError
from bot.simulator import Fault
from tests.e2e.harness import (
    Env,
    Place,
    buttons,
    job_id_in,
    mentioned,
    message_text,
    notice_message,
    png,
    status_text,
    thread_of,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

Json = Any
MANAGE_GUILD = 1 << 5
LONG = "[sim:seconds=100000]"  # runs until the test cancels it


def limits(env: Env, guild_id: int) -> list[tuple[str, int, str, int | None]]:
    return [
        (r["scope"], r["subject_id"], r["mode"], r["amount"])
        for r in env.db.rows(
            "SELECT scope, subject_id, mode, amount FROM quota_limits WHERE guild_id = ?"
            " ORDER BY scope, subject_id",
            (guild_id,),
        )
    ]


async def test_admins_manage_quotas(env: Env, place: Place) -> None:
    alice, bob = place.members
    mods = await env.ctl.create_role(place.guild_id, "Mods", MANAGE_GUILD)
    await env.ctl.add_member(place.guild_id, bob, [int(mods["id"])])
    await env.barrier(place)

    # The server owner, and a member whose role has Manage Server, are admins.
    iid = await env.invoke(place, place.owner_id, "quota set", {"user": str(alice), "limit": "40"})
    assert "limit of 40 credits" in await env.reply_text(iid)
    iid = await env.invoke(place, bob, "quota grant", {"user": str(alice), "amount": 15})
    assert "15 extra credits" in await env.reply_text(iid)
    iid = await env.invoke(place, bob, "quota default", {"limit": "unlimited"})
    assert "Server default: unlimited" in await env.reply_text(iid)
    assert limits(env, place.guild_id) == [
        ("guild", 0, "unlimited", None),
        ("user", alice, "limit", 40),
    ]

    usage = await env.usage(place, alice)
    assert usage["Limit"] == "40 credits" and usage["Bonus"] == "+15 credits", usage
    iid = await env.invoke(place, bob, "quota show", {"user": str(alice)})
    shown = await env.reply_text(iid)
    assert "Limit: 40 credits" in shown and f"<@{alice}>" in shown, shown
    answer = await env.answer(iid)
    assert answer["ephemeral"] and last_mentions(answer) == []

    iid = await env.invoke(
        place, place.owner_id, "quota set", {"user": str(alice), "limit": "lots"}
    )
    assert "is not a limit" in await env.reply_text(iid)
    assert ("user", alice, "limit", 40) in limits(env, place.guild_id)


async def test_members_are_refused_even_when_the_server_shows_them_the_command(
    env: Env, place: Place
) -> None:
    alice, bob = place.members
    # By default Discord hides the admin commands from members (default_member_permissions).
    with pytest.raises(ControlError):
        await env.invoke(place, alice, "quota set", {"user": str(alice), "limit": "unlimited"})

    # A server may override that in its integration settings; the bot still refuses.
    await env.ctl.settings(enforce_default_member_permissions=False)
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("quota set", {"user": str(alice), "limit": "unlimited"}),
        ("quota grant", {"user": str(alice), "amount": 1000}),
        ("quota default", {"limit": "unlimited"}),
        ("quota reset", {"user": str(bob)}),
        ("quota show", {"user": str(bob)}),
    ]
    try:
        for name, options in attempts:
            iid = await env.invoke(place, alice, name, options)
            answer = await env.answer(iid)
            assert answer["ephemeral"], name
            text = message_text(
                answer["callback"]["data"] if not answer["followups"] else answer["followups"][-1]
            )
            assert "You need the **Manage Server** permission for this." in text, (name, text)
    finally:
        await env.ctl.settings(enforce_default_member_permissions=True)
    assert limits(env, place.guild_id) == []
    usage = await env.usage(place, alice)
    assert usage["Limit"] == "200 credits" and "Bonus" not in usage, usage


def last_mentions(answer: Json) -> list[Json]:
    message = answer["followups"][-1] if answer["followups"] else answer["original_message"]
    return list((message or {}).get("mentions") or [])


async def start_long_job(env: Env, place: Place, user: int) -> tuple[int, int]:
    """A job that stays RUNNING at Runway; returns (job id, status message id)."""
    iid = await env.invoke(
        place,
        user,
        "animate",
        {"prompt": f"slow {LONG}", "duration": 2},
        [("slow.png", png(), "image/png")],
    )
    job_id = job_id_in(await env.reply_text(iid))
    thread = await thread_of(env, place, job_id)
    status_id = int(thread["id"])

    async def rendering() -> bool:
        return "Rendering" in await status_text(env, status_id)

    await wait_for(rendering, f"job #{job_id} to be rendering")
    return job_id, status_id


async def press_cancel(env: Env, user: int, status_id: int) -> str:
    status = await env.ctl.message(status_id)
    iid = await env.ctl.press_button(user, status_id, buttons(status)["Cancel"])
    return await env.reply_text(iid)


async def assert_cancelled(env: Env, place: Place, job_id: int, status_id: int, user: int) -> None:
    task_id = env.db.job(job_id)["provider_task_id"]

    async def stopped_at_runway() -> bool:
        return env.sim.task_status(task_id) in ("CANCELLED", None)

    await wait_for(stopped_at_runway, "the task to be cancelled at Runway")
    notice = await notice_message(env, status_id, job_id)  # the thread has the status's id
    text = message_text(notice)
    assert f"Job #{job_id} was cancelled" in text, text
    assert "went back to your quota" in text, text
    assert mentioned(notice) == [user]
    assert "Retry" not in buttons(notice)
    assert (await env.settled(job_id))["state"] == "cancelled"
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("refund", 10.0)]

    async def shows_cancelled() -> bool:
        return "Cancelled" in await status_text(env, status_id)

    await wait_for(shows_cancelled, "the status message to show Cancelled")
    assert "Cancel" not in buttons(await env.ctl.message(status_id))
    assert (await env.usage(place, user))["Used"] == "0 credits"


async def test_owner_cancels_their_job(env: Env, place: Place) -> None:
    alice = place.members[0]
    job_id, status_id = await start_long_job(env, place, alice)
    text = await press_cancel(env, alice, status_id)
    assert f"Job #{job_id}" in text and "cancel" in text.lower(), text
    await assert_cancelled(env, place, job_id, status_id, alice)


async def test_admin_cancels_a_members_job(env: Env, place: Place) -> None:
    alice = place.members[0]
    job_id, status_id = await start_long_job(env, place, alice)
    text = await press_cancel(env, place.owner_id, status_id)
    assert f"Job #{job_id}" in text, text
    await assert_cancelled(env, place, job_id, status_id, alice)
    assert "Cancelled by an admin." in message_text(await notice_message(env, status_id, job_id))


async def test_another_member_cannot_cancel(env: Env, place: Place) -> None:
    alice, bob = place.members
    job_id, status_id = await start_long_job(env, place, alice)
    text = await press_cancel(env, bob, status_id)
    assert "Only the person who started this job or a server admin can cancel it." in text, text
    assert env.db.job(job_id)["state"] == "running"
    assert "Cancel" in buttons(await env.ctl.message(status_id))
    assert (await env.usage(place, alice))["In progress"] == "10 credits"
    # Clean up: the owner cancels it.
    await press_cancel(env, alice, status_id)
    await assert_cancelled(env, place, job_id, status_id, alice)


async def test_cancel_while_waiting_for_runway_capacity(env: Env, place: Place) -> None:
    """Runway said 429 with a long Retry-After: the job waits in the queue; Cancel refunds it
    and nothing is ever created. (A model of its own, so the pause delays no other test.)"""
    alice = place.members[0]
    env.sim.add_fault(
        Fault(method="POST", path_prefix="/v1/image_to_video", status=429, retry_after=600)
    )
    before = env.sim.created_count
    iid = await env.invoke(
        place,
        alice,
        "animate",
        {"prompt": "later", "model": "veo3.1_fast", "duration": 4, "ratio": "1280:720"},
        [("later.png", png(), "image/png")],
    )
    job_id = job_id_in(await env.reply_text(iid))
    status_id = int((await thread_of(env, place, job_id))["id"])

    async def back_in_queue() -> bool:
        row = env.db.job(job_id)
        return row["state"] == "queued" and row["attempts"] == 1 and env.sim.faults == []

    await wait_for(back_in_queue, "the job to wait in the queue after the 429")
    assert (await env.usage(place, alice))["In progress"] == "40 credits"
    text = await press_cancel(env, alice, status_id)
    assert f"Job #{job_id} is cancelled" in text and "went back to your quota" in text, text
    notice = await notice_message(env, status_id, job_id)
    assert mentioned(notice) == [alice]
    assert (await env.settled(job_id))["state"] == "cancelled"
    assert env.db.ledger(job_id) == [("reserve", 40.0), ("refund", 40.0)]
    assert env.sim.created_count == before
    usage = await env.usage(place, alice)
    assert usage["Used"] == "0 credits" and "In progress" not in usage, usage
