"""The playground's page and its small API, driving the fake Discord through its control API.

Every action is one control call (``FakeDiscordClient``): the page acts as a member or the admin
of the seeded server, and reads back what the bot did. ``GET /api/events`` is a server-sent
event stream that says "something changed" whenever the fake's change counter moves; the page
then reads the channel again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.fakediscord.client import ControlError, FakeDiscordClient
from bot.playground.samples import SAMPLES, sample

STATIC_DIR = Path(__file__).resolve().parent / "static"
EPHEMERAL = 1 << 6
ANSWER_SECONDS = 10.0
"""How long an action waits for the bot's answer (Discord gives a bot 3 s to acknowledge)."""
EVENT_WAIT_SECONDS = 15.0
MAX_UPLOAD_BYTES = 25 * 1024 * 1024

CTL = web.AppKey("ctl", FakeDiscordClient)
ANSWER_WAIT = web.AppKey("answer_wait", float)
STREAMS = web.AppKey("streams", set[asyncio.Task[Any]])


@dataclass(frozen=True)
class Seeded:
    """The server the playground made: its channel, a member and the admin (its owner)."""

    guild_id: int
    channel_id: int
    member_id: int
    admin_id: int


SEEDED = web.AppKey("seeded", Seeded)


class BadRequest(Exception):
    """The page sent something the API cannot use; the message says what."""


Handler = Callable[[web.Request, dict[str, Any]], Awaitable[Any]]


def _json_route(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        body: dict[str, Any] = {}
        if request.method == "POST":
            if request.content_type != "application/json":
                # Another site's page cannot send this type here without CORS, which we never
                # grant: so a page elsewhere cannot act in the playground.
                return web.json_response({"error": "send application/json"}, status=415)
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"error": "the body is not JSON"}, status=400)
            if not isinstance(body, dict):
                return web.json_response({"error": "the body must be a JSON object"}, status=400)
        try:
            return web.json_response(await handler(request, body))
        except (BadRequest, KeyError, ValueError, TypeError) as exc:
            return web.json_response({"error": _reason(exc)}, status=400)
        except ControlError as exc:
            return web.json_response({"error": str(exc)}, status=409)
        except TimeoutError as exc:
            return web.json_response({"error": str(exc) or "timed out"}, status=504)

    return serve


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing or unknown: {exc.args[0]}"
    return str(exc)


def _int(body: dict[str, Any], key: str) -> int:
    value = body[key]
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{key} must be a number, not {value!r}") from None


def _user(request: web.Request, body: dict[str, Any]) -> int:
    """The acting user: only the seeded member or admin."""
    seeded = request.app[SEEDED]
    user_id = _int(body, "user_id")
    if user_id not in (seeded.member_id, seeded.admin_id):
        raise BadRequest(f"user {user_id} is neither the member nor the admin")
    return user_id


