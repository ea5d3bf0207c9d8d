"""The end-to-end harness: the fake Discord and the Runway simulator in the test's event loop,
the real bot as a subprocess (``python -m tests.e2e.runbot -- run --config ...``), and helpers
that wait for what a user would see (never for a fixed time).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from aiohttp import web
from PIL import Image

from bot.catalog import ModelSpec, default_catalog_text
from bot.clock import VirtualClock
from bot.config import load_settings
from bot.fakediscord import FakeDiscord, FakeDiscordClient
from bot.fakediscord.server import DEFAULT_TOKEN
from bot.simulator import RunwaySimulator

REPO = Path(__file__).resolve().parents[2]
RUNWAY_KEY = "key_" + "0" * 128
# The bot runs on a virtual clock this many times faster than real time (its production
# schedule unchanged: 5 s poll floor, 120 s lease, 60 s idle sleep), and so does the simulator.
TIME_FACTOR = 25.0
# Generous bounds: they only end a test that is stuck, they are never asserted as timings.
WAIT = 60.0
READY_WAIT = 60.0

Json = Any


# -- waiting ----------------------------------------------------------------------------------


async def wait_for(
    probe: Callable[[], Awaitable[Any]],
    what: str,
    *,
    within: float = WAIT,
    interval: float = 0.05,
) -> Any:
    """Poll ``await probe()`` until it returns something truthy; return it."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {last!r:.800}")
        await asyncio.sleep(interval)


# -- a fake Discord that can hold a response ----------------------------------------------------


@dataclass
class Hold:
    """Requests matching ``method`` and ``path`` (a regex on the path under /api/v10) set
    ``reached`` and wait for ``release``. With ``after`` the request is processed first (the
    message exists, the caller never hears back in time); without it the request is dropped
    on release, never processed (as if the connection broke before Discord read it). With
    ``status`` the request is processed and answered at once with that error (a 503 after
    Discord stored the message) instead of being held, ``times`` times. With ``body`` only a
    request whose body contains that text matches (one particular edit of a message)."""

    method: str
    path: re.Pattern[str]
    after: bool
    times: int = 1
    status: int | None = None
    body: str | None = None
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


class HoldingFakeDiscord(FakeDiscord):
    """The fake Discord plus a switch to hold matching REST calls (to kill the bot mid-call)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.holds: list[Hold] = []
        # interaction id -> seconds (fake clock) from its creation to the bot's first callback
        self.ack_delays: dict[int, float] = {}

    def hold(
        self,
        method: str,
        path_regex: str,
        *,
        after: bool,
        status: int | None = None,
        times: int = 1,
        body: str | None = None,
    ) -> Hold:
        after = after or status is not None
        hold = Hold(method, re.compile(path_regex), after, times, status, body)
        self.holds.append(hold)
        return hold

    def release_all(self) -> None:
        for hold in self.holds:
            hold.release.set()
        self.holds.clear()

    async def _take(self, request: web.Request) -> Hold | None:
        path = request.path.removeprefix("/api/v10")
        for hold in self.holds:
            if hold.times > 0 and hold.method == request.method and hold.path.fullmatch(path):
                if hold.body is not None and hold.body not in await request.text():
                    continue
                hold.times -= 1
                return hold
        return None

    def _note_callback(self, path: str) -> None:
        match = re.fullmatch(r"/api/v10/interactions/(\d+)/[^/]+/callback", path)
        if match:
            interaction = self.world.interactions.get(int(match.group(1)))
            if interaction is not None:
                delay = self.clock.now() - interaction.created_sim
                self.ack_delays.setdefault(interaction.id, delay)

    def make_app(self) -> web.Application:
        app = super().make_app()

        @web.middleware
        async def holding(request: web.Request, handler: Any) -> web.StreamResponse:
            self._note_callback(request.path)
            hold = await self._take(request) if request.path.startswith("/api/") else None
            if hold is None:
                response: web.StreamResponse = await handler(request)
                return response
            if not hold.after:
                hold.reached.set()
                await hold.release.wait()
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=499)
            response = await handler(request)
            hold.reached.set()
            if hold.status is not None:
                body = {"message": "Service Unavailable", "code": 0}
                return web.json_response(body, status=hold.status)
            await hold.release.wait()
            return response

        app.middlewares.append(holding)
        return app


# -- configuration ----------------------------------------------------------------------------


def catalog_toml(*, enable: Sequence[str] = ()) -> str:
    """The ``[[models]]`` entries of the packaged catalog (bot/catalog/default.toml), with the
    ids in ``enable`` turned on.

    In the e2e world every provider is the simulator, which serves every model: the
    ``providers = [...]`` lines are dropped (so each model is served by "runway" and
    "cometapi" alike), and each world keeps the file's ``enabled`` and overrides. So the
    runway-provider world has gen4_aleph (the first /restyle model, as for the simulator)
    beside gen4_turbo (the first /animate model)."""
    text = default_catalog_text()
    first = re.search(r"^\[\[models\]\]$", text, re.MULTILINE)  # not one named in a comment
    assert first is not None
    models = text[first.start() :]
    out: list[str] = []
    current = ""
    for line in models.splitlines():
        match = re.match(r'id = "([^"]+)"', line)
        if match:
            current = match.group(1)
        if line.strip() == "enabled = false" and current in enable:
            continue
        if line.startswith("providers = "):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def write_config(
    path: Path,
    *,
    fake_url: str,
    runway_url: str,
    database: Path,
    provider: str = "runway",
    default_limit: int | None = 200,
    owner_ids: Sequence[int] = (),
    max_active_jobs: int = 3,
    max_retries: int = 2,
    charge_moderation_failures: bool = False,
    extra_quota: str = "",
) -> Path:
    """A config.toml pointing the bot at the fake Discord and at the simulator."""
    limit = f"default_limit = {default_limit}\n" if default_limit is not None else ""
    gateway = fake_url.replace("http://", "ws://", 1) + "/gateway"
    path.write_text(
        f"""
