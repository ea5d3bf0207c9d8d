"""benchmarks/polling_vs_sdk.py --quick: both sides run against the realistic simulator, each
in its own subprocess on the virtual clock, and report what the benchmark promises.

Timings are not asserted (machines are noisy); only that every task's end was seen, that
the bot never polled one task twice within 5 simulated seconds, and the report's shape.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "polling_vs_sdk.py"
TIMEOUT_S = 120  # a bound, not a target

RUN_KEYS = {
    "side", "tier", "tasks", "complete", "gets_per_task", "requests_per_task", "lag_s",
    "lag_succeeded_s", "lag_failed_s", "lag_failed_early_s", "lag_failed_partway_s",
    "end_to_end_p50_s", "end_to_end_p99_s", "makespan_s", "cpu_s_per_1000_tasks",
    "peak_rss_kib", "min_get_gap_s",
}  # fmt: skip


@pytest.mark.timeout(TIMEOUT_S + 10)
def test_quick_run_compares_both_sides_from_the_simulators_view() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    *runs, summary = lines
    assert sorted(r["side"] for r in runs) == ["bot", "sdk"]
    for run in runs:
        assert set(run) >= RUN_KEYS, sorted(RUN_KEYS - set(run))
        assert run["benchmark"] == "polling_vs_sdk" and run["quick"] is True
        assert run["complete"] is True
        assert run["tasks_created"] == run["tasks"] == run["terminal_seen"]
        assert run["gets_per_task"] >= 1.0
        assert run["cpu_s_per_1000_tasks"] > 0 and run["peak_rss_kib"] > 0
    bot = next(r for r in runs if r["side"] == "bot")
    assert bot["min_get_gap_s"] >= 5.0 * 0.999
    assert sum(bot["states"].values()) == bot["tasks"]
    assert summary["benchmark"] == "polling_vs_sdk" and summary["summary"] is True
    tier = summary["tier1"]
    assert {"bot", "sdk", "ratio_bot_vs_sdk"} <= set(tier)
    assert tier["ratio_bot_vs_sdk"]["gets_per_task"] == pytest.approx(
        tier["bot"]["gets_per_task"] / tier["sdk"]["gets_per_task"], rel=0.01
    )
