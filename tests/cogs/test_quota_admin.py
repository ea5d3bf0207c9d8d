"""/quota: admin checks enforced in code, limit parsing, and every sub-command's effect."""

from __future__ import annotations

from typing import Any

import pytest
from discord import app_commands

from bot.domain import UserError
from bot.ui.errors import NotAdmin, handle_app_command_error
from cogs.quota_admin import BadLimit, QuotaAdminCog, parse_limit
from tests.cogs.conftest import ADMIN_PERMISSIONS, OWNER_ID, Harness
from tests.discord_doubles import make_dm_channel, make_member, make_role, make_user


@pytest.fixture
def cog(harness: Harness) -> QuotaAdminCog:
    return QuotaAdminCog(harness.bot)


def admin(harness: Harness) -> tuple[Any, Any]:
    return harness.interaction(user=make_member(), permissions=ADMIN_PERMISSIONS)


@pytest.mark.parametrize(
    ("text", "allow_clear", "expected"),
    [
        ("250", False, 250),
        (" 0 ", False, 0),
        ("Unlimited", False, "unlimited"),
        ("blocked", True, "blocked"),
        ("clear", True, None),
    ],
)
def test_parse_limit(text: str, allow_clear: bool, expected: object) -> None:
    assert parse_limit(text, allow_clear=allow_clear) == expected


@pytest.mark.parametrize("text", ["-5", "1.5", "lots", "clear", "", "99999999999"])
def test_parse_limit_rejects(text: str) -> None:
    with pytest.raises(BadLimit, match="not a limit") as caught:
        parse_limit(text, allow_clear=False)
    assert isinstance(caught.value, UserError) and isinstance(caught.value, ValueError)
    assert caught.value.message == str(caught.value)


async def test_non_admin_is_refused_in_code(harness: Harness, cog: QuotaAdminCog) -> None:
    interaction, log = harness.interaction(user=make_member())
    with pytest.raises(NotAdmin) as caught:
        await cog.interaction_check(interaction)
    assert not log.deferred
    await handle_app_command_error(interaction, caught.value)
    assert "**Manage Server**" in log.last
    assert log.messages[-1][1]["ephemeral"] is True


async def test_admin_and_configured_owner_pass(harness: Harness, cog: QuotaAdminCog) -> None:
    interaction, log = admin(harness)
    assert await cog.interaction_check(interaction)
    assert log.deferred  # acknowledged before any database work
    await QuotaAdminCog.top.callback(cog, interaction)
    assert log.embeds()[0].title == "Top usage this period"
    owner, _ = harness.interaction(user=make_member(OWNER_ID))
    assert await cog.interaction_check(owner)


async def test_refused_outside_guilds(harness: Harness, cog: QuotaAdminCog) -> None:
    interaction, _ = harness.interaction(
        guild_id=None, channel=make_dm_channel(), user=make_user(OWNER_ID)
    )
    with pytest.raises(app_commands.NoPrivateMessage):
        await cog.interaction_check(interaction)


async def test_set_clear_and_show_a_user(harness: Harness, cog: QuotaAdminCog) -> None:
    target = make_member()
    interaction, log = admin(harness)
    await QuotaAdminCog.set_user.callback(cog, interaction, target, "40")
    assert "40 credits" in log.last
    status = await harness.quota.status(harness.guild_id, target.id)
    assert status.limit == 40

    show, show_log = admin(harness)
    await QuotaAdminCog.show.callback(cog, show, target)
    (embed,) = show_log.embeds()
    assert {f.name: f.value for f in embed.fields}["Limit"] == "40 credits"
    assert target.mention in (embed.description or "")

    clear, _ = admin(harness)
    await QuotaAdminCog.clear_user.callback(cog, clear, target)
    status = await harness.quota.status(harness.guild_id, target.id)
    assert status.limit == 100


async def test_bad_limit_text_changes_nothing(harness: Harness, cog: QuotaAdminCog) -> None:
    target = make_member()
    interaction, log = admin(harness)
    await QuotaAdminCog.set_user.callback(cog, interaction, target, "lots")
    assert "not a limit" in log.last
    status = await harness.quota.status(harness.guild_id, target.id)
    assert status.limit == 100


