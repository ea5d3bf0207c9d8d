"""Every benchmark runs with --quick and prints one JSON object with its expected keys.

Timings are not asserted (machines are noisy); only that each benchmark runs, stops by
itself within its bound, exits 0 and reports what it promises.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
TIMEOUT_S = 60  # a bound, not a target: --quick runs take a few seconds each

EXPECTED: dict[str, set[str]] = {
    "quota_reservations": {
        "limit_n", "attempts", "admitted", "admitted_multi_connection", "admitted_equals_n",
        "reservations_per_s", "latency_p50_ms", "latency_p95_ms",
        "sequential_reservations_per_s", "ratio_concurrent_vs_sequential", "runs",
    },
    "scheduler_due_jobs": {
        "jobs", "states", "due_ids_us", "earliest_due_us", "queue_position_us",
        "all_use_index", "ratio_no_index_vs_indexed", "indexes_dropped", "queries",
    },
    "simulator_pipeline": {
        "tasks", "succeeded", "creates_per_s", "gets_per_s", "render_s_per_clip_second",
        "ratio_gets_vs_creates_per_s", "peak_rss_kib",
    },
    "worker_throughput": {
        "jobs", "all_delivered", "jobs_per_min", "polls_per_task_mean",
        "min_poll_interval_sim_s", "poll_floor_respected", "light_max_wait_s",
        "heavy_max_wait_s", "ratio_light_vs_heavy_max_wait",
        "ratio_runway_slot_utilization",
    },
    "media_fit": {"image", "video_trim", "fit_clip", "peak_rss_kib"},
    "memory_soak": {
        "jobs_done", "completed", "rss_first_kib", "rss_last_kib", "rss_slope_kib_per_job",
        "gc_objects_slope_per_job", "ratio_rss_last_vs_first", "samples",
    },
}  # fmt: skip


def test_every_benchmark_script_is_covered() -> None:
    """Each script is either run here or by its own ``test_<name>.py`` in this folder."""
    scripts = {p.stem for p in BENCHMARKS.glob("*.py") if not p.stem.startswith("_")}
    own = {p.stem.removeprefix("test_") for p in Path(__file__).parent.glob("test_*.py")}
    assert scripts - own == set(EXPECTED)


@pytest.mark.timeout(TIMEOUT_S + 10)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_quick_run_prints_one_json_object(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout[-3000:]
    result = json.loads(lines[0])
    assert isinstance(result, dict)
    assert result["benchmark"] == name
    assert result["quick"] is True
    missing = EXPECTED[name] - set(result)
    assert not missing, f"{name} lacks {sorted(missing)}"
