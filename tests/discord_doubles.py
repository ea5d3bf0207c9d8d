"""Test doubles for discord.py objects, built with ``spec_set`` from the real classes.

A double only has the attributes the real class has, so a typo or an API change fails the
test instead of passing silently. Channel and thread doubles use ``spec`` (reading unknown
attributes still fails) so they can also carry ``sent`` and ``threads_created`` records.
Async methods are :class:`AsyncMock`; what the code sent is read back from the records.
"""

from __future__ import annotations

import itertools
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord

_ids = itertools.count(900_000_000_000_000_000)


def next_id() -> int:
    """A fresh snowflake-looking id."""
    return next(_ids)


def forbidden(code: int = 50013, message: str = "Missing Permissions") -> discord.Forbidden:
    """The exception discord.py raises for an HTTP 403."""
    response = MagicMock(status=403, reason="Forbidden")
    return discord.Forbidden(response, {"code": code, "message": message})


def not_found(code: int = 10003, message: str = "Unknown Channel") -> discord.NotFound:
    """The exception discord.py raises for an HTTP 404."""
    response = MagicMock(status=404, reason="Not Found")
    return discord.NotFound(response, {"code": code, "message": message})


def server_error(status: int = 503) -> discord.HTTPException:
    """The exception discord.py raises for a 5xx."""
    response = MagicMock(status=status, reason="Service Unavailable")
    return discord.DiscordServerError(response, {"code": 0, "message": "unavailable"})


def make_role(role_id: int | None = None, *, default: bool = False) -> MagicMock:
    """A :class:`discord.Role`."""
    role = MagicMock(spec_set=discord.Role)
    role.id = role_id if role_id is not None else next_id()
    role.is_default.return_value = default
    role.mention = f"<@&{role.id}>"
    return role


def make_member(
    user_id: int | None = None, *, roles: list[MagicMock] | None = None, name: str = "member"
) -> MagicMock:
    """A :class:`discord.Member` (a user inside a guild)."""
    member = MagicMock(spec_set=discord.Member)
    member.id = user_id if user_id is not None else next_id()
    member.roles = roles or []
    member.mention = f"<@{member.id}>"
    member.name = name
    member.bot = False
    return member


def make_user(user_id: int | None = None) -> MagicMock:
    """A :class:`discord.User` (outside guilds, e.g. in DMs)."""
    user = MagicMock(spec_set=discord.User)
    user.id = user_id if user_id is not None else next_id()
    user.mention = f"<@{user.id}>"
    user.bot = False
    user.send = AsyncMock()
    return user


def make_message(channel: Any, message_id: int | None = None) -> MagicMock:
    """A sent :class:`discord.Message` in ``channel``; ``create_thread`` opens a thread."""
    message = MagicMock(spec_set=discord.Message)
    message.id = message_id if message_id is not None else next_id()
    message.channel = channel
    guild_part = getattr(channel, "_guild_id", "@me")
    message.jump_url = f"https://discord.com/channels/{guild_part}/{channel.id}/{message.id}"

    async def create_thread(**kwargs: Any) -> MagicMock:
        error = getattr(channel, "thread_error", None)
        if error is not None:
            raise error
        thread = make_thread(parent=channel, name=kwargs.get("name", ""))
        channel.threads_created.append(thread)
        return thread

    message.create_thread = AsyncMock(side_effect=create_thread)
    message.edit = AsyncMock()
    return message


def _messageable(channel: MagicMock) -> None:
    async def send(*args: Any, **kwargs: Any) -> MagicMock:
        message = make_message(channel)
        channel.sent.append((args, kwargs, message))
        return message

    channel.send = AsyncMock(side_effect=send)


def make_text_channel(
    channel_id: int | None = None,
    *,
    guild_id: int | None = None,
    bot_permissions: discord.Permissions | None = None,
) -> MagicMock:
    """A guild :class:`discord.TextChannel` whose ``send`` records and returns messages.

    ``channel.sent`` lists ``(args, kwargs, message)``; ``channel.threads_created`` lists
    the threads opened on its messages; set ``channel.thread_error`` to make opening fail.
    """
    channel = MagicMock(spec=discord.TextChannel)
    channel.id = channel_id if channel_id is not None else next_id()
    channel._guild_id = guild_id if guild_id is not None else next_id()
    channel.mention = f"<#{channel.id}>"
    channel.sent = []
    channel.threads_created = []
    _messageable(channel)
    guild = MagicMock(spec_set=discord.Guild)
    guild.id = channel._guild_id
    guild.me = make_member(name="bot")
    guild.filesize_limit = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
    channel.guild = guild
    perms = bot_permissions if bot_permissions is not None else discord.Permissions.all()
    channel.permissions_for.return_value = perms
    channel.get_partial_message.side_effect = lambda mid: make_message(channel, mid)
    return channel


