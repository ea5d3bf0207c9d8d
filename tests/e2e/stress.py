"""Run the end-to-end suite again and again while busy processes compete for the CPUs.

    python -m tests.e2e.stress --runs 10 --cpu-hogs 2
    python -m tests.e2e.stress --runs 3 --cpu-hogs 4 -- tests/e2e/test_generate.py -k menu

Each run is a fresh ``python -m pytest`` over ``tests/e2e`` (or the paths and options after
``--``). The hogs are plain busy loops in child processes; they stop by themselves at the
deadline and are killed when the runs end. Prints one JSON line: runs, failed runs, the failing
test ids with how often each failed, and every run's wall time. Exit status 1 if any run failed.
Loopback only, like the suite itself; bounded by ``--max-minutes``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _hog(deadline: float) -> None:
    """Keep one CPU busy until ``deadline`` (monotonic seconds)."""
    n = 0
    while time.monotonic() < deadline:
        for _ in range(10_000):
            n = (n * 1_103_515_245 + 12_345) & 0xFFFFFFFF


def start_hogs(count: int, deadline: float) -> list[multiprocessing.Process]:
    """``count`` busy processes that end by themselves at ``deadline``."""
    hogs = [
        multiprocessing.Process(target=_hog, args=(deadline,), daemon=True) for _ in range(count)
    ]
    for hog in hogs:
        hog.start()
    return hogs


def failed_ids(junit: Path) -> list[str]:
    """The node ids of the failed or errored test cases in a JUnit XML report."""
    if not junit.exists():
        return ["<no report: pytest did not finish>"]
    out: list[str] = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            module = (case.get("classname") or "").replace(".", "/")
            out.append(f"{module}.py::{case.get('name')}")
    return out


def one_run(index: int, pytest_args: list[str], workdir: Path, timeout: float) -> dict[str, Any]:
    """One pytest run; its wall time, exit code and failing test ids."""
    junit = workdir / f"run-{index}.xml"
    log = workdir / f"run-{index}.log"
    started = time.monotonic()
    with log.open("wb") as out:
        try:
            code = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    f"--junitxml={junit}",
                    *pytest_args,
                ],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
    failed = failed_ids(junit) if code != 0 else []
    if code != 0 and not failed:
        failed = [f"<pytest exited with {code}; see {log}>"]
    return {
        "exit_code": code,
        "seconds": round(time.monotonic() - started, 1),
        "failed": failed,
        "log": str(log),
    }


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, rest = args[:cut], args[cut + 1 :]
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.stress")
    parser.add_argument("--runs", type=int, default=10, help="how many full runs (default 10)")
    parser.add_argument(
        "--cpu-hogs", type=int, default=2, help="busy processes competing for the CPUs"
    )
    parser.add_argument(
        "--max-minutes", type=float, default=80.0, help="stop starting runs after this long"
    )
    options = parser.parse_args(args)
    pytest_args = rest or ["tests/e2e"]
    budget = options.max_minutes * 60
    deadline = time.monotonic() + budget
    workdir = Path(tempfile.mkdtemp(prefix="e2e-stress-"))
    hogs = start_hogs(options.cpu_hogs, deadline)
    runs: list[dict[str, Any]] = []
    try:
        for index in range(options.runs):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            runs.append(one_run(index, pytest_args, workdir, left))
            print(
                f"run {index + 1}/{options.runs}: exit {runs[-1]['exit_code']}"
                f" in {runs[-1]['seconds']} s {runs[-1]['failed'] or ''}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        for hog in hogs:
            hog.kill()
            hog.join(timeout=10)
    failures = Counter(test for run in runs for test in run["failed"])
    report = {
        "runs": len(runs),
        "runs_asked": options.runs,
        "cpu_hogs": options.cpu_hogs,
        "cpus": os.cpu_count(),
        "pytest_args": pytest_args,
        "failed_runs": sum(1 for run in runs if run["exit_code"] != 0),
        "failing_tests": dict(failures),
        "run_seconds": [run["seconds"] for run in runs],
        "logs": str(workdir),
    }
    print(json.dumps(report))
    return 1 if report["failed_runs"] or len(runs) < options.runs else 0


if __name__ == "__main__":
    raise SystemExit(main())
