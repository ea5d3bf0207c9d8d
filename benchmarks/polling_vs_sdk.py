"""The bot's polling against the official SDK's ``wait_for_task_output()``, side by side.

Two workloads (tier 1: 1 Runway slot per model, 60 tasks; tier 5: 20 slots per model, 200
tasks; three image-to-video models, tasks spread over them and over six users) run through

- ``bot``: the real Worker with a real SQLite store, JobService, QuotaService and the real
  RunwayClient, production constants, the tier's slots per model plus one standby
  (``runway.standby_per_model = 1``);
- ``sdk``: the official ``runwayml`` AsyncRunwayML, every task created at once and followed
  by one ``wait_for_task_output()`` each (6 s +- 1.5 s sleeps),

against the in-process simulator on 127.0.0.1 in realistic mode (seeded lognormal 30-180 s
runs, a PENDING phase, THROTTLED per-model slots, a few % failing early as input moderation
does and a few % part-way, progress that is not linear; the k-th task of a model gets the
same plan on both sides of a round). Everything runs on the virtual clock (``bot.clock``):
each side in its own subprocess on ``VirtualClock(F)``, the simulator in this process on
another, so sleeps and production constants are unchanged and only run F times faster.
Figures are simulated seconds, measured at the simulator (it sees every request); CPU and
peak RSS are the side's subprocess's own.

Per run one JSON line; after all rounds one summary line with the medians per tier and side
and the ratios bot/SDK. Sides alternate between rounds. Bounded: a side that has not seen
every task end within ``--limit`` real seconds is stopped and the run reported as
incomplete (default 600 s). A full run (3 rounds, both tiers, F = 10 on tier 1 and 5 on
tier 5) takes about 30 minutes on 2 cores; ``--quick`` a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c

from bot import clock as clocks
from bot.domain import Job
from bot.ports import DeliveryReceipt
from bot.simulator import RunwaySimulator, SimulatorOptions
from bot.simulator.server import Observed
from bot.simulator.tasks import Realism

MODELS = (("gen4_turbo", 2), ("gen4.5", 2), ("veo3.1_fast", 4))  # (model, clip seconds)
USERS = 6
RATIO = "1280:720"
PROMPT = "a calm sea at dawn"
TIERS = {1: (1, 60), 5: (20, 200)}  # tier -> (slots per model, tasks)
QUICK_TIERS = {1: (1, 6)}
# Virtual seconds per real second, per tier: low enough that neither side nor the simulator
# is short of CPU on a small machine (a CPU-bound moment lasts F times longer in virtual time).
FACTORS = {1: 10.0, 5: 5.0}
QUICK_FACTOR = 50.0
MIN_GAP_SECONDS = 5.0


# ---- the two sides (each runs in its own subprocess) -----------------------------------


class _Port(c.CountingPort):
    """Counts deliveries and says when ``total`` jobs have reached their member."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total
        self.all_done = asyncio.Event()

    def _check(self) -> None:
        if len(self.clips) + len(self.failures) >= self.total:
            self.all_done.set()

    async def deliver_clip(self, job: Job, clip: Path, nonce: str) -> DeliveryReceipt:
        receipt = await super().deliver_clip(job, clip, nonce)
        self._check()
        return receipt

    async def deliver_failure(self, job: Job, nonce: str) -> DeliveryReceipt:
        receipt = await super().deliver_failure(job, nonce)
        self._check()
        return receipt


def _workload(total: int) -> list[tuple[int, str, int]]:
    """(user, model, duration) of each task, in the order they are submitted."""
    return [(i % USERS, *MODELS[i % len(MODELS)]) for i in range(total)]


