"""Concurrent job creations against a per-user quota of N jobs on a real SQLite file.

Runs the real JobService + QuotaService three ways on fresh databases in a temp dir
(5 rounds, each mode once per round; figures are from each mode's median round):
sequentially (one create after another), concurrently on one Store (all creates started
at once), and concurrently over several Store connections to the same file (what two bot
processes sharing the database would do). Every run must admit exactly N jobs and leave
the quota counters equal to N; the script exits 1 if any run does not.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c

from bot.domain import JobError, QuotaExceeded
from bot.jobs import JobService
from bot.quota import QuotaService
from bot.store.db import Store

USER = 7
GUILD = 1000


async def _run(db: Path, attempts: int, limit: int, mode: str, connections: int) -> dict[str, Any]:
    settings = c.settings(
        quota={"unit": "jobs", "default_limit": limit, "max_active_jobs_per_user": 100_000}
    )
    stores = [await Store.open(db) for _ in range(connections)]
    quotas = [QuotaService(s, settings.quota, settings.models) for s in stores]
    services = [JobService(settings, s, q) for s, q in zip(stores, quotas, strict=True)]
    item = c.image_input(640, 360)
    latencies: list[float] = []
    outcomes = {"admitted": 0, "quota_exceeded": 0, "other_refusal": 0}

    async def one(i: int) -> None:
        jobs = services[i % len(services)]
        started = time.perf_counter()
        try:
            await jobs.create(c.animate(USER, item, guild_id=GUILD))
            outcomes["admitted"] += 1
        except QuotaExceeded:
            outcomes["quota_exceeded"] += 1
        except JobError as exc:
            c.log(f"unexpected refusal: {exc.message}")
            outcomes["other_refusal"] += 1
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    if mode == "sequential":
        for i in range(attempts):
            await one(i)
    else:
        await asyncio.gather(*(one(i) for i in range(attempts)))
    elapsed = time.perf_counter() - started

    check = stores[0]
    status = await quotas[0].status(GUILD, USER)
    row = await check.fetchone(
        "SELECT COUNT(*) FROM jobs WHERE user_id = ? AND state = 'queued'", (USER,)
    )
    queued_rows = int(row[0]) if row else -1
    ledger = await check.fetchone(
        "SELECT COUNT(*) FROM usage_ledger WHERE entry = 'reserve' AND user_id = ?", (USER,)
    )
    for store in stores:
        await store.close()
    return {
        "mode": mode,
        "connections": connections,
        "attempts": attempts,
        **outcomes,
        "jobs_in_table": queued_rows,
        "reserved_in_counters": status.reserved,
        "reserve_ledger_entries": int(ledger[0]) if ledger else -1,
        "seconds": c.rounded(elapsed, 4),
        "attempts_per_s": c.rounded(attempts / elapsed, 1),
        "admitted_per_s": c.rounded(outcomes["admitted"] / elapsed, 1),
        "latency_p50_ms": c.ms(c.percentile(latencies, 50)),
        "latency_p95_ms": c.ms(c.percentile(latencies, 95)),
        "latency_max_ms": c.ms(max(latencies)),
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median throughput among rounds of one mode."""
    return sorted(runs, key=lambda r: float(r["attempts_per_s"]))[len(runs) // 2]


async def main(quick: bool) -> int:
    attempts, limit, rounds = (50, 10, 1) if quick else (200, 25, 5)
    plan = [("sequential", 1), ("concurrent", 1), ("concurrent", 4)]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-quota-") as tmp:
        # Modes alternate within each round, so machine noise touches them alike.
        for r in range(rounds):
            for n, (mode, connections) in enumerate(plan):
                db = Path(tmp) / f"round{r}-run{n}.sqlite3"
                runs.append(await _run(db, attempts, limit, mode, connections))
    ok = all(
        r["admitted"] == limit
        and r["jobs_in_table"] == limit
        and r["reserved_in_counters"] == limit
        and r["reserve_ledger_entries"] == limit
        and r["other_refusal"] == 0
        for r in runs
    )
    seq, conc, multi = (
        _median_run([r for r in runs if (r["mode"], r["connections"]) == key]) for key in plan
    )
    c.emit(
        "quota_reservations",
        quick,
        {
            "limit_n": limit,
            "attempts": attempts,
            "rounds": rounds,
            "admitted": conc["admitted"],
            "admitted_multi_connection": multi["admitted"],
            "admitted_equals_n": ok,
            "reservations_per_s": conc["attempts_per_s"],
            "latency_p50_ms": conc["latency_p50_ms"],
            "latency_p95_ms": conc["latency_p95_ms"],
            "sequential_reservations_per_s": seq["attempts_per_s"],
            "ratio_concurrent_vs_sequential": c.rounded(
                conc["attempts_per_s"] / seq["attempts_per_s"]
            ),
            "ratio_multi_connection_vs_sequential": c.rounded(
                multi["attempts_per_s"] / seq["attempts_per_s"]
            ),
            "runs": runs,
        },
    )
    if not ok:
        c.log("FAIL: a run did not admit exactly N jobs (see 'runs')")
        return 1
    return 0


if __name__ == "__main__":
    args = c.parse_args(__doc__ or "")
    sys.exit(asyncio.run(main(args.quick)))
