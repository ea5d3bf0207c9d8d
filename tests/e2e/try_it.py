"""Act as a Discord user against a running fake Discord and bot: /animate an image, save the clip.

    python -m tests.e2e.try_it --fake http://127.0.0.1:8990 --image cat.png --prompt "a cat"

Creates a guild, a channel and a user in the fake, invokes /animate as that user, prints what
the user sees (the ephemeral answer, the status message, the thread) and saves the clip.
See tests/e2e/README.md for starting the fake, the simulator and the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import mimetypes
import sys
import time
from pathlib import Path
from typing import Any

from bot.fakediscord import FakeDiscordClient


def _text(message: dict[str, Any]) -> str:
    parts = [str(message.get("content") or "")]
    for embed in message.get("embeds") or []:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        parts += [f"  {f['name']}: {f['value']}" for f in embed.get("fields") or []]
    return "\n".join(p for p in parts if p)


async def _until(what: str, probe: Any, within: float) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = await probe()
        if result:
            return result
        await asyncio.sleep(0.25)
    raise SystemExit(f"gave up waiting for {what} after {within:g} s")


async def run(args: argparse.Namespace) -> int:
    image = Path(args.image)
    data = await asyncio.to_thread(image.read_bytes)
    ctype = mimetypes.guess_type(image.name)[0] or "application/octet-stream"
    async with FakeDiscordClient(args.fake) as ctl:
        user = int((await ctl.create_user("you"))["id"])
        guild = int((await ctl.create_guild("Try it"))["id"])
        await ctl.add_member(guild, user)
        channel = int((await ctl.create_channel(guild, "general"))["id"])
        # A first command the bot answers proves it has seen the new guild.
        await ctl.wait_for_response(
            await ctl.invoke_command(user, guild, channel, "usage"), within=30
        )

        options: dict[str, Any] = {"prompt": args.prompt}
        if args.duration:
            options["duration"] = args.duration
        iid = await ctl.invoke_command(
            user, guild, channel, "animate", options, [(image.name, data, ctype)]
        )
        answer = await _until(
            "the bot's answer",
            lambda: _answered(ctl, iid),
            30,
        )
        print("== what you see (only you):")
        print(_text(answer))

        async def thread() -> Any:
            found = await ctl.threads(channel)
            return found[0] if found else None

        try:
            made = await _until("the job's thread", thread, 30)
        except SystemExit:
            return 1  # refused: the answer above says why
        status_id = int(made["id"])  # a thread opened on a message has the message's id

        async def clip() -> Any:
            for message in await ctl.messages(status_id):
                if message["attachments"] or message["embeds"]:
                    return message
            return None

        result = await _until("the clip", clip, args.wait)
        print(f"== in the thread {made['name']!r}:")
        print(_text(result))
        print("== the status message:")
        print(_text(await ctl.message(status_id)))
        for attachment in result["attachments"]:
            out = Path(args.out)
            await asyncio.to_thread(out.write_bytes, await ctl.file(attachment["id"]))
            print(f"== saved {attachment['filename']} ({attachment['size']} bytes) to {out}")
    return 0


async def _answered(ctl: FakeDiscordClient, iid: str) -> Any:
    data = await ctl.interaction(iid)
    if data["followups"]:
        return data["followups"][-1]
    if data["callback_type"] == 4:
        return (data["callback"] or {}).get("data")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.try_it")
    parser.add_argument("--fake", required=True, help="the fake Discord's base URL")
    parser.add_argument("--image", required=True, help="a PNG, JPEG or WebP file")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--duration", type=int, default=None)
    parser.add_argument("--out", default="clip.mp4", help="where to save the clip")
    parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for it")
    return asyncio.run(run(parser.parse_args(argv if argv is not None else sys.argv[1:])))


if __name__ == "__main__":
    raise SystemExit(main())
