"""Admin comfort end to end: /quota list, /quota log, /quota reset that keeps a grant, role
names, the server's daily budget, the channel allow-list, /jobs pages and the member filter,
the cost-confirm and language settings."""

from __future__ import annotations

from typing import Any

import pytest

from bot.fakediscord.client import ControlError
from tests.e2e.harness import Env, Place, job_id_in, png

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

Json = Any


async def animate(env: Env, place: Place, user: int, prompt: str, **kw: Any) -> str:
    """Start a 2 s /animate (10 credits) and return the first answer's text."""
    iid = await env.invoke(
        place,
        user,
        "animate",
        {"prompt": prompt, "duration": 2},
        [("pic.png", png(), "image/png")],
        **kw,
    )
    return await env.reply_text(iid)


async def settled(env: Env, job_id: int) -> None:
    await env.settled(job_id)


async def test_list_log_and_role_names(env: Env, place: Place) -> None:
    alice, bob = place.members
    artists = await env.ctl.create_role(place.guild_id, "Artists")
    role_id = int(artists["id"])
    await env.ctl.add_member(place.guild_id, alice, [role_id])
    await env.barrier(place)
    owner = place.owner_id
    for name, options in [
        ("quota role", {"role": str(role_id), "limit": "60"}),
        ("quota set", {"user": str(bob), "limit": "unlimited"}),
        ("quota default", {"limit": "30"}),
        ("runway budget", {"credits": 500}),
    ]:
        await env.reply_text(await env.invoke(place, owner, name, options))

    shown = await env.reply_text(await env.invoke(place, owner, "quota show", {"user": str(alice)}))
    assert "Limit from: the role @Artists" in shown, shown
    assert str(role_id) not in shown, shown

    listed = await env.reply_text(await env.invoke(place, owner, "quota list"))
    assert "Server default: 30 credits" in listed, listed
    assert "Role limits (1): @Artists: 60 credits" in listed, listed
    assert f"Member overrides (1): <@{bob}>: unlimited" in listed, listed
    assert "Daily budget: 0 of 500 credits used today" in listed, listed
    assert "Channels: every channel" in listed, listed

    log = await env.reply_text(await env.invoke(place, owner, "quota log"))
    lines = [line for line in log.splitlines() if "<t:" in line]
    assert len(lines) == 4, log
    assert f"<@{owner}> changed the daily budget: none → 500 credits" in lines[0]
    assert f"<@{owner}> set the server default: none → 30 credits" in lines[1]
    assert f"<@{owner}> set <@{bob}>'s limit: none → unlimited" in lines[2]
    assert f"<@{owner}> set the limit of @Artists: none → 60 credits" in lines[3]
    about = await env.reply_text(await env.invoke(place, owner, "quota log", {"member": str(bob)}))
    assert about.count("<t:") == 1 and "unlimited" in about, about


async def test_reset_keeps_a_grant_unless_told(env: Env, place: Place) -> None:
    alice = place.members[0]
    owner = place.owner_id
    job_id = job_id_in(await animate(env, place, alice, "a calm sea"))
    await settled(env, job_id)
    await env.reply_text(
        await env.invoke(place, owner, "quota grant", {"user": str(alice), "amount": 15})
    )
    text = await env.reply_text(await env.invoke(place, owner, "quota reset", {"user": str(alice)}))
    assert "reset to 0 (cleared 10 credits used)" in text, text
    assert "bonus of 15 credits is kept" in text, text
    usage = await env.usage(place, alice)
    assert usage["Used"] == "0 credits" and usage["Bonus"] == "+15 credits", usage
    text = await env.reply_text(
        await env.invoke(place, owner, "quota reset", {"user": str(alice), "bonus": "clear"})
    )
    assert "bonus of 15 credits was removed too" in text, text
    assert "Bonus" not in await env.usage(place, alice)
    log = await env.reply_text(await env.invoke(place, owner, "quota log", {"member": str(alice)}))
    assert f"removed <@{alice}>'s bonus of 15 credits" in log, log


async def test_the_daily_budget_refuses_at_admission(env: Env, place: Place) -> None:
    alice, bob = place.members
    await env.reply_text(await env.invoke(place, place.owner_id, "runway budget", {"credits": 15}))
    first = job_id_in(await animate(env, place, alice, "first"))
    before = await env.created()
    refused = await env.invoke(
        place, bob, "animate", {"prompt": "second", "duration": 2}, [("p.png", png(), "image/png")]
    )
    answer = await env.answer(refused)
    text = await env.reply_text(refused)
    assert answer["ephemeral"], answer
    assert "used up today's budget of 15 credits (5 left, this job needs 10)" in text, text
    assert await env.created() == before  # nothing reached Runway
    assert env.db.rows("SELECT id FROM jobs WHERE user_id = ?", (bob,)) == []
    await settled(env, first)
    shown = await env.reply_text(await env.invoke(place, place.owner_id, "runway budget"))
    assert "10 of 15 credits used today" in shown, shown
    await env.reply_text(await env.invoke(place, place.owner_id, "runway budget", {"remove": True}))
    assert "Job #" in await animate(env, place, bob, "now it fits")


