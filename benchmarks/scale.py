"""Scale: a scheduler tick and a command's store reads with 1k, 10k and 100k jobs in the store.

Every size holds the SAME live set (50 queued, 40 running, 3 clips and 4 notices due for
delivery, 2 remote cancels due) on top of a history of finished, delivered jobs (mixed final
states, ages over 180 days, a Zipf-like spread of 3,000 users over 25 guilds, one heavy user
with 2 % of all jobs, 4 models), with their ledger entries, quota counters and the inputs of
the last 7 days. So a tick does the same work at every size: only the history grows.

A tick is a real ``Worker.run_once()`` plus the steps it starts (submits, polls, remote
cancels, deliveries), with a Runway client and a delivery port that answer at once without
any network: what is measured is the store's cost. Before every tick the database is
restored to the seeded state (SQLite backup API into the open connection, page cache warm),
so every tick starts from the same live set. Measured per size: median wall time of N
ticks, the SQL statements one tick runs (``set_trace_callback``), the SQLite VM instructions
they execute (a progress handler: a size-independent proxy for rows visited) and
``EXPLAIN QUERY PLAN`` of every distinct statement (a full ``SCAN`` of ``jobs`` fails the
run); and the reads of a command: /jobs (list and active), /usage (quota status), a queue
position, a create (active-job limit, fair sequence, quota reservation) and a metrics
scrape (queue stats).

Exit 1 if a tick statement scans a table, or a tick's statement count differs between
sizes. Target (reported, not asserted): tick time at 100k within 1.5x of 1k.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as c

from bot.config import QuotaPeriod, Settings
from bot.jobs import JobService
from bot.quota import QuotaService, period_window
from bot.runway.client import RunwayClient
from bot.runway.models import ImageToVideoRequest, Task, TaskStatus, VideoToVideoRequest
from bot.simulator.clipmaker import image_to_video_clip
from bot.store import seed
from bot.store.db import SqliteStore
from bot.worker import Worker

NOW = 1_796_000_000.0  # fixed "now" (2026-11-30): every tick runs at the same instant
DAY = 86_400.0
HISTORY_DAYS = 180
MODELS = ("gen4_turbo", "gen4.5", "gen3a_turbo", "veo3.1_fast")
MODEL_WEIGHTS = (55, 25, 12, 8)
LIVE_MODELS = ("gen4_turbo", "gen4.5")
RUNNING, QUEUED = 40, 50
CONCURRENCY = 22  # per live model: 20 running + 1 cancel pending each, so 1 submit per model
USERS, GUILDS, HEAVY_USER = 3_000, 25, 1
OWNER = "bench-worker"
CACHE_KIB = 256 * 1024  # holds the whole 100k-job database (about 70 MiB)
VM_STEP = 10  # the progress handler's granularity (SQLite VM instructions)
SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (600, 3_000)

JOB_COLUMNS = (
    "kind",
    "state",
    "user_id",
    "guild_id",
    "channel_id",
    "status_message_id",
    "prompt",
    "model",
    "ratio",
    "duration",
    "input_summary",
    "fair_seq",
    "provider_task_id",
    "provider_status",
    "progress",
    "estimated_credits",
    "charged_credits",
    "quota_key",
    "quota_guild",
    "quota_amount",
    "cap_key",
    "quota_state",
    "attempts",
    "created_at",
    "updated_at",
    "submit_after",
    "submitted_at",
    "finished_at",
    "last_polled_at",
    "next_poll_at",
    "lease_owner",
    "lease_expires_at",
    "remote_cancel",
    "output_url",
    "error_code",
    "error_text",
    "delivered_message_id",
    "delivered_at",
    "inputs_purged_at",
)
INPUT_COLUMNS = ("job_id", "position", "role", "mime", "filename", "width", "height", "data")
LEDGER_COLUMNS = ("guild_id", "user_id", "quota_key", "entry", "amount", "job_id", "created_at")
USAGE_COLUMNS = ("guild_id", "user_id", "quota_key", "used", "reserved", "bonus")


# -- the offline Runway client: answers at once, no network ----------------------------------


class OfflineRunway(RunwayClient):
    """The real client class with every call answered locally (creates, polls, cancels,
    downloads of a small real clip), so a tick's cost is the store's and the steps' own."""

    def __init__(self, clip: bytes) -> None:
        super().__init__(base_url="http://127.0.0.1:9", api_key=c.SIM_KEY, provider="simulator")
        self._clip = clip
        self._created = 0
        self.calls: Counter[str] = Counter()

    async def create_image_to_video(self, request: ImageToVideoRequest) -> str:
        self.calls["create"] += 1
        self._created += 1
        return f"offline-new-{self._created}"

    async def create_video_to_video(self, request: VideoToVideoRequest) -> str:
        return await self.create_image_to_video(request)  # type: ignore[arg-type]

    async def get_task(self, task_id: str) -> Task:
        self.calls["get"] += 1
        return Task(id=task_id, status=TaskStatus.RUNNING, progress=0.4)

    async def cancel_task(self, task_id: str) -> None:
        self.calls["cancel"] += 1

    async def upload_ephemeral(self, filename: str, data: bytes, content_type: str) -> str:
        self.calls["upload"] += 1
        return "runway://offline/upload"

    async def download(self, url: str, dest: Path, *, max_bytes: int) -> int:
        self.calls["download"] += 1
        await asyncio.to_thread(dest.write_bytes, self._clip)
        return len(self._clip)


