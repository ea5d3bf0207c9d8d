"""In-memory Discord world: users, guilds, roles, members, channels, messages, interactions."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import itertools
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.fakediscord import rules

DISCORD_EPOCH_MS = 1420070400000

TEXT_CHANNEL = 0
CATEGORY = 4
DM_CHANNEL = 1
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = (PUBLIC_THREAD, PRIVATE_THREAD)

MENTION_USER = re.compile(r"<@!?(\d+)>")
MENTION_ROLE = re.compile(r"<@&(\d+)>")

EPHEMERAL = 1 << 6
LOADING = 1 << 7
DEFAULT_AUTO_ARCHIVE_MINUTES = 1440


class Snowflakes:
    """Snowflake ids with a real timestamp part and an increasing counter."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }
        if self.bot:
            out["bot"] = True
        return out


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class Member:
    user_id: int
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)


@dataclass
class Channel:
    id: int
    type: int
    name: str
    guild_id: int
    parent_id: int | None = None
    position: int = 0
    overwrites: list[dict[str, Any]] = field(default_factory=list)
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    message_count: int = 0
    last_message_id: int | None = None
    topic: str | None = None
    member_ids: set[int] = field(default_factory=set)
    auto_archive_duration: int = DEFAULT_AUTO_ARCHIVE_MINUTES
    last_activity: float = 0.0  # fake clock: creation, a new message or reopening

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def is_dm(self) -> bool:
        return self.type == DM_CHANNEL

    def to_json(self) -> dict[str, Any]:
        if self.is_dm:  # the caller adds "recipients" (World.dm_json)
            last = None if self.last_message_id is None else str(self.last_message_id)
            return {"id": str(self.id), "type": self.type, "flags": 0, "last_message_id": last}
        out: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "guild_id": str(self.guild_id),
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "flags": 0,
            "last_message_id": None if self.last_message_id is None else str(self.last_message_id),
            "rate_limit_per_user": 0,
        }
        if self.is_thread:
            out.update(
                {
                    "owner_id": str(self.owner_id),
                    "message_count": self.message_count,
                    "member_count": len(self.member_ids),
                    "total_message_sent": self.message_count,
                    "thread_metadata": {
                        "archived": self.archived,
                        "auto_archive_duration": self.auto_archive_duration,
                        "archive_timestamp": iso_now(),
                        "locked": self.locked,
                        "invitable": self.type == PRIVATE_THREAD,
                        "create_timestamp": iso_now(),
                    },
                }
            )
        else:
            out.update(
                {
                    "position": self.position,
                    "permission_overwrites": self.overwrites,
                    "nsfw": False,
                    "topic": self.topic,
                }
            )
        return out


