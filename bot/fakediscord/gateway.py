"""The gateway websocket: HELLO, IDENTIFY/READY, GUILD_CREATE, heartbeats, RESUME, zlib-stream."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import secrets
import zlib
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from bot.fakediscord.core import FakeCore

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE = 3
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

INTENT_GUILD_MEMBERS = 1 << 1

CLOSE_UNKNOWN_ERROR = 4000
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_INVALID_SHARD = 4010


class Connection:
    """One websocket, with its transport compression."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self._zstd: Any = None
        if compress == "zstd-stream":
            # Only when discord.py asks for it, which it does only with zstandard installed.
            zstandard = importlib.import_module("zstandard")
            self._zstd = (zstandard.ZstdCompressor().compressobj(), zstandard)
        self._lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.ws.closed:
                return
            if self._zlib is not None:
                data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)
            elif self._zstd is not None:
                stream, module = self._zstd
                flush = module.COMPRESSOBJ_FLUSH_BLOCK
                await self.ws.send_bytes(stream.compress(text.encode()) + stream.flush(flush))
            else:
                await self.ws.send_str(text)


class Session:
    """An identified gateway session; survives a dropped connection so it can be RESUMEd."""

    def __init__(self, fake: FakeCore, intents: int, shard: tuple[int, int] = (0, 1)) -> None:
        self.fake = fake
        self.id = secrets.token_hex(16)
        self.intents = intents
        self.shard = shard  # IDENTIFY's [shard_id, shard_count]; (0, 1) when absent
        self.seq = 0
        self.buffer: list[dict[str, Any]] = []
        self.conn: Connection | None = None

    def serves(self, guild_id: int | None) -> bool:
        """Whether this shard gets a guild's events, as Discord routes them: guild events to
        shard ``(guild_id >> 22) % shard_count``, events with no guild (DMs) to shard 0."""
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (guild_id >> 22) % count == shard_id

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self.seq += 1
        payload = {"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data}
        self.buffer.append(payload)
        del self.buffer[:-1000]
        self.fake.gateway_log.append({"dir": "out", "op": OP_DISPATCH, "t": event, "s": self.seq})
        if self.conn is not None:
            await self.conn.send(payload)

    async def close(self, code: int = 1000) -> None:
        if self.conn is not None and not self.conn.ws.closed:
            await self.conn.ws.close(code=code)


def setup(app: web.Application, fake: FakeCore) -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await _serve(request, fake)

    app.router.add_get("/gateway", handle)
    app.router.add_get("/gateway/", handle)


async def _serve(request: web.Request, fake: FakeCore) -> web.StreamResponse:
    ws = web.WebSocketResponse(max_msg_size=0, compress=False)
    await ws.prepare(request)
    compress = request.query.get("compress")
    encoding = request.query.get("encoding", "json")
    fake.gateway_log.append({"dir": "connect", "query": dict(request.query), "path": request.path})
    if encoding != "json":
        await ws.close(code=CLOSE_DECODE_ERROR, message=b"only encoding=json is supported")
        return ws
    if compress not in (None, "zlib-stream", "zstd-stream") or (
        compress == "zstd-stream" and importlib.util.find_spec("zstandard") is None
    ):
        await ws.close(code=CLOSE_UNKNOWN_ERROR, message=b"unsupported compression")
        return ws
    conn = Connection(ws, compress)
    session: Session | None = None
    await conn.send(
        {
            "op": OP_HELLO,
            "d": {"heartbeat_interval": fake.settings.heartbeat_interval_ms},
            "s": None,
            "t": None,
        }
    )
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                raw = zlib.decompress(msg.data).decode()
            elif msg.type == WSMsgType.TEXT:
                raw = msg.data
            else:
                break
            try:
                payload = json.loads(raw)
                op = payload["op"]
            except (ValueError, KeyError, TypeError):
                await ws.close(code=CLOSE_DECODE_ERROR, message=b"Error while decoding payload.")
                break
            data = payload.get("d")
            fake.gateway_log.append({"dir": "in", "op": op})
            if op == OP_HEARTBEAT:
                await conn.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            elif op == OP_IDENTIFY:
                if session is not None:
                    await ws.close(
                        code=CLOSE_ALREADY_AUTHENTICATED, message=b"Already authenticated."
                    )
                    break
                if not _token_ok(fake, data):
                    await ws.close(
                        code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed."
                    )
                    break
                shard = _shard(data.get("shard"))
                if shard is None:
                    await ws.close(code=CLOSE_INVALID_SHARD, message=b"Invalid shard.")
                    break
                session = Session(fake, int(data.get("intents", 0)), shard)
                fake.sessions[session.id] = session
                session.conn = conn
                await _ready(fake, session)
            elif op == OP_RESUME:
                old = fake.sessions.get(str(data.get("session_id")))
                if old is None or not _token_ok(fake, data):
                    await conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
                    continue
                session = old
                if session.conn is not None and session.conn is not conn:
                    await session.close(4000)
                session.conn = conn
                last = int(data.get("seq") or 0)
                for missed in [p for p in session.buffer if p["s"] > last]:
                    await conn.send(missed)
                await session.dispatch("RESUMED", {})
            elif session is None:
                await ws.close(code=CLOSE_NOT_AUTHENTICATED, message=b"Not authenticated.")
                break
            elif op == OP_REQUEST_MEMBERS:
                await _members_chunk(fake, session, data)
    finally:
        if session is not None and session.conn is conn:
            session.conn = None
        fake.gateway_log.append({"dir": "disconnect", "code": ws.close_code})
        await fake.notify()
    return ws


def _token_ok(fake: FakeCore, data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    token = str(data.get("token", ""))
    token = token.removeprefix("Bot ")
    return not fake.settings.check_bot_token or token == fake.token


def _shard(value: Any) -> tuple[int, int] | None:
    """IDENTIFY's optional ``shard: [shard_id, shard_count]``; None when it is invalid."""
    if value is None:
        return (0, 1)
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 0 <= value[0] < value[1]
    ):
        return (value[0], value[1])
    return None


async def _ready(fake: FakeCore, session: Session) -> None:
    world = fake.world
    bot = world.bot_user.to_json()
    bot.update({"verified": True, "mfa_enabled": False, "email": None, "bot": True})
    guild_ids = [
        g.id
        for g in world.guilds.values()
        if world.bot_user.id in g.members and session.serves(g.id)
    ]
    await session.dispatch(
        "READY",
        {
            "v": 10,
            "user": bot,
            "user_settings": {},
            "session_type": "normal",
            "session_id": session.id,
            "resume_gateway_url": fake.gateway_url,
            "guilds": [{"id": str(gid), "unavailable": True} for gid in guild_ids],
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "guild_join_requests": [],
            "auth": {},
            "application": {"id": str(fake.application_id), "flags": 0},
            "shard": list(session.shard),
        },
    )
    for gid in guild_ids:
        if session.intents & 1:
            members = bool(session.intents & INTENT_GUILD_MEMBERS)
            await session.dispatch(
                "GUILD_CREATE", world.guild_create_json(gid, all_members=members)
            )
    await fake.notify()


async def _members_chunk(fake: FakeCore, session: Session, data: Any) -> None:
    gid = int(data.get("guild_id", 0))
    if gid not in fake.world.guilds:
        return
    members = [fake.world.member_json(gid, uid) for uid in fake.world.guilds[gid].members]
    chunk: dict[str, Any] = {
        "guild_id": str(gid),
        "members": members,
        "chunk_index": 0,
        "chunk_count": 1,
    }
    if data.get("nonce") is not None:
        chunk["nonce"] = data["nonce"]
    await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)


async def send_reconnect(fake: FakeCore) -> int:
    """Ask every connected session to reconnect (op 7); they should RESUME."""
    count = 0
    for session in fake.sessions.values():
        if session.conn is not None:
            await session.conn.send({"op": OP_RECONNECT, "d": None, "s": None, "t": None})
            count += 1
    return count
