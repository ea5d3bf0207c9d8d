"""The worker's hot queries on a jobs table that has grown for months.

Fills a real SQLite file (through the real migrations) with 20k jobs in mixed states
(mostly finished and delivered; a fixed live set running with a next poll time, queued
for three models, waiting for delivery or backed off), then times the real store
queries the scheduler runs on every pass: due jobs, the next due time, the queue order,
a queue position, the per-user active count and in-flight counts. EXPLAIN QUERY PLAN
shows which index each query uses. The same queries are then timed on a copy of the
database whose jobs indexes were dropped, to show what the indexes are worth, and on a
table one tenth the size (at least twice the live set) with the same live set, to show
that they do not slow down as finished jobs accumulate.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import _common as c
import aiosqlite

from bot.store import jobs_repo
from bot.store.db import Store

NOW = 1_800_000_000.0
MODELS = ("gen4_turbo", "gen4.5", "veo3.1_fast")
FINISHED = ("succeeded", "failed", "cancelled", "in_doubt")
RUNNING, QUEUED, UNDELIVERED = 24, 300, 12  # the live set, the same at every table size

Query = Callable[[aiosqlite.Connection], Awaitable[Any]]


def _rows(count: int, rng: random.Random) -> list[tuple[Any, ...]]:
    """Job rows, oldest first: finished and delivered, except the newest ones (the live set).

    The live set does not grow with the table (RUNNING + QUEUED + UNDELIVERED jobs), as in a
    bot that has run for months: old jobs pile up, the work in progress stays bounded.
    """
    rows: list[tuple[Any, ...]] = []
    users = 400
    live = ["running"] * RUNNING + ["queued"] * QUEUED + ["undelivered"] * UNDELIVERED
    rng.shuffle(live)
    first_live = count - len(live)
    queued_seq: dict[tuple[int, str], int] = {}
    for i in range(count):
        user = rng.randrange(1, users + 1)
        model = MODELS[i % len(MODELS)]
        created = NOW - (count - i) * 60.0
        kind = "old" if i < first_live else live[i - first_live]
        next_poll = lease = submit_after = delivered = finished = None
        seq = 0
        if kind == "old":  # finished and posted long ago: the bulk of an old table
            state = FINISHED[i % len(FINISHED)]
            finished = created + 90
            delivered = finished + 1
        elif kind == "running":  # at Runway: polled on a schedule, some leased right now
            state = "running"
            next_poll = NOW + rng.uniform(-20.0, 60.0)
            if rng.random() < 0.2:
                lease = NOW + 100.0
        elif kind == "queued":  # waiting in the bot's queue, a few backed off
            state = "queued"
            key = (user % 40, model)  # 40 queueing users: several jobs each
            queued_seq[key] = queued_seq.get(key, -1) + 1
            seq = queued_seq[key]
            if rng.random() < 0.05:
                submit_after = NOW + rng.uniform(1.0, 120.0)
        else:  # finished, notice not yet posted (delivery retries)
            state = FINISHED[i % len(FINISHED)]
            finished = NOW - 30.0
            next_poll = NOW + rng.uniform(-10.0, 120.0)
        rows.append(
            (
                "animate", state, user % 40 if kind == "queued" else user, 1000, 55, "a prompt",
                model, "1280:720", 5, seq, created, created, finished, next_poll, lease,
                submit_after, delivered,
            )
        )  # fmt: skip
    return rows


async def _fill(store: Store, count: int) -> None:
    rng = random.Random(20261121)
    rows = _rows(count, rng)
    async with store.transaction() as conn:
        await conn.executemany(
            "INSERT INTO jobs (kind, state, user_id, guild_id, channel_id, prompt, model, ratio,"
            " duration, fair_seq, created_at, updated_at, finished_at, next_poll_at,"
            " lease_expires_at, submit_after, delivered_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    async with store.transaction() as conn:
        await conn.execute("ANALYZE")


async def _pick_queued(store: Store) -> tuple[int, int]:
    """A job in the middle of the largest queue, and a user with queued jobs."""
    rows = await store.fetchall(
        "SELECT id, user_id FROM jobs WHERE state = 'queued' AND model = ? ORDER BY fair_seq, id",
        (MODELS[0],),
    )
    mid = rows[len(rows) // 2]
    return int(mid[0]), int(mid[1])


def _queries(job_id: int, user_id: int) -> dict[str, Query]:
    return {
        "due_ids": lambda conn: jobs_repo.due_ids(conn, NOW, 8),
        "earliest_due": lambda conn: jobs_repo.earliest_due(conn),
        "earliest_submit_after": lambda conn: jobs_repo.earliest_submit_after(conn),
        "queued_in_order": lambda conn: jobs_repo.queued_in_order(conn, MODELS[0], NOW, 4),
        "queue_position": lambda conn: jobs_repo.queue_position(conn, job_id),
        "queued_models": lambda conn: jobs_repo.queued_models(conn),
        "in_flight_by_model": lambda conn: jobs_repo.in_flight_by_model(conn),
        "count_active": lambda conn: jobs_repo.count_active(conn, user_id),
        "next_fair_seq": lambda conn: jobs_repo.next_fair_seq(conn, user_id, MODELS[0]),
    }


async def _time(store: Store, queries: dict[str, Query], repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with store.transaction() as conn:
        for name, query in queries.items():
            first = await query(conn)
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                await query(conn)
                samples.append(time.perf_counter() - started)
            out[name] = {
                "median_us": c.rounded(c.percentile(samples, 50) * 1e6, 1),
                "p95_us": c.rounded(c.percentile(samples, 95) * 1e6, 1),
                "result": first if isinstance(first, int | float | type(None)) else len(first),
            }
    return out


async def _plans(store: Store, queries: dict[str, Query]) -> dict[str, Any]:
    """EXPLAIN QUERY PLAN of every statement each query runs (traced, values inlined)."""
    traced: dict[str, list[str]] = {}
    current: list[str] = []
    conn = store._conn  # the trace hook needs the raw connection
    await conn.set_trace_callback(current.append)
    async with store.transaction() as tx:
        for name, query in queries.items():
            current.clear()
            await query(tx)
            traced[name] = [s for s in current if s.lstrip().upper().startswith("SELECT")]
    await conn.set_trace_callback(None)  # type: ignore[arg-type]
    out: dict[str, Any] = {}
    with sqlite3.connect(store.path) as raw:
        for name, statements in traced.items():
            details = []
            for sql in statements:
                details += [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql)]
            full_scan = any(d.startswith("SCAN") and "USING" not in d for d in details)
            out[name] = {"plan": details, "uses_index": not full_scan}
    return out


def _copy_without_indexes(src: Path, dest: Path) -> list[str]:
    with sqlite3.connect(src) as a, sqlite3.connect(dest) as b:
        a.backup(b)
    with sqlite3.connect(dest) as b:
        names = [
            str(r[0])
            for r in b.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'"
                " AND sql IS NOT NULL"
            )
        ]
        for name in names:
            b.execute(f'DROP INDEX "{name}"')
        b.execute("ANALYZE")
    return names


async def _measure(path: Path, count: int, repeat: int) -> dict[str, Any]:
    """Fill a database of ``count`` jobs at ``path``, time and explain its queries."""
    store = await Store.open(path)
    try:
        started = time.perf_counter()
        await _fill(store, count)
        fill_s = time.perf_counter() - started
        job_id, user_id = await _pick_queued(store)
        queries = _queries(job_id, user_id)
        states = {
            str(r[0]): int(r[1])
            for r in await store.fetchall("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        }
        scheduled = await store.fetchone("SELECT COUNT(*) FROM jobs WHERE next_poll_at IS NOT NULL")
        return {
            "queries": queries,
            "fill_s": fill_s,
            "states": states,
            "scheduled": int(scheduled[0]) if scheduled else 0,
            "times": await _time(store, queries, repeat),
            "plans": await _plans(store, queries),
        }
    finally:
        await store.close()


async def main(quick: bool) -> int:
    count, repeat = (2_000, 40) if quick else (20_000, 300)
    small_count = max(count // 10, 2 * (RUNNING + QUEUED + UNDELIVERED))
    with tempfile.TemporaryDirectory(prefix="bench-sched-") as tmp:
        small = await _measure(Path(tmp) / "small.sqlite3", small_count, repeat)
        path = Path(tmp) / "jobs.sqlite3"
        full = await _measure(path, count, repeat)
        queries = full["queries"]
        copy = Path(tmp) / "jobs-noindex.sqlite3"
        dropped = _copy_without_indexes(path, copy)
        bare = await Store.open(copy)
        try:
            unindexed = await _time(bare, queries, repeat)
            bare_plans = await _plans(bare, queries)
        finally:
            await bare.close()

    indexed, plans = full["times"], full["plans"]
    per_query: dict[str, Any] = {}
    for name in queries:
        with_ix, without, few = indexed[name], unindexed[name], small["times"][name]
        per_query[name] = {
            "indexed_median_us": with_ix["median_us"],
            "indexed_p95_us": with_ix["p95_us"],
            "no_index_median_us": without["median_us"],
            "ratio_no_index_vs_indexed": c.rounded(without["median_us"] / with_ix["median_us"], 2),
            f"indexed_median_us_at_{small_count}_jobs": few["median_us"],
            "ratio_growth_with_table": c.rounded(with_ix["median_us"] / few["median_us"], 2),
            "same_result": with_ix["result"] == without["result"],
            "plan": plans[name]["plan"],
            "uses_index": plans[name]["uses_index"],
            "plan_without_indexes": bare_plans[name]["plan"],
        }
    hot = ("due_ids", "earliest_due", "queue_position")
    c.emit(
        "scheduler_due_jobs",
        quick,
        {
            "jobs": count,
            "states": full["states"],
            "live_set": {"running": RUNNING, "queued": QUEUED, "undelivered": UNDELIVERED},
            "small_table_jobs": small_count,
            "scheduled_jobs": full["scheduled"],
            "fill_seconds": c.rounded(full["fill_s"]),
            "repeat": repeat,
            "due_ids_us": indexed["due_ids"]["median_us"],
            "earliest_due_us": indexed["earliest_due"]["median_us"],
            "queue_position_us": indexed["queue_position"]["median_us"],
            "all_use_index": all(p["uses_index"] for p in plans.values()),
            "ratio_no_index_vs_indexed": {
                n: per_query[n]["ratio_no_index_vs_indexed"] for n in hot
            },
            "ratio_growth_with_table": {n: per_query[n]["ratio_growth_with_table"] for n in hot},
            "indexes_dropped": dropped,
            "queries": per_query,
        },
    )
    return 0


if __name__ == "__main__":
    args = c.parse_args(__doc__ or "")
    sys.exit(asyncio.run(main(args.quick)))
