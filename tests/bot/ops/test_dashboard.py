"""docs/grafana-dashboard.json parses and queries only metrics the bot exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bot.ops.metrics import Metrics

DASHBOARD = Path(__file__).resolve().parents[3] / "docs" / "grafana-dashboard.json"
RUNBOOK = DASHBOARD.parent / "runbook.md"
NAME = re.compile(r"\brunway_bot_[a-z0-9_]+\b")


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if "expr" in t]


def test_the_dashboard_is_valid_json_with_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["title"] and dashboard["uid"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    assert all(p["targets"] for p in dashboard["panels"])


def test_the_dashboard_names_only_metrics_that_exist() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exported = Metrics().series_names()
    used = {name for expr in expressions(dashboard) for name in NAME.findall(expr)}
    assert used, "no runway_bot_* metric in the dashboard"
    assert used <= exported, f"unknown metrics: {sorted(used - exported)}"
    # every family is on the dashboard
    families = {f.name for f in Metrics().registry.collect()}
    assert {f for f in families if not any(u.startswith(f) for u in used)} == set()


def test_the_runbook_names_only_metrics_that_exist() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    assert "## Metrics and health" in text
    metrics = Metrics()
    known = metrics.series_names() | {f.name for f in metrics.registry.collect()}
    named = set(NAME.findall(text))
    assert named and named <= known, sorted(named - known)
