"""Which Discord permissions the bot needs where, and who counts as an admin."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import discord

from bot.i18n import t

# Permission attribute -> the name Discord shows in the server settings.
PERMISSION_NAMES: dict[str, str] = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "send_messages_in_threads": "Send Messages in Threads",
    "create_public_threads": "Create Public Threads",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
    "read_message_history": "Read Message History",
    "manage_guild": "Manage Server",
}

# What posting a job's status message in a channel needs.
STATUS_PERMISSIONS: tuple[str, ...] = ("view_channel", "send_messages", "embed_links")
# What opening a thread on it needs (without it the job still runs, in the channel).
THREAD_PERMISSIONS: tuple[str, ...] = ("create_public_threads", "send_messages_in_threads")
# What posting the finished clip needs.
CLIP_PERMISSIONS: tuple[str, ...] = ("attach_files",)


def missing(perms: discord.Permissions, needed: Iterable[str]) -> list[str]:
    """The display names of the permissions in ``needed`` that ``perms`` lacks."""
    return [PERMISSION_NAMES.get(name, name) for name in needed if not getattr(perms, name)]


def describe_missing(names: Sequence[str], locale: str = "en") -> str:
    """``**Attach Files**`` or ``**Embed Links** and **Attach Files**`` (Discord's own
    permission names, which its settings show in English)."""
    bold = [f"**{name}**" for name in names]
    if len(bold) <= 1:
        return "".join(bold)
    return t("list.and", locale, items=", ".join(bold[:-1]), last=bold[-1])


def missing_permission_text(
    names: Sequence[str], where: str | None = None, *, locale: str = "en"
) -> str:
    """A user-facing sentence naming exactly which permissions the bot lacks."""
    key = "perm.missing_one" if len(names) == 1 else "perm.missing_many"
    place = where if where is not None else t("post.this_channel", locale)
    return t(key, locale, names=describe_missing(names, locale), where=place)


def is_admin(interaction: discord.Interaction, owner_ids: Sequence[int]) -> bool:
    """A configured owner, or Manage Server in the interaction's guild.

    Uses the permissions Discord resolved for this interaction, so it holds even when the
    guild is not cached; ``default_permissions`` on a command is only a hint to Discord.
    """
    if interaction.user.id in owner_ids:
        return True
    if interaction.guild_id is None:
        return False
    perms = interaction.permissions
    return perms.manage_guild or perms.administrator


def role_ids(user: discord.abc.User) -> tuple[int, ...]:
    """The user's role ids in the current guild (empty outside guilds)."""
    if isinstance(user, discord.Member):
        return tuple(role.id for role in user.roles if not role.is_default())
    return ()