# -- the seeded tables ----------------------------------------------------------------------


def _key(ts: float) -> str:
    return "credits:day:" + period_window(QuotaPeriod.DAY, datetime.fromtimestamp(ts, UTC))[0]


def _user(rng: random.Random) -> int:
    if rng.random() < 0.02:
        return HEAVY_USER
    return 2 + int(USERS * rng.random() ** 3)  # a few very active members, a long tail


def _job(**values: Any) -> tuple[Any, ...]:
    base: dict[str, Any] = dict.fromkeys(JOB_COLUMNS)
    base.update(
        kind="animate",
        channel_id=55,
        prompt="a calm sea at dawn",
        ratio="1280:720",
        duration=5,
        input_summary="image 64x64",
        fair_seq=0,
        estimated_credits=25.0,
        quota_guild=0,
        quota_amount=25.0,
        quota_state="reserved",
        attempts=0,
        remote_cancel=0,
    )
    base.update(values)
    return tuple(base[k] for k in JOB_COLUMNS)


def _history_row(i: int, count: int, rng: random.Random) -> tuple[tuple[Any, ...], bool]:
    """One finished, delivered job; second value: whether its inputs are still kept."""
    created = NOW - HISTORY_DAYS * DAY * (1 - i / count) - 600
    finished = created + rng.uniform(40, 400)
    user = _user(rng)
    guild = 1000 + user % GUILDS
    roll = rng.random()
    state, code, charged, qstate, output = "succeeded", None, 25.0, "settled", None
    if roll < 0.10:
        state, charged, qstate = "failed", 0.0, "refunded"
        code = rng.choice(("moderation", "internal", "download_failed", "bad_output", "auth"))
    elif roll < 0.16:
        state, code, charged, qstate = "cancelled", None, 0.0, "refunded"
    elif roll < 0.18:
        state, code, charged, qstate = "in_doubt", "in_doubt", 0.0, "refunded"
    else:
        output = f"https://dnznrvs05pmza.cloudfront.net/out/{i}.mp4?_jwt=x"
    kept = finished > NOW - 7 * DAY
    row = _job(
        state=state,
        user_id=user,
        guild_id=guild,
        status_message_id=10_000_000 + i,
        model=rng.choices(MODELS, MODEL_WEIGHTS)[0],
        duration=rng.choice((5, 10)),
        provider_task_id=f"hist-{i}",
        provider_status=state.upper(),
        progress=1.0,
        charged_credits=charged,
        quota_key=_key(created),
        quota_guild=guild,
        cap_key=_key(created),
        quota_state=qstate,
        attempts=1,
        created_at=created,
        updated_at=finished + 2,
        submitted_at=created + 1,
        finished_at=finished,
        last_polled_at=finished,
        output_url=output,
        error_code=code,
        error_text=None if code is None else "a reason",
        delivered_message_id=20_000_000 + i,
        delivered_at=finished + 2,
        inputs_purged_at=None if kept else finished + 7 * DAY,
    )
    return row, kept