async def _bot_side(base_url: str, slots: int, total: int) -> dict[str, Any]:
    from bot.jobs import JobService
    from bot.quota import QuotaService
    from bot.runway.client import RunwayClient
    from bot.store.db import Store
    from bot.worker import Worker

    settings = c.settings(
        quota={"default_limit": 1_000_000, "max_active_jobs_per_user": 1000},
        max_concurrent_per_model=slots,
        standby_per_model=1,
    )
    item = c.image_input(640, 360)
    with tempfile.TemporaryDirectory(prefix="bench-pvs-") as tmp:
        store = await Store.open(Path(tmp) / "bot.sqlite3")
        client = RunwayClient(base_url=base_url, api_key=c.SIM_KEY)
        port = _Port(total)
        quota = QuotaService(store, settings.quota, settings.models)
        worker = Worker(
            settings, store, client, port, owner="bench", workdir=Path(tmp) / "work", quota=quota
        )
        jobs = JobService(settings, store, quota, wake=worker.wake)
        await worker.start()
        t0_real, cpu0 = time.monotonic(), time.process_time()
        try:
            for user, model, duration in _workload(total):
                await jobs.create(c.animate(1 + user, item, model=model, duration=duration))
            await port.all_done.wait()
            cpu = time.process_time() - cpu0
            await worker.stop()
            rows = await store.fetchall("SELECT state FROM jobs")
        finally:
            await worker.abort()
            await client.close()
            await store.close()
    states: dict[str, int] = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
    return {"t0_real": t0_real, "cpu_s": cpu, "states": states}


async def _sdk_side(base_url: str, total: int) -> dict[str, Any]:
    from runwayml import AsyncRunwayML
    from runwayml.lib.polling import TaskFailedError

    data_uri = "data:image/png;base64," + base64.b64encode(c.png_bytes(640, 360)).decode()
    states: dict[str, int] = {}
    t0_real, cpu0 = time.monotonic(), time.process_time()
    async with AsyncRunwayML(api_key=c.SIM_KEY, base_url=base_url) as client:

        async def one(model: str, duration: int) -> None:
            task = await client.image_to_video.create(  # type: ignore[call-overload]
                model=model,
                prompt_image=data_uri,
                prompt_text=PROMPT,
                ratio=RATIO,
                duration=duration,
            )
            try:
                done = await task.wait_for_task_output(timeout=None)
                outcome = str(done.status)
            except TaskFailedError as exc:
                outcome = str(exc.task_details.status)
            states[outcome] = states.get(outcome, 0) + 1

        await asyncio.gather(*(one(m, d) for _, m, d in _workload(total)))
    return {"t0_real": t0_real, "cpu_s": time.process_time() - cpu0, "states": states}


def _child(args: argparse.Namespace) -> int:
    """Run one side on its own virtual clock and print its facts as JSON."""
    vclock = clocks.VirtualClock(args.factor)
    if args.side == "bot":
        out = clocks.run(_bot_side(args.base_url, args.slots, args.tasks), vclock)
    else:
        out = clocks.run(_sdk_side(args.base_url, args.tasks), vclock)
    out["peak_rss_kib"] = _peak_rss_kib()
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