def _snowflake(value: int | None) -> str | None:
    return None if value is None else str(value)


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    premium_tier: int = 0
    upload_limit_override: int | None = None
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    preferred_locale: str = "en-US"
    system_channel_id: int | None = None

    @property
    def upload_limit(self) -> int:
        return rules.upload_limit(self.premium_tier, self.upload_limit_override)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": self.preferred_locale,
            "features": [],
            "roles": [r.to_json() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "system_channel_id": _snowflake(self.system_channel_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "application_id": None,
            "widget_enabled": False,
            "widget_channel_id": None,
            "premium_progress_bar_enabled": False,
        }


@dataclass
class StoredFile:
    id: int
    channel_id: int
    filename: str
    content_type: str
    data: bytes
    description: str | None = None

    def path(self) -> str:
        return f"/attachments/{self.channel_id}/{self.id}/{self.filename}"


@dataclass
class Interaction:
    """One interaction the fake sent, and everything the bot answered to it."""

    id: int
    token: str
    type: int
    guild_id: int | None
    channel_id: int
    user_id: int
    payload: dict[str, Any]
    created_sim: float
    message_id: int | None = None  # the component's message, for types 3 and 5 from a message
    callback_type: int | None = None
    callback: dict[str, Any] | None = None
    original_message_id: int | None = None
    ephemeral: bool = False
    followup_ids: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the HTTP answer to the bot's callback was sent: only then does the bot
    know what it answered (discord.py registers a modal on receiving that answer)."""

    def summary(self, world: World) -> dict[str, Any]:
        original = self.original_message_id
        return {
            "id": str(self.id),
            "token": self.token,
            "type": self.type,
            "acked": self.acked.is_set(),
            "answered": self.answered.is_set(),
            "callback_type": self.callback_type,
            "callback": self.callback,
            "ephemeral": self.ephemeral,
            "original_message": None if original is None else world.messages.get(original),
            "followups": [world.messages[m] for m in self.followup_ids if m in world.messages],
            "rejected": self.rejected,
            "autocomplete_choices": (
                (self.callback or {}).get("data", {}).get("choices")
                if self.callback_type == 8
                else None
            ),
            "modal": (self.callback or {}).get("data") if self.callback_type == 9 else None,
        }


@dataclass
class World:
    """Everything the fake knows; mutated by REST handlers and the control API."""

    application_id: int
    bot_user: User
    ids: Snowflakes = field(default_factory=Snowflakes)
    users: dict[int, User] = field(default_factory=dict)
    guilds: dict[int, Guild] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    dm_channels: dict[int, int] = field(default_factory=dict)
    """Recipient user id -> the id of the bot's DM channel with them (POST /users/@me/channels)."""
    dms_closed: set[int] = field(default_factory=set)
    """Users who do not accept direct messages from the bot (Discord answers 50007)."""
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[int, StoredFile] = field(default_factory=dict)
    interactions: dict[int, Interaction] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    global_commands: dict[int, dict[str, Any]] = field(default_factory=dict)
    guild_commands: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    unanswered: dict[int, int] = field(default_factory=dict)
    """Message id -> requests that created or changed it whose HTTP answer is not sent yet."""
    cdn_base: str = ""
    cdn_secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    clock: Callable[[], float] = field(default=lambda: 0.0)
    epoch: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.users[self.bot_user.id] = self.bot_user

    def command_json(
        self,
        body: dict[str, Any],
        existing: dict[int, dict[str, Any]],
        guild_id: int | None,
    ) -> dict[str, Any]:
        """The stored form of a synced command; a command of the same name and type keeps its id."""
        ctype = int(body.get("type") or 1)
        previous = next(
            (c for c in existing.values() if c["name"] == body["name"] and c["type"] == ctype),
            None,
        )
        cid = int(previous["id"]) if previous else self.ids.next()
        out = {
            "id": str(cid),
            "application_id": str(self.application_id),
            "version": str(self.ids.next()),
            "type": ctype,
            "name": body["name"],
            "name_localizations": body.get("name_localizations"),
            "description": body.get("description") or "",
            "description_localizations": body.get("description_localizations"),
            "options": body.get("options") or [],
            "default_member_permissions": body.get("default_member_permissions"),
            "dm_permission": body.get("dm_permission", True),
            "nsfw": bool(body.get("nsfw", False)),
            "integration_types": body.get("integration_types") or [0],
            "contexts": body.get("contexts"),
        }
        if guild_id is not None:
            out["guild_id"] = str(guild_id)
        return out

    # -- lookups -----------------------------------------------------------------------------

    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise rules.unknown("User", rules.UNKNOWN_USER) from None

    def guild(self, guild_id: int) -> Guild:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise rules.unknown("Guild", rules.UNKNOWN_GUILD) from None

    def channel(self, channel_id: int) -> Channel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise rules.unknown("Channel", rules.UNKNOWN_CHANNEL) from None

    def open_dm(self, recipient_id: int) -> Channel:
        """The bot's DM channel with a user: one per user, made on first use."""
        channel_id = self.dm_channels.get(recipient_id)
        if channel_id is None:
            channel_id = self.dm_channels[recipient_id] = self.ids.next()
            self.channels[channel_id] = Channel(channel_id, DM_CHANNEL, "", 0)
        return self.channels[channel_id]

    def dm_recipient(self, channel: Channel) -> int:
        """The user at the other end of the bot's DM channel."""
        return next(user for user, cid in self.dm_channels.items() if cid == channel.id)

    def dm_json(self, channel: Channel) -> dict[str, Any]:
        """A DM channel as Discord answers it, with its recipient."""
        recipient = self.user(self.dm_recipient(channel))
        return {**channel.to_json(), "recipients": [recipient.to_json()]}

    def message(self, channel_id: int, message_id: int) -> dict[str, Any]:
        msg = self.messages.get(message_id)
        if msg is None or int(msg["channel_id"]) != channel_id:
            raise rules.unknown("Message", rules.UNKNOWN_MESSAGE)
        return msg

    def usable(self, message_id: int) -> bool:
        """Whether users can use a message's components: every request that created or
        changed it has been answered (the bot knows the message as it is)."""
        return not self.unanswered.get(message_id)

    def hold_until_answered(self, message_id: int) -> Callable[[], None]:
        """Count one unanswered change to a message; the returned callback uncounts it."""
        self.unanswered[message_id] = self.unanswered.get(message_id, 0) + 1

        def answered() -> None:
            left = self.unanswered.get(message_id, 0) - 1
            if left > 0:
                self.unanswered[message_id] = left
            else:
                self.unanswered.pop(message_id, None)

        return answered

    # -- seeding ------------------------------------------------------------------------------

    def add_user(self, username: str, *, user_id: int | None = None, bot: bool = False) -> User:
        user = User(user_id or self.ids.next(), username, global_name=username, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        guild_id: int | None = None,
        owner_id: int | None = None,
        premium_tier: int = 0,
        upload_limit: int | None = None,
        everyone_permissions: int = rules.DEFAULT_EVERYONE_PERMISSIONS,
        bot_permissions: int | None = None,
    ) -> Guild:
        gid = guild_id or self.ids.next()
        if owner_id is None:
            owner_id = self.add_user(f"owner-{gid}").id
        guild = Guild(gid, name, owner_id, premium_tier, upload_limit)
        guild.roles[gid] = Role(gid, "@everyone", everyone_permissions, 0)
        guild.members[owner_id] = Member(owner_id)
        bot_role = Role(self.ids.next(), self.bot_user.username, 0, 1, managed=True)
        if bot_permissions is not None:
            bot_role.permissions = bot_permissions
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot_user.id] = Member(self.bot_user.id, [bot_role.id])
        self.guilds[gid] = guild
        return guild

    def add_role(self, guild_id: int, name: str, permissions: int) -> Role:
        guild = self.guild(guild_id)
        role = Role(self.ids.next(), name, permissions, len(guild.roles))
        guild.roles[role.id] = role
        return role

    def add_member(self, guild_id: int, user_id: int, role_ids: list[int] | None = None) -> Member:
        guild = self.guild(guild_id)
        self.user(user_id)
        for rid in role_ids or []:
            if rid not in guild.roles:
                raise rules.DiscordError(404, 10011, "Unknown Role")
        member = guild.members.get(user_id)
        if member is None:
            member = Member(user_id, list(role_ids or []))
            guild.members[user_id] = member
        else:
            member.role_ids = list(role_ids or member.role_ids)
        return member

    def add_channel(
        self,
        guild_id: int,
        name: str,
        *,
        type: int = TEXT_CHANNEL,
        parent_id: int | None = None,
        channel_id: int | None = None,
    ) -> Channel:
        guild = self.guild(guild_id)
        channel = Channel(
            channel_id or self.ids.next(), type, name, guild_id, parent_id, len(guild.channel_ids)
        )
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def set_member_overwrite(self, channel_id: int, user_id: int, allow: int) -> None:
        """Make `user_id`'s permissions in a channel exactly `allow` (a member overwrite)."""
        channel = self.channel(channel_id)
        channel.overwrites = [o for o in channel.overwrites if int(o["id"]) != user_id]
        deny = rules.ALL_PERMISSIONS & ~allow
        channel.overwrites.append(
            {"id": str(user_id), "type": 1, "allow": str(allow), "deny": str(deny)}
        )

    def add_thread(
        self,
        parent: Channel,
        name: str,
        *,
        owner_id: int,
        type: int,
        thread_id: int | None = None,
        auto_archive_duration: int = DEFAULT_AUTO_ARCHIVE_MINUTES,
    ) -> Channel:
        thread = Channel(thread_id or self.ids.next(), type, name, parent.guild_id, parent.id)
        thread.owner_id = owner_id
        thread.auto_archive_duration = auto_archive_duration
        thread.last_activity = self.clock()
        thread.member_ids.add(owner_id)
        self.channels[thread.id] = thread
        return thread

    def set_archived(self, thread: Channel, archived: bool) -> None:
        """Archive or reopen a thread; reopening counts as activity."""
        if thread.archived and not archived:
            thread.last_activity = self.clock()
        thread.archived = archived

    def auto_archive(self, channel: Channel) -> bool:
        """Archive a thread idle for its auto_archive_duration; True if it just happened."""
        if not channel.is_thread or channel.archived:
            return False
        if self.clock() - channel.last_activity < channel.auto_archive_duration * 60:
            return False
        channel.archived = True
        return True

    # -- permissions --------------------------------------------------------------------------

    def permissions(self, channel_id: int | None, guild_id: int, user_id: int) -> int:
        guild = self.guild(guild_id)
        member = guild.members.get(user_id)
        if member is None:
            return 0
        overwrites: list[dict[str, Any]] = []
        if channel_id is not None:
            channel = self.channel(channel_id)
            if channel.is_thread and channel.parent_id is not None:
                channel = self.channel(channel.parent_id)
            overwrites = channel.overwrites
        return rules.compute_permissions(
            guild_id=guild.id,
            owner_id=guild.owner_id,
            user_id=user_id,
            role_ids=member.role_ids,
            role_permissions={r.id: r.permissions for r in guild.roles.values()},
            overwrites=overwrites,
        )

    # -- serialisation ------------------------------------------------------------------------

    def member_json(self, guild_id: int, user_id: int, *, with_user: bool = True) -> dict[str, Any]:
        guild = self.guild(guild_id)
        member = guild.members.get(user_id)
        if member is None:
            raise rules.unknown("Member", rules.UNKNOWN_MEMBER)
        out: dict[str, Any] = {
            "roles": [str(r) for r in member.role_ids],
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "joined_at": member.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            out["user"] = self.user(user_id).to_json()
        return out

    def guild_create_json(self, guild_id: int, *, all_members: bool = True) -> dict[str, Any]:
        """GUILD_CREATE's guild; without the GUILD_MEMBERS intent Discord sends only the bot."""
        guild = self.guild(guild_id)
        channels = [self.channels[c].to_json() for c in guild.channel_ids]
        threads = [
            t.to_json()
            for t in self.channels.values()
            if t.guild_id == guild_id and t.is_thread and not t.archived
        ]
        shown = guild.members if all_members else [self.bot_user.id]
        members = [self.member_json(guild_id, uid) for uid in shown]
        bot = guild.members[self.bot_user.id]
        return {
            **guild.to_json(),
            "joined_at": bot.joined_at,
            "large": False,
            "unavailable": False,
            "member_count": len(guild.members),
            "voice_states": [],
            "members": members,
            "channels": channels,
            "threads": threads,
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def new_message(
        self,
        channel: Channel,
        author: User,
        body: dict[str, Any],
        files: list[StoredFile],
        *,
        webhook_id: int | None = None,
        interaction: Interaction | None = None,
        flags: int = 0,
    ) -> dict[str, Any]:
        """Store and return a message as Discord would answer it."""
        mid = self.ids.next()
        msg: dict[str, Any] = {
            "id": str(mid),
            "type": 0,
            "channel_id": str(channel.id),
            "author": author.to_json(),
            "content": body.get("content") or "",
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [self.attachment_json(f) for f in files],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "flags": flags | int(body.get("flags") or 0),
        }
        if channel.guild_id:
            msg["guild_id"] = str(channel.guild_id)
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if webhook_id is not None:
            msg["webhook_id"] = str(webhook_id)
            msg["application_id"] = str(self.application_id)
        if interaction is not None:
            msg["type"] = 20 if interaction.type == 2 else 0
            user = self.user(interaction.user_id).to_json()
            name = (interaction.payload.get("data") or {}).get("name", "")
            meta = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": user,
                "authorizing_integration_owners": {"0": str(interaction.guild_id)},
            }
            if interaction.type == 2:
                meta["name"] = name
            msg["interaction_metadata"] = meta
            msg["interaction"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "name": name,
                "user": user,
            }
        ref = body.get("message_reference")
        if isinstance(ref, dict) and ref.get("message_id") is not None:
            msg["message_reference"] = {
                "type": 0,
                "message_id": str(ref["message_id"]),
                "channel_id": str(ref.get("channel_id") or channel.id),
            }
            if channel.guild_id:
                msg["message_reference"]["guild_id"] = str(channel.guild_id)
        self.apply_mentions(msg, body.get("allowed_mentions"))
        self.messages[mid] = msg
        channel.last_message_id = mid
        if channel.is_thread:
            channel.message_count += 1
            channel.last_activity = self.clock()
        return msg

    def apply_mentions(self, msg: dict[str, Any], allowed: dict[str, Any] | None) -> None:
        """Fill mentions / mention_roles / mention_everyone from the content, as filtered by
        allowed_mentions (absent: everything may ping). Suppressed mentions are not listed."""
        content = str(msg.get("content") or "")
        guild = self.guilds.get(int(msg["guild_id"])) if msg.get("guild_id") else None
        parse = (
            {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        )
        users = {str(u) for u in (allowed or {}).get("users") or []}
        roles = {str(r) for r in (allowed or {}).get("roles") or []}
        mentioned = dict.fromkeys(MENTION_USER.findall(content))
        msg["mentions"] = [
            self.users[int(uid)].to_json()
            for uid in mentioned
            if int(uid) in self.users and ("users" in parse or uid in users)
        ]
        msg["mention_roles"] = [
            rid
            for rid in dict.fromkeys(MENTION_ROLE.findall(content))
            if guild is not None and int(rid) in guild.roles and ("roles" in parse or rid in roles)
        ]
        everyone = "@everyone" in content or "@here" in content
        author = int(msg["author"]["id"])
        can = False
        if guild is not None and author in guild.members:
            perms = self.permissions(int(msg["channel_id"]), guild.id, author)
            can = bool(perms & rules.MENTION_EVERYONE)
        msg["mention_everyone"] = everyone and "everyone" in parse and can

    def wall_time(self) -> float:
        """Unix time as the fake's (possibly scaled or advanced) clock sees it."""
        return self.epoch + self.clock()

    def sign(self, path: str, issued: int) -> str:
        """A CDN URL for `path` valid for ATTACHMENT_URL_SECONDS from `issued` (unix)."""
        expires = issued + int(rules.ATTACHMENT_URL_SECONDS)
        query = f"ex={expires:x}&is={issued:x}"
        mac = hmac.new(self.cdn_secret, f"{path}?{query}".encode(), hashlib.sha256).hexdigest()
        return f"{self.cdn_base}{path}?{query}&hm={mac}&"

    def check_signature(self, path: str, ex: str, issued: str, hm: str) -> bool:
        """Whether a CDN query is one the fake signed and has not expired."""
        try:
            expires, start = int(ex, 16), int(issued, 16)
        except ValueError:
            return False
        query = f"ex={expires:x}&is={start:x}"
        mac = hmac.new(self.cdn_secret, f"{path}?{query}".encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(mac, hm) and self.wall_time() <= expires

    def refresh_urls(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Re-sign a stored message's attachment URLs, as Discord does on every fetch."""
        for a in msg.get("attachments") or []:
            stored = self.files.get(int(a["id"]))
            if stored is not None:
                a["url"] = a["proxy_url"] = self.sign(stored.path(), int(self.wall_time()))
        return msg

    def attachment_json(self, f: StoredFile) -> dict[str, Any]:
        url = self.sign(f.path(), int(self.wall_time()))
        out: dict[str, Any] = {
            "id": str(f.id),
            "filename": f.filename,
            "size": len(f.data),
            "url": url,
            "proxy_url": url,
            "content_type": f.content_type,
        }
        if f.description:
            out["description"] = f.description
        return out

    def new_token(self, interaction_id: int) -> str:
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        self.tokens[token] = interaction_id
        return token