def _live_rows(rng: random.Random) -> list[tuple[tuple[Any, ...], bool]]:
    """The live set, identical at every size (its own seeded generator)."""
    rows: list[tuple[tuple[Any, ...], bool]] = []
    seqs: Counter[tuple[int, str]] = Counter()
    for n in range(QUEUED):
        user, model = 100 + n % 12, LIVE_MODELS[n % 2]
        seq = seqs[(user, model)]
        seqs[(user, model)] += 1
        backoff = NOW + 90 if n % 17 == 5 else None
        rows.append(
            (
                _job(
                    state="queued",
                    user_id=user,
                    guild_id=1000 + user % GUILDS,
                    model=model,
                    fair_seq=seq,
                    quota_key=_key(NOW),
                    cap_key=_key(NOW),
                    quota_guild=1000 + user % GUILDS,
                    created_at=NOW - 600 + n,
                    updated_at=NOW - 600 + n,
                    submit_after=backoff,
                ),
                True,
            )
        )
    for n in range(RUNNING):
        due = n % 5 == 0  # 8 polls due this tick, the rest later
        leased = n % 13 == 1  # held by another live worker
        rows.append(
            (
                _job(
                    state="running",
                    user_id=200 + n,
                    guild_id=1000 + n % GUILDS,
                    model=LIVE_MODELS[n % 2],
                    provider_task_id=f"live-{n}",
                    provider_status="RUNNING",
                    progress=0.2,
                    quota_key=_key(NOW),
                    cap_key=_key(NOW),
                    attempts=1,
                    created_at=NOW - 400,
                    updated_at=NOW - 20,
                    submitted_at=NOW - 300,
                    last_polled_at=NOW - 20,
                    next_poll_at=NOW - 1 - n * 0.01 if due else NOW + 5 + n,
                    lease_owner="other" if leased else None,
                    lease_expires_at=NOW + 60 if leased else None,
                ),
                True,
            )
        )
    notices = (
        ("failed", "moderation"),
        ("failed", "internal"),
        ("in_doubt", "in_doubt"),
        ("cancelled", None),
    )
    for n in range(3):  # clips due for delivery
        rows.append(
            (
                _job(
                    state="succeeded",
                    user_id=300 + n,
                    guild_id=1000,
                    model="gen4_turbo",
                    provider_task_id=f"done-{n}",
                    provider_status="SUCCEEDED",
                    progress=1.0,
                    charged_credits=25.0,
                    quota_key=_key(NOW),
                    cap_key=_key(NOW),
                    created_at=NOW - 300,
                    updated_at=NOW - 3,
                    finished_at=NOW - 3,
                    next_poll_at=NOW - 2,
                    output_url=f"https://dnznrvs05pmza.cloudfront.net/live/{n}.mp4",
                ),
                True,
            )
        )
    for n, (state, code) in enumerate(notices):  # failure / cancel / in-doubt notices due
        rows.append(
            (
                _job(
                    state=state,
                    user_id=310 + n,
                    guild_id=1000,
                    model="gen4_turbo",
                    quota_state="refunded",
                    quota_key=_key(NOW),
                    cap_key=_key(NOW),
                    created_at=NOW - 300,
                    updated_at=NOW - 3,
                    finished_at=NOW - 3,
                    next_poll_at=NOW - 2,
                    error_code=code,
                    error_text="a reason",
                ),
                True,
            )
        )
    for n in range(2):  # cancelled by the member while at Runway: DELETE due
        rows.append(
            (
                _job(
                    state="cancelled",
                    user_id=320 + n,
                    guild_id=1000,
                    model=LIVE_MODELS[n],
                    provider_task_id=f"cancel-{n}",
                    quota_state="refunded",
                    quota_key=_key(NOW),
                    cap_key=_key(NOW),
                    created_at=NOW - 300,
                    updated_at=NOW - 3,
                    finished_at=NOW - 3,
                    next_poll_at=NOW - 2,
                    remote_cancel=1,
                ),
                True,
            )
        )
    rng.shuffle(rows)
    return rows


