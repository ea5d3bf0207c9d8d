"""benchmarks/multiprocess.py --quick: worker processes on one PostgreSQL database finish every
job once (no double claim, no clip twice), within the per-model limit. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.pgcluster import Cluster, Unavailable

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180  # a bound, not a target


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    try:  # the benchmark starts its own server: skip, saying why, where none can be started
        Cluster.start().stop()
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server can be started: {exc}")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "multiprocess.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout[-3000:]
    out: dict[str, Any] = json.loads(lines[0])
    return out


@pytest.mark.timeout(TIMEOUT_S + 30)
def test_every_process_count_finishes_every_job_once(result: dict[str, Any]) -> None:
    assert result["benchmark"] == "multiprocess" and result["quick"] is True
    runs = result["results"]
    assert [r["processes"] for r in runs] == [1, 2]
    limit = result["in_flight_per_model"]
    for run in runs:
        jobs = run["jobs"]
        assert run["states"] == {"succeeded": jobs}
        assert run["double_claims"] == 0
        assert run["creates_at_simulator"] == jobs
        assert run["clips_delivered"] == jobs and len(run["clips_per_process"]) == run["processes"]
        assert 0 < run["peak_tasks_in_flight"] <= limit
        assert 0 < run["ratio_runway_slot_use"] <= 1
        assert run["jobs_per_min"] > 0 and run["jobs_per_simulated_min"] > 0
