"""Two bot processes, one PostgreSQL database, one fake Discord: each process serves one of two
shards and runs a worker. 20 members send 3 commands each; one process is killed with -9 while
clips are still rendering. The survivor takes the dead one's jobs over once their leases
expire: every clip is delivered exactly once, no create is sent twice, the quota books agree
with the jobs, and the per-model Runway limit held across both processes all along."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from bot.clock import VirtualClock
from bot.fakediscord import FakeDiscordClient
from bot.simulator import RunwaySimulator, SimulatorOptions
from tests.e2e.harness import (
    TIME_FACTOR,
    BotProcess,
    HoldingFakeDiscord,
    Place,
    catalog_of,
    job_id_in,
    last_message,
    message_text,
    png,
    wait_for,
    write_config,
)
from tests.e2e.multiprocess import CreateLog, PgDb, shard_of, with_postgres
from tests.pgcluster import Cluster, Unavailable, create_database

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

SHARDS = 2
MEMBERS = 20
GUILDS = 4  # two on each shard, five members each
COMMANDS = 3
LIMIT = 4  # max_concurrent_per_model in harness.write_config
TASK_SECONDS = 40.0  # virtual: long enough that the kill lands while clips still render


@pytest.fixture(scope="module")
def pg() -> Iterator[Cluster]:
    try:
        cluster = Cluster.start()
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server can be started: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


class World:
    """The fake, the simulator, the two bots and the shared database."""

    def __init__(
        self,
        fake: HoldingFakeDiscord,
        ctl: FakeDiscordClient,
        sim: RunwaySimulator,
        bots: list[BotProcess],
        db: PgDb,
        log: CreateLog,
    ) -> None:
        self.fake, self.ctl, self.sim, self.bots, self.db, self.log = fake, ctl, sim, bots, db, log


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    pg: Cluster, tmp_path_factory: pytest.TempPathFactory, commands: list[dict[str, Any]]
) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("multiprocess")
    url = await create_database(pg)  # empty: the two bots migrate it together, once
    clock = VirtualClock(TIME_FACTOR)
    fake = HoldingFakeDiscord()
    fake.settings.heartbeat_interval_ms = round(fake.settings.heartbeat_interval_ms / clock.factor)
    fake.limiter.time_factor = clock.factor
    await fake.start()
    ctl = FakeDiscordClient(fake.base_url)
    await ctl.register_commands(commands)
    probe = write_config(
        tmp / "probe.toml", fake_url=fake.base_url, runway_url="http://127.0.0.1:9",
        database=tmp / "unused.sqlite3",
    )  # fmt: skip
    sim = RunwaySimulator(
        SimulatorOptions(
            models=catalog_of(probe),
            task_seconds=TASK_SECONDS,
            pending_seconds=1.0,
            time_scale=clock.factor,
            concurrency=2 * LIMIT,  # Runway itself would take more: the bots must hold back
        )
    )
    log = CreateLog()
    log.attach(sim)
    sim_url = await sim.start()
    bots: list[BotProcess] = []
    for shard in range(SHARDS):
        home = tmp / f"bot{shard}"
        home.mkdir()
        config = write_config(
            home / "config.toml", fake_url=fake.base_url, runway_url=sim_url,
            database=home / "data" / "bot.sqlite3",
        )  # fmt: skip
        with_postgres(config, url, shard_ids=[shard], shard_count=SHARDS)
        bots.append(BotProcess(config, home, clock))
    db: PgDb | None = None
    try:
        await asyncio.gather(*(bot.start() for bot in bots))
        db = PgDb(url)
        yield World(fake, ctl, sim, bots, db, log)
    finally:
        fake.release_all()
        codes = [await bot.stop() for bot in bots]
        if db is not None:
            db.close()
        await ctl.close()
        await sim.stop()
        await fake.stop()
    assert all(code in (None, 0) for code in codes), codes
    assert fake.invalid == [], fake.invalid
    assert fake.errors == [], fake.errors


async def answered(world: World, iid: str) -> Any:
    """The interaction once its final answer exists (as ``harness.Env.answer``)."""

    async def done() -> Any:
        data = await world.ctl.interaction(iid)
        if not data.get("answered", data["acked"]):
            return None
        if data["callback_type"] == 5:
            return data if data["followups"] else None
        return data

    return await wait_for(done, f"an answer to interaction {iid}", within=120)


async def guilds_on_every_shard(world: World) -> list[Place]:
    """GUILDS guilds, as many on each shard, MEMBERS members among them; each has been seen
    by the bot that serves its shard."""
    per_shard = GUILDS // SHARDS
    members = MEMBERS // GUILDS
    places: list[Place] = []
    taken: dict[int, int] = dict.fromkeys(range(SHARDS), 0)
    n = 0
    while len(places) < GUILDS:
        n += 1
        guild = await world.ctl.create_guild(f"Guild {n}")
        gid = int(guild["id"])
        shard = shard_of(gid, SHARDS)
        if taken[shard] >= per_shard:
            continue  # a guild nobody uses: its shard has its share
        taken[shard] += 1
        channel = await world.ctl.create_channel(gid, f"general-{n}")
        ids = []
        for i in range(members):
            user = await world.ctl.create_user(f"user{n}-{i}")
            await world.ctl.add_member(gid, int(user["id"]))
            ids.append(int(user["id"]))
        places.append(Place(gid, int(channel["id"]), int(guild["owner_id"]), ids))
    for place in places:  # a round trip through the shard's bot: it has seen the guild
        iid = await world.ctl.invoke_command(
            place.owner_id, place.guild_id, place.channel_id, "usage", {}, []
        )
        await world.ctl.wait_for_response(iid, within=60)
    return places


async def test_two_processes_one_killed_every_clip_once(world: World) -> None:
    places = await guilds_on_every_shard(world)
    assert {shard_of(p.guild_id, SHARDS) for p in places} == set(range(SHARDS))
    image = png()
    invoked: list[tuple[Place, int, str]] = []
    for place in places:
        for user in place.members:
            for c in range(COMMANDS):
                iid = await world.ctl.invoke_command(
                    user, place.guild_id, place.channel_id, "animate",
                    {"prompt": f"member {user} clip {c}", "duration": 2, "ratio": "1280:720"},
                    [("me.png", image, "image/png")],
                )  # fmt: skip
                invoked.append((place, user, iid))
    jobs: dict[int, tuple[Place, int]] = {}
    for place, user, iid in invoked:
        summary = await world.ctl.wait_for_response(iid, within=120)
        assert summary["rejected"] == [], summary["rejected"]
        text = message_text(last_message(await answered(world, iid)))
        jobs[job_id_in(text)] = (place, user)
    assert len(jobs) == MEMBERS * COMMANDS

    # Kill the first bot once every status message is posted and it holds leases on jobs
    # being rendered (lease owners name their process id).
    victim = world.bots[0]
    assert victim.proc is not None
    mine = f"%:{victim.proc.pid}:%"

    async def mid_run() -> list[int]:
        rows = world.db.rows("SELECT COUNT(*) FROM jobs WHERE status_message_id IS NULL")
        if int(rows[0][0]) != 0:
            return []
        return [int(r[0]) for r in world.db.rows(
            "SELECT id FROM jobs WHERE lease_owner LIKE ? AND state IN ('submitting', 'running')",
            (mine,),
        )]  # fmt: skip

    await wait_for(mid_run, "the first bot to hold leases", within=180, interval=0.05)
    victim.kill()
    taken_over = [int(r[0]) for r in world.db.rows(
        "SELECT id FROM jobs WHERE lease_owner LIKE ?", (mine,)
    )]  # fmt: skip
    unfinished = world.db.rows("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")
    assert taken_over, "the killed bot held no lease"
    print(f"killed bot 0 holding {len(taken_over)} leases, {unfinished[0][0]} jobs unfinished")

    async def all_final() -> bool:
        rows = world.db.rows(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled',"
            " 'in_doubt') AND next_poll_at IS NULL AND lease_owner IS NULL"
            " AND quota_state != 'reserved'"
        )
        return int(rows[0][0]) == len(jobs)

    await wait_for(all_final, "every job to be finished by the survivor", within=400, interval=0.5)

    states = {int(r["id"]): str(r["state"]) for r in world.db.rows("SELECT id, state FROM jobs")}
    succeeded = [j for j, s in states.items() if s == "succeeded"]
    in_doubt = [j for j, s in states.items() if s == "in_doubt"]
    # Only a create the dead bot had in flight may be in doubt: it is never sent again.
    assert set(states.values()) <= {"succeeded", "in_doubt"}, states
    assert len(in_doubt) <= LIMIT, in_doubt
    assert world.log.double_creates == {}, world.log.double_creates
    prompts = {int(r["id"]): str(r["prompt"]) for r in world.db.rows("SELECT id, prompt FROM jobs")}
    assert [j for j in succeeded if world.log.prompts[prompts[j]] != 1] == []
    # An in-doubt create may or may not have reached Runway before the kill; never twice.
    assert sum(world.log.prompts.values()) <= len(jobs)
    assert world.log.peak and max(world.log.peak.values()) <= LIMIT, world.log.peak

    clips: dict[int, int] = dict.fromkeys(jobs, 0)
    for place in places:
        for thread in await world.ctl.threads(place.channel_id):
            job_id = int(thread["name"].split("#")[1].split(" ")[0])
            for m in await world.ctl.messages(int(thread["id"])):
                if any(a["filename"].endswith(".mp4") for a in m["attachments"]):
                    clips[job_id] += 1
                    assert [int(u["id"]) for u in m["mentions"]] == [jobs[job_id][1]]
    assert {j: n for j, n in clips.items() if n != (1 if j in succeeded else 0)} == {}

    assert set(taken_over) <= set(succeeded) | set(in_doubt)
    assert world.db.drift() == [], "the quota books drifted"
    for user, place in {u: p for p, u in jobs.values()}.items():
        theirs = [j for j, (_, u) in jobs.items() if u == user]
        charged = sum(
            float(world.db.job(j)["charged_credits"] or 0) for j in theirs if j in succeeded
        )
        used, reserved = world.db.usage(place.guild_id, user)
        assert (used, reserved) == (charged, 0.0), (user, used, reserved, charged)
    survivor = world.bots[1].log_text()
    assert "Traceback" not in survivor, survivor[-3000:]
    print(
        f"{len(succeeded)} clips delivered once each ({len(taken_over)} taken over),"
        f" {len(in_doubt)} in doubt, peak unfinished tasks per model {world.log.peak}"
    )
