"""The official runwayml SDK, pointed at the simulator (in process, and served by
``runway-bot simulate``), works end to end."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import runwayml
from runwayml import AsyncRunwayML, RunwayML
from runwayml.lib import polling

from bot.cli import main as cli_main
from bot.simulator import RunwaySimulator, SimulatorOptions
from tests.bot.simulator.sim_media import make_png

KEY = "key_" + "0123456789abcdef" * 8
PNG = make_png((320, 240))
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polling, "POLL_TIME", 0.05)
    monkeypatch.setattr(polling, "POLL_JITTER", 0)


@pytest.fixture
async def sim() -> AsyncIterator[RunwaySimulator]:
    opts = SimulatorOptions(task_seconds=4.0, pending_seconds=1.0, time_scale=40.0)
    async with RunwaySimulator(opts) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: RunwaySimulator) -> AsyncIterator[AsyncRunwayML]:
    async with AsyncRunwayML(api_key=KEY, base_url=sim.base_url, max_retries=0) as sdk:
        yield sdk


async def test_create_and_wait_for_output(sim: RunwaySimulator, client: AsyncRunwayML) -> None:
    task = await client.image_to_video.create(
        model="gen4_turbo",
        prompt_image=PNG_URI,
        ratio="720:1280",
        prompt_text="a slow pan",
        duration=2,
        seed=11,
    )
    pending = await client.tasks.retrieve(task.id)
    assert pending.status in ("PENDING", "RUNNING")
    done = await task.wait_for_task_output(timeout=30)
    assert done.status == "SUCCEEDED"
    assert done.cost.credits == 10
    async with httpx.AsyncClient() as http:
        clip = await http.get(done.output[0])
    assert clip.status_code == 200
    assert clip.content[4:8] == b"ftyp"


async def test_invalid_ratio_is_a_bad_request(client: AsyncRunwayML) -> None:
    bad_ratio: Any = "1:1"  # not one the SDK's types allow: it is sent as is
    with pytest.raises(runwayml.BadRequestError) as caught:
        await client.image_to_video.create(
            model="gen4_turbo", prompt_image=PNG_URI, ratio=bad_ratio
        )
    assert caught.value.status_code == 400
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["issues"][0]["path"] == ["ratio"]


async def test_a_failed_task_raises_task_failed_error(client: AsyncRunwayML) -> None:
    task = await client.image_to_video.create(
        model="gen4_turbo",
        prompt_image=PNG_URI,
        ratio="1280:720",
        prompt_text="[sim:fail=SAFETY.INPUT.TEXT] something",
        duration=2,
    )
    with pytest.raises(polling.TaskFailedError) as caught:
        await task.wait_for_task_output(timeout=30)
    details = caught.value.task_details
    assert details.status == "FAILED"
    assert details.failure_code == "SAFETY.INPUT.TEXT"


async def test_upload_delete_and_organization(sim: RunwaySimulator, client: AsyncRunwayML) -> None:
    uploaded = await client.uploads.create_ephemeral(file=("in.png", PNG, "image/png"))
    assert uploaded.uri.startswith("runway://")
    task = await client.image_to_video.create(
        model="gen4_turbo", prompt_image=uploaded.uri, ratio="960:960", duration=2
    )
    await client.tasks.delete(task.id)
    cancelled = await client.tasks.retrieve(task.id)
    assert cancelled.status == "CANCELLED"
    org = await client.organization.retrieve()
    assert org.credit_balance > 0
    assert org.tier.models["gen4_turbo"].max_concurrent_generations == 2


async def test_bad_key_is_an_authentication_error(sim: RunwaySimulator) -> None:
    async with AsyncRunwayML(api_key="nope", base_url=sim.base_url, max_retries=0) as sdk:
        with pytest.raises(runwayml.AuthenticationError):
            await sdk.tasks.retrieve("anything")


async def test_sync_client_in_a_thread(sim: RunwaySimulator) -> None:
    def run() -> str:
        with RunwayML(api_key=KEY, base_url=sim.base_url, max_retries=0) as sdk:
            task = sdk.image_to_video.create(
                model="gen4_turbo", prompt_image=PNG_URI, ratio="1280:720", duration=2
            )
            return str(task.wait_for_task_output(timeout=30).status)

    assert await asyncio.to_thread(run) == "SUCCEEDED"


# ---- the same SDK against `runway-bot simulate` in its own process -----------------------


@contextmanager
def simulate_command(*args: str, env_key: str | None = None) -> Iterator[str]:
    """Run ``python -m bot simulate`` on a free port; yields its URL, stops it on exit."""
    env = {k: v for k, v in os.environ.items() if k != "RUNWAY_API_KEY"}
    env["PYTHONUNBUFFERED"] = "1"
    if env_key is not None:
        env["RUNWAY_API_KEY"] = env_key
    command = [sys.executable, "-m", "bot", "simulate", "--port", "0", *args]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    reader = ThreadPoolExecutor(1)  # readline has no timeout of its own
    try:
        assert proc.stdout is not None
        line = reader.submit(proc.stdout.readline).result(timeout=30)
        assert "listening on http://127.0.0.1:" in line, line
        yield line.rsplit(" ", 1)[1].strip()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        reader.shutdown()  # the pipe is at EOF once the process is gone


@pytest.mark.timeout(90)
def test_round_trip_against_the_simulate_command() -> None:
    with (
        simulate_command("--time-scale", "50") as url,
        RunwayML(base_url=url, api_key="key_" + "0" * 128, max_retries=0) as sdk,
    ):
        task = sdk.image_to_video.create(
            model="gen4_turbo", prompt_image=PNG_URI, ratio="1280:720", duration=2, seed=3
        )
        done = task.wait_for_task_output(timeout=60)
        assert done.status == "SUCCEEDED"
        assert done.id == task.id and done.output
        clip = httpx.get(done.output[0], timeout=10)
        assert clip.status_code == 200 and clip.content[4:8] == b"ftyp"

        bad_ratio: Any = "1:1"
        with pytest.raises(runwayml.BadRequestError) as caught:
            sdk.image_to_video.create(model="gen4_turbo", prompt_image=PNG_URI, ratio=bad_ratio)
        assert caught.value.status_code == 400


def _accepted(url: str, key: str) -> bool:
    """True when the simulator lets ``key`` in (an unknown task is then just not found)."""
    with RunwayML(base_url=url, api_key=key, max_retries=0) as sdk:
        try:
            sdk.tasks.retrieve("no-such-task")
        except runwayml.AuthenticationError:
            return False
        except runwayml.NotFoundError:
            return True
    raise AssertionError("an unknown task was found")


@pytest.mark.timeout(90)
def test_simulate_command_takes_its_key_from_runway_api_key() -> None:
    env_key, flag_key = "key_" + "e" * 128, "key_" + "f" * 128
    with simulate_command(env_key=env_key) as url:
        assert _accepted(url, env_key)
        assert not _accepted(url, flag_key)
    with simulate_command("--api-key", flag_key, env_key=env_key) as url:
        assert _accepted(url, flag_key)  # the flag wins over the environment
        assert not _accepted(url, env_key)
    with simulate_command() as url:  # neither: any well-formed key
        assert _accepted(url, env_key) and _accepted(url, flag_key)


def test_simulate_help_names_the_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli_main(["simulate", "--help"])
    assert caught.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--api-key" in text and "RUNWAY_API_KEY environment variable" in text
