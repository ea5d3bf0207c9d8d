"""REST routes under /api/v10 (and the CDN), each validated, logged and rate-limit aware."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import BodyPartReader, web

from bot.fakediscord import bodies, rules
from bot.fakediscord.core import LoggedCall, after_sent
from bot.fakediscord.state import (
    DEFAULT_AUTO_ARCHIVE_MINUTES,
    EPHEMERAL,
    LOADING,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    Channel,
    Interaction,
    StoredFile,
    iso_now,
)

if TYPE_CHECKING:
    from bot.fakediscord.core import FakeCore

API = "/api/v10"
HAS_THREAD = 1 << 5
MESSAGE_EDITABLE = ("content", "embeds", "components", "allowed_mentions", "poll")


@dataclass
class Upload:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Call:
    """A parsed request handed to a route handler."""

    request: web.Request
    params: dict[str, str]
    body: Any
    uploads: list[Upload] = field(default_factory=list)

    def int(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise rules.DiscordError(404, 0, "404: Not Found") from None

    def flag(self, name: str) -> bool:
        return self.request.query.get(name, "").lower() in ("1", "true")


Result = tuple[int, Any]
Handler = Callable[["FakeCore", Call], Awaitable[Result]]

ROUTES: list[tuple[str, str, str, bool, Handler]] = []


def route(
    method: str, template: str, operation: str, *, auth: bool = True
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ROUTES.append((method, template, operation, auth, handler))
        return handler

    return register


def setup(app: web.Application, fake: FakeCore) -> None:
    for method, template, operation, auth, handler in ROUTES:
        app.router.add_route(
            method, API + template, _wrap(fake, method, template, operation, auth, handler)
        )
    app.router.add_get("/attachments/{channel_id}/{file_id}/{filename}", _cdn(fake))
    app.router.add_route("*", API + "/{tail:.*}", _unsupported(fake))


def _unsupported(fake: FakeCore) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Routes the fake does not serve: answered 404 and recorded in fake.errors, so a test
    that makes the bot call one fails instead of passing on a silent 404."""

    async def serve(request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix(API)
        fake.calls.append(LoggedCall(request.method, path, "?", dict(request.query), None, [], 404))
        fake.errors.append(f"unsupported route: {request.method} {path}")
        return json_response({"message": "404: Not Found", "code": 0}, 404, {})

    return serve


def _json(status: int, body: Any, headers: dict[str, str]) -> web.Response:
    if status == 204:
        return web.Response(status=204, headers=headers)
    return json_response(body, status, headers)


def json_response(body: Any, status: int, headers: dict[str, str]) -> web.Response:
    """JSON with Discord's exact Content-Type (discord.py compares it without a charset)."""
    headers = {**headers, "Content-Type": "application/json"}
    return web.Response(body=json.dumps(body).encode(), status=status, headers=headers)


async def _parse(request: web.Request, call: LoggedCall) -> tuple[Any, list[Upload]]:
    if not request.can_read_body:
        return None, []
    ctype = request.content_type
    if ctype == "multipart/form-data":
        body: Any = None
        uploads: list[Upload] = []
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue
            name = part.name or ""
            data = await part.read(decode=False)
            if name == "payload_json":
                body = _loads(data)
            elif name.startswith("files[") or part.filename:
                uploads.append(
                    Upload(
                        name,
                        part.filename or "file",
                        part.headers.get("Content-Type", "application/octet-stream"),
                        bytes(data),
                    )
                )
        call.files = [
            {
                "field": u.field,
                "filename": u.filename,
                "content_type": u.content_type,
                "size": len(u.data),
            }
            for u in uploads
        ]
        return body, uploads
    raw = await request.read()
    if not raw:
        return None, []
    return _loads(raw), []


def _loads(raw: bytes | bytearray) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise rules.DiscordError(400, 50109, "The request body contains invalid JSON.") from None


def _wrap(
    fake: FakeCore, method: str, template: str, operation: str, auth: bool, handler: Handler
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix(API)
        call = LoggedCall(method, path, template, dict(request.query), None, [])
        fake.calls.append(call)
        major = _major(request.match_info)
        recorded = False
        try:
            if auth and request.headers.get("Authorization") != f"Bot {fake.token}":
                raise rules.unauthorized()
            limited = fake.limiter.check(method, template, path) or fake.limiter.take(
                method, template, major, bot=auth
            )
            if limited is not None:
                call.status = 429
                body = fake.limiter.limited_body(limited)
                call.response = body
                return json_response(
                    body,
                    status=429,
                    headers=fake.limiter.limited_headers(method, template, limited),
                )
            body, uploads = await _parse(request, call)
            call.body = body
            if fake.validator.has_body(operation):
                if body is None and not uploads:
                    raise rules.form_error([], "BASE_TYPE_REQUIRED", "This field is required")
                try:
                    fake.validator.validate(operation, body if body is not None else {})
                except rules.DiscordError as error:
                    fake.record_invalid(call, error)
                    recorded = True
                    raise
            status, result = await handler(
                fake, Call(request, dict(request.match_info), body, uploads)
            )
        except rules.DiscordError as error:
            if error.code == 50035 and not recorded:
                fake.record_invalid(call, error)  # Discord's extra checks (content, embeds...)
            status, result = error.status, error.body()
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            # The client went away mid-request (a bot killed while uploading): Discord never
            # got the whole request, so nothing happened; not a bug in the fake.
            call.status = 499
            raise
        except Exception as error:  # a bug in the fake: surface it to the tests
            fake.errors.append(f"{method} {path}: {type(error).__name__}: {error}")
            status, result = 500, {"message": "500: Internal Server Error", "code": 0}
        call.status = status
        call.response = result
        await fake.notify()
        return _json(status, result, fake.limiter.headers(method, template, major))

    return serve


def _major(params: Any) -> str:
    """Discord's major parameters: rate limits are counted per channel, guild or webhook."""
    for name in ("channel_id", "guild_id", "interaction_id", "token"):
        if name in params:
            return f"{name}={params[name]}"
    return ""


def _cdn(fake: FakeCore) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        try:
            stored = fake.world.files.get(int(request.match_info["file_id"]))
        except ValueError:
            stored = None
        if (
            stored is None
            or str(stored.channel_id) != request.match_info["channel_id"]
            or stored.filename != request.match_info["filename"]
        ):
            return web.Response(status=404, text="Not Found")
        q = request.query
        if not fake.world.check_signature(
            stored.path(), q.get("ex", ""), q.get("is", ""), q.get("hm", "")
        ):
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(body=stored.data, content_type=stored.content_type)

    return serve


# -- helpers ----------------------------------------------------------------------------------


def _bot_perms(fake: FakeCore, channel: Channel) -> int:
    if channel.is_dm:
        return rules.DM_PERMISSIONS
    return fake.world.permissions(channel.id, channel.guild_id, fake.world.bot_user.id)


def _upload_limit(fake: FakeCore, channel: Channel) -> int:
    """Per file: the guild's limit, or Discord's default in a DM."""
    if channel.is_dm:
        return rules.DEFAULT_UPLOAD_LIMIT
    return fake.world.guild(channel.guild_id).upload_limit


def _require(perms: int, *needed: int) -> None:
    if not perms & rules.VIEW_CHANNEL:
        raise rules.missing_access()
    for bit in needed:
        if not perms & bit:
            raise rules.missing_permissions()


def _check_message_body(
    body: dict[str, Any],
    uploads: list[Upload],
    *,
    creating: bool,
    at: tuple[str, ...] = (),
    flags: int = 0,
) -> None:
    """Discord's checks on a message body beyond the schema; `at` prefixes error paths
    (("data",) in a callback), `flags` are the edited message's own."""
    problems: list[rules.FormProblem] = []
    content = body.get("content")
    if isinstance(content, str) and len(content) > rules.MAX_CONTENT_LENGTH:
        problems.append(
            (
                ["content"],
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {rules.MAX_CONTENT_LENGTH} or fewer in length.",
            )
        )
    embeds = body.get("embeds") or []
    if sum(_embed_size(e) for e in embeds if isinstance(e, dict)) > rules.MAX_EMBED_TOTAL:
        problems.append(
            (
                ["embeds"],
                "BASE_TYPE_MAX_LENGTH",
                f"Embed size exceeds maximum size of {rules.MAX_EMBED_TOTAL}",
            )
        )
    bodies.check(problems + bodies.message_problems(body, flags), at)
    if creating and not (
        content
        or body.get("embeds")
        or body.get("components")
        or uploads
        or body.get("sticker_ids")
        or body.get("poll")
    ):
        raise rules.DiscordError(400, 50006, "Cannot send an empty message")


def _embed_size(embed: dict[str, Any]) -> int:
    """Characters Discord counts toward the 6000 limit across a message's embeds."""
    size = len(str(embed.get("title") or "")) + len(str(embed.get("description") or ""))
    for f in embed.get("fields") or []:
        size += len(str(f.get("name") or "")) + len(str(f.get("value") or ""))
    size += len(str((embed.get("footer") or {}).get("text") or ""))
    size += len(str((embed.get("author") or {}).get("name") or ""))
    return size


def _check_size(uploads: list[Upload], limit: int) -> None:
    """Discord applies the guild's upload limit to each file, not to their sum."""
    if any(len(u.data) > limit for u in uploads):
        raise rules.too_large()


def _has_other_content(
    body: dict[str, Any], uploads: list[Upload], existing: dict[str, Any] | None = None
) -> bool:
    """Whether a message has something besides embeds (for an edit: once edited)."""
    old = existing or {}

    def value(key: str) -> Any:
        return body[key] if key in body else old.get(key)

    keys = ("content", "components", "sticker_ids", "poll", "attachments")
    return bool(uploads) or any(value(key) for key in keys)


def _without_embed_links(
    body: dict[str, Any],
    uploads: list[Upload],
    perms: int,
    existing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Without EMBED_LINKS, embeds are dropped from a message that has other content and a
    message of embeds alone is refused (as Discord does for bot-token channel messages)."""
    if perms & rules.EMBED_LINKS or not body.get("embeds"):
        return body
    if not _has_other_content(body, uploads, existing):
        raise rules.missing_permissions()
    return {**body, "embeds": []}


def _until_answered(fake: FakeCore, call: Call, msg: dict[str, Any]) -> None:
    """Users can use the message's components once the answer to this request was sent."""
    after_sent(call.request, fake.world.hold_until_answered(int(msg["id"])))


async def _channel(fake: FakeCore, call: Call) -> Channel:
    """The route's channel; a thread idle past its auto_archive_duration archives now."""
    channel = fake.world.channel(call.int("channel_id"))
    await fake.auto_archive(channel)
    return channel


def _store_uploads(
    fake: FakeCore, channel_id: int, body: dict[str, Any], uploads: list[Upload]
) -> list[StoredFile]:
    described = {
        str(a.get("id")): a for a in (body.get("attachments") or []) if isinstance(a, dict)
    }
    stored: list[StoredFile] = []
    for upload in uploads:
        index = upload.field.removeprefix("files[").removesuffix("]")
        meta = described.get(index, {})
        filename = str(meta.get("filename") or upload.filename)
        content_type = upload.content_type
        if content_type == "application/octet-stream":
            # Discord derives the type from the file name when the client sends none.
            content_type = mimetypes.guess_type(filename)[0] or content_type
        f = StoredFile(
            fake.world.ids.next(),
            channel_id,
            filename,
            content_type,
            upload.data,
            meta.get("description"),
        )
        fake.world.files[f.id] = f
        stored.append(f)
    return stored


def _apply_edit(
    fake: FakeCore, msg: dict[str, Any], body: dict[str, Any], uploads: list[Upload]
) -> None:
    for key in MESSAGE_EDITABLE:
        if key in body and key != "allowed_mentions":
            msg[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
    if "flags" in body and body["flags"] is not None:
        # Only SUPPRESS_EMBEDS (1 << 2) may be changed by an edit.
        msg["flags"] = (msg["flags"] & ~4) | (int(body["flags"]) & 4)
    channel_id = int(msg["channel_id"])
    new_files = _store_uploads(fake, channel_id, body, uploads)
    if "attachments" in body and body["attachments"] is not None:
        keep = {str(a.get("id")) for a in body["attachments"] if isinstance(a, dict)}
        msg["attachments"] = [a for a in msg["attachments"] if a["id"] in keep]
    msg["attachments"] = msg["attachments"] + [fake.world.attachment_json(f) for f in new_files]
    msg["flags"] &= ~LOADING
    msg["edited_timestamp"] = iso_now()
    if "content" in body:
        fake.world.apply_mentions(msg, body.get("allowed_mentions"))


async def _dispatch_message(fake: FakeCore, event: str, msg: dict[str, Any]) -> None:
    """MESSAGE_CREATE/UPDATE as the gateway sends them (with the author's member; never for
    ephemeral messages)."""
    if msg["flags"] & EPHEMERAL:
        return
    guild_id = int(msg["guild_id"]) if msg.get("guild_id") else None
    data = dict(msg)
    author_id = int(msg["author"]["id"])
    if guild_id is not None and author_id in fake.world.guild(guild_id).members:
        data["member"] = fake.world.member_json(guild_id, author_id, with_user=False)
    await fake.dispatch(event, data, guild_id=guild_id)


def _interaction_by_token(fake: FakeCore, call: Call) -> Interaction:
    if call.params["application_id"] != str(fake.application_id):
        raise rules.unknown("Webhook", rules.UNKNOWN_WEBHOOK)
    iid = fake.world.tokens.get(call.params["token"])
    if iid is None:
        raise rules.unknown("Webhook", rules.UNKNOWN_WEBHOOK)
    interaction = fake.world.interactions[iid]
    if fake.clock.now() - interaction.created_sim > fake.settings.token_seconds:
        raise rules.invalid_webhook_token()
    return interaction


def _guild_limit(fake: FakeCore, guild_id: int | None) -> int:
    if guild_id is None:
        return rules.DEFAULT_UPLOAD_LIMIT
    return fake.world.guild(guild_id).upload_limit


def _body(call: Call) -> dict[str, Any]:
    return call.body if isinstance(call.body, dict) else {}


# -- identity ---------------------------------------------------------------------------------


@route("GET", "/users/@me", "get_my_user")
async def get_me(fake: FakeCore, call: Call) -> Result:
    me = fake.world.bot_user.to_json()
    me.update(
        {"verified": True, "mfa_enabled": False, "email": None, "locale": "en-US", "bot": True}
    )
    return 200, me


@route("GET", "/users/@me/guilds", "list_my_guilds")
async def list_my_guilds(fake: FakeCore, call: Call) -> Result:
    """The bot's guilds as partial guilds, by id, paged with ``before``/``after``/``limit``."""
    query = call.request.query
    try:
        limit = int(query.get("limit", "200"))
        before = int(query["before"]) if "before" in query else None
        after = int(query["after"]) if "after" in query else None
    except ValueError:
        raise rules.form_error(["limit"], "NUMBER_TYPE_COERCE", "Value is not int.") from None
    if not 1 <= limit <= 200:
        raise rules.form_error(["limit"], "NUMBER_TYPE_MAX", "Must be between 1 and 200.")
    bot_id = fake.world.bot_user.id
    ids = sorted(g.id for g in fake.world.guilds.values() if bot_id in g.members)
    if after is not None:
        ids = [i for i in ids if i > after]
    if before is not None:
        ids = [i for i in ids if i < before]
        ids = ids[-limit:]
    else:
        ids = ids[:limit]
    out = []
    for gid in ids:
        guild = fake.world.guild(gid)
        entry: dict[str, Any] = {
            "id": str(gid),
            "name": guild.name,
            "icon": None,
            "banner": None,
            "owner": guild.owner_id == bot_id,
            "permissions": str(fake.world.permissions(None, gid, bot_id)),
            "features": [],
        }
        if call.flag("with_counts"):
            entry["approximate_member_count"] = len(guild.members)
            entry["approximate_presence_count"] = 0
        out.append(entry)
    return 200, out


@route("GET", "/users/{user_id}", "get_user")
async def get_user(fake: FakeCore, call: Call) -> Result:
    return 200, fake.world.user(call.int("user_id")).to_json()


@route("POST", "/users/@me/channels", "create_dm")
async def create_dm(fake: FakeCore, call: Call) -> Result:
    """The bot's DM channel with ``recipient_id``: one per user, the same id on every call."""
    raw = _body(call).get("recipient_id")
    if raw is None:
        raise rules.form_error(["recipient_id"], "BASE_TYPE_REQUIRED", "This field is required")
    recipient = fake.world.user(int(raw))
    if recipient.id == fake.world.bot_user.id:
        raise rules.form_error(["recipient_id"], "INVALID_RECIPIENT", "Invalid recipient")
    return 200, fake.world.dm_json(fake.world.open_dm(recipient.id))


@route("GET", "/oauth2/applications/@me", "get_my_oauth2_application")
async def get_application(fake: FakeCore, call: Call) -> Result:
    owner = (
        fake.world.users.get(next(iter(fake.world.guilds.values())).owner_id)
        if fake.world.guilds
        else None
    )
    return 200, {
        "id": str(fake.application_id),
        "name": fake.bot_name,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "rpc_origins": [],
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": 0,
        "hook": True,
        "is_monetized": False,
        "owner": (owner or fake.world.bot_user).to_json(),
        "team": None,
        "bot": fake.world.bot_user.to_json(),
        "integration_types_config": {"0": {}, "1": {}},
        "approximate_guild_count": len(fake.world.guilds),
    }


@route("GET", "/gateway/bot", "get_bot_gateway")
async def get_gateway_bot(fake: FakeCore, call: Call) -> Result:
    return 200, {
        "url": fake.gateway_url,
        "shards": 1,
        "session_start_limit": {
            "total": 1000,
            "remaining": 999,
            "reset_after": 86400000,
            "max_concurrency": 1,
        },
    }


@route("GET", "/gateway", "get_gateway", auth=False)
async def get_gateway(fake: FakeCore, call: Call) -> Result:
    return 200, {"url": fake.gateway_url}


# -- application commands ---------------------------------------------------------------------


def _commands_for(fake: FakeCore, call: Call) -> tuple[dict[int, dict[str, Any]], int | None]:
    if call.params["application_id"] != str(fake.application_id):
        raise rules.unknown("Application", rules.UNKNOWN_APPLICATION)
    if "guild_id" in call.params:
        gid = call.int("guild_id")
        fake.world.guild(gid)
        return fake.world.guild_commands.setdefault(gid, {}), gid
    return fake.world.global_commands, None


@route("GET", "/applications/{application_id}/commands", "list_application_commands")
@route(
    "GET",
    "/applications/{application_id}/guilds/{guild_id}/commands",
    "list_guild_application_commands",
)
async def list_commands(fake: FakeCore, call: Call) -> Result:
    store, _ = _commands_for(fake, call)
    return 200, list(store.values())


@route("PUT", "/applications/{application_id}/commands", "bulk_set_application_commands")
@route(
    "PUT",
    "/applications/{application_id}/guilds/{guild_id}/commands",
    "bulk_set_guild_application_commands",
)
async def put_commands(fake: FakeCore, call: Call) -> Result:
    store, gid = _commands_for(fake, call)
    body = call.body if isinstance(call.body, list) else []
    seen: set[tuple[str, int]] = set()
    for index, cmd in enumerate(body):
        key = (cmd["name"], int(cmd.get("type") or 1))
        if key in seen:
            raise rules.form_error(
                [index, "name"],
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique ({cmd['name']})",
            )
        seen.add(key)
    new = [fake.world.command_json(cmd, store, gid) for cmd in body]
    store.clear()
    store.update({int(c["id"]): c for c in new})
    return 200, new


@route("POST", "/applications/{application_id}/commands", "create_application_command")
@route(
    "POST",
    "/applications/{application_id}/guilds/{guild_id}/commands",
    "create_guild_application_command",
)
async def post_command(fake: FakeCore, call: Call) -> Result:
    store, gid = _commands_for(fake, call)
    cmd = fake.world.command_json(_body(call), store, gid)
    created = int(cmd["id"]) not in store
    store[int(cmd["id"])] = cmd
    return (201 if created else 200), cmd


# -- interaction callbacks ----------------------------------------------------------------------

CALLBACKS_FOR: dict[int, set[int]] = {
    1: {1},
    2: {4, 5, 9, 12},
    3: {4, 5, 6, 7, 9, 12},
    4: {8},
    5: {4, 5, 6, 7},
}


@route(
    "POST",
    "/interactions/{interaction_id}/{token}/callback",
    "create_interaction_response",
    auth=False,
)
async def interaction_callback(fake: FakeCore, call: Call) -> Result:
    interaction = fake.world.interactions.get(call.int("interaction_id"))
    if interaction is None or interaction.token != call.params["token"]:
        raise rules.unknown_interaction()
    body = _body(call)
    try:
        return await _callback(fake, call, interaction, body)
    except rules.DiscordError as error:
        interaction.rejected.append({"code": error.code, "message": error.message, "body": body})
        raise


async def _callback(
    fake: FakeCore, call: Call, interaction: Interaction, body: dict[str, Any]
) -> Result:
    if interaction.acked.is_set():
        raise rules.already_acknowledged()
    if fake.clock.now() - interaction.created_sim > fake.settings.ack_seconds:
        raise rules.unknown_interaction()
    ctype = int(body["type"])
    if ctype not in CALLBACKS_FOR.get(interaction.type, set()) or (
        ctype in (6, 7) and interaction.message_id is None
    ):
        raise rules.DiscordError(
            400, 40043, "Interaction callback type is not valid for this interaction"
        )
    data = body.get("data") or {}
    if ctype == 9:
        bodies.check(bodies.modal_problems(data), ("data",))
    elif ctype in (4, 7):
        edited = fake.world.messages.get(interaction.message_id or 0) if ctype == 7 else None
        flags = int((edited or {}).get("flags") or 0)
        _check_message_body(data, call.uploads, creating=ctype == 4, at=("data",), flags=flags)
    _check_size(call.uploads, _guild_limit(fake, interaction.guild_id))
    channel = fake.world.channel(interaction.channel_id)
    message: dict[str, Any] | None = None
    if ctype in (4, 5):
        flags = int(data.get("flags") or 0)
        files = _store_uploads(fake, channel.id, data, call.uploads)
        extra = LOADING if ctype == 5 else 0
        message = fake.world.new_message(
            channel,
            fake.world.bot_user,
            data if ctype == 4 else {"flags": flags & EPHEMERAL},
            files,
            webhook_id=fake.application_id,
            interaction=interaction,
            flags=extra,
        )
        interaction.ephemeral = bool(message["flags"] & EPHEMERAL)
        interaction.original_message_id = int(message["id"])
    elif ctype in (6, 7):
        assert interaction.message_id is not None
        message = fake.world.messages[interaction.message_id]
        interaction.original_message_id = interaction.message_id
        if ctype == 7:
            _apply_edit(fake, message, data, call.uploads)
    interaction.callback_type = ctype
    interaction.callback = body
    interaction.acked.set()
    after_sent(call.request, interaction.answered.set)
    if message is not None and ctype in (4, 5, 7):
        _until_answered(fake, call, message)
    if message is not None and ctype in (4, 5):
        await _dispatch_message(fake, "MESSAGE_CREATE", message)
    elif message is not None and ctype == 7:
        await _dispatch_message(fake, "MESSAGE_UPDATE", message)
    if not call.flag("with_response"):
        return 204, None
    info: dict[str, Any] = {"id": str(interaction.id), "type": interaction.type}
    if message is not None:
        info.update(
            {
                "response_message_id": message["id"],
                "response_message_loading": ctype == 5,
                "response_message_ephemeral": bool(message["flags"] & EPHEMERAL),
            }
        )
    resource: dict[str, Any] = {"type": ctype}
    if message is not None and ctype in (4, 7):
        resource["message"] = message
    return 200, {"interaction": info, "resource": resource}


# -- interaction webhooks -----------------------------------------------------------------------


def _original(fake: FakeCore, interaction: Interaction) -> dict[str, Any]:
    if interaction.original_message_id is None:
        raise rules.unknown("Message", rules.UNKNOWN_MESSAGE)
    msg = fake.world.messages.get(interaction.original_message_id)
    if msg is None:
        raise rules.unknown("Message", rules.UNKNOWN_MESSAGE)
    return msg


def _webhook_message(fake: FakeCore, interaction: Interaction, message_id: str) -> dict[str, Any]:
    if message_id == "@original":
        return _original(fake, interaction)
    try:
        mid = int(message_id)
    except ValueError:
        raise rules.unknown("Message", rules.UNKNOWN_MESSAGE) from None
    if mid != interaction.original_message_id and mid not in interaction.followup_ids:
        raise rules.unknown("Message", rules.UNKNOWN_MESSAGE)
    msg = fake.world.messages.get(mid)
    if msg is None:
        raise rules.unknown("Message", rules.UNKNOWN_MESSAGE)
    return msg


@route("POST", "/webhooks/{application_id}/{token}", "execute_webhook", auth=False)
async def followup(fake: FakeCore, call: Call) -> Result:
    interaction = _interaction_by_token(fake, call)
    if not interaction.answered.is_set():
        # The webhook exists once the bot has the answer to its callback.
        raise rules.unknown("Webhook", rules.UNKNOWN_WEBHOOK)
    body = _body(call)
    _check_message_body(body, call.uploads, creating=True)
    _check_size(call.uploads, _guild_limit(fake, interaction.guild_id))
    channel = fake.world.channel(int(call.request.query.get("thread_id") or interaction.channel_id))
    original = (
        fake.world.messages.get(interaction.original_message_id)
        if interaction.original_message_id
        else None
    )
    if original is not None and interaction.callback_type == 5 and original["flags"] & LOADING:
        # The first followup after a deferred "thinking" response replaces that message.
        _apply_edit(fake, original, body, call.uploads)
        msg = original
        event = "MESSAGE_UPDATE"
    else:
        files = _store_uploads(fake, channel.id, body, call.uploads)
        msg = fake.world.new_message(
            channel,
            fake.world.bot_user,
            body,
            files,
            webhook_id=fake.application_id,
            interaction=interaction,
        )
        event = "MESSAGE_CREATE"
    interaction.followup_ids.append(int(msg["id"]))
    _until_answered(fake, call, msg)
    await _dispatch_message(fake, event, msg)
    if call.flag("wait"):
        return 200, msg
    return 204, None


@route(
    "GET",
    "/webhooks/{application_id}/{token}/messages/{message_id}",
    "get_webhook_message",
    auth=False,
)
async def get_webhook_message(fake: FakeCore, call: Call) -> Result:
    interaction = _interaction_by_token(fake, call)
    return 200, _webhook_message(fake, interaction, call.params["message_id"])


@route(
    "PATCH",
    "/webhooks/{application_id}/{token}/messages/{message_id}",
    "update_webhook_message",
    auth=False,
)
async def edit_webhook_message(fake: FakeCore, call: Call) -> Result:
    interaction = _interaction_by_token(fake, call)
    msg = _webhook_message(fake, interaction, call.params["message_id"])
    body = _body(call)
    _check_message_body(body, call.uploads, creating=False, flags=int(msg["flags"]))
    _check_size(call.uploads, _guild_limit(fake, interaction.guild_id))
    _apply_edit(fake, msg, body, call.uploads)
    _until_answered(fake, call, msg)
    await _dispatch_message(fake, "MESSAGE_UPDATE", msg)
    return 200, msg


@route(
    "DELETE",
    "/webhooks/{application_id}/{token}/messages/{message_id}",
    "delete_webhook_message",
    auth=False,
)
async def delete_webhook_message(fake: FakeCore, call: Call) -> Result:
    interaction = _interaction_by_token(fake, call)
    msg = _webhook_message(fake, interaction, call.params["message_id"])
    del fake.world.messages[int(msg["id"])]
    if not msg["flags"] & EPHEMERAL:
        await fake.dispatch(
            "MESSAGE_DELETE",
            {"id": msg["id"], "channel_id": msg["channel_id"], "guild_id": msg.get("guild_id")},
            guild_id=int(msg["guild_id"]) if msg.get("guild_id") else None,
        )
    return 204, None


# -- channels, messages, threads ------------------------------------------------------------------


@route("GET", "/channels/{channel_id}", "get_channel")
async def get_channel(fake: FakeCore, call: Call) -> Result:
    channel = await _channel(fake, call)
    _require(_bot_perms(fake, channel))
    return 200, fake.world.dm_json(channel) if channel.is_dm else channel.to_json()


@route("PATCH", "/channels/{channel_id}", "update_channel")
async def update_channel(fake: FakeCore, call: Call) -> Result:
    channel = await _channel(fake, call)
    body = _body(call)
    perms = _bot_perms(fake, channel)
    if channel.is_thread:
        own = channel.owner_id == fake.world.bot_user.id
        if not own or "locked" in body:
            _require(perms, rules.MANAGE_THREADS)
        if "archived" in body and body["archived"] is not None:
            fake.world.set_archived(channel, bool(body["archived"]))
        if "locked" in body and body["locked"] is not None:
            channel.locked = bool(body["locked"])
        if body.get("auto_archive_duration"):
            channel.auto_archive_duration = int(body["auto_archive_duration"])
    else:
        _require(perms, rules.MANAGE_CHANNELS)
        if "topic" in body:
            channel.topic = body["topic"]
    if body.get("name"):
        channel.name = _thread_name(body)
    data = channel.to_json()
    event = "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE"
    await fake.dispatch(event, data, guild_id=channel.guild_id)
    return 200, data


@route("POST", "/channels/{channel_id}/typing", "trigger_typing_indicator")
async def typing(fake: FakeCore, call: Call) -> Result:
    channel = await _channel(fake, call)
    _require(_bot_perms(fake, channel))
    return 204, None


@route("POST", "/channels/{channel_id}/messages", "create_message")
async def create_message(fake: FakeCore, call: Call) -> Result:
    channel = await _channel(fake, call)
    body = _body(call)
    perms = _bot_perms(fake, channel)
    send = rules.SEND_MESSAGES_IN_THREADS if channel.is_thread else rules.SEND_MESSAGES
    _require(perms, send, *([rules.ATTACH_FILES] if call.uploads else []))
    if channel.is_dm and fake.world.dm_recipient(channel) in fake.world.dms_closed:
        raise rules.cannot_message_user()
    if channel.is_thread and channel.locked and not perms & rules.MANAGE_THREADS:
        if channel.archived:
            raise rules.thread_archived()
        raise rules.missing_permissions()  # locked, open: only thread managers may post
    if channel.is_thread and channel.archived:
        fake.world.set_archived(channel, False)
        await fake.dispatch("THREAD_UPDATE", channel.to_json(), guild_id=channel.guild_id)
    if int(body.get("flags") or 0) & EPHEMERAL:
        # Only interaction responses and followups can be ephemeral.
        raise rules.form_error(["flags"], "MESSAGE_FLAGS_INVALID", "Invalid message flags")
    _check_message_body(body, call.uploads, creating=True)
    _check_size(call.uploads, _upload_limit(fake, channel))
    body = _without_embed_links(body, call.uploads, perms)
    nonce = body.get("nonce")
    bot_id = fake.world.bot_user.id
    now = fake.clock.now()
    if nonce is not None and body.get("enforce_nonce"):
        previous = fake.nonces.lookup(channel.id, bot_id, str(nonce), now)
        if previous is not None and previous in fake.world.messages:
            return 200, fake.world.messages[previous]
    if body.get("message_reference"):
        ref = body["message_reference"]
        if (
            ref.get("message_id") is not None
            and int(ref["message_id"]) not in fake.world.messages
            and ref.get("fail_if_not_exists", True)
        ):
            raise rules.form_error(
                ["message_reference"], "REPLIES_UNKNOWN_MESSAGE", "Unknown message"
            )
    files = _store_uploads(fake, channel.id, body, call.uploads)
    msg = fake.world.new_message(channel, fake.world.bot_user, body, files)
    if nonce is not None and body.get("enforce_nonce"):
        fake.nonces.remember(channel.id, bot_id, str(nonce), int(msg["id"]), now)
    _until_answered(fake, call, msg)
    await _dispatch_message(fake, "MESSAGE_CREATE", msg)
    return 200, msg


@route("GET", "/channels/{channel_id}/messages", "list_messages")
async def list_messages(fake: FakeCore, call: Call) -> Result:
    channel = await _channel(fake, call)
    _require(_bot_perms(fake, channel), rules.READ_MESSAGE_HISTORY)
    query = call.request.query
    try:
        limit = int(query.get("limit", "50"))
        before = int(query["before"]) if "before" in query else None
        after = int(query["after"]) if "after" in query else None
    except ValueError:
        raise rules.form_error(["limit"], "NUMBER_TYPE_COERCE", "Value is not int.") from None
    if not 1 <= limit <= 100:
        raise rules.form_error(
            ["limit"], "NUMBER_TYPE_MAX", "int value should be less than or equal to 100."
        )
    found = [
        m
        for mid, m in fake.world.messages.items()
        if m["channel_id"] == str(channel.id)
        and not m["flags"] & EPHEMERAL
        and (before is None or mid < before)
        and (after is None or mid > after)
    ]
    found.sort(key=lambda m: int(m["id"]), reverse=True)  # newest first, as Discord answers
    if after is not None and before is None:
        found = found[::-1][:limit][::-1]
    return 200, [fake.world.refresh_urls(m) for m in found[:limit]]


@route("GET", "/channels/{channel_id}/messages/{message_id}", "get_message")
async def get_message(fake: FakeCore, call: Call) -> Result:
    channel = await _channel(fake, call)
    _require(_bot_perms(fake, channel), rules.READ_MESSAGE_HISTORY)
    msg = fake.world.message(channel.id, call.int("message_id"))
    if msg["flags"] & EPHEMERAL:
        raise rules.unknown("Message", rules.UNKNOWN_MESSAGE)
    return 200, fake.world.refresh_urls(msg)


@route("PATCH", "/channels/{channel_id}/messages/{message_id}", "update_message")
async def edit_message(fake: FakeCore, call: Call) -> Result:
    channel = await _channel(fake, call)
    perms = _bot_perms(fake, channel)
    _require(perms)
    msg = fake.world.message(channel.id, call.int("message_id"))
    if msg["flags"] & EPHEMERAL:
        raise rules.unknown("Message", rules.UNKNOWN_MESSAGE)  # only its interaction's token
    if msg["author"]["id"] != str(fake.world.bot_user.id) or msg.get("webhook_id"):
        raise rules.DiscordError(403, 50005, "Cannot edit a message authored by another user")
    if channel.is_thread and channel.archived:
        raise rules.thread_archived()  # an edit does not reopen the thread
    body = _body(call)
    _check_message_body(body, call.uploads, creating=False, flags=int(msg["flags"]))
    if call.uploads:
        _require(perms, rules.ATTACH_FILES)
    _check_size(call.uploads, _upload_limit(fake, channel))
    body = _without_embed_links(body, call.uploads, perms, msg)
    _apply_edit(fake, msg, body, call.uploads)
    _until_answered(fake, call, msg)
    await _dispatch_message(fake, "MESSAGE_UPDATE", msg)
    return 200, msg


@route("DELETE", "/channels/{channel_id}/messages/{message_id}", "delete_message")
async def delete_message(fake: FakeCore, call: Call) -> Result:
    channel = await _channel(fake, call)
    msg = fake.world.message(channel.id, call.int("message_id"))
    if msg["author"]["id"] != str(fake.world.bot_user.id):
        _require(_bot_perms(fake, channel), rules.MANAGE_MESSAGES)
    del fake.world.messages[int(msg["id"])]
    await fake.dispatch(
        "MESSAGE_DELETE",
        {"id": msg["id"], "channel_id": msg["channel_id"], "guild_id": msg.get("guild_id")},
        guild_id=channel.guild_id,
    )
    return 204, None


async def _announce_thread(fake: FakeCore, thread: Channel) -> dict[str, Any]:
    data = thread.to_json()
    data["member"] = {
        "id": str(thread.id),
        "user_id": str(fake.world.bot_user.id),
        "join_timestamp": iso_now(),
        "flags": 1,
    }
    await fake.dispatch("THREAD_CREATE", {**data, "newly_created": True}, guild_id=thread.guild_id)
    return data


def _archive_minutes(body: dict[str, Any]) -> int:
    """The thread's auto_archive_duration: the body's, else the channel default (1 day)."""
    return int(body.get("auto_archive_duration") or DEFAULT_AUTO_ARCHIVE_MINUTES)


def _thread_name(body: dict[str, Any]) -> str:
    name = str(body.get("name") or "")
    if not 1 <= len(name) <= 100:
        raise rules.form_error(
            ["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )
    return name


@route("POST", "/channels/{channel_id}/messages/{message_id}/threads", "create_thread_from_message")
async def thread_from_message(fake: FakeCore, call: Call) -> Result:
    channel = fake.world.channel(call.int("channel_id"))
    if channel.is_thread:
        raise rules.DiscordError(400, 50024, "Cannot execute action on this channel type")
    _require(_bot_perms(fake, channel), rules.CREATE_PUBLIC_THREADS, rules.READ_MESSAGE_HISTORY)
    msg = fake.world.message(channel.id, call.int("message_id"))
    body = _body(call)
    name = _thread_name(body)
    if int(msg["id"]) in fake.world.channels:
        raise rules.DiscordError(400, 160004, "A thread has already been created for this message")
    thread = fake.world.add_thread(
        channel,
        name,
        owner_id=fake.world.bot_user.id,
        type=PUBLIC_THREAD,
        thread_id=int(msg["id"]),
        auto_archive_duration=_archive_minutes(body),
    )
    data = await _announce_thread(fake, thread)
    msg["thread"] = data
    msg["flags"] |= HAS_THREAD
    await _dispatch_message(fake, "MESSAGE_UPDATE", msg)
    return 201, data


@route("POST", "/channels/{channel_id}/threads", "create_thread")
async def thread_in_channel(fake: FakeCore, call: Call) -> Result:
    channel = fake.world.channel(call.int("channel_id"))
    if channel.is_thread:
        raise rules.DiscordError(400, 50024, "Cannot execute action on this channel type")
    body = _body(call)
    ttype = int(body.get("type") or PRIVATE_THREAD)
    if ttype not in (PUBLIC_THREAD, PRIVATE_THREAD):
        raise rules.form_error(["type"], "BASE_TYPE_CHOICES", "Value must be one of {11, 12}.")
    needed = rules.CREATE_PUBLIC_THREADS if ttype == PUBLIC_THREAD else rules.CREATE_PRIVATE_THREADS
    _require(_bot_perms(fake, channel), needed)
    thread = fake.world.add_thread(
        channel,
        _thread_name(body),
        owner_id=fake.world.bot_user.id,
        type=ttype,
        auto_archive_duration=_archive_minutes(body),
    )
    return 201, await _announce_thread(fake, thread)


@route("PUT", "/channels/{channel_id}/thread-members/{user_id}", "add_thread_member")
async def add_thread_member(fake: FakeCore, call: Call) -> Result:
    thread = await _channel(fake, call)
    if not thread.is_thread:
        raise rules.DiscordError(400, 50024, "Cannot execute action on this channel type")
    if thread.archived:
        raise rules.DiscordError(400, 50083, "Thread is archived")
    _require(_bot_perms(fake, thread), rules.SEND_MESSAGES_IN_THREADS)
    user_id = fake.world.bot_user.id if call.params["user_id"] == "@me" else call.int("user_id")
    if user_id not in fake.world.guild(thread.guild_id).members:
        raise rules.unknown("Member", rules.UNKNOWN_MEMBER)
    thread.member_ids.add(user_id)
    return 204, None


# -- guilds ---------------------------------------------------------------------------------------


def _member_guild(fake: FakeCore, call: Call) -> int:
    guild = fake.world.guild(call.int("guild_id"))
    if fake.world.bot_user.id not in guild.members:
        raise rules.missing_access()
    return guild.id


@route("GET", "/guilds/{guild_id}", "get_guild")
async def get_guild(fake: FakeCore, call: Call) -> Result:
    gid = _member_guild(fake, call)
    out = fake.world.guild(gid).to_json()
    if call.flag("with_counts"):
        out["approximate_member_count"] = len(fake.world.guild(gid).members)
        out["approximate_presence_count"] = 0
    return 200, out


@route("GET", "/guilds/{guild_id}/members/{user_id}", "get_guild_member")
async def get_member(fake: FakeCore, call: Call) -> Result:
    gid = _member_guild(fake, call)
    return 200, fake.world.member_json(gid, call.int("user_id"))


@route("GET", "/guilds/{guild_id}/channels", "list_guild_channels")
async def get_channels(fake: FakeCore, call: Call) -> Result:
    gid = _member_guild(fake, call)
    return 200, [fake.world.channels[c].to_json() for c in fake.world.guild(gid).channel_ids]


@route("GET", "/guilds/{guild_id}/roles", "list_guild_roles")
async def get_roles(fake: FakeCore, call: Call) -> Result:
    gid = _member_guild(fake, call)
    return 200, [r.to_json() for r in fake.world.guild(gid).roles.values()]
