"""The data directory's persistent, exclusive instance id."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.instance import InstanceBusy, acquire_instance, process_owner


def test_owner_id_survives_a_restart(tmp_path: Path) -> None:
    first = acquire_instance(tmp_path / "data")
    owner = first.owner
    first.release()
    second = acquire_instance(tmp_path / "data")
    assert second.owner == owner and owner.startswith("bot-")
    second.release()


def test_second_process_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    lock = acquire_instance(tmp_path)
    code = (
        "import sys; from pathlib import Path; from bot.instance import acquire_instance, "
        "InstanceBusy\ntry:\n    acquire_instance(Path(sys.argv[1]))\nexcept InstanceBusy as e:\n"
        "    print(e); raise SystemExit(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 3
    assert "another bot process is already using" in result.stdout
    lock.release()
    again = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, timeout=30, check=False
    )
    assert again.returncode == 0


def test_a_killed_holder_frees_the_directory(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from bot.instance import "
            "acquire_instance; lock = acquire_instance(Path(sys.argv[1])); "
            "print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(InstanceBusy):
            acquire_instance(tmp_path)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    acquire_instance(tmp_path).release()


def test_process_owner_is_unique_per_process_and_takes_no_lock(tmp_path: Path) -> None:
    """On PostgreSQL each process names its leases itself: never a dead process's name."""
    code = "from bot.instance import process_owner; print(process_owner())"
    others = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    mine = {process_owner(), process_owner()}
    assert len(others) == 2 and len(mine) == 2 and not others & mine
    assert all(f":{os.getpid()}:" in owner for owner in mine)
    acquire_instance(tmp_path).release()  # the data directory was not locked by any of it
