"""benchmarks/scale.py --quick: runs, prints one JSON object, and its tick did the same work
at both sizes through indexes only. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120  # a bound, not a target


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--quick"],
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


@pytest.mark.timeout(TIMEOUT_S + 10)
def test_quick_run_reports_every_size(result: dict[str, Any]) -> None:
    assert result["benchmark"] == "scale"
    assert result["quick"] is True
    sizes = result["sizes"]
    assert len(sizes) == 2 and sizes[0] < sizes[1]
    assert [r["jobs"] for r in result["results"]] == sizes
    for key in (
        "tick_ms",
        "run_once_ms",
        "tick_statements",
        "tick_vm_steps",
        "queue_stats_scrape_ms",
    ):
        assert key in result["ratios"], key
    for size in result["results"]:
        for key in ("tick_ms_median", "run_once_ms_median", "tick_statement_kinds", "seed_s"):
            assert key in size, key
        assert set(size["reads"]) >= {
            "jobs_list_heavy",
            "active_jobs_heavy",
            "quota_status_heavy",
            "queue_position",
            "queue_stats_scrape",
            "create_light",
            "create_heavy",
        }


@pytest.mark.timeout(TIMEOUT_S + 10)
def test_a_tick_does_real_work_the_same_way_at_every_size(result: dict[str, Any]) -> None:
    small, large = result["results"]
    # The live set is the same: the tick submits, polls, cancels and delivers alike.
    assert small["tick_runway_calls"] == large["tick_runway_calls"] > 0
    assert small["tick_statement_kinds"] == large["tick_statement_kinds"]
    assert small["tick_statement_kinds"]["UPDATE"] > 0
    assert result["same_statements_every_size"] is True
    # Every statement of a tick, of the input purge and of the reads uses an index.
    assert result["tick_uses_indexes"] is True
    for size in (small, large):
        assert size["tick_table_scans"] == [] and size["purge_table_scans"] == []
        for name, read in size["reads"].items():
            assert read["plans"]["table_scans"] == [], name
