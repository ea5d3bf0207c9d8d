"""The official runwayml SDK, pointed at the simulator, works end to end."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import runwayml
from runwayml import AsyncRunwayML, RunwayML
from runwayml.lib import polling

from bot.runway.simulator import RunwaySimulator, SimulatorOptions
from tests.bot.runway.sim_media import make_png

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
