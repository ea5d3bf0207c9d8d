"""The soak's world: the fake Discord and the simulator in this process, the bot as a child
process on the virtual clock, the members acting, and kill -9 in the known windows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.clock import VirtualClock
from bot.fakediscord import FakeDiscordClient
from bot.fakediscord.client import ControlError
from bot.simulator import RunwaySimulator, SimulatorOptions
from tests.e2e.harness import (
    BotProcess,
    Db,
    Hold,
    HoldingFakeDiscord,
    catalog_of,
    command_payloads,
    job_is_settled,
    mp4,
    png,
    write_config,
)

CREATE_PATHS = ("/v1/image_to_video", "/v1/video_to_video")
TAG = re.compile(r"\bt(\d+)q\b")
ACK_WINDOW_S = 3.0  # Discord's (and the fake's) window for the first answer to an interaction
WINDOW_WAIT_S = 25.0  # how long a window kill waits for the bot to reach the held call
ANSWER_WAIT_S = 12.0  # how long an actor waits for an answer before moving on
# The bot's permissions in each guild's second channel: it may talk, not attach or open threads.
VIEW, SEND, EMBED, HISTORY = 1 << 10, 1 << 11, 1 << 14, 1 << 16
NO_FILES = VIEW | SEND | EMBED | HISTORY


@dataclass
class Place:
    guild_id: int
    channel_id: int
    bare_channel_id: int  # the bot may not attach files or open threads here
    owner_id: int
    members: list[int]


@dataclass
class Sent:
    """One interaction the soak sent: when (real monotonic), by whom, what."""

    iid: int
    what: str
    user_id: int
    before: float
    after: float


@dataclass
class Life:
    """One start of the bot: spawned, connected (None if killed at boot), killed."""

    spawned: float
    connected: float | None = None
    killed: float | None = None
    window: str = ""
    recovery_s: float | None = None  # spawn to the first answered interaction


class SimHold:
    """Holds the next create request at the simulator (before it is handled)."""

    def __init__(self) -> None:
        self.armed = False
        self.proceed = True  # on release: handle it (the task is created) or drop it
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    def arm(self, proceed: bool) -> None:
        self.armed, self.proceed = True, proceed
        self.reached, self.release = asyncio.Event(), asyncio.Event()


@dataclass
class World:
    fake: HoldingFakeDiscord
    ctl: FakeDiscordClient
    sim: RunwaySimulator
    bot: BotProcess
    db: Db
    clock: VirtualClock
    workdir: Path
    provider: str
    places: list[Place]
    image: bytes
    video: bytes
    sim_hold: SimHold
    creates_by_tag: Counter[int] = field(default_factory=Counter)  # 200 answers to a create
    create_requests_by_tag: Counter[int] = field(default_factory=Counter)
    sent: list[Sent] = field(default_factory=list)
    lives: list[Life] = field(default_factory=list)
    actions: Counter[str] = field(default_factory=Counter)
    window_misses: Counter[str] = field(default_factory=Counter)
    start_failures: list[str] = field(default_factory=list)
    tags: int = 0
    bot_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # -- the bot's lives ---------------------------------------------------------------------

    @property
    def up(self) -> bool:
        proc = self.bot.proc
        return proc is not None and proc.poll() is None and bool(self.lives)

    async def start_bot(self) -> None:
        """Start the bot, wait until it is connected, then measure its first answer."""
        life = Life(spawned=time.monotonic())
        self.lives.append(life)
        await self.bot.start()
        life.connected = time.monotonic()
        place = self.places[0]
        while life.killed is None and life.recovery_s is None:
            iid = await self.invoke(place, place.owner_id, "usage", {}, what="probe")
            if iid is not None and await self.acked(iid, 4.0):
                life.recovery_s = time.monotonic() - life.spawned
                return
            if time.monotonic() - life.spawned > 120:
                return
            if iid is None:
                await asyncio.sleep(0.5)

    async def restart_bot(self) -> None:
        """Start the bot again; a start that fails is recorded and tried again (3 times)."""
        for _ in range(3):
            try:
                await self.start_bot()
                return
            except AssertionError as exc:
                self.start_failures.append(str(exc)[-500:])
                self.kill_bot("failed-start")
        raise RuntimeError(f"the bot would not start: {self.start_failures[-1]}")

    def kill_bot(self, window: str) -> None:
        if self.bot.proc is not None and self.bot.proc.poll() is None:
            self.bot.kill()
        life = self.lives[-1]
        life.killed, life.window = time.monotonic(), window

    async def kill_in_window(self, window: str, rng: random.Random) -> None:
        """Kill the bot in ``window`` (holding the call that marks it), then start it again."""
        async with self.bot_lock:
            if window == "boot":
                self.kill_bot("random")  # the first kill; the boot kill follows
                life = Life(spawned=time.monotonic())
                self.lives.append(life)
                starting = asyncio.create_task(self.bot.start())
                await asyncio.sleep(rng.uniform(0.2, 2.5))
                self.kill_bot("boot")
                with contextlib.suppress(AssertionError):
                    await starting
                await self.restart_bot()
                return
            hold = self._arm(window, rng)
            reached = True
            if hold is not None:
                try:
                    await asyncio.wait_for(hold.wait(), WINDOW_WAIT_S)
                except TimeoutError:
                    reached = False
                    self.window_misses[window] += 1
            self.kill_bot(window if reached else f"{window}-missed")
            self._disarm()
            await self.restart_bot()

    def _arm(self, window: str, rng: random.Random) -> _Waiter | None:
        main = "|".join(str(p.channel_id) for p in self.places)
        if window == "create":
            self.sim_hold.arm(proceed=rng.random() < 0.5)
            return _Waiter(self.sim_hold.reached)
        after = rng.random() < 0.5
        if window == "status_post":
            hold = self.fake.hold("POST", rf"/channels/({main})/messages", after=after)
        elif window == "ack":
            hold = self.fake.hold("POST", r"/interactions/\d+/[^/]+/callback", after=after)
        elif window == "upload":
            hold = self.fake.hold("POST", rf"/channels/(?!(?:{main})/)\d+/messages", after=after)
        else:
            return None
        return _Waiter(hold.reached)

    def _disarm(self) -> None:
        self.sim_hold.armed = False
        self.sim_hold.release.set()
        self.fake.release_all()

    # -- interactions ------------------------------------------------------------------------

    async def invoke(
        self,
        place: Place,
        user_id: int,
        name: str,
        options: dict[str, Any],
        attachments: list[tuple[str, bytes, str]] | None = None,
        *,
        channel_id: int | None = None,
        what: str = "",
    ) -> int | None:
        before = time.monotonic()
        try:
            iid = await self.ctl.invoke_command(
                user_id,
                place.guild_id,
                channel_id or place.channel_id,
                name,
                options,
                attachments or [],
            )
        except ControlError:
            return None
        self.sent.append(Sent(int(iid), what or name, user_id, before, time.monotonic()))
        return int(iid)

    async def sent_by(self, what: str, user_id: int, call: Any) -> int | None:
        """Send an interaction through ``call`` (a coroutine returning its id) and record it."""
        before = time.monotonic()
        try:
            iid = int(await call)
        except (ControlError, TimeoutError):
            return None
        self.sent.append(Sent(iid, what, user_id, before, time.monotonic()))
        return iid

    async def acked(self, iid: int, within: float) -> bool:
        interaction = self.fake.world.interactions.get(iid)
        if interaction is None:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(interaction.answered.wait(), within)
        return interaction.answered.is_set()

    def new_prompt(self, rng: random.Random) -> str:
        self.tags += 1
        words = rng.sample(PROMPT_WORDS, 3)
        return " ".join([f"t{self.tags}q", *words, *directives(rng, self.provider)])

    # -- what members do ---------------------------------------------------------------------

    async def members_act(self, rng: random.Random, until: float, options: Any) -> None:
        """Actions at ``actions_per_second`` over all members, each by a random member."""
        running: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(24)

        def done(task: asyncio.Task[None]) -> None:
            running.discard(task)
            slots.release()

        while time.monotonic() < until:
            await asyncio.sleep(rng.expovariate(options.actions_per_second))
            await slots.acquire()
            task = asyncio.create_task(self._act(random.Random(rng.random())))
            running.add(task)
            task.add_done_callback(done)
        await asyncio.gather(*running, return_exceptions=True)

    async def _act(self, rng: random.Random) -> None:
        place = rng.choice(self.places)
        user = rng.choice(place.members)
        roll = rng.random()
        try:
            if roll < 0.40:
                await self._animate(place, user, rng)
            elif roll < 0.50:
                await self._restyle(place, user, rng)
            elif roll < 0.60:
                await self._menu(place, user, rng)
            elif roll < 0.88:
                await self._press(place, user, rng)
            elif roll < 0.94:
                self.actions["usage/jobs"] += 1
                await self.invoke(place, user, rng.choice(["usage", "jobs"]), {})
            else:
                await self._admin(place, rng)
        except (ControlError, TimeoutError, KeyError, ValueError) as exc:
            self.actions[f"error:{type(exc).__name__}"] += 1

    async def _animate(self, place: Place, user: int, rng: random.Random) -> None:
        bare = rng.random() < 0.05
        self.actions["animate-bare-channel" if bare else "animate"] += 1
        options = {
            "prompt": self.new_prompt(rng),
            "duration": rng.choice([2, 2, 5]),
            "ratio": "1280:720",
        }
        await self.invoke(
            place,
            user,
            "animate",
            options,
            [("still.png", self.image, "image/png")],
            channel_id=place.bare_channel_id if bare else None,
        )

    async def _restyle(self, place: Place, user: int, rng: random.Random) -> None:
        self.actions["restyle"] += 1
        await self.invoke(
            place,
            user,
            "restyle",
            {"prompt": self.new_prompt(rng)},
            [("walk.mp4", self.video, "video/mp4")],
        )

    async def _menu(self, place: Place, user: int, rng: random.Random) -> None:
        self.actions["menu"] += 1
        author = rng.choice(place.members)
        posted = await self.ctl.post_message(
            place.channel_id, author, "look", [("pic.png", self.image, "image/png")]
        )
        iid = await self.sent_by(
            "menu",
            user,
            self.ctl.message_command(user, "Animate this image", int(posted["id"])),
        )
        if iid is None or not await self.acked(iid, ANSWER_WAIT_S):
            return
        if self.fake.world.interactions[iid].callback_type != 9:
            return
        await self.sent_by(
            "modal",
            user,
            self.ctl.submit_modal(iid, {"prompt": self.new_prompt(rng)}, user_id=user),
        )

    async def _press(self, place: Place, user: int, rng: random.Random) -> None:
        """Press Cancel, Rerun or Retry on a message in the place: mostly one's own job's."""
        own = rng.random() < 0.75
        choices: list[tuple[int, str]] = []
        for message in list(self.fake.world.messages.values()):
            if message.get("guild_id") not in (None, str(place.guild_id)):
                continue
            for row in message.get("components") or []:
                for item in row.get("components") or []:
                    custom = str(item.get("custom_id") or "")
                    match = re.fullmatch(r"rw:(cancel|rerun|retry):(\d+)", custom)
                    if match:
                        choices.append((int(message["id"]), custom))
        if not choices:
            return
        owners = self._owners([int(c.rsplit(":", 1)[1]) for _, c in choices])
        mine = [c for c in choices if owners.get(int(c[1].rsplit(":", 1)[1])) == user]
        pick = rng.choice(mine if own and mine else choices)
        action = pick[1].split(":")[1]
        presser = user
        if own and not mine:
            job = int(pick[1].rsplit(":", 1)[1])
            presser = owners.get(job, user)
        self.actions[f"press-{action}"] += 1
        await self.sent_by(
            f"press-{action}", presser, self.ctl.press_button(presser, pick[0], pick[1])
        )

    def _owners(self, job_ids: list[int]) -> dict[int, int]:
        if not job_ids:
            return {}
        marks = ",".join("?" * len(job_ids))
        rows = self.db.rows(f"SELECT id, user_id FROM jobs WHERE id IN ({marks})", job_ids)
        return {int(r["id"]): int(r["user_id"]) for r in rows}

    async def _admin(self, place: Place, rng: random.Random) -> None:
        member = rng.choice(place.members)
        if rng.random() < 0.5:
            self.actions["quota-set"] += 1
            limit = rng.choice(["60", "150", "400", "unlimited"])
            await self.invoke(
                place, place.owner_id, "quota set", {"user": str(member), "limit": limit}
            )
        else:
            self.actions["quota-grant"] += 1
            await self.invoke(
                place, place.owner_id, "quota grant", {"user": str(member), "amount": 20}
            )

    # -- the end -----------------------------------------------------------------------------

    async def drain(self, bound: float) -> dict[str, Any]:
        """Make sure the bot is up with no holds, then wait (up to ``bound`` s) until every
        job is settled. Returns what the drain saw."""
        self._disarm()
        async with self.bot_lock:
            if not self.up:
                await self.restart_bot()
        started = time.monotonic()
        unsettled: list[int] = []
        while time.monotonic() - started < bound:
            rows = self.db.rows("SELECT * FROM jobs")
            unsettled = [int(r["id"]) for r in rows if not job_is_settled(r)]
            if not unsettled and not self.fake.world.unanswered:
                break
            await asyncio.sleep(1.0)
        await asyncio.sleep(2.0)  # answers already written reach the bot's books
        return {"seconds": round(time.monotonic() - started, 1), "unsettled_at_end": unsettled}

    async def close(self) -> None:
        self._disarm()
        if self.lives and self.lives[-1].killed is None:
            self.lives[-1].killed = time.monotonic()
        await self.bot.stop()
        await self.ctl.close()
        await self.sim.stop()
        await self.fake.stop()


class _Waiter:
    def __init__(self, event: asyncio.Event) -> None:
        self.event = event

    async def wait(self) -> None:
        await self.event.wait()


PROMPT_WORDS = [
    "a harbour at dawn",
    "boats bobbing",
    "slow pan",
    "a cat on a wall",
    "rain on glass",
    "city lights",
    "a fox in snow",
    "waves breaking",
    "a lantern",
    "clouds rolling",
    "a dancer",
    "leaves falling",
]


def directives(rng: random.Random, provider: str) -> list[str]:
    """The simulator's per-task directives: failures, throttling, and gateway dialects."""
    out: list[str] = []
    roll = rng.random()
    if roll < 0.07:
        out.append("[sim:fail=SAFETY.INPUT.TEXT]")  # moderation
    elif roll < 0.10:
        out.append("[sim:fail=SAFETY.OUTPUT.VIDEO]")
    elif roll < 0.13:
        out.append("[sim:fail=INTERNAL.BAD_OUTPUT.CODE01]")
    elif roll < 0.16:
        out.append("[sim:cancel]")
    elif roll < 0.21:
        out.append(f"[sim:throttle={rng.choice([20, 60])}]")
    if rng.random() < 0.25:  # the gateway's create answers; Runway's own two otherwise
        shapes = ["id", "id_cost"]
        if provider == "cometapi":
            shapes += ["task_id", "openai_video", "envelope_str", "envelope_obj", "empty"]
        out.append(f"[sim:create={rng.choice(shapes)}]")
    if provider == "cometapi":
        roll = rng.random()
        if roll < 0.05:
            out.append(f"[sim:inner={rng.choice(['null', 'stale'])}]")
        elif roll < 0.15:
            out.append(f"[sim:url={rng.choice(['result_url', 'fail_reason', 'gateway'])}]")
        elif roll < 0.20:
            out.append(f"[sim:flicker={rng.choice([1, 2])}]")
        elif roll < 0.23:
            out.append("[sim:sweep]")
    return out


