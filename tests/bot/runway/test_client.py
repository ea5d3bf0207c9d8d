"""RunwayClient over real HTTP on 127.0.0.1: the simulator, scripted faults, and a plain
aiohttp server standing in for foreign hosts (output CDN, upload bucket, gateway prefix).

Waits are never timed: the client's retry sleep is replaced by a recorder.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from aiohttp import web
from PIL import Image

from bot.config import RunwaySettings
from bot.runway.client import RunwayClient
from bot.runway.errors import (
    AuthenticationError,
    BadResponseError,
    NotFoundError,
    OutputExpiredError,
    OutputTooLargeError,
    RateLimitedError,
    RunwayConnectionError,
    RunwayError,
    RunwayTimeoutError,
    RunwayValidationError,
    ServerError,
    TaskNotVisibleYet,
)
from bot.runway.models import ImageToVideoRequest, TaskStatus, VideoToVideoRequest
from bot.simulator import Fault, RunwaySimulator, SimulatorOptions

pytestmark = pytest.mark.timeout(60)

KEY = "key_" + "0123456789abcdef" * 8
OTHER_KEY = "key_" + "fedcba9876543210" * 8
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
# 1 real second = 1 simulated millisecond: only advance() moves tasks along.
SLOW_CLOCK = 0.001


class RecordedSleeps:
    """Stands in for asyncio.sleep in the retry policy: records each requested wait."""

    def __init__(self, hook: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.waits: list[float] = []
        self._hook = hook

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self._hook is not None:
            await self._hook(len(self.waits))
        await asyncio.sleep(0)


def _png_data_uri() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), (200, 120, 40)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


PNG = _png_data_uri()


def _tiny_mp4() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(12):
            image = Image.new("RGB", (64, 64), (i * 20, 80, 160))
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def i2v(prompt: str = "slow dolly in", **changes: Any) -> ImageToVideoRequest:
    fields: dict[str, Any] = {
        "model": "gen4_turbo",
        "prompt_image": PNG,
        "prompt_text": prompt,
        "ratio": "1280:720",
        "duration": 2,
        **changes,
    }
    return ImageToVideoRequest(**fields)


def count(sim: RunwaySimulator, method: str, path: str) -> int:
    return sum(1 for m, p in sim.request_log if m == method and p == path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def make_client(base_url: str, sleeps: RecordedSleeps, **changes: Any) -> RunwayClient:
    options: dict[str, Any] = {
        "base_url": base_url,
        "api_key": KEY,
        "provider": "simulator",
        "connect_timeout": 2.0,
        "request_timeout": 20.0,
        "max_retries": 3,
        "backoff_base": 0.05,
        "backoff_max": 5.0,
        "sleep": sleeps,
        **changes,
    }
    return RunwayClient(**options)


@pytest.fixture
async def sim() -> AsyncIterator[RunwaySimulator]:
    async with RunwaySimulator(
        SimulatorOptions(time_scale=SLOW_CLOCK, task_seconds=5.0, pending_seconds=1.0)
    ) as simulator:
        yield simulator


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
async def client(sim: RunwaySimulator, sleeps: RecordedSleeps) -> AsyncIterator[RunwayClient]:
    async with make_client(sim.base_url, sleeps) as runway:
        yield runway


# ---------------------------------------------------------------- statuses and calls


async def test_task_runs_to_success_and_the_clip_downloads(
    sim: RunwaySimulator, client: RunwayClient, tmp_path: Path
) -> None:
    task_id = await client.create_image_to_video(i2v())
    assert sim.created_count == 1

    pending = await client.get_task(task_id)
    assert (pending.id, pending.status) == (task_id, TaskStatus.PENDING)

    sim.advance(2.0)
    running = await client.get_task(task_id)
    assert running.status is TaskStatus.RUNNING
    assert running.progress is not None and 0.0 <= running.progress < 1.0

    sim.advance(10.0)
    await sim.wait_rendered(task_id)
    done = await client.get_task(task_id)
    assert done.status is TaskStatus.SUCCEEDED
    assert sim.task_status(task_id) == "SUCCEEDED"
    assert done.output

    dest = tmp_path / "clip.mp4"
    size = await client.download(done.output[0], dest, max_bytes=50 * 1024 * 1024)
    data = dest.read_bytes()
    assert size == len(data) > 0
    assert data[4:8] == b"ftyp"


async def test_throttled_status(sim: RunwaySimulator, client: RunwayClient) -> None:
    task_id = await client.create_image_to_video(i2v("[sim:throttle=60] waves"))
    sim.advance(2.0)
    assert (await client.get_task(task_id)).status is TaskStatus.THROTTLED


async def test_failed_status_carries_failure_and_code(
    sim: RunwaySimulator, client: RunwayClient
) -> None:
    task_id = await client.create_image_to_video(i2v("[sim:fail=SAFETY.INPUT.TEXT] waves"))
    sim.advance(30.0)
    task = await client.get_task(task_id)
    assert task.status is TaskStatus.FAILED
    assert task.failure_code == "SAFETY.INPUT.TEXT"
    assert task.failure
    assert not task.output


async def test_cancelled_elsewhere(sim: RunwaySimulator, client: RunwayClient) -> None:
    task_id = await client.create_image_to_video(i2v("[sim:cancel] waves"))
    sim.advance(30.0)
    assert (await client.get_task(task_id)).status is TaskStatus.CANCELLED


async def test_cancel_then_delete_then_gone_is_not_an_error(
    sim: RunwaySimulator, client: RunwayClient
) -> None:
    task_id = await client.create_image_to_video(i2v())
    await client.cancel_task(task_id)
    assert (await client.get_task(task_id)).status is TaskStatus.CANCELLED
    assert sim.task_status(task_id) == "CANCELLED"
    await client.cancel_task(task_id)  # a finished task is deleted
    with pytest.raises(NotFoundError):
        await client.get_task(task_id)
    await client.cancel_task(task_id)  # already gone: fine
    assert count(sim, "DELETE", f"/v1/tasks/{task_id}") == 3


async def test_unknown_task_is_not_found(client: RunwayClient, sleeps: RecordedSleeps) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.get_task(UNKNOWN_ID)
    assert not isinstance(caught.value, TaskNotVisibleYet)
    assert caught.value.status == 404
    assert sleeps.waits == []
    await client.cancel_task(UNKNOWN_ID)


async def test_malformed_task_id_is_refused_locally(
    sim: RunwaySimulator, client: RunwayClient
) -> None:
    with pytest.raises(NotFoundError):
        await client.get_task("../organization")
    assert sim.request_log == []


async def test_upload_then_video_to_video(sim: RunwaySimulator, client: RunwayClient) -> None:
    uri = await client.upload_ephemeral("in.mp4", _tiny_mp4(), "video/mp4")
    assert uri.startswith("runway://")
    task_id = await client.create_video_to_video(
        VideoToVideoRequest(model="gen4_aleph", video_uri=uri, prompt_text="make it snow")
    )
    sim.advance(30.0)
    await sim.wait_rendered(task_id)
    task = await client.get_task(task_id)
    assert task.status is TaskStatus.SUCCEEDED, task.failure


async def test_organization(client: RunwayClient) -> None:
    org = await client.organization()
    assert org.credit_balance is not None


async def test_validation_error_lists_issues(
    sim: RunwaySimulator, client: RunwayClient, sleeps: RecordedSleeps
) -> None:
    with pytest.raises(RunwayValidationError) as caught:
        await client.create_image_to_video(i2v(ratio="1:1"))
    error = caught.value
    assert error.status == 400
    assert any(issue.path == ["ratio"] for issue in error.issues)
    assert "ratio" in error.describe()
    assert sim.created_count == 0
    assert sleeps.waits == []


async def test_missing_version_header_value_is_refused(
    sim: RunwaySimulator, sleeps: RecordedSleeps
) -> None:
    async with make_client(sim.base_url, sleeps, api_version="1999-01-01") as runway:
        with pytest.raises(RunwayValidationError):
            await runway.get_task(UNKNOWN_ID)


async def test_wrong_key_is_an_authentication_error(sleeps: RecordedSleeps) -> None:
    async with RunwaySimulator(SimulatorOptions(api_key=KEY, time_scale=SLOW_CLOCK)) as sim:
        async with make_client(sim.base_url, sleeps, api_key=OTHER_KEY) as runway:
            with pytest.raises(AuthenticationError) as caught:
                await runway.create_image_to_video(i2v())
        assert caught.value.status == 401
        assert sim.created_count == 0
    assert sleeps.waits == []
    assert OTHER_KEY not in str(caught.value)


# ---------------------------------------------------------------- faults and retries


async def test_429_on_get_waits_the_retry_after(
    sim: RunwaySimulator, client: RunwayClient, sleeps: RecordedSleeps
) -> None:
    task_id = await client.create_image_to_video(i2v())
    sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks", status=429, retry_after=2.5))
    task = await client.get_task(task_id)
    assert task.id == task_id
    assert len(sleeps.waits) == 1
    assert sleeps.waits[0] >= 2.5
    assert count(sim, "GET", f"/v1/tasks/{task_id}") == 2


async def test_429_on_create_is_retried_because_nothing_started(
    sim: RunwaySimulator, client: RunwayClient, sleeps: RecordedSleeps
) -> None:
    sim.add_fault(
        Fault(method="POST", path_prefix="/v1/image_to_video", status=429, retry_after=1, times=2)
    )
    task_id = await client.create_image_to_video(i2v())
    assert sim.task_status(task_id) is not None
    assert sim.created_count == 1
    assert count(sim, "POST", "/v1/image_to_video") == 3
    assert len(sleeps.waits) == 2
    assert all(wait >= 1.0 for wait in sleeps.waits)


async def test_429_with_a_long_retry_after_is_raised_for_the_caller(
    sim: RunwaySimulator, client: RunwayClient, sleeps: RecordedSleeps
) -> None:
    sim.add_fault(Fault(method="POST", status=429, retry_after=600))
    with pytest.raises(RateLimitedError) as caught:
        await client.create_image_to_video(i2v())
    assert caught.value.retry_after == pytest.approx(600)
    assert sleeps.waits == []
    assert sim.created_count == 0


async def test_429_gives_up_after_max_retries(
    sim: RunwaySimulator, client: RunwayClient, sleeps: RecordedSleeps
) -> None:
    sim.add_fault(Fault(method="GET", status=429, retry_after=0.5, times=100))
    with pytest.raises(RateLimitedError):
        await client.get_task(UNKNOWN_ID)
    assert len(sleeps.waits) == 3
    assert count(sim, "GET", f"/v1/tasks/{UNKNOWN_ID}") == 4


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_on_get_is_retried_then_succeeds(
    sim: RunwaySimulator, client: RunwayClient, sleeps: RecordedSleeps, status: int
) -> None:
    task_id = await client.create_image_to_video(i2v())
    sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks", status=status, times=2))
    assert (await client.get_task(task_id)).id == task_id
    assert len(sleeps.waits) == 2
    assert sleeps.waits[0] <= 0.05 and sleeps.waits[1] <= 0.1
    assert count(sim, "GET", f"/v1/tasks/{task_id}") == 3


async def test_5xx_on_delete_is_retried(
    sim: RunwaySimulator, client: RunwayClient, sleeps: RecordedSleeps
) -> None:
    task_id = await client.create_image_to_video(i2v())
    sim.add_fault(Fault(method="DELETE", status=503))
    await client.cancel_task(task_id)
    assert sim.task_status(task_id) == "CANCELLED"
    assert len(sleeps.waits) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_on_create_is_never_retried(
    sim: RunwaySimulator, client: RunwayClient, sleeps: RecordedSleeps, status: int
) -> None:
    sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", status=status))
    with pytest.raises(ServerError) as caught:
        await client.create_image_to_video(i2v())
    assert caught.value.status == status
    assert count(sim, "POST", "/v1/image_to_video") == 1
    assert sim.created_count == 0
    assert sleeps.waits == []


async def test_5xx_exhausts_retries_on_get(
    sim: RunwaySimulator, client: RunwayClient, sleeps: RecordedSleeps
) -> None:
    sim.add_fault(Fault(method="GET", status=503, times=100))
    with pytest.raises(ServerError):
        await client.organization()
    assert len(sleeps.waits) == 3


async def test_read_timeout_on_get_is_retried(sim: RunwaySimulator, sleeps: RecordedSleeps) -> None:
    # The retry must answer within request_timeout: keep a wide margin.
    async with make_client(sim.base_url, sleeps, request_timeout=1.0) as runway:
        task_id = await runway.create_image_to_video(i2v())
        sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks", delay=2.0, status=200))
        assert (await runway.get_task(task_id)).id == task_id
    assert len(sleeps.waits) == 1


async def test_read_timeout_on_create_is_raised_not_retried(
    sim: RunwaySimulator, sleeps: RecordedSleeps
) -> None:
    async with make_client(sim.base_url, sleeps, request_timeout=0.3) as runway:
        sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", delay=1.0))
        with pytest.raises(RunwayTimeoutError):
            await runway.create_image_to_video(i2v())
    assert count(sim, "POST", "/v1/image_to_video") == 1
    assert sleeps.waits == []


async def test_timeouts_exhaust_retries_on_get(
    sim: RunwaySimulator, sleeps: RecordedSleeps
) -> None:
    async with make_client(sim.base_url, sleeps, request_timeout=0.2, max_retries=1) as runway:
        sim.add_fault(Fault(method="GET", delay=0.6, times=2))
        with pytest.raises(RunwayTimeoutError):
            await runway.get_task(UNKNOWN_ID)
    assert len(sleeps.waits) == 1


async def test_dropped_connection_on_get_is_retried(
    sim: RunwaySimulator, client: RunwayClient
) -> None:
    task_id = await client.create_image_to_video(i2v())
    sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks", drop_connection=True))
    assert (await client.get_task(task_id)).id == task_id


async def test_dropped_connection_on_create_may_have_started_a_task(
    sim: RunwaySimulator, client: RunwayClient, sleeps: RecordedSleeps
) -> None:
    sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", drop_connection=True))
    with pytest.raises(RunwayConnectionError) as caught:
        await client.create_image_to_video(i2v())
    assert caught.value.request_sent is True
    assert count(sim, "POST", "/v1/image_to_video") == 1
    assert sleeps.waits == []


async def test_refused_connection_on_create_is_retried_until_the_server_is_up() -> None:
    port = free_port()
    started: list[RunwaySimulator] = []

    async def start_server(waits: int) -> None:
        if waits == 2:
            simulator = RunwaySimulator(SimulatorOptions(time_scale=SLOW_CLOCK))
            await simulator.start(port=port)
            started.append(simulator)

    sleeps = RecordedSleeps(start_server)
    try:
        async with make_client(f"http://127.0.0.1:{port}", sleeps) as runway:
            task_id = await runway.create_image_to_video(i2v())
        assert len(sleeps.waits) == 2
        assert started[0].created_count == 1
        assert started[0].task_status(task_id) is not None
    finally:
        for simulator in started:
            await simulator.stop()


async def test_refused_connection_gives_up_after_max_retries() -> None:
    sleeps = RecordedSleeps()
    async with make_client(f"http://127.0.0.1:{free_port()}", sleeps) as runway:
        with pytest.raises(RunwayConnectionError) as caught:
            await runway.create_image_to_video(i2v())
    assert caught.value.request_sent is False
    assert len(sleeps.waits) == 3
    waits = sleeps.waits
    assert waits[0] <= waits[2]


async def test_malformed_json_on_get_is_retried(
    sim: RunwaySimulator, client: RunwayClient, sleeps: RecordedSleeps
) -> None:
    task_id = await client.create_image_to_video(i2v())
    sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks", status=200, body="{not json"))
    assert (await client.get_task(task_id)).id == task_id
    assert len(sleeps.waits) == 1


async def test_malformed_json_keeps_coming_is_a_bad_response(
    sim: RunwaySimulator, client: RunwayClient
) -> None:
    sim.add_fault(Fault(method="GET", status=200, body="{not json", times=100))
    with pytest.raises(BadResponseError):
        await client.get_task(UNKNOWN_ID)


async def test_unexpected_task_shape_is_a_bad_response(
    sim: RunwaySimulator, client: RunwayClient
) -> None:
    sim.add_fault(Fault(method="GET", status=200, body='{"id": "x", "status": "EXPLODED"}'))
    with pytest.raises(BadResponseError):
        await client.get_task(UNKNOWN_ID)


async def test_malformed_create_answer_is_not_retried(
    sim: RunwaySimulator, client: RunwayClient, sleeps: RecordedSleeps
) -> None:
    sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", status=200, body="<html"))
    with pytest.raises(BadResponseError):
        await client.create_image_to_video(i2v())
    assert count(sim, "POST", "/v1/image_to_video") == 1
    assert sleeps.waits == []


# ---------------------------------------------------------------- outputs


async def _succeeded_output(sim: RunwaySimulator, client: RunwayClient) -> tuple[str, str]:
    task_id = await client.create_image_to_video(i2v())
    sim.advance(30.0)
    await sim.wait_rendered(task_id)
    task = await client.get_task(task_id)
    assert task.status is TaskStatus.SUCCEEDED and task.output
    return task_id, task.output[0]


async def test_expired_output_then_a_fresh_url_works(
    sim: RunwaySimulator, client: RunwayClient, tmp_path: Path
) -> None:
    task_id, old_url = await _succeeded_output(sim, client)
    sim.expire_outputs()
    dest = tmp_path / "clip.mp4"
    with pytest.raises(OutputExpiredError) as caught:
        await client.download(old_url, dest, max_bytes=50 * 1024 * 1024)
    assert caught.value.status == 403
    assert not dest.exists()

    fresh = await client.get_task(task_id)
    assert fresh.output and fresh.output[0] != old_url
    assert await client.download(fresh.output[0], dest, max_bytes=50 * 1024 * 1024) > 0


async def test_output_over_the_limit_is_refused(
    sim: RunwaySimulator, client: RunwayClient, tmp_path: Path
) -> None:
    _, url = await _succeeded_output(sim, client)
    dest = tmp_path / "clip.mp4"
    with pytest.raises(OutputTooLargeError) as caught:
        await client.download(url, dest, max_bytes=1000)
    assert caught.value.limit == 1000
    assert caught.value.size is not None and caught.value.size > 1000  # refused from Content-Length
    assert not dest.exists()


# ---------------------------------------------------------------- CometAPI


async def test_cometapi_task_not_exist_then_wrapped_task(sleeps: RecordedSleeps) -> None:
    options = SimulatorOptions(
        provider="cometapi", time_scale=SLOW_CLOCK, task_not_exist_seconds=3.0, task_seconds=5.0
    )
    async with (
        RunwaySimulator(options) as sim,
        make_client(sim.base_url, sleeps, provider="cometapi") as runway,
    ):
        task_id = await runway.create_image_to_video(i2v())
        with pytest.raises(TaskNotVisibleYet) as caught:
            await runway.get_task(task_id)
        assert caught.value.transient
        assert sleeps.waits == []

        sim.advance(4.0)
        url = f"{sim.base_url}/v1/tasks/{task_id}"
        headers = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
        async with aiohttp.ClientSession() as plain, plain.get(url, headers=headers) as r:
            wrapped = await r.json()
        assert wrapped["code"] == "success" and wrapped["data"]["data"]["id"] == task_id

        task = await runway.get_task(task_id)
        assert task.id == task_id
        assert task.status in (TaskStatus.PENDING, TaskStatus.RUNNING)

        sim.advance(30.0)
        await sim.wait_rendered(task_id)
        done = await runway.get_task(task_id)
        assert done.status is TaskStatus.SUCCEEDED and done.output

        with pytest.raises(NotFoundError):
            await runway.organization()
        assert count(sim, "GET", "/v1/organization") == 0


# ---------------------------------------------------------------- foreign hosts


class ForeignHost:
    """A plain aiohttp server: a gateway under /runwayml, an output CDN and an upload bucket."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self.uploaded: dict[str, Any] = {}
        self.base_url = ""
        app = web.Application()
        app.router.add_get("/runwayml/v1/tasks/{task_id}", self._task)
        app.router.add_post("/runwayml/v1/uploads", self._ticket)
        app.router.add_post("/bucket", self._bucket)
        app.router.add_get("/files/clip.bin", self._clip)
        self._runner = web.AppRunner(app)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        await self._runner.cleanup()

    def _record(self, request: web.Request) -> None:
        self.seen.append((request.method, request.path, request.headers.get("Authorization")))

    async def _task(self, request: web.Request) -> web.Response:
        self._record(request)
        body = {
            "id": request.match_info["task_id"],
            "status": "SUCCEEDED",
            "output": [f"{self.base_url}/files/clip.bin?sig=s3cr3t"],
            "someNewField": {"nested": True},
        }
        return web.json_response(body)

    async def _ticket(self, request: web.Request) -> web.Response:
        self._record(request)
        self.uploaded["ticket_request"] = await request.json()
        return web.json_response(
            {
                "uploadUrl": f"{self.base_url}/bucket",
                "fields": {"key": "k-1", "policy": "p-1"},
                "runwayUri": "runway://uploads/k-1/in.mp4",
            }
        )

    async def _bucket(self, request: web.Request) -> web.Response:
        self._record(request)
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        self.uploaded.update(
            key=form["key"],
            policy=form["policy"],
            filename=upload.filename,
            content_type=upload.content_type,
            data=upload.file.read(),
        )
        return web.Response(status=204)

    async def _clip(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(10):
            await response.write(b"x" * 1000)
        await response.write_eof()
        return response


@pytest.fixture
async def foreign() -> AsyncIterator[ForeignHost]:
    host = ForeignHost()
    await host.start()
    try:
        yield host
    finally:
        await host.stop()


async def test_gateway_base_path_is_kept_and_key_stays_on_the_api(
    foreign: ForeignHost, sleeps: RecordedSleeps, tmp_path: Path
) -> None:
    base = f"{foreign.base_url}/runwayml"
    async with make_client(base, sleeps, provider="cometapi") as runway:
        task = await runway.get_task(UNKNOWN_ID)
        assert task.status is TaskStatus.SUCCEEDED and task.output
        size = await runway.download(task.output[0], tmp_path / "clip.bin", max_bytes=20_000)
    assert size == 10_000 == (tmp_path / "clip.bin").stat().st_size
    # The file is on the API's own origin (as a gateway's /v1/videos/{id}/content is): the
    # key may go there, since that host holds it anyway; it never goes to another origin
    # (tests/bot/runway/test_downloads.py).
    assert foreign.seen == [
        ("GET", f"/runwayml/v1/tasks/{UNKNOWN_ID}", f"Bearer {KEY}"),
        ("GET", "/files/clip.bin", f"Bearer {KEY}"),
    ]


async def test_streamed_download_without_length_stops_at_the_limit(
    foreign: ForeignHost, sleeps: RecordedSleeps, tmp_path: Path
) -> None:
    dest = tmp_path / "clip.bin"
    async with make_client(foreign.base_url, sleeps) as runway:
        with pytest.raises(OutputTooLargeError):
            await runway.download(f"{foreign.base_url}/files/clip.bin", dest, max_bytes=4_500)
    assert not dest.exists()
    assert sleeps.waits == []


async def test_upload_posts_fields_and_file_without_the_key(
    foreign: ForeignHost, sleeps: RecordedSleeps
) -> None:
    async with make_client(f"{foreign.base_url}/runwayml", sleeps) as runway:
        uri = await runway.upload_ephemeral("in.mp4", b"\x00\x01video", "video/mp4")
    assert uri == "runway://uploads/k-1/in.mp4"
    assert foreign.uploaded["ticket_request"] == {"filename": "in.mp4", "type": "ephemeral"}
    assert foreign.uploaded["key"] == "k-1" and foreign.uploaded["policy"] == "p-1"
    assert foreign.uploaded["filename"] == "in.mp4"
    assert foreign.uploaded["content_type"] == "video/mp4"
    assert foreign.uploaded["data"] == b"\x00\x01video"
    assert foreign.seen == [
        ("POST", "/runwayml/v1/uploads", f"Bearer {KEY}"),
        ("POST", "/bucket", None),
    ]


# ---------------------------------------------------------------- settings and secrecy


def test_from_settings_uses_the_configured_provider() -> None:
    settings = RunwaySettings(provider="cometapi", api_key=KEY, max_retries=2)
    runway = RunwayClient.from_settings(settings)
    assert runway.base_url == "https://api.cometapi.com/runwayml"
    assert runway.provider == "cometapi"
    assert runway.retry.max_retries == 2


def test_from_settings_simulator_needs_its_url_and_makes_a_well_formed_key() -> None:
    settings = RunwaySettings(provider="simulator")
    with pytest.raises(ValueError, match="base URL"):
        RunwayClient.from_settings(settings)
    runway = RunwayClient.from_settings(settings, base_url="http://127.0.0.1:1")
    assert runway.base_url == "http://127.0.0.1:1"
    assert "key_" not in repr(runway)


async def test_the_key_never_appears_in_reprs_errors_or_logs(
    sim: RunwaySimulator, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[RunwayError] = []
    sleeps = RecordedSleeps()

    async def attempt(call: Awaitable[Any]) -> None:
        try:
            await call
        except RunwayError as error:
            errors.append(error)

    async with make_client(sim.base_url, sleeps, max_retries=1) as runway:
        assert KEY not in repr(runway) and KEY not in str(runway)
        echo = json.dumps({"error": f"Invalid API key {KEY}", "issues": [{"message": KEY}]})
        sim.add_fault(Fault(method="GET", status=401, body=echo))
        await attempt(runway.get_task(UNKNOWN_ID))
        sim.add_fault(Fault(method="GET", status=400, body=echo))
        await attempt(runway.get_task(UNKNOWN_ID))
        sim.add_fault(Fault(method="GET", status=503, body=f"down {KEY}", times=2))
        await attempt(runway.organization())
        sim.add_fault(Fault(method="POST", status=429, retry_after=1, times=5))
        await attempt(runway.create_image_to_video(i2v()))
        sim.add_fault(Fault(method="GET", status=200, body="{not json", times=2))
        await attempt(runway.get_task(UNKNOWN_ID))
        sim.add_fault(Fault(method="POST", drop_connection=True))
        await attempt(runway.create_image_to_video(i2v()))
        await attempt(runway.create_image_to_video(i2v(ratio="1:1")))
        await attempt(runway.get_task(UNKNOWN_ID))
        await attempt(
            runway.download(f"{sim.base_url}/_outputs/none.mp4", tmp_path / "x", max_bytes=10)
        )
    async with make_client(sim.base_url, sleeps, request_timeout=0.2, max_retries=0) as runway:
        sim.add_fault(Fault(method="GET", delay=0.6))
        await attempt(runway.get_task(UNKNOWN_ID))
    async with make_client(f"http://127.0.0.1:{free_port()}", sleeps, max_retries=0) as runway:
        await attempt(runway.get_task(UNKNOWN_ID))

    kinds = {type(error) for error in errors}
    assert {
        AuthenticationError,
        RunwayValidationError,
        ServerError,
        RateLimitedError,
        BadResponseError,
        RunwayTimeoutError,
        RunwayConnectionError,
        NotFoundError,
        OutputExpiredError,
    } <= kinds
    assert any("[redacted]" in str(error) for error in errors)
    for error in errors:
        texts = [str(error), repr(error), error.message, *map(str, error.args)]
        if isinstance(error, RunwayValidationError):
            texts += [error.describe(), *(issue.message for issue in error.issues)]
        assert all(KEY not in text for text in texts), type(error)
        assert error.__cause__ is None
    assert caplog.records
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in caplog.text
