"""benchmarks/delivery.py --quick: clips go through download, fit and upload to the fake
Discord, and the run reports memory per clip. No timing or memory figure is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 150  # a bound, not a target: two child processes and a small re-encode


@pytest.mark.timeout(TIMEOUT_S + 10)
def test_quick_run_delivers_every_clip_and_reports_memory() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "delivery.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout[-3000:]
    result = json.loads(lines[0])
    assert result["benchmark"] == "delivery"
    assert result["quick"] is True
    assert result["all_delivered"] is True
    cases = result["cases"]
    assert len(cases) >= 2
    for name, case in cases.items():
        assert case["downloaded_bytes"] == case["clip_bytes"], name
        assert 0 < case["posted_bytes"] <= case["guild_upload_limit_bytes"], name
        assert case["leftover_files"] == [], name
        assert case["rss_peak_kib"] >= case["rss_before_kib"] > 0, name
    # One clip fits the guild as it is, one is over the limit and is re-encoded to fit.
    assert {case["re_encoded"] for case in cases.values()} == {True, False}
    assert isinstance(result["max_rss_growth_mib"], float)
