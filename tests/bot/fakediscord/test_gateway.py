"""The gateway at the protocol level, with a plain aiohttp websocket client."""

from __future__ import annotations

import json
import zlib
from typing import Any

import aiohttp
import pytest

from bot.fakediscord import FakeDiscord, FakeDiscordClient
from tests.bot.fakediscord.conftest import Seed

Z_SYNC_SUFFIX = b"\x00\x00\xff\xff"


class Raw:
    """A minimal gateway client speaking zlib-stream."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.inflate = zlib.decompressobj()
        self.frames: list[bytes] = []

    async def recv(self) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.BINARY, msg
        self.frames.append(msg.data)
        payload: dict[str, Any] = json.loads(self.inflate.decompress(msg.data))
        return payload

    async def send(self, op: int, d: Any) -> None:
        await self.ws.send_str(json.dumps({"op": op, "d": d}))


async def _connect(session: aiohttp.ClientSession, fake: FakeDiscord) -> Raw:
    ws = await session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json&compress=zlib-stream")
    return Raw(ws)


async def test_hello_identify_ready_guild_create_and_heartbeat(
    fake: FakeDiscord, seed: Seed
) -> None:
    async with aiohttp.ClientSession() as session:
        raw = await _connect(session, fake)
        hello = await raw.recv()
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
        await raw.send(1, None)
        assert (await raw.recv())["op"] == 11
        await raw.send(2, {"token": fake.token, "intents": 1 | 2, "properties": {}})
        ready = await raw.recv()
        assert ready["t"] == "READY" and ready["s"] == 1
        assert ready["d"]["application"]["id"] == str(fake.application_id)
        assert ready["d"]["resume_gateway_url"] == fake.gateway_url
        guild = await raw.recv()
        assert guild["t"] == "GUILD_CREATE" and guild["s"] == 2
        assert len(guild["d"]["members"]) == 3  # GUILD_MEMBERS intent: everyone
        assert [c["name"] for c in guild["d"]["channels"]] == ["general"]
        assert all(frame.endswith(Z_SYNC_SUFFIX) for frame in raw.frames)
        await raw.ws.close()


async def test_bad_token_closes_4004(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        raw = await _connect(session, fake)
        await raw.recv()
        await raw.send(2, {"token": "wrong", "intents": 1, "properties": {}})
        closing = await raw.ws.receive(timeout=5)
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert closing.data == 4004


async def test_uncompressed_and_resume(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed
) -> None:
    url = f"{fake.gateway_url}?v=10&encoding=json"
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url)
        assert json.loads((await ws.receive(timeout=5)).data)["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 1 | 1 << 9}})
        ready = json.loads((await ws.receive(timeout=5)).data)
        session_id = ready["d"]["session_id"]
        last_seq = json.loads((await ws.receive(timeout=5)).data)["s"]  # GUILD_CREATE
        await ws.close()

        await ctl.post_message(seed.channel_id, seed.user_id, "while away")
        ws = await session.ws_connect(url)
        await ws.receive(timeout=5)  # HELLO
        await ws.send_json(
            {"op": 6, "d": {"token": fake.token, "session_id": session_id, "seq": last_seq}}
        )
        missed = json.loads((await ws.receive(timeout=5)).data)
        assert missed["t"] == "MESSAGE_CREATE" and missed["d"]["content"] == "while away"
        assert missed["s"] == last_seq + 1
        assert json.loads((await ws.receive(timeout=5)).data)["t"] == "RESUMED"
        await ws.send_json({"op": 6, "d": {"token": fake.token, "session_id": "gone", "seq": 1}})
        invalid = json.loads((await ws.receive(timeout=5)).data)
        assert invalid == {"op": 9, "d": False, "s": None, "t": None}
        await ws.close()


async def test_zstd_stream_when_available(fake: FakeDiscord) -> None:
    zstandard = pytest.importorskip("zstandard")  # discord.py only asks for zstd when present
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json&compress=zstd-stream")
        inflate = zstandard.ZstdDecompressor().decompressobj()
        hello = json.loads(inflate.decompress((await ws.receive(timeout=5)).data))
        assert hello["op"] == 10
        await ws.close()


async def test_unsupported_compression_closes(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json&compress=brotli")
        closing = await ws.receive(timeout=5)
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4000