async def test_role_and_default_limits(harness: Harness, cog: QuotaAdminCog) -> None:
    role = make_role()
    member = make_member(roles=[role])
    interaction, _ = admin(harness)
    await QuotaAdminCog.role_limit.callback(cog, interaction, role, "unlimited")
    status = await harness.quota.status(harness.guild_id, member.id, [role.id])
    assert status.limit is None

    other, _ = admin(harness)
    await QuotaAdminCog.default_limit.callback(cog, other, "blocked")
    status = await harness.quota.status(harness.guild_id, make_member().id)
    assert status.blocked

    cleared, log = admin(harness)
    await QuotaAdminCog.default_limit.callback(cog, cleared, "clear")
    assert "no override" in log.last
    status = await harness.quota.status(harness.guild_id, make_member().id)
    assert not status.blocked and status.limit == 100


async def test_a_limit_for_everyone_points_to_the_server_default(
    harness: Harness, cog: QuotaAdminCog
) -> None:
    interaction, log = admin(harness)
    await QuotaAdminCog.role_limit.callback(cog, interaction, make_role(default=True), "5")
    assert "/quota default" in log.last
    status = await harness.quota.status(harness.guild_id, make_member().id)
    assert status.limit == 100 and status.source == "config default"


async def test_grant_reset_and_top(harness: Harness, cog: QuotaAdminCog) -> None:
    target = make_member()
    interaction, log = admin(harness)
    await QuotaAdminCog.grant.callback(cog, interaction, target, 15.0)
    assert "15 extra credits" in log.last
    status = await harness.quota.status(harness.guild_id, target.id)
    assert status.bonus == 15

    reset, log = admin(harness)
    await QuotaAdminCog.reset_user.callback(cog, reset, target)
    assert "reset to 0" in log.last
    assert "bonus of 15 credits is kept" in log.last  # a grant is never wiped silently

    top, top_log = admin(harness)
    await QuotaAdminCog.top.callback(cog, top)
    (embed,) = top_log.embeds()
    assert embed.title == "Top usage this period"


def guild_with_roles(guild_id: int, **names: int) -> Any:
    """A guild double whose ``get_role`` knows the given ``name=id`` roles."""
    from unittest.mock import MagicMock

    import discord

    guild = MagicMock(spec_set=discord.Guild)
    guild.id = guild_id
    roles = {}
    for name, role_id in names.items():
        role = make_role(role_id)
        role.name = name
        roles[role_id] = role
    guild.get_role.side_effect = roles.get
    return guild


async def test_show_names_the_role_a_limit_comes_from(harness: Harness, cog: QuotaAdminCog) -> None:
    role = make_role()
    await harness.quota.set_role_limit(harness.guild_id, role.id, 60)
    interaction, log = admin(harness)
    interaction.guild = guild_with_roles(harness.guild_id, Artists=role.id)
    await QuotaAdminCog.show.callback(cog, interaction, make_member(roles=[role]))
    fields = {f.name: f.value for f in log.embeds()[0].fields}
    assert fields["Limit from"] == "the role @Artists"
    assert str(role.id) not in (fields["Limit from"] or "")


async def test_reset_can_clear_the_bonus_and_says_what_it_cleared(
    harness: Harness, cog: QuotaAdminCog
) -> None:
    target = make_member()
    await harness.quota.grant(harness.guild_id, target.id, 7)
    interaction, log = admin(harness)
    await QuotaAdminCog.reset_user.callback(cog, interaction, target, "clear")
    assert "cleared 0 credits used" in log.last
    assert "bonus of 7 credits was removed" in log.last
    assert (await harness.quota.status(harness.guild_id, target.id)).bonus == 0