async def test_the_channel_allow_list(env: Env, place: Place) -> None:
    alice = place.members[0]
    owner = place.owner_id
    studio = await env.ctl.create_channel(place.guild_id, "studio")
    studio_id = int(studio["id"])
    await env.barrier(place)
    text = await env.reply_text(
        await env.invoke(place, owner, "runway channels add", {"channel": str(studio_id)})
    )
    assert f"<#{studio_id}> is allowed" in text, text

    before = await env.created()
    iid = await env.invoke(
        place, alice, "animate", {"prompt": "here?", "duration": 2}, [("p.png", png(), "image/png")]
    )
    answer = await env.answer(iid)
    assert answer["ephemeral"], answer
    text = await env.reply_text(iid)
    assert (
        text == f"The bot is not used in this channel here. Please use one of these: <#{studio_id}>"
    )
    assert await env.created() == before
    # Admin commands still work in any channel; the allowed channel works for members.
    listed = await env.reply_text(await env.invoke(place, owner, "runway channels list"))
    assert f"<#{studio_id}>" in listed, listed
    ok = await animate(env, place, alice, "in the studio", channel_id=studio_id)
    job_id = job_id_in(ok)
    await settled(env, job_id)
    text = await env.reply_text(
        await env.invoke(place, owner, "runway channels remove", {"channel": str(studio_id)})
    )
    assert "every channel" in text, text
    assert "Job #" in await animate(env, place, alice, "anywhere again")


async def test_jobs_pages_prompts_and_member_filter(env: Env, place: Place) -> None:
    alice, bob = place.members
    ids = []
    for i in range(12):
        job_id = job_id_in(await animate(env, place, alice, f"scene {i} of the film"))
        await settled(env, job_id)
        ids.append(job_id)
    page1 = await env.reply_text(await env.invoke(place, alice, "jobs"))
    assert f"#{ids[-1]}" in page1 and f"#{ids[2]}" in page1 and f"#{ids[1]}]" not in page1, page1
    assert "> scene 11 of the film" in page1, page1
    assert "Gen-4 Turbo" in page1 and "gen4_turbo" not in page1, page1
    page2 = await env.reply_text(await env.invoke(place, alice, "jobs", {"page": 2}))
    assert "> scene 0 of the film" in page2 and "> scene 5" not in page2, page2

    refused = await env.reply_text(await env.invoke(place, bob, "jobs", {"member": str(alice)}))
    assert "Only server admins" in refused, refused
    theirs = await env.reply_text(
        await env.invoke(place, place.owner_id, "jobs", {"member": str(alice)})
    )
    assert "Jobs of" in theirs and "> scene 11 of the film" in theirs, theirs


async def test_cost_confirm_and_language_settings(env: Env, place: Place) -> None:
    owner = place.owner_id
    text = await env.reply_text(
        await env.invoke(place, owner, "runway cost-confirm", {"credits": 40})
    )
    assert "above 40 credits ask for a confirm click" in text, text
    text = await env.reply_text(
        await env.invoke(place, owner, "runway language", {"language": "ja"})
    )
    assert text == "Public messages here are in 日本語.", text
    row = env.db.rows(
        "SELECT confirm_above, locale FROM guild_settings WHERE guild_id = ?", (place.guild_id,)
    )
    assert [tuple(r) for r in row] == [(40, "ja")]
    # Discord hides /runway from members; with a server override the bot still refuses.
    with pytest.raises(ControlError):
        await env.invoke(place, place.members[0], "runway budget", {"credits": 1})
    await env.ctl.settings(enforce_default_member_permissions=False)
    try:
        iid = await env.invoke(place, place.members[0], "runway budget", {"credits": 1})
        text = await env.reply_text(iid)
    finally:
        await env.ctl.settings(enforce_default_member_permissions=True)
    assert "You need the **Manage Server** permission for this." in text, text
    assert (
        env.db.rows(
            "SELECT daily_budget FROM guild_settings WHERE guild_id = ?", (place.guild_id,)
        )[0][0]
        is None
    )