def _attachments(body: dict[str, Any]) -> tuple[list[tuple[str, bytes, str]], list[str]]:
    """Files from the page: ``{"option", "sample"}`` (a bundled sample) or
    ``{"option", "filename", "content_type", "data_b64"}`` (an uploaded file)."""
    files: list[tuple[str, bytes, str]] = []
    options: list[str] = []
    for item in body.get("attachments") or []:
        if not isinstance(item, dict):
            raise BadRequest("each attachment must be an object")
        if item.get("sample"):
            chosen = sample(str(item["sample"]))
            files.append((chosen.filename, chosen.read(), chosen.content_type))
        else:
            try:
                data = base64.b64decode(str(item["data_b64"]), validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest("data_b64 is not base64") from None
            if len(data) > MAX_UPLOAD_BYTES:
                raise BadRequest(f"a file may be at most {MAX_UPLOAD_BYTES // 2**20} MiB here")
            name = str(item.get("filename") or "upload.bin")
            files.append((name, data, str(item.get("content_type") or "application/octet-stream")))
        options.append(str(item.get("option") or ""))
    return files, options


async def _answer(request: web.Request, interaction_id: str) -> Any:
    """The interaction's summary once the bot answered it (a modal it sent is then usable)."""
    within = request.app[ANSWER_WAIT]
    try:
        return await request.app[CTL].wait_for_response(interaction_id, within=within)
    except TimeoutError:
        raise TimeoutError(f"the bot did not answer within {within:g} s") from None


# -- reads ------------------------------------------------------------------------------------


async def world(request: web.Request, body: dict[str, Any]) -> Any:
    """Who is who, the server, the bot's synced commands and the samples."""
    ctl, seeded = request.app[CTL], request.app[SEEDED]
    state = await ctl.state()
    guild = next(g for g in state["guilds"] if int(g["id"]) == seeded.guild_id)
    users = {int(u["id"]): u for u in state["users"]}
    commands = list(state["global_commands"])
    commands += state["guild_commands"].get(str(seeded.guild_id), [])
    return {
        "seeded": {k: str(v) for k, v in asdict(seeded).items()},
        "guild": {"id": guild["id"], "name": guild["name"]},
        "bot": users[int(state["bot_user_id"])],
        "people": [
            {"role": "member", **users[seeded.member_id]},
            {"role": "admin", **users[seeded.admin_id]},
        ],
        "members": [m["user"] for m in guild["members"]],
        "roles": [
            {"id": r["id"], "name": r["name"]} for r in guild["roles"] if not r.get("managed")
        ],
        "commands": commands,
        "samples": [
            {"name": s.name, "filename": s.filename, "content_type": s.content_type}
            | {"title": s.title}
            for s in SAMPLES
        ],
    }


async def channels(request: web.Request, body: dict[str, Any]) -> Any:
    """The channel and its threads, newest thread first."""
    ctl, seeded = request.app[CTL], request.app[SEEDED]
    state = await ctl.state()
    guild = next(g for g in state["guilds"] if int(g["id"]) == seeded.guild_id)
    channel = next(c for c in guild["channels"] if int(c["id"]) == seeded.channel_id)
    threads = await ctl.threads(seeded.channel_id)
    threads.sort(key=lambda t: int(t["id"]), reverse=True)
    return {"channel": channel, "threads": threads}


def _visible_to(message: dict[str, Any], user_id: int) -> bool:
    if not int(message.get("flags") or 0) & EPHEMERAL:
        return True
    meta = message.get("interaction_metadata") or {}
    return str((meta.get("user") or {}).get("id")) == str(user_id)


async def messages(request: web.Request, body: dict[str, Any]) -> Any:
    """A channel's (or thread's) messages in order, as ``user_id`` sees them (their own
    ephemeral answers included, nobody else's)."""
    ctl, seeded = request.app[CTL], request.app[SEEDED]
    channel_id = int(request.query["channel_id"])
    user_id = _user(request, {"user_id": request.query["user_id"]})
    if channel_id != seeded.channel_id and channel_id not in {
        int(t["id"]) for t in await ctl.threads(seeded.channel_id)
    }:
        raise BadRequest(f"channel {channel_id} is not the playground's channel or a thread")
    found = [m for m in await ctl.messages(channel_id) if _visible_to(m, user_id)]
    found.sort(key=lambda m: int(m["id"]))
    return {"channel_id": str(channel_id), "messages": found}


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``data: <version>`` whenever the fake changed."""
    ctl = request.app[CTL]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    task = asyncio.current_task()
    assert task is not None
    streams = request.app[STREAMS]
    streams.add(task)  # cancelled when the page's server shuts down
    try:
        version = await ctl.changes()
        await response.write(f"data: {version}\n\n".encode())
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while True:
                seen = version
                version = await ctl.changes(seen, within=EVENT_WAIT_SECONDS)
                line = f"data: {version}\n\n" if version != seen else ": idle\n\n"
                await response.write(line.encode())
    finally:
        streams.discard(task)
    return response


async def _end_streams(app: web.Application) -> None:
    streams = app[STREAMS]
    for task in tuple(streams):
        task.cancel()


# -- actions ----------------------------------------------------------------------------------


def _where(request: web.Request, body: dict[str, Any]) -> int:
    """The channel to act in: the playground's channel or one of its threads (checked by
    the fake: an unknown channel is refused there)."""
    seeded = request.app[SEEDED]
    return _int(body, "channel_id") if body.get("channel_id") else seeded.channel_id


async def command(request: web.Request, body: dict[str, Any]) -> Any:
    """Invoke a slash command (``name``: "animate" or "quota set") with options and files."""
    ctl, seeded = request.app[CTL], request.app[SEEDED]
    user_id = _user(request, body)
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise BadRequest("options must be an object")
    files, names = _attachments(body)
    iid = await ctl.invoke_command(
        user_id,
        seeded.guild_id,
        _where(request, body),
        str(body["name"]),
        options,
        files,
        attachment_options=names,
    )
    return await _answer(request, iid)


async def autocomplete(request: web.Request, body: dict[str, Any]) -> Any:
    """The bot's suggestions for the focused option."""
    ctl, seeded = request.app[CTL], request.app[SEEDED]
    choices = await ctl.autocomplete(
        _user(request, body),
        seeded.guild_id,
        _where(request, body),
        str(body["name"]),
        dict(body.get("options") or {}),
        str(body["focused"]),
        within=request.app[ANSWER_WAIT],
    )
    return {"choices": choices}