async def test_every_change_is_in_the_log_with_who_and_what(
    harness: Harness, cog: QuotaAdminCog
) -> None:
    target, role = make_member(), make_role()
    actor = make_member()
    for callback, args in [
        (QuotaAdminCog.set_user, (target, "40")),
        (QuotaAdminCog.role_limit, (role, "unlimited")),
        (QuotaAdminCog.default_limit, ("5",)),
        (QuotaAdminCog.grant, (target, 3.0)),
    ]:
        interaction, _ = harness.interaction(user=actor, permissions=ADMIN_PERMISSIONS)
        await callback.callback(cog, interaction, *args)  # type: ignore[attr-defined]
    interaction, log = admin(harness)
    interaction.guild = guild_with_roles(harness.guild_id, Mods=role.id)
    await QuotaAdminCog.log.callback(cog, interaction, None, None, 1)
    (embed,) = log.embeds()
    lines = (embed.description or "").splitlines()
    assert len(lines) == 4 and all("<t:" in line for line in lines)
    assert f"<@{actor.id}> gave <@{target.id}> a bonus: 0 credits → 3 credits" in lines[0]
    assert f"<@{actor.id}> set the server default: none → 5 credits" in lines[1]
    assert "set the limit of @Mods: none → unlimited" in lines[2]
    assert f"<@{actor.id}> set <@{target.id}>'s limit: none → 40 credits" in lines[3]
    assert embed.footer.text == "Page 1"

    about, log = admin(harness)
    await QuotaAdminCog.log.callback(cog, about, target, None, 1)
    (embed,) = log.embeds()
    assert embed.title == f"Changes about {target.mention}"
    assert len((embed.description or "").splitlines()) == 2

    both, log = admin(harness)
    await QuotaAdminCog.log.callback(cog, both, target, role, 1)
    assert "not both" in log.last


async def test_the_log_pages(harness: Harness, cog: QuotaAdminCog) -> None:
    target = make_member()
    for limit in range(1, 13):
        await harness.quota.set_user_limit(harness.guild_id, target.id, limit, actor_id=1)
    first, log = admin(harness)
    await QuotaAdminCog.log.callback(cog, first, None, None, 1)
    (embed,) = log.embeds()
    assert len((embed.description or "").splitlines()) == 10
    assert "11 credits → 12 credits" in (embed.description or "").splitlines()[0]
    assert embed.footer.text == "Page 1 · more with /quota log page:2"
    second, log = admin(harness)
    await QuotaAdminCog.log.callback(cog, second, None, None, 2)
    lines = (log.embeds()[0].description or "").splitlines()
    assert len(lines) == 2 and "none → 1 credits" in lines[-1]
    empty, log = admin(harness)
    await QuotaAdminCog.log.callback(cog, empty, None, None, 9)
    assert "Nothing on this page" in (log.embeds()[0].description or "")


async def test_list_shows_every_rule_by_name(harness: Harness, cog: QuotaAdminCog) -> None:
    role, other_role, target = make_role(), make_role(), make_member()
    await harness.quota.set_role_limit(harness.guild_id, role.id, 60)
    await harness.quota.set_role_limit(harness.guild_id, other_role.id, "blocked")
    await harness.quota.set_user_limit(harness.guild_id, target.id, "unlimited")
    await harness.quota.guilds.update(harness.guild_id, 1, daily_budget=500, confirm_above=50)
    interaction, log = admin(harness)
    interaction.guild = guild_with_roles(harness.guild_id, Artists=role.id)
    await QuotaAdminCog.list_limits.callback(cog, interaction)
    fields = {f.name: f.value or "" for f in log.embeds()[0].fields}
    assert fields["Server default"] == "not set: the bot's default applies (100 credits)"
    assert "@Artists: 60 credits" in fields["Role limits (2)"]
    assert f"<@&{other_role.id}>: blocked" in fields["Role limits (2)"]  # unknown: mention
    assert fields["Member overrides (1)"] == f"<@{target.id}>: unlimited"
    assert fields["Daily budget"].startswith("Daily budget: 0 of 500 credits used today")
    assert "above 50 credits" in fields["Cost confirmation"]
    assert fields["Channels"] == "every channel"


async def test_replies_are_in_the_admins_language(harness: Harness, cog: QuotaAdminCog) -> None:
    import discord

    target = make_member()
    interaction, log = admin(harness)
    interaction.locale = discord.Locale.japanese
    await QuotaAdminCog.set_user.callback(cog, interaction, target, "40")
    assert log.last == f"{target.mention} の上限を 40 クレジット にしました。"
    bad, log = admin(harness)
    bad.locale = discord.Locale.spain_spanish
    await QuotaAdminCog.set_user.callback(cog, bad, target, "lots")
    assert log.last.startswith("`lots` no es un límite")