async def fill(store: SqliteStore, count: int, image: bytes) -> dict[str, Any]:
    """Seed ``count`` jobs (history + the live set) with ledger, counters and inputs."""
    hist_rng, live_rng = random.Random(20261202), random.Random(7)
    live = _live_rows(live_rng)
    history = [_history_row(i, count - len(live), hist_rng) for i in range(count - len(live))]
    rows = history + live  # ids grow with age; the live set is the newest
    jobs = [r for r, _ in rows]
    inputs, ledger = [], []
    usage: dict[tuple[int, int, str], float] = defaultdict(float)
    col = {k: i for i, k in enumerate(JOB_COLUMNS)}
    for job_id, (row, kept) in enumerate(rows, start=1):
        if kept:
            inputs.append((job_id, 0, "image", "image/png", "in.png", 64, 64, image))
        guild, user, key = row[col["quota_guild"]], row[col["user_id"]], row[col["quota_key"]]
        created = row[col["created_at"]]
        ledger.append((guild, user, key, "reserve", 25.0, job_id, created))
        ledger.append((-1, 0, key, "reserve", 25.0, job_id, created))
        if row[col["quota_state"]] != "reserved":
            entry = "settle" if row[col["quota_state"]] == "settled" else "refund"
            ledger.append((guild, user, key, entry, 25.0, job_id, row[col["finished_at"]]))
            ledger.append((-1, 0, key, entry, 25.0, job_id, row[col["finished_at"]]))
        usage[(guild, user, key)] += row[col["charged_credits"]] or 0.0
        usage[(-1, 0, key)] += row[col["charged_credits"]] or 0.0
    reserved = Counter(
        (r[col["quota_guild"]], r[col["user_id"]], r[col["quota_key"]])
        for r in jobs
        if r[col["quota_state"]] == "reserved"
    )
    usage_rows = [
        (g, u, k, used, 25.0 * reserved[(g, u, k)], 0.0) for (g, u, k), used in usage.items()
    ]
    started = time.perf_counter()
    async with store.transaction() as conn:
        await seed.insert_rows(conn, "jobs", JOB_COLUMNS, jobs)
        await seed.insert_rows(conn, "job_inputs", INPUT_COLUMNS, inputs)
        await seed.insert_rows(conn, "usage_ledger", LEDGER_COLUMNS, ledger)
        await seed.insert_rows(conn, "quota_usage", USAGE_COLUMNS, usage_rows)
    async with store.read() as conn:
        await seed.checkpoint(conn)
    return {
        "seed_s": c.rounded(time.perf_counter() - started, 2),
        "ledger_rows": len(ledger),
        "quota_usage_rows": len(usage_rows),
        "inputs_kept": len(inputs),
        "heavy_user_jobs": sum(1 for r in jobs if r[col["user_id"]] == HEAVY_USER),
    }


# -- measuring ------------------------------------------------------------------------------


