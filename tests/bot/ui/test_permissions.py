"""Permission names, missing-permission sentences and the admin rule."""

from __future__ import annotations

import discord

from bot.ui.permissions import (
    describe_missing,
    is_admin,
    missing,
    missing_permission_text,
    role_ids,
)
from tests.discord_doubles import make_interaction, make_member, make_role, make_user


def test_missing_names_only_what_is_lacking() -> None:
    perms = discord.Permissions(send_messages=True, embed_links=True)
    assert missing(perms, ("send_messages", "embed_links", "attach_files")) == ["Attach Files"]
    assert missing(discord.Permissions.all(), ("create_public_threads",)) == []


def test_sentences() -> None:
    assert describe_missing(["Attach Files"]) == "**Attach Files**"
    assert describe_missing(["A", "B", "C"]) == "**A**, **B** and **C**"
    text = missing_permission_text(["Attach Files"], "<#5>")
    assert text.startswith("I am missing the **Attach Files** permission in <#5>.")
    assert "permissions" in missing_permission_text(["A", "B"])


def test_is_admin_uses_resolved_permissions_or_owner_ids() -> None:
    member = make_member()
    plain, _ = make_interaction(None, user=member, guild_id=1)
    assert not is_admin(plain, owner_ids=())
    manager, _ = make_interaction(
        None, user=member, guild_id=1, permissions=discord.Permissions(manage_guild=True)
    )
    assert is_admin(manager, owner_ids=())
    administrator, _ = make_interaction(
        None, user=member, guild_id=1, permissions=discord.Permissions(administrator=True)
    )
    assert is_admin(administrator, owner_ids=())
    owner, _ = make_interaction(None, user=member, guild_id=1)
    assert is_admin(owner, owner_ids=(member.id,))


def test_manage_guild_means_nothing_in_dms() -> None:
    user = make_user()
    dm, _ = make_interaction(
        None, user=user, guild_id=None, permissions=discord.Permissions(manage_guild=True)
    )
    assert not is_admin(dm, owner_ids=())


def test_role_ids_skip_everyone() -> None:
    everyone, mod = make_role(default=True), make_role()
    assert role_ids(make_member(roles=[everyone, mod])) == (mod.id,)
    assert role_ids(make_user()) == ()
