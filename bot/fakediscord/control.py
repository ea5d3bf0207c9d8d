"""HTTP control API under /_control/: seed the world, act as users, read back what the bot did."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.fakediscord import gateway, interactions, rules
from bot.fakediscord.interactions import AttachmentInput, ControlError
from bot.fakediscord.state import Interaction, StoredFile

if TYPE_CHECKING:
    from bot.fakediscord.core import FakeCore

PREFIX = "/_control"
JsonHandler = Callable[["FakeCore", web.Request, dict[str, Any]], Awaitable[Any]]


def setup(app: web.Application, fake: FakeCore) -> None:
    def add(method: str, path: str, handler: JsonHandler) -> None:
        async def serve(request: web.Request) -> web.Response:
            body: dict[str, Any] = {}
            if request.can_read_body:
                raw = await request.read()
                if raw:
                    body = await request.json()
            try:
                result = await handler(fake, request, body)
            except (ControlError, KeyError, ValueError, TypeError) as error:
                return web.json_response({"error": f"{type(error).__name__}: {error}"}, status=400)
            except rules.DiscordError as error:
                return web.json_response({"error": error.message, "code": error.code}, status=404)
            return web.json_response(result)

        app.router.add_route(method, PREFIX + path, serve)

    for method, path, handler in ENDPOINTS:
        add(method, path, handler)


def _attachments(items: list[dict[str, Any]]) -> list[AttachmentInput]:
    return [
        AttachmentInput(
            option=str(a.get("option") or ""),
            filename=str(a["filename"]),
            data=base64.b64decode(a["data_b64"]),
            content_type=str(a.get("content_type", "application/octet-stream")),
        )
        for a in items
    ]


def _ids(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


# -- world --------------------------------------------------------------------------------------


async def state(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    world = fake.world
    return {
        "base_url": fake.base_url,
        "api_base": fake.api_base,
        "gateway_url": fake.gateway_url,
        "token": fake.token,
        "application_id": str(fake.application_id),
        "bot_user_id": str(world.bot_user.id),
        "time": fake.clock.now(),
        "time_scale": fake.clock.scale,
        "settings": vars(fake.settings),
        "guilds": [world.guild_create_json(g) for g in world.guilds],
        "users": [u.to_json() for u in world.users.values()],
        "global_commands": list(world.global_commands.values()),
        "guild_commands": {str(g): list(c.values()) for g, c in world.guild_commands.items()},
        "sessions": [
            {"id": s.id, "connected": s.conn is not None, "intents": s.intents, "seq": s.seq}
            for s in fake.sessions.values()
        ],
    }


async def add_user(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    user = fake.world.add_user(
        str(body["username"]), user_id=int(body["id"]) if body.get("id") else None
    )
    return user.to_json()


async def direct_messages(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    """A user's DM channel with the bot (null until the bot opens it) and whether they accept
    DMs; a PUT with ``{"open": false}`` closes them (the bot's DMs then get 50007)."""
    user = fake.world.user(_ids(request, "user_id"))
    if request.method == "PUT":
        if body.get("open", True):
            fake.world.dms_closed.discard(user.id)
        else:
            fake.world.dms_closed.add(user.id)
    channel_id = fake.world.dm_channels.get(user.id)
    return {
        "channel_id": None if channel_id is None else str(channel_id),
        "open": user.id not in fake.world.dms_closed,
    }


async def add_guild(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for key in ("premium_tier", "upload_limit", "everyone_permissions", "bot_permissions"):
        if body.get(key) is not None:
            kwargs[key] = int(body[key])
    guild = fake.world.add_guild(
        str(body.get("name", "Guild")),
        guild_id=int(body["id"]) if body.get("id") else None,
        owner_id=int(body["owner_id"]) if body.get("owner_id") else None,
        **kwargs,
    )
    if body.get("system_channel"):  # a text channel made with the guild, as Discord does
        channel = fake.world.add_channel(guild.id, str(body["system_channel"]))
        guild.system_channel_id = channel.id
    joined = fake.world.guild_create_json(guild.id, all_members=False)
    # Joining a server: Discord leaves out "unavailable" (false means "available again", and
    # discord.py then reports guild_available instead of guild_join).
    joined.pop("unavailable", None)
    await fake.dispatch("GUILD_CREATE", joined)
    return fake.world.guild_create_json(guild.id)


async def update_guild(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    guild = fake.world.guild(_ids(request, "guild_id"))
    if "premium_tier" in body:
        guild.premium_tier = int(body["premium_tier"])
    if "upload_limit" in body:
        guild.upload_limit_override = (
            None if body["upload_limit"] is None else int(body["upload_limit"])
        )
    await fake.dispatch("GUILD_UPDATE", guild.to_json())
    return guild.to_json() | {"upload_limit": guild.upload_limit}


async def add_channel(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    gid = _ids(request, "guild_id")
    channel = fake.world.add_channel(
        gid,
        str(body.get("name", "general")),
        type=int(body.get("type", 0)),
        parent_id=int(body["parent_id"]) if body.get("parent_id") else None,
        channel_id=int(body["id"]) if body.get("id") else None,
    )
    if body.get("bot_permissions") is not None:
        fake.world.set_member_overwrite(
            channel.id, fake.world.bot_user.id, int(body["bot_permissions"])
        )
    await fake.dispatch("CHANNEL_CREATE", channel.to_json())
    return channel.to_json()


async def add_role(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    gid = _ids(request, "guild_id")
    role = fake.world.add_role(gid, str(body["name"]), int(body.get("permissions", 0)))
    await fake.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(gid), "role": role.to_json()})
    return role.to_json()


async def add_member(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    gid = _ids(request, "guild_id")
    uid = int(body["user_id"])
    new = uid not in fake.world.guild(gid).members
    fake.world.add_member(gid, uid, [int(r) for r in body.get("roles", [])])
    member = fake.world.member_json(gid, uid)
    event = "GUILD_MEMBER_ADD" if new else "GUILD_MEMBER_UPDATE"
    await fake.dispatch(event, {**member, "guild_id": str(gid)})
    return member


async def set_bot_permissions(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    cid = _ids(request, "channel_id")
    channel = fake.world.channel(cid)
    fake.world.set_member_overwrite(
        cid, int(body.get("user_id", fake.world.bot_user.id)), int(body["permissions"])
    )
    await fake.dispatch("CHANNEL_UPDATE", channel.to_json())
    return channel.to_json()


async def permissions(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    channel = fake.world.channel(_ids(request, "channel_id"))
    uid = int(request.query.get("user_id", fake.world.bot_user.id))
    return {"permissions": str(fake.world.permissions(channel.id, channel.guild_id, uid))}


# -- users acting ---------------------------------------------------------------------------------


async def post_message(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    channel = fake.world.channel(_ids(request, "channel_id"))
    author = fake.world.user(int(body["author_id"]))
    files = []
    for a in _attachments(body.get("attachments", [])):
        f = StoredFile(fake.world.ids.next(), channel.id, a.filename, a.content_type, a.data)
        fake.world.files[f.id] = f
        files.append(f)
    msg = fake.world.new_message(channel, author, {"content": body.get("content", "")}, files)
    data = dict(msg)
    data["member"] = fake.world.member_json(channel.guild_id, author.id, with_user=False)
    await fake.dispatch("MESSAGE_CREATE", data, guild_id=channel.guild_id)
    return msg


async def invoke_command(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    interaction = await interactions.invoke(
        fake,
        user_id=int(body["user_id"]),
        guild_id=int(body["guild_id"]),
        channel_id=int(body["channel_id"]),
        name=str(body["name"]),
        options=body.get("options") or {},
        attachments=_attachments(body.get("attachments", [])),
        focused=body.get("focused"),
    )
    return _summary(fake, interaction)


async def message_command(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    interaction = await interactions.message_command(
        fake,
        user_id=int(body["user_id"]),
        name=str(body["name"]),
        message_id=int(body["message_id"]),
    )
    return _summary(fake, interaction)


async def press(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    interaction = await interactions.component(
        fake,
        user_id=int(body["user_id"]),
        message_id=int(body["message_id"]),
        custom_id=str(body["custom_id"]),
        values=body.get("values"),
    )
    return _summary(fake, interaction)


async def submit_modal(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    interaction = await interactions.submit_modal(
        fake,
        opened_by=int(body["opened_by"]),
        values=dict(body.get("values", {})),
        user_id=int(body["user_id"]) if body.get("user_id") else None,
    )
    return _summary(fake, interaction)


def _summary(fake: FakeCore, interaction: Interaction) -> dict[str, Any]:
    return interaction.summary(fake.world)


async def get_interaction(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    interaction = fake.world.interactions.get(_ids(request, "interaction_id"))
    if interaction is None:
        raise ControlError("unknown interaction")
    timeout = float(request.query.get("wait", "0"))
    if timeout > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(interaction.answered.wait(), timeout)
    return _summary(fake, interaction)


async def changes(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    """The change counter; with ``since=N&wait=S``, once it is past N (or after S seconds)."""
    since = int(request.query.get("since", "-1"))
    timeout = min(float(request.query.get("wait", "0")), 60.0)
    if timeout > 0 and fake.version == since:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), fake.changed:
                await fake.changed.wait_for(lambda: fake.version != since)
    return {"version": fake.version}


# -- read back ----------------------------------------------------------------------------------


async def update_channel(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    """Archive/lock a thread or rename a channel, as a moderator would."""
    channel = fake.world.channel(_ids(request, "channel_id"))
    if "name" in body:
        channel.name = str(body["name"])
    if "archived" in body:
        fake.world.set_archived(channel, bool(body["archived"]))
    if "locked" in body:
        channel.locked = bool(body["locked"])
    event = "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE"
    await fake.dispatch(event, channel.to_json(), guild_id=channel.guild_id)
    return channel.to_json()


async def delete_channel(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    """Delete a channel or thread (and its threads), as a moderator would."""
    world = fake.world
    channel = world.channel(_ids(request, "channel_id"))
    gone = [channel] + [c for c in world.channels.values() if c.parent_id == channel.id]
    for c in gone:
        del world.channels[c.id]
        guild = world.guilds[c.guild_id]
        if c.id in guild.channel_ids:
            guild.channel_ids.remove(c.id)
        if c.is_thread:
            data = {
                "id": str(c.id),
                "guild_id": str(c.guild_id),
                "parent_id": str(c.parent_id),
                "type": c.type,
            }
            await fake.dispatch("THREAD_DELETE", data, guild_id=c.guild_id)
        else:
            await fake.dispatch("CHANNEL_DELETE", c.to_json(), guild_id=c.guild_id)
    return {"deleted": [str(c.id) for c in gone]}


async def delete_message(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    """Delete any message, as a moderator would."""
    msg = fake.world.messages.pop(_ids(request, "message_id"), None)
    if msg is None:
        raise ControlError("unknown message")
    data = {"id": msg["id"], "channel_id": msg["channel_id"], "guild_id": msg.get("guild_id")}
    guild_id = int(msg["guild_id"]) if msg.get("guild_id") else None
    await fake.dispatch("MESSAGE_DELETE", data, guild_id=guild_id)
    return {"deleted": msg["id"]}


async def channel_messages(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    cid = str(_ids(request, "channel_id"))
    return [m for m in fake.world.messages.values() if m["channel_id"] == cid]


async def get_message(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    msg = fake.world.messages.get(_ids(request, "message_id"))
    if msg is None:
        raise ControlError("unknown message")
    return msg


async def threads(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    parent = request.query.get("parent_id")
    found = [
        c
        for c in fake.world.channels.values()
        if c.is_thread and (parent is None or str(c.parent_id) == parent)
    ]
    for thread in found:
        await fake.auto_archive(thread)
    return [c.to_json() for c in found]


async def file_bytes(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    f = fake.world.files.get(_ids(request, "file_id"))
    if f is None:
        raise ControlError("unknown file")
    return {
        "id": str(f.id),
        "filename": f.filename,
        "content_type": f.content_type,
        "size": len(f.data),
        "data_b64": base64.b64encode(f.data).decode(),
    }


async def calls(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    return fake.calls_json()


async def invalid(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    return fake.invalid


async def clear_logs(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    fake.calls.clear()
    fake.invalid.clear()
    fake.gateway_log.clear()
    return {"ok": True}


async def gateway_log(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    return fake.gateway_log


async def reconnect(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    return {"sessions": await gateway.send_reconnect(fake)}


# -- rules ----------------------------------------------------------------------------------------


async def clock(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    if body.get("time_scale") is not None:
        fake.clock.set_scale(float(body["time_scale"]))
    if body.get("advance"):
        fake.clock.advance(float(body["advance"]))
    return {"time": fake.clock.now(), "time_scale": fake.clock.scale}


async def settings(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    fake.settings.update(body)
    return vars(fake.settings)


async def rate_limit(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    if "realistic" in body:
        fake.limiter.configure(
            bool(body["realistic"]),
            int(body.get("bucket_limit", 5)),
            float(body.get("bucket_seconds", 5.0)),
            global_per_second=int(body.get("global_per_second", rules.GLOBAL_PER_SECOND)),
            share=float(body.get("share", 0.0)),
            share_retry_after=float(body.get("share_retry_after", 0.05)),
            seed=None if body.get("seed") is None else int(body["seed"]),
        )
    if "random_rate" in body:
        fake.limiter.random_rate = float(body["random_rate"])
        fake.limiter.random_retry_after = float(body.get("retry_after", 0.05))
    if body.get("count"):
        fake.limiter.force(
            str(body.get("method", "*")),
            str(body.get("route", "*")),
            int(body["count"]),
            float(body.get("retry_after", 0.1)),
            bool(body.get("global", False)),
        )
    return {"limited": fake.limiter.limited, "pending": [vars(r) for r in fake.limiter.forced]}


async def register_commands(fake: FakeCore, request: web.Request, body: dict[str, Any]) -> Any:
    """Store commands as if the bot had synced them (e.g. from its dry-run JSON)."""
    commands = body["commands"]
    fake.validator.validate("bulk_set_application_commands", commands)
    gid = body.get("guild_id")
    store = (
        fake.world.guild_commands.setdefault(int(gid), {}) if gid else fake.world.global_commands
    )
    new = [fake.world.command_json(c, store, int(gid) if gid else None) for c in commands]
    store.clear()
    store.update({int(c["id"]): c for c in new})
    return new


ENDPOINTS: list[tuple[str, str, JsonHandler]] = [
    ("GET", "/state", state),
    ("POST", "/users", add_user),
    ("GET", "/users/{user_id}/dms", direct_messages),
    ("PUT", "/users/{user_id}/dms", direct_messages),
    ("POST", "/guilds", add_guild),
    ("PATCH", "/guilds/{guild_id}", update_guild),
    ("POST", "/guilds/{guild_id}/channels", add_channel),
    ("POST", "/guilds/{guild_id}/roles", add_role),
    ("POST", "/guilds/{guild_id}/members", add_member),
    ("PUT", "/channels/{channel_id}/permissions", set_bot_permissions),
    ("GET", "/channels/{channel_id}/permissions", permissions),
    ("POST", "/channels/{channel_id}/messages", post_message),
    ("GET", "/channels/{channel_id}/messages", channel_messages),
    ("GET", "/messages/{message_id}", get_message),
    ("DELETE", "/messages/{message_id}", delete_message),
    ("PATCH", "/channels/{channel_id}", update_channel),
    ("DELETE", "/channels/{channel_id}", delete_channel),
    ("GET", "/threads", threads),
    ("GET", "/files/{file_id}", file_bytes),
    ("POST", "/interactions/command", invoke_command),
    ("POST", "/interactions/message-command", message_command),
    ("POST", "/interactions/component", press),
    ("POST", "/interactions/modal", submit_modal),
    ("GET", "/interactions/{interaction_id}", get_interaction),
    ("GET", "/changes", changes),
    ("GET", "/calls", calls),
    ("GET", "/invalid", invalid),
    ("DELETE", "/logs", clear_logs),
    ("GET", "/gateway", gateway_log),
    ("POST", "/gateway/reconnect", reconnect),
    ("POST", "/clock", clock),
    ("POST", "/settings", settings),
    ("POST", "/rate-limits", rate_limit),
    ("POST", "/commands", register_commands),
]