class Bench:
    """A worker, services and a delivery port on one open store, restorable to the seed."""

    def __init__(
        self,
        settings: Settings,
        store: SqliteStore,
        seed_store: SqliteStore,
        clip: bytes,
        workdir: Path,
    ) -> None:
        self.store, self.seed_store = store, seed_store
        clock = lambda: NOW  # noqa: E731
        self.quota = QuotaService(store, settings.quota, settings.models, clock=clock)
        self.jobs = JobService(settings, store, self.quota, clock=clock, rng=random.Random(1))
        self.client = OfflineRunway(clip)
        self.port = c.CountingPort()
        self.worker = Worker(
            settings,
            store,
            self.client,
            self.port,
            owner=OWNER,
            workdir=workdir,
            quota=self.quota,
            clock=clock,
            rng=random.Random(3),
            max_parallel=24,
        )

    async def restore(self, *, cold: bool = False) -> None:
        """Put the working database back in its seeded state (same live set every tick).

        The copy passes through this connection's page cache, which is made large enough to
        hold it: the tick then finds its pages cached, as a running bot finds the few pages
        its live set uses. ``cold`` empties the cache instead (pages come from the OS)."""
        await seed.set_page_cache(self.store._conn, CACHE_KIB)
        await seed.copy_database(self.seed_store._conn, self.store._conn)
        if cold:
            await seed.drop_page_cache(self.store._conn)

    async def tick(self) -> tuple[float, float]:
        """One scheduler pass and the steps it started; (pass seconds, total seconds)."""
        started = time.perf_counter()
        await self.worker.run_once()
        passed = time.perf_counter()
        await self.worker.drain()
        return passed - started, time.perf_counter() - started


async def traced(store: SqliteStore, action: Callable[[], Awaitable[Any]]) -> tuple[list[str], int]:
    """The statements ``action`` runs and the SQLite VM instructions they execute."""
    statements: list[str] = []
    steps = [0]

    def progress() -> int:
        steps[0] += VM_STEP
        return 0

    conn = store._conn  # the hooks need the raw connection
    await conn.set_trace_callback(statements.append)
    await conn.set_progress_handler(progress, VM_STEP)
    try:
        await action()
    finally:
        await conn.set_trace_callback(None)  # type: ignore[arg-type]
        await conn.set_progress_handler(None, 0)  # type: ignore[arg-type]
    return statements, steps[0]


def plans(path: Path, statements: list[str]) -> dict[str, Any]:
    """EXPLAIN QUERY PLAN of each distinct data statement: scans of a table, index scans."""
    seen: dict[str, list[str]] = {}
    with sqlite3.connect(path) as raw:
        for sql in statements:
            head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
            if head not in ("SELECT", "UPDATE", "DELETE", "INSERT") or sql in seen:
                continue
            seen[sql] = [str(r[3]) for r in raw.execute("EXPLAIN QUERY PLAN " + sql)]
    table_scans = sorted(
        {
            f"{s[:120]} -> {p}"
            for s, ps in seen.items()
            for p in ps
            if p.startswith("SCAN") and "INDEX" not in p and "CONSTANT" not in p
        }
    )
    index_scans = sorted(
        {
            f"{s[:120]} -> {p}"
            for s, ps in seen.items()
            for p in ps
            if p.startswith("SCAN") and "INDEX" in p
        }
    )
    return {"distinct": len(seen), "table_scans": table_scans, "index_scans": index_scans}