def _recording_middleware(world_ref: list[World]) -> Any:
    """Count creates per prompt tag (requests and 200 answers); hold one when armed."""

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method != "POST" or request.path not in CREATE_PATHS or not world_ref:
            response: web.StreamResponse = await handler(request)
            return response
        world = world_ref[0]
        tag = None
        with contextlib.suppress(ValueError, AttributeError):
            body = await request.json()
            match = TAG.search(str(body.get("promptText", "")))
            tag = int(match.group(1)) if match else None
        if tag is not None:
            world.create_requests_by_tag[tag] += 1
        hold = world.sim_hold
        if hold.armed:
            hold.armed = False
            hold.reached.set()
            await hold.release.wait()
            if not hold.proceed:
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=499)
        response = await handler(request)
        if tag is not None and response.status == 200:
            world.creates_by_tag[tag] += 1
        return response

    return record


async def build_world(
    workdir: Path, *, members: int, factor: float, provider: str, seed: int
) -> World:
    """The fake, the simulator and the bot, three guilds and ``members`` members."""
    clock = VirtualClock(factor)
    fake = HoldingFakeDiscord()
    fake.settings.heartbeat_interval_ms = round(fake.settings.heartbeat_interval_ms / factor)
    fake.limiter.time_factor = factor
    await fake.start()
    ctl = FakeDiscordClient(fake.base_url)
    database = workdir / "data" / "bot.sqlite3"
    config = workdir / "config.toml"
    write_config(config, fake_url=fake.base_url, runway_url="http://127.0.0.1:9", database=database)
    await ctl.register_commands(await asyncio.to_thread(command_payloads, config))
    sim = RunwaySimulator(
        SimulatorOptions(
            provider="cometapi" if provider == "cometapi" else "runway",
            models=catalog_of(config),
            task_seconds=20.0,
            pending_seconds=2.0,
            time_scale=factor,
            concurrency=6,
            task_not_exist_seconds=3.0,
            reuse_clips=True,
        )
    )
    world_ref: list[World] = []
    sim.app.middlewares.insert(0, _recording_middleware(world_ref))
    url = await sim.start()
    write_config(
        config,
        fake_url=fake.base_url,
        runway_url=url,
        database=database,
        provider=provider,
        default_limit=300,
        max_active_jobs=3,
    )
    places: list[Place] = []
    per_guild = max(2, members // 3)
    for g in range(3):
        guild = await ctl.create_guild(f"Soak {g + 1}")
        gid = int(guild["id"])
        channel = await ctl.create_channel(gid, f"studio-{g + 1}")
        bare = await ctl.create_channel(gid, f"no-files-{g + 1}", bot_permissions=NO_FILES)
        ids = []
        for i in range(per_guild):
            user = await ctl.create_user(f"m{g}-{i}")
            await ctl.add_member(gid, int(user["id"]))
            ids.append(int(user["id"]))
        places.append(Place(gid, int(channel["id"]), int(bare["id"]), int(guild["owner_id"]), ids))
    world = World(
        fake=fake,
        ctl=ctl,
        sim=sim,
        bot=BotProcess(config, workdir, clock),
        db=Db(database),
        clock=clock,
        workdir=workdir,
        provider=provider,
        places=places,
        image=png(),
        video=mp4(2.0, 320, 240),
        sim_hold=SimHold(),
    )
    world_ref.append(world)
    (workdir / "world.json").write_text(
        json.dumps({"seed": seed, "places": [vars(p) for p in places]}), encoding="utf-8"
    )
    await world.start_bot()
    return world


__all__ = ["Hold", "Life", "Place", "Sent", "World", "build_world"]