def make_thread(*, parent: Any, name: str = "", thread_id: int | None = None) -> MagicMock:
    """A :class:`discord.Thread` under ``parent``."""
    thread = MagicMock(spec=discord.Thread)
    thread.id = thread_id if thread_id is not None else next_id()
    thread.name = name
    thread.parent = parent
    thread._guild_id = getattr(parent, "_guild_id", None)
    thread.guild = getattr(parent, "guild", None)
    thread.mention = f"<#{thread.id}>"
    thread.jump_url = f"https://discord.com/channels/{thread._guild_id}/{thread.id}"
    thread.sent = []
    thread.threads_created = []
    _messageable(thread)
    thread.permissions_for.return_value = discord.Permissions.all()
    thread.get_partial_message.side_effect = lambda mid: make_message(thread, mid)
    return thread


def make_dm_channel(channel_id: int | None = None) -> MagicMock:
    """A :class:`discord.DMChannel` between the bot and a user."""
    channel = MagicMock(spec=discord.DMChannel)
    channel.id = channel_id if channel_id is not None else next_id()
    channel.sent = []
    channel.threads_created = []
    _messageable(channel)
    channel.get_partial_message.side_effect = lambda mid: make_message(channel, mid)
    return channel


def make_attachment(
    data: bytes,
    *,
    filename: str = "picture.png",
    content_type: str | None = "image/png",
    size: int | None = None,
) -> MagicMock:
    """A :class:`discord.Attachment` whose ``read`` returns ``data``."""
    attachment = MagicMock(spec_set=discord.Attachment)
    attachment.id = next_id()
    attachment.filename = filename
    attachment.content_type = content_type
    attachment.size = len(data) if size is None else size
    attachment.url = f"https://cdn.example.invalid/attachments/{attachment.id}/{filename}"
    attachment.read = AsyncMock(return_value=data)
    return attachment


class Responses:
    """Everything the code answered through an interaction, in order."""

    def __init__(self) -> None:
        self.done = False
        self.deferred = False
        self.messages: list[tuple[str | None, dict[str, Any]]] = []
        self.modals: list[discord.ui.Modal] = []

    @property
    def texts(self) -> list[str]:
        """The text of every answer (initial response and follow-ups)."""
        return [text or "" for text, _ in self.messages]

    @property
    def last(self) -> str:
        """The last answer's text."""
        return self.texts[-1]

    def embeds(self) -> list[discord.Embed]:
        """Every embed sent in answers."""
        out = []
        for _, kwargs in self.messages:
            if kwargs.get("embed") is not None:
                out.append(kwargs["embed"])
        return out


def make_interaction(
    client: Any,
    *,
    user: Any = None,
    guild_id: int | None = None,
    channel: Any = None,
    permissions: discord.Permissions | None = None,
    app_permissions: discord.Permissions | None = None,
    namespace: dict[str, Any] | None = None,
) -> tuple[MagicMock, Responses]:
    """A :class:`discord.Interaction` plus a :class:`Responses` log of what was answered.

    ``permissions`` are the user's resolved permissions in the channel (Discord computes
    them), ``app_permissions`` the bot's.
    """
    log = Responses()
    interaction = MagicMock(spec_set=discord.Interaction)
    interaction.client = client
    interaction.user = user if user is not None else make_member()
    interaction.guild_id = guild_id
    interaction.guild = None
    interaction.channel = channel
    interaction.channel_id = getattr(channel, "id", None)
    interaction.permissions = permissions if permissions is not None else discord.Permissions.none()
    interaction.app_permissions = (
        app_permissions if app_permissions is not None else discord.Permissions.all()
    )
    interaction.extras = {}
    interaction.command = None
    interaction.namespace = discord.app_commands.Namespace.__new__(discord.app_commands.Namespace)
    for key, value in (namespace or {}).items():
        setattr(interaction.namespace, key, value)

    response = MagicMock(spec_set=discord.InteractionResponse)

    def is_done() -> bool:
        return log.done

    async def send_message(content: str | None = None, **kwargs: Any) -> None:
        assert not log.done, "interaction answered twice"
        log.done = True
        log.messages.append((content, kwargs))

    async def defer(**kwargs: Any) -> None:
        assert not log.done, "interaction answered twice"
        log.done = True
        log.deferred = True

    async def send_modal(modal: discord.ui.Modal) -> None:
        assert not log.done, "interaction answered twice"
        log.done = True
        log.modals.append(modal)

    response.is_done.side_effect = is_done
    response.send_message = AsyncMock(side_effect=send_message)
    response.defer = AsyncMock(side_effect=defer)
    response.send_modal = AsyncMock(side_effect=send_modal)
    interaction.response = response

    followup = MagicMock(spec_set=discord.Webhook)

    async def followup_send(content: str | None = None, **kwargs: Any) -> None:
        assert log.done, "follow-up before the interaction was acknowledged"
        log.messages.append((content, kwargs))

    followup.send = AsyncMock(side_effect=followup_send)
    interaction.followup = followup
    return interaction, log