def _kinds(statements: list[str]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for sql in statements:
        words = sql.split(None, 1)
        counts[words[0].upper() if words else "?"] += 1
    return dict(sorted(counts.items()))


async def command_actions(b: Bench) -> dict[str, Callable[[], Awaitable[Any]]]:
    """A member's command reads (heavy user and a light one), creates and a metrics scrape."""
    light = 100  # has queued jobs in the live set
    queued = (await b.jobs.active_jobs(light))[-1].id
    users = iter(range(5_000, 100_000))
    item = c.image_input(64, 64)

    async def create_light() -> None:
        await b.jobs.create(c.animate(next(users), item, guild_id=1001))

    async def create_heavy() -> None:  # the active-job limit counts the heavy user's jobs
        await b.jobs.create(c.animate(HEAVY_USER, item, guild_id=1001))

    return {
        "jobs_list_heavy": lambda: b.jobs.list_user_jobs(HEAVY_USER, guild_id=1001, limit=10),
        "jobs_list_light": lambda: b.jobs.list_user_jobs(
            light, guild_id=1000 + light % GUILDS, limit=10
        ),
        "active_jobs_heavy": lambda: b.jobs.active_jobs(HEAVY_USER),
        "quota_status_heavy": lambda: b.quota.status(1001, HEAVY_USER, [5, 6]),
        "queue_position": lambda: b.jobs.queue_position(queued),
        "queue_stats_scrape": lambda: b.jobs.queue_stats(),
        "create_light": create_light,
        "create_heavy": create_heavy,
    }


async def time_reads(benches: list[Bench], repeat: int) -> list[dict[str, Any]]:
    """Trace each command action once per size, then time them interleaved across sizes."""
    actions = [await command_actions(b) for b in benches]
    out: list[dict[str, Any]] = []
    for b, acts in zip(benches, actions, strict=True):
        traced_reads = {}
        for name, action in acts.items():
            statements, vm = await traced(b.store, action)
            traced_reads[name] = {
                "statements": len(statements),
                "vm_steps": vm,
                "plans": plans(b.store.path, statements),
            }
        out.append(traced_reads)
    for name in actions[0]:
        samples: list[list[float]] = [[] for _ in benches]
        for _ in range(repeat):
            for acts, got in zip(actions, samples, strict=True):
                started = time.perf_counter()
                await acts[name]()
                got.append(time.perf_counter() - started)
        for traced_reads, got in zip(out, samples, strict=True):
            traced_reads[name]["median_ms"] = c.ms(statistics.median(got))
    for b in benches:
        await b.restore()
    return out


async def open_size(
    size: int, tmp: Path, clip: bytes, image: bytes
) -> tuple[Bench, dict[str, Any]]:
    """Seed one size into its own database and wire a worker to a working copy of it."""
    settings = c.settings(
        quota={"default_limit": 1_000_000, "max_active_jobs_per_user": 1_000},
        max_concurrent_per_model=CONCURRENCY,
    )
    seed_store = await SqliteStore.open_file(tmp / f"seed-{size}.sqlite3")
    store = await SqliteStore.open_file(tmp / f"work-{size}.sqlite3")
    seeded = await fill(seed_store, size, image)
    seeded["db_mib"] = c.rounded((tmp / f"seed-{size}.sqlite3").stat().st_size / 2**20, 1)
    b = Bench(settings, store, seed_store, clip, tmp / f"work-{size}")
    await b.restore()
    await b.tick()  # warm-up (also the hourly input purge, which then waits an hour)
    return b, seeded


async def time_ticks(benches: list[Bench], ticks: int) -> list[dict[str, list[float]]]:
    """Tick every size in turn, round after round, so a busy moment hits all sizes alike."""
    samples: list[dict[str, list[float]]] = [{"pass": [], "total": [], "cold": []} for _ in benches]
    for _ in range(ticks):
        for b, out in zip(benches, samples, strict=True):
            await b.restore()
            one, total = await b.tick()
            out["pass"].append(one)
            out["total"].append(total)
            await b.restore(cold=True)
            out["cold"].append((await b.tick())[1])
    return samples


async def inspect(b: Bench) -> dict[str, Any]:
    """One traced tick (statements, VM steps, plans) and the input purge."""
    await b.restore()
    calls_before = sum(b.client.calls.values())
    statements, vm = await traced(b.store, b.tick)
    calls = sum(b.client.calls.values()) - calls_before
    plan = plans(b.store.path, statements)
    await b.restore()
    purge_statements, _ = await traced(b.store, lambda: b.worker._purge_inputs(NOW))
    purge_plan = plans(b.store.path, purge_statements)
    await b.restore()
    return {
        "tick_statements": len(statements),
        "tick_statement_kinds": _kinds(statements),
        "tick_vm_steps": vm,
        "tick_runway_calls": calls,
        "tick_distinct_statements": plan["distinct"],
        "tick_table_scans": plan["table_scans"],
        "tick_index_scans": plan["index_scans"],
        "purge_table_scans": purge_plan["table_scans"],
    }


async def measure(
    sizes: tuple[int, ...], ticks: int, repeat: int, tmp: Path
) -> list[dict[str, Any]]:
    """Seed every size, time their ticks interleaved, then trace each."""
    image = c.png_bytes(64, 64)
    clip = await asyncio.to_thread(image_to_video_clip, image, ratio="1280:720", duration=1.0)
    benches: list[Bench] = []
    seeded: list[dict[str, Any]] = []
    try:
        for size in sizes:
            c.log(f"scale: seeding {size} jobs")
            b, info = await open_size(size, tmp, clip, image)
            benches.append(b)
            seeded.append(info)
        c.log(f"scale: {ticks} rounds of ticks")
        samples = await time_ticks(benches, ticks)
        c.log("scale: command reads")
        reads = await time_reads(benches, repeat)
        results = []
        for size, b, info, got, read in zip(sizes, benches, seeded, samples, reads, strict=True):
            results.append(
                {
                    "jobs": size,
                    **info,
                    "ticks": ticks,
                    "tick_ms_median": c.ms(statistics.median(got["total"])),
                    "tick_ms_p90": c.ms(c.percentile(got["total"], 90)),
                    "run_once_ms_median": c.ms(statistics.median(got["pass"])),
                    "tick_ms_median_cold_cache": c.ms(statistics.median(got["cold"])),
                    **await inspect(b),
                    "reads": read,
                }
            )
    finally:
        for b in benches:
            await b.store.close()
            await b.seed_store.close()
    return results


def _ratio(a: float, b: float) -> float:
    return c.rounded(a / b, 2) if b else 0.0


async def main(quick: bool) -> int:
    sizes, ticks, repeat = (QUICK_SIZES, 3, 5) if quick else (SIZES, 31, 40)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        results = await measure(sizes, ticks, repeat, Path(tmp))
    small, large = results[0], results[-1]
    ratios = {
        "tick_ms": _ratio(large["tick_ms_median"], small["tick_ms_median"]),
        "run_once_ms": _ratio(large["run_once_ms_median"], small["run_once_ms_median"]),
        "tick_ms_cold_cache": _ratio(
            large["tick_ms_median_cold_cache"], small["tick_ms_median_cold_cache"]
        ),
        "tick_statements": _ratio(large["tick_statements"], small["tick_statements"]),
        "tick_vm_steps": _ratio(large["tick_vm_steps"], small["tick_vm_steps"]),
        **{
            f"{name}_ms": _ratio(
                large["reads"][name]["median_ms"], small["reads"][name]["median_ms"]
            )
            for name in small["reads"]
        },
        **{
            f"{name}_vm_steps": _ratio(
                large["reads"][name]["vm_steps"], small["reads"][name]["vm_steps"]
            )
            for name in small["reads"]
        },
    }
    scans = [s for r in results for s in r["tick_table_scans"]]
    same_work = len({r["tick_statements"] for r in results}) == 1
    c.emit(
        "scale",
        quick,
        {
            "sizes": [r["jobs"] for r in results],
            "live_set": {
                "queued": QUEUED,
                "running": RUNNING,
                "clips_due": 3,
                "notices_due": 4,
                "remote_cancels_due": 2,
            },
            "ratio_label": f"{large['jobs']} vs {small['jobs']} jobs",
            "ratios": ratios,
            "tick_target_met": ratios["tick_ms"] <= 1.5,
            "tick_uses_indexes": not scans,
            "same_statements_every_size": same_work,
            "results": results,
        },
    )
    return 0 if not scans and same_work else 1


if __name__ == "__main__":
    args = c.parse_args(__doc__ or "")
    sys.exit(asyncio.run(main(args.quick)))
