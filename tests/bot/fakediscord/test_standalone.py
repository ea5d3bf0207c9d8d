"""`python -m bot.fakediscord` runs the fake alone; the control client drives it over HTTP."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp

from bot.fakediscord import FakeDiscordClient

ROOT = Path(__file__).resolve().parents[3]


async def test_standalone_server_with_control_client() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.fakediscord",
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        info = json.loads(line)
        async with FakeDiscordClient(info["base_url"]) as ctl:
            guild = await ctl.create_guild("Standalone", premium_tier=2)
            channel = await ctl.create_channel(int(guild["id"]), "video")
            state = await ctl.state()
            assert state["guilds"][0]["premium_tier"] == 2
            headers = {"Authorization": f"Bot {info['token']}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                gw = await (await http.get(f"{info['api_base']}/gateway/bot")).json()
                assert gw["url"] == info["gateway_url"]
                url = f"{info['api_base']}/channels/{channel['id']}/messages"
                form = aiohttp.FormData(quote_fields=False)
                form.add_field("payload_json", json.dumps({"content": "clip"}))
                form.add_field("files[0]", b"\x00" * 10, filename="a.mp4")
                async with http.post(url, data=form) as resp:
                    assert resp.status == 200
                    sent = await resp.json()
            [stored] = await ctl.messages(int(channel["id"]))
            assert stored["id"] == sent["id"]
            assert await ctl.file(sent["attachments"][0]["id"]) == b"\x00" * 10
            calls = await ctl.calls()
            assert [c["files"][0]["filename"] for c in calls if c["files"]] == ["a.mp4"]
            await ctl.assert_no_invalid_requests()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