async def post_message(request: web.Request, body: dict[str, Any]) -> Any:
    """Post a plain message (text and/or files) as the user."""
    ctl = request.app[CTL]
    files, _ = _attachments(body)
    content = str(body.get("content") or "")
    if not content.strip() and not files:
        raise BadRequest("write something or attach a file")
    return await ctl.post_message(_where(request, body), _user(request, body), content, files)


async def press(request: web.Request, body: dict[str, Any]) -> Any:
    """Press a button (or choose in a select menu) on a message."""
    ctl = request.app[CTL]
    values = body.get("values")
    iid = await ctl.press_button(
        _user(request, body),
        _int(body, "message_id"),
        str(body["custom_id"]),
        [str(v) for v in values] if isinstance(values, list) else None,
    )
    return await _answer(request, iid)


async def modal(request: web.Request, body: dict[str, Any]) -> Any:
    """Submit the modal the bot opened in answer to interaction ``interaction_id``."""
    ctl = request.app[CTL]
    values = body.get("values") or {}
    if not isinstance(values, dict):
        raise BadRequest("values must be an object")
    iid = await ctl.submit_modal(_int(body, "interaction_id"), values, user_id=_user(request, body))
    return await _answer(request, iid)


async def menu(request: web.Request, body: dict[str, Any]) -> Any:
    """Use a message menu command ("Animate this image") on a message."""
    ctl = request.app[CTL]
    iid = await ctl.message_command(
        _user(request, body), str(body["name"]), _int(body, "message_id")
    )
    return await _answer(request, iid)


# -- files ------------------------------------------------------------------------------------


async def sample_file(request: web.Request) -> web.Response:
    try:
        chosen = sample(request.match_info["name"])
    except KeyError:
        raise web.HTTPNotFound(text="no such sample") from None
    return web.Response(body=chosen.read(), content_type=chosen.content_type)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


LOCAL_HOSTS = ("127.0.0.1", "localhost")


@web.middleware
async def _local_only(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answer only requests addressed to this machine by name (no DNS rebinding)."""
    if request.url.host not in LOCAL_HOSTS:
        return web.json_response({"error": "the playground answers on 127.0.0.1 only"}, status=421)
    return await handler(request)


def make_app(
    ctl: FakeDiscordClient, seeded: Seeded, *, answer_seconds: float = ANSWER_SECONDS
) -> web.Application:
    """The page (``/``, ``/static/``, ``/samples/``) and the API (``/api/``)."""
    app = web.Application(client_max_size=MAX_UPLOAD_BYTES * 2, middlewares=[_local_only])
    app[CTL] = ctl
    app[SEEDED] = seeded
    app[ANSWER_WAIT] = answer_seconds
    app[STREAMS] = set[asyncio.Task[Any]]()
    app.on_shutdown.append(_end_streams)
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR)
    app.router.add_get("/samples/{name}", sample_file)
    app.router.add_get("/api/events", events)
    reads: list[tuple[str, Handler]] = [
        ("/api/world", world),
        ("/api/channels", channels),
        ("/api/messages", messages),
    ]
    for path, handler in reads:
        app.router.add_get(path, _json_route(handler))
    actions: list[tuple[str, Handler]] = [
        ("/api/command", command),
        ("/api/autocomplete", autocomplete),
        ("/api/message", post_message),
        ("/api/button", press),
        ("/api/modal", modal),
        ("/api/menu", menu),
    ]
    for path, handler in actions:
        app.router.add_post(path, _json_route(handler))
    return app
