"""/help end to end, and the commands that cannot be used in DMs not being offered there."""

from __future__ import annotations

from typing import Any

import pytest

from bot.i18n import t
from tests.e2e.harness import Env, Place, last_message, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

GUILD, BOT_DM = 0, 1


async def test_help_shows_commands_models_prices_and_my_quota(env: Env, place: Place) -> None:
    alice = place.members[0]
    iid = await env.invoke(place, alice, "help")
    answer = await env.answer(iid)
    assert answer["ephemeral"], answer
    (embed,) = last_message(answer)["embeds"]
    for command in ("/animate", "/restyle", "Animate this image", "/jobs", "/usage"):
        assert f"**{command}**" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert "Gen-4 Turbo: 5 credits/s" in fields["Image to video (/animate)"]
    assert "gen4_turbo" not in fields["Image to video (/animate)"]
    assert fields["Your quota here"].startswith("**200** credits left of 200 today")


async def test_commands_that_need_a_server_are_not_offered_in_dms(
    commands: list[dict[str, Any]],
) -> None:
    contexts = {c["name"]: c.get("contexts") for c in commands}
    for name in ("animate", "restyle", "Animate this image", "runway", "quota"):
        assert contexts[name] == [GUILD], (name, contexts[name])
    assert contexts["help"] == [GUILD, BOT_DM]


async def test_a_new_server_gets_a_short_welcome_in_its_system_channel(env: Env) -> None:
    guild = await env.ctl.create_guild("Welcome test", system_channel="general")
    channel_id = int(guild["system_channel_id"])

    async def welcomed() -> list[dict[str, Any]] | None:
        messages = await env.ctl.messages(channel_id)
        return messages or None

    (message,) = await wait_for(welcomed, "the welcome in the system channel")
    assert message["content"] == t("help.welcome", "en")
    assert message["mentions"] == [] and message["mention_everyone"] is False


async def test_no_welcome_where_the_bot_may_not_post(env: Env) -> None:
    view_only = 1 << 10  # VIEW_CHANNEL, no SEND_MESSAGES
    guild = await env.ctl.create_guild(
        "Muted", system_channel="general", everyone_permissions=0, bot_permissions=view_only
    )
    gid = int(guild["id"])
    # The bot answers this only after it handled the guild's creation: then nothing was posted.
    owner = int(guild["owner_id"])
    other = await env.ctl.create_channel(gid, "talk")
    iid = await env.ctl.invoke_command(owner, gid, int(other["id"]), "help", {}, [])
    await env.answer(iid)
    assert await env.ctl.messages(int(guild["system_channel_id"])) == []