[discord]
token = "{DEFAULT_TOKEN}"
owner_ids = {list(owner_ids)}
api_base = "{fake_url}/api/v10"
gateway_url = "{gateway}"

[runway]
provider = "{provider}"
base_url = "{runway_url}"
api_key = "{RUNWAY_KEY}"
max_retries = {max_retries}
max_concurrent_per_model = 4
task_not_exist_grace_seconds = 60

[storage]
path = "{database}"

[quota]
unit = "credits"
period = "day"
{limit}charge_moderation_failures = {str(charge_moderation_failures).lower()}
max_active_jobs_per_user = {max_active_jobs}
{extra_quota}

{catalog_toml(enable=("aleph2",))}
""",
        encoding="utf-8",
    )
    return path


def catalog_of(config: Path) -> tuple[ModelSpec, ...]:
    """The model catalog of a config file (the simulator serves the same models)."""
    return load_settings(config, environ={}).models


def command_payloads(config: Path) -> list[dict[str, Any]]:
    """The bot's commands, from ``runway-bot sync-commands --dry-run``."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "sync-commands", "--dry-run", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    payloads: list[dict[str, Any]] = json.loads(done.stdout)
    return payloads


# -- the bot as a subprocess --------------------------------------------------------------------


class BotProcess:
    """``runway-bot run`` in a child process, one log file per start, on ``clock``: every
    start carries on the same virtual time."""

    def __init__(self, config: Path, logdir: Path, clock: VirtualClock) -> None:
        self.config = config
        self.logdir = logdir
        self.clock = clock
        self.proc: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    @property
    def log(self) -> Path:
        return self.logs[-1]

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    async def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = self.logdir / f"bot-{len(self.logs) + 1}.log"
        self.logs.append(log)
        self._spawn(log)

        async def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"the bot exited with {self.proc.returncode}:\n{self.tail()}")
            return "connected as" in log.read_text(errors="replace")

        await wait_for(ready, "the bot to connect to the fake Discord", within=READY_WAIT)

    def _spawn(self, log: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name in ("DISCORD_TOKEN", "RUNWAY_API_KEY", "RUNWAY_BOT_DATABASE"):
            env.pop(name, None)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.e2e.runbot",
                    "--time-factor",
                    repr(self.clock.factor),
                    "--time-start",
                    repr(self.clock.start),
                    "--time-epoch",
                    repr(self.clock.epoch),
                    "--",
                    "--log-level",
                    "INFO",
                    "run",
                    "--config",
                    str(self.config),
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def tail(self, lines: int = 60) -> str:
        if not self.logs:
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as a crash or an OOM kill."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    async def stop(self) -> int | None:
        """SIGTERM and wait; the exit code (None if it was not running; SIGKILL if it hangs)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return None
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        return proc.returncode


# -- the database, read-only --------------------------------------------------------------------


FINAL_STATES = frozenset({"succeeded", "failed", "cancelled", "in_doubt"})


def job_is_settled(row: sqlite3.Row) -> bool:
    """A final state, its clip or notice posted (or given up), quota settled or refunded, and
    no step left for the worker (no due time, no lease, no pending remote cancel)."""
    return (
        row["state"] in FINAL_STATES
        and row["next_poll_at"] is None
        and row["lease_owner"] is None
        and not row["remote_cancel"]
        and row["quota_state"] != "reserved"
    )


class Db:
    """Read-only views of the bot's SQLite file (safe while the bot runs: WAL readers)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        try:
            conn.row_factory = sqlite3.Row
            return list(conn.execute(sql, params).fetchall())
        finally:
            conn.close()

    def job(self, job_id: int) -> sqlite3.Row:
        (row,) = self.rows("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return row

    def usage(self, guild_id: int, user_id: int) -> tuple[float, float]:
        """(used, reserved) this period for a user in a guild."""
        rows = self.rows(
            "SELECT COALESCE(SUM(used), 0), COALESCE(SUM(reserved), 0) FROM quota_usage"
            " WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        )
        return float(rows[0][0]), float(rows[0][1])

    def ledger(self, job_id: int) -> list[tuple[str, float]]:
        """The job's entries in the requester's quota (not the bot-wide credit counter)."""
        return [
            (r["entry"], float(r["amount"]))
            for r in self.rows(
                "SELECT entry, amount FROM usage_ledger WHERE job_id = ? AND user_id != 0"
                " ORDER BY id",
                (job_id,),
            )
        ]

    def drift(self) -> list[str]:
        """Every way the quota books disagree with the jobs (empty when they agree).

        Each job is reserved once, then settled or refunded exactly once when it ends; a
        user's ``used`` is the sum of their settlements (unless an admin reset it) and
        ``reserved`` the sum of their jobs still holding a reservation.
        """
        problems: list[str] = []
        for job in self.rows("SELECT * FROM jobs"):
            entries = [e for e, _ in self.ledger(job["id"])]
            active = job["state"] in ("queued", "submitting", "running")
            expected_state = {"reserved": ["reserve"]}.get(job["quota_state"])
            if entries[:1] != ["reserve"] or len(entries) > 2:
                problems.append(f"job {job['id']}: ledger {entries}")
            elif active != (len(entries) == 1) or (
                not active and entries[1] not in ("settle", "refund")
            ):
                problems.append(f"job {job['id']} ({job['state']}): ledger {entries}")
            elif expected_state is None and job["quota_state"] != {
                "settle": "settled",
                "refund": "refunded",
            }.get(entries[-1]):
                problems.append(f"job {job['id']}: quota_state {job['quota_state']} vs {entries}")
        for row in self.rows("SELECT * FROM quota_usage WHERE user_id != 0"):
            key = (row["guild_id"], row["user_id"], row["quota_key"])
            settled = self.rows(
                "SELECT COALESCE(SUM(amount), 0), COUNT(*) FROM usage_ledger WHERE guild_id = ?"
                " AND user_id = ? AND quota_key = ? AND entry = 'settle'",
                key,
            )[0]
            resets = self.rows(
                "SELECT COUNT(*) FROM usage_ledger WHERE guild_id = ? AND user_id = ?"
                " AND quota_key = ? AND entry = 'reset'",
                key,
            )[0][0]
            holding = self.rows(
                "SELECT COALESCE(SUM(quota_amount), 0) FROM jobs WHERE quota_guild = ?"
                " AND user_id = ? AND quota_key = ? AND quota_state = 'reserved'",
                key,
            )[0][0]
            if not resets and abs(float(row["used"]) - float(settled[0])) > 1e-6:
                problems.append(f"usage {key}: used {row['used']} but settled {settled[0]}")
            if abs(float(row["reserved"]) - float(holding)) > 1e-6:
                problems.append(f"usage {key}: reserved {row['reserved']} but jobs hold {holding}")
        return problems


# -- a place to work in, and the people in it ---------------------------------------------------


@dataclass
class Place:
    """A fresh guild with one text channel, its owner and some members."""

    guild_id: int
    channel_id: int
    owner_id: int
    members: list[int]


@dataclass
class Env:
    """One module's world: the fake, the simulator, the bot and its files."""

    fake: HoldingFakeDiscord
    ctl: FakeDiscordClient
    sim: RunwaySimulator
    bot: BotProcess
    db: Db
    config: Path
    workdir: Path
    creates: list[tuple[str, Any]] = field(default_factory=list)  # (path, JSON body) sent
    _counter: int = 0

    async def place(
        self,
        *,
        members: int = 2,
        premium_tier: int | None = None,
        upload_limit: int | None = None,
        roles: dict[str, int] | None = None,
    ) -> Place:
        """Create a guild with a channel and members; wait until the bot has seen it."""
        self._counter += 1
        n = self._counter
        guild = await self.ctl.create_guild(
            f"Guild {n}", premium_tier=premium_tier, upload_limit=upload_limit
        )
        gid = int(guild["id"])
        channel = await self.ctl.create_channel(gid, f"general-{n}")
        ids = []
        for i in range(members):
            user = await self.ctl.create_user(f"user{n}-{i}")
            await self.ctl.add_member(gid, int(user["id"]))
            ids.append(int(user["id"]))
        place = Place(gid, int(channel["id"]), int(guild["owner_id"]), ids)
        await self.barrier(place)
        return place

    async def barrier(self, place: Place) -> None:
        """An interaction round trip: the bot handles gateway events in order, so once it
        answers this, it has seen every guild/channel/member event sent before it."""
        await self.usage(place, place.owner_id)

    async def invoke(
        self,
        place: Place,
        user_id: int,
        name: str,
        options: dict[str, Any] | None = None,
        attachments: Sequence[tuple[str, bytes, str]] = (),
        *,
        attachment_options: Sequence[str] | None = None,
        channel_id: int | None = None,
    ) -> str:
        return await self.ctl.invoke_command(
            user_id,
            place.guild_id,
            channel_id or place.channel_id,
            name,
            options or {},
            attachments,
            attachment_options=attachment_options,
        )

    async def answer(self, interaction_id: str) -> Json:
        """The interaction once its final visible answer exists (a message or a followup)."""

        async def done() -> Json:
            data = await self.ctl.interaction(interaction_id)
            if not data.get("answered", data["acked"]):
                return None
            if data["callback_type"] == 5:  # deferred: wait for the followup
                return data if data["followups"] else None
            return data

        return await wait_for(done, f"an answer to interaction {interaction_id}")

    async def reply_text(self, interaction_id: str) -> str:
        """The text of the (ephemeral) answer: content plus embed text."""
        return message_text(last_message(await self.answer(interaction_id)))

    async def usage(self, place: Place, user_id: int) -> dict[str, str]:
        """/usage as the user sees it: the embed's fields by name."""
        iid = await self.invoke(place, user_id, "usage")
        data = await self.answer(iid)
        message = last_message(data)
        assert data["ephemeral"], data
        (embed,) = message["embeds"]
        return {f["name"]: f["value"] for f in embed.get("fields", [])}

    async def created(self) -> int:
        return self.sim.created_count

    async def settled(self, job_id: int) -> sqlite3.Row:
        """The job's row once the bot is done with it, as the bot itself records it.

        Read the ledger, the quota or the job's state only after this: what a user sees in
        Discord (a clip, a notice) lands before the bot's answer from Discord, and the bot
        records the delivery and settles the quota only once that answer reaches it.
        """

        async def done() -> sqlite3.Row | None:
            row = self.db.job(job_id)
            return row if job_is_settled(row) else None

        settled: sqlite3.Row = await wait_for(done, f"job #{job_id} to be settled by the bot")
        return settled


async def thread_of(env: Env, place: Place, job_id: int) -> Json:
    """The job's thread under the place's channel (named after the job)."""

    async def find() -> Json:
        for thread in await env.ctl.threads(place.channel_id):
            if f"Job #{job_id} " in thread["name"]:
                return thread
        return None

    return await wait_for(find, f"the thread of job #{job_id}")


async def clip_message(env: Env, channel_id: int) -> Json:
    """The bot's message carrying an .mp4 in a channel or thread."""

    async def find() -> Json:
        for message in await env.ctl.messages(channel_id):
            if any(a["filename"].endswith(".mp4") for a in message["attachments"]):
                return message
        return None

    return await wait_for(find, f"a clip in channel {channel_id}")


async def notice_message(env: Env, channel_id: int, job_id: int) -> Json:
    """The failure / cancellation / interruption notice of a job in a channel or thread."""

    async def find() -> Json:
        for message in await env.ctl.messages(channel_id):
            for embed in message.get("embeds") or []:
                if str(embed.get("title", "")).startswith(f"Job #{job_id} "):
                    return message
        return None

    return await wait_for(find, f"the notice of job #{job_id} in channel {channel_id}")


async def status_edits(env: Env, channel_id: int, message_id: int) -> list[str]:
    """Every edit of the status message the fake accepted, as text."""
    path = f"/channels/{channel_id}/messages/{message_id}"
    return [
        message_text(call["body"])
        for call in await env.ctl.calls()
        if call["method"] == "PATCH" and call["path"] == path and call["status"] == 200
    ]


async def status_text(env: Env, message_id: int) -> str:
    return message_text(await env.ctl.message(message_id))


async def public_messages(env: Env, channel_id: int) -> list[Json]:
    """Messages everyone in the channel sees (not the ephemeral answers)."""
    return [m for m in await env.ctl.messages(channel_id) if not int(m["flags"]) & EPHEMERAL]


def mentioned(message: Json) -> list[int]:
    return [int(u["id"]) for u in message["mentions"]]


EPHEMERAL = 1 << 6


def last_message(interaction: Json) -> Json:
    """The bot's visible answer to an interaction: the last followup, else the callback data."""
    if interaction["followups"]:
        return interaction["followups"][-1]
    if interaction["original_message"]:
        return interaction["original_message"]
    return (interaction["callback"] or {}).get("data") or {}


def message_text(message: Json) -> str:
    parts = [str(message.get("content") or "")]
    for embed in message.get("embeds") or []:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        for f in embed.get("fields") or []:
            parts.append(f"{f.get('name')}: {f.get('value')}")
    return "\n".join(p for p in parts if p)


def buttons(message: Json) -> dict[str, str]:
    """Button label -> custom_id on a message."""
    out: dict[str, str] = {}
    for row in message.get("components") or []:
        for item in row.get("components") or []:
            if item.get("type") == 2 and item.get("custom_id"):
                out[str(item.get("label"))] = str(item["custom_id"])
    return out


def job_id_in(text: str) -> int:
    match = re.search(r"Job #(\d+)", text)
    assert match, f"no job id in {text!r}"
    return int(match.group(1))


# -- media made by the tests --------------------------------------------------------------------


def png(
    width: int = 640, height: int = 360, colour: tuple[int, int, int] = (40, 120, 200)
) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    for x in range(0, width, 40):
        for y in range(height):
            image.putpixel((x, y), (255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def mp4(seconds: float, width: int = 160, height: int = 120, fps: int = 12) -> bytes:
    """A real H.264 MP4 clip of ``seconds`` seconds."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(round(seconds * fps)):
            img = Image.new("RGB", (width, height), ((i * 7) % 256, 80, 160))
            frame = av.VideoFrame.from_image(img)  # type: ignore[no-untyped-call]
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def huge_png_header(width: int = 100_000, height: int = 100_000) -> bytes:
    """A small PNG file that claims enormous dimensions (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@dataclass
class ClipInfo:
    width: int
    height: int
    seconds: float


def probe(data: bytes) -> ClipInfo:
    """Open a clip with PyAV: its frame size and duration."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        last = 0.0
        for frame in container.decode(stream):
            if frame.time is not None:
                last = max(last, float(frame.time))
        rate = float(stream.average_rate or 24)
        return ClipInfo(stream.codec_context.width, stream.codec_context.height, last + 1 / rate)