def _peak_rss_kib() -> int:
    """This process's own peak RSS (``VmHWM``): ``ru_maxrss`` would carry the parent's over
    the fork of the subprocess."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return c.peak_rss_kib()


# ---- one run: the simulator here, a side in a subprocess --------------------------------


async def _run_side(
    side: str,
    tier: int,
    slots: int,
    total: int,
    seed: int,
    factor: float,
    limit: float,
    dump: str | None = None,
) -> dict[str, Any]:
    options = SimulatorOptions(
        api_key=c.SIM_KEY,
        concurrency=slots,
        realism=Realism(seed=seed),
        record_tasks=True,
        reuse_clips=True,
    )
    async with RunwaySimulator(options) as sim:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--side", side, "--base-url", sim.base_url,
            "--slots", str(slots), "--tasks", str(total), "--factor", str(factor),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        complete = True
        try:
            out, err = await asyncio.wait_for(proc.communicate(), limit * factor)
        except TimeoutError:
            complete = False
            proc.kill()
            out, err = await proc.communicate()
        pair_real, pair_sim = time.monotonic(), sim.clock.now()
        if proc.returncode != 0 and complete:
            c.log(err.decode(errors="replace")[-3000:])
            complete = False
        facts: dict[str, Any] = json.loads(out.decode().splitlines()[-1]) if complete else {}
        t0 = pair_sim - (pair_real - facts.get("t0_real", pair_real)) * factor
        if dump:
            row = {"side": side, "tier": tier, "seed": seed, "t0": t0}
            text = "".join(
                json.dumps({**row, "task": task_id, **o.__dict__}) + "\n"
                for task_id, o in sim.observed.items()
            )
            await asyncio.to_thread(_append, dump, text)
        return _figures(side, tier, slots, total, seed, sim, facts, t0, complete)


def _append(path: str, text: str) -> None:
    with Path(path).open("a") as f:
        f.write(text)


def _pct(values: list[float], pct: float) -> float | None:
    return c.rounded(c.percentile(values, pct), 2) if values else None


def _lags(seen: list[tuple[Observed, float]], pcts: tuple[float, ...]) -> dict[str, Any]:
    lags = [t - o.terminal_at for o, t in seen if o.terminal_at is not None]
    out: dict[str, Any] = {f"p{p:g}": _pct(lags, p) for p in pcts}
    out["max"] = c.rounded(max(lags), 2) if lags else None
    out["n"] = len(lags)
    return out


def _figures(
    side: str,
    tier: int,
    slots: int,
    total: int,
    seed: int,
    sim: RunwaySimulator,
    facts: dict[str, Any],
    t0: float,
    complete: bool,
) -> dict[str, Any]:
    seen: list[tuple[Observed, float]] = []
    gaps: list[float] = []
    for o in sim.observed.values():
        terminal = [t for t, status in o.gets if status in ("SUCCEEDED", "FAILED", "CANCELLED")]
        if terminal:
            seen.append((o, terminal[0]))
        times = [t for t, _ in o.gets]
        gaps += [b - a for a, b in itertools.pairwise(times)]
    tasks = len(sim.observed)
    gets = sim.request_counts["GET /v1/tasks"]
    requests = sum(sim.request_counts.values())
    ok = [(o, t) for o, t in seen if o.final == "SUCCEEDED"]
    failed = [(o, t) for o, t in seen if o.final == "FAILED"]
    e2e = [t - t0 for _, t in seen]
    cpu = facts.get("cpu_s")
    pcts = (50, 95, 99)
    return {
        "side": side,
        "tier": tier,
        "slots_per_model": slots,
        "tasks": total,
        "seed": seed,
        "complete": complete and len(seen) == total,
        "tasks_created": tasks,
        "terminal_seen": len(seen),
        "states": facts.get("states"),
        "gets_per_task": c.rounded(gets / tasks, 3) if tasks else None,
        "requests_per_task": c.rounded(requests / tasks, 3) if tasks else None,
        "requests": dict(sim.request_counts),
        "lag_s": _lags(seen, pcts),
        "lag_succeeded_s": _lags(ok, pcts),
        "lag_failed_s": _lags(failed, pcts),
        "lag_failed_early_s": _lags([s for s in failed if s[0].failure == "early"], pcts),
        "lag_failed_partway_s": _lags([s for s in failed if s[0].failure == "partway"], pcts),
        "end_to_end_p50_s": _pct(e2e, 50),
        "end_to_end_p99_s": _pct(e2e, 99),
        "makespan_s": c.rounded(max(e2e), 1) if e2e else None,
        "cpu_s_per_1000_tasks": c.rounded(cpu / total * 1000, 2) if cpu is not None else None,
        "peak_rss_kib": facts.get("peak_rss_kib"),
        "min_get_gap_s": c.rounded(min(gaps), 3) if gaps else None,
        # the SDK sleeps 4.5-7.5 s between GETs: longer gaps mean a starved process or
        # simulator, which the virtual clock stretches F times (a health check of the run)
        "gaps_over_8s_share": c.rounded(sum(g > 8.0 for g in gaps) / len(gaps), 4)
        if gaps and side == "sdk"
        else None,
    }


# ---- rounds and the summary ---------------------------------------------------------------

SUMMARY_KEYS = {
    "gets_per_task": ("gets_per_task",),
    "requests_per_task": ("requests_per_task",),
    "lag_p50_s": ("lag_s", "p50"),
    "lag_p95_s": ("lag_s", "p95"),
    "lag_p99_s": ("lag_s", "p99"),
    "lag_succeeded_p50_s": ("lag_succeeded_s", "p50"),
    "lag_succeeded_p99_s": ("lag_succeeded_s", "p99"),
    "lag_failed_p95_s": ("lag_failed_s", "p95"),
    "lag_failed_early_p95_s": ("lag_failed_early_s", "p95"),
    "lag_failed_early_max_s": ("lag_failed_early_s", "max"),
    "lag_failed_partway_p95_s": ("lag_failed_partway_s", "p95"),
    "lag_failed_partway_max_s": ("lag_failed_partway_s", "max"),
    "end_to_end_p50_s": ("end_to_end_p50_s",),
    "end_to_end_p99_s": ("end_to_end_p99_s",),
    "makespan_s": ("makespan_s",),
    "cpu_s_per_1000_tasks": ("cpu_s_per_1000_tasks",),
    "peak_rss_kib": ("peak_rss_kib",),
    "min_get_gap_s": ("min_get_gap_s",),
    "gaps_over_8s_share": ("gaps_over_8s_share",),
}


def _pick(run: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = run
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int | float) else None


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tier in sorted({r["tier"] for r in runs}):
        per: dict[str, dict[str, Any]] = {}
        for side in ("bot", "sdk"):
            mine = [r for r in runs if r["tier"] == tier and r["side"] == side]
            medians: dict[str, Any] = {"runs": len(mine)}
            for name, path in SUMMARY_KEYS.items():
                values = [v for v in (_pick(r, path) for r in mine) if v is not None]
                medians[name] = c.rounded(statistics.median(values), 3) if values else None
            gaps = [v for v in (_pick(r, ("min_get_gap_s",)) for r in mine) if v is not None]
            medians["min_get_gap_s"] = min(gaps) if gaps else None  # the least, not the median
            per[side] = medians
        ratios = {}
        for name in SUMMARY_KEYS:
            bot, sdk = per["bot"].get(name), per["sdk"].get(name)
            if bot is not None and sdk:
                ratios[name] = c.rounded(bot / sdk, 3)
        out[f"tier{tier}"] = {**per, "ratio_bot_vs_sdk": ratios}
    return out


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 6 tasks, 1 round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per tier (default 3)")
    parser.add_argument(
        "--factor", type=float, help="virtual clock speed-up F (default: 10 on tier 1, 5 on tier 5)"
    )
    parser.add_argument("--tiers", default="1,5", help="tiers to run: 1, 5 or 1,5")
    parser.add_argument("--seed", type=int, default=1, help="realism seed of round 1")
    parser.add_argument(
        "--limit", type=float, default=600.0, help="real seconds one side may take at most"
    )
    parser.add_argument("--sides", default="bot,sdk", help="sides to run: bot, sdk or bot,sdk")
    parser.add_argument("--dump", help="append every task's GETs, one JSON line each, here")
    parser.add_argument("--side", choices=("bot", "sdk"), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--slots", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tasks", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


async def _tier(
    args: argparse.Namespace, tier: int, slots: int, total: int, factor: float
) -> list[dict[str, Any]]:
    """The rounds of one tier (this process's loop runs on ``VirtualClock(factor)``)."""
    rounds = 1 if args.quick else args.rounds
    runs: list[dict[str, Any]] = []
    for r in range(rounds):
        sides = ("bot", "sdk") if r % 2 == 0 else ("sdk", "bot")
        for side in (s for s in sides if s in args.sides.split(",")):
            seed = args.seed + r
            c.log(f"tier {tier} round {r + 1}/{rounds}: {side} (F = {factor:g})")
            run = await _run_side(side, tier, slots, total, seed, factor, args.limit, args.dump)
            run.update(benchmark="polling_vs_sdk", quick=args.quick, round=r + 1, factor=factor)
            sys.stdout.write(json.dumps(run) + "\n")
            sys.stdout.flush()
            runs.append(run)
    return runs


def main() -> int:
    args = _parse()
    if args.side is not None:
        return _child(args)
    chosen = [int(t) for t in args.tiers.split(",")]
    tiers = QUICK_TIERS if args.quick else {t: TIERS[t] for t in chosen}
    runs: list[dict[str, Any]] = []
    factors: dict[str, float] = {}
    for tier, (slots, total) in tiers.items():
        factor = args.factor or (QUICK_FACTOR if args.quick else FACTORS[tier])
        factors[f"tier{tier}"] = factor
        runs += clocks.run(_tier(args, tier, slots, total, factor), clocks.VirtualClock(factor))
    c.emit(
        "polling_vs_sdk",
        args.quick,
        {
            "summary": True,
            "factor": factors,
            "rounds": 1 if args.quick else args.rounds,
            **_summary(runs),
        },
    )
    ok = all(r["complete"] for r in runs) and all(
        (r["min_get_gap_s"] or MIN_GAP_SECONDS) >= MIN_GAP_SECONDS * 0.999
        for r in runs
        if r["side"] == "bot"
    )
    if not ok:
        c.log("FAIL: a run did not see every task end, or the bot polled a task within 5 s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
