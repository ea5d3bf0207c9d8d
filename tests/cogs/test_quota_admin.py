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
    assert {f.name: f.value for f in embed.fields}["Limit"] == "40"
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

    top, top_log = admin(harness)
    await QuotaAdminCog.top.callback(cog, top)
    (embed,) = top_log.embeds()
    assert embed.title == "Top usage this period"
