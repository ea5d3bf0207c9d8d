"""``runway-bot playground`` from the command line: its help, and a start/stop smoke test."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.cli import build_parser

REPO = Path(__file__).resolve().parents[3]
URL_LINE = re.compile(r"Runway bot playground: (http://127\.0\.0\.1:\d+/)")


def test_help_names_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["playground", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--port", "--open", "--data"):
        assert option in text
    args = build_parser().parse_args(["playground"])
    assert (args.port, args.open, args.data) == (8080, False, None)


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.status, resp.read()


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def test_start_serve_and_stop_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path)}
    for name in ("DISCORD_TOKEN", "RUNWAY_API_KEY", "RUNWAY_BOT_DATABASE"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "playground", "--port", "0", "--log-level", "WARNING"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the page is served (or the process dies)
        match = URL_LINE.search(line)
        assert match, f"no URL in {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
        url = match.group(1)
        data_line = proc.stdout.readline()
        assert data_line.startswith("data directory: ")
        data_dir = Path(data_line.removeprefix("data directory: ").strip())
        assert data_dir.parent == tmp_path and (data_dir / "runway-bot.sqlite3").exists()

        status, page = _get(url)
        assert status == 200 and b"playground.js" in page
        world = json.loads(_get(url + "api/world")[1])
        assert "animate" in {c["name"] for c in world["commands"]}
        member = world["seeded"]["member_id"]
        answer = _post(url + "api/command", {"user_id": member, "name": "help"})
        assert answer["answered"] and answer["callback_type"] in (4, 5)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0, proc.stderr.read() if proc.stderr else ""
    assert not data_dir.exists()  # the throwaway directory is removed


def test_a_port_in_use_is_named_and_nothing_is_left_running(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "bot", "playground", "--port", str(port)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert f"is port {port} in use? try --port 0" in done.stderr
    assert list(tmp_path.iterdir()) == []  # the throwaway data directory went too
