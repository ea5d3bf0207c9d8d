"""The Runway simulator over real HTTP on 127.0.0.1 (raw aiohttp client, simulated clock)."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import signal
import struct
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from aiohttp import web
from PIL import Image

from bot.simulator import Fault, RunwaySimulator, SimulatorOptions
from bot.simulator.tasks import Realism, parse_throttle
from tests.bot.simulator.sim_media import make_mp4, make_png

KEY = "key_" + "0123456789abcdef" * 8
HEADERS = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
PNG = make_png((320, 240))
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()


def options(**changes: Any) -> SimulatorOptions:
    base: dict[str, Any] = {"task_seconds": 10.0, "pending_seconds": 1.0, "concurrency": 1}
    base.update(changes)
    return SimulatorOptions(**base)


@pytest.fixture
async def sim() -> AsyncIterator[RunwaySimulator]:
    async with RunwaySimulator(options()) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(headers=HEADERS, connector=connector) as session:
        yield session


def i2v(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gen4_turbo",
        "promptImage": PNG_URI,
        "ratio": "1280:720",
        "duration": 2,
    }
    body.update(changes)
    return body


async def create(
    http: aiohttp.ClientSession, sim: RunwaySimulator, body: dict[str, Any] | None = None
) -> str:
    async with http.post(f"{sim.base_url}/v1/image_to_video", json=body or i2v()) as resp:
        assert resp.status == 200, await resp.text()
        data = await resp.json()
    task_id: str = data["id"]
    return task_id


async def get(http: aiohttp.ClientSession, sim: RunwaySimulator, task_id: str) -> dict[str, Any]:
    async with http.get(f"{sim.base_url}/v1/tasks/{task_id}") as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def fetch(http: aiohttp.ClientSession, url: str) -> tuple[int, bytes]:
    async with http.get(url) as resp:
        return resp.status, await resp.read()


def video_shape(data: bytes) -> tuple[int, int, float]:
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        assert container.duration is not None
        return stream.width, stream.height, container.duration / 1_000_000


# ---- the task life cycle ----------------------------------------------------------------


async def test_task_runs_pending_running_succeeded_with_a_real_clip(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    task_id = await create(http, sim, i2v(duration=3, seed=3))
    assert sim.created_count == 1
    first = await get(http, sim, task_id)
    assert first["status"] == "PENDING"
    assert first["estimatedCost"] == {"credits": 15}
    assert datetime.fromisoformat(first["createdAt"]).tzinfo is not None
    sim.advance(2)
    running = await get(http, sim, task_id)
    assert running["status"] == "RUNNING"
    sim.advance(5)
    later = await get(http, sim, task_id)
    assert 0 < running["progress"] < later["progress"] < 1
    sim.advance(5)
    await sim.wait_rendered()
    done = await get(http, sim, task_id)
    assert done["status"] == "SUCCEEDED"
    assert done["cost"] == {"credits": 15}
    assert "estimatedCost" not in done and "progress" not in done
    status, clip = await fetch(http, done["output"][0])
    assert status == 200
    width, height, seconds = video_shape(clip)
    assert (width, height) == (640, 360)
    assert seconds == pytest.approx(3, abs=0.05)
    assert sim.task_status(task_id) == "SUCCEEDED"
    assert ("GET", f"/v1/tasks/{task_id}") in sim.request_log


async def test_throttled_tasks_start_in_submission_order(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    ids = [await create(http, sim) for _ in range(3)]
    other = await create(http, sim, i2v(model="gen4.5", promptText="a boat"))

    async def states() -> list[str]:
        return [(await get(http, sim, t))["status"] for t in ids]

    assert await states() == ["PENDING"] * 3
    sim.advance(1.5)
    assert await states() == ["RUNNING", "THROTTLED", "THROTTLED"]
    assert (await get(http, sim, other))["status"] == "RUNNING", "slots are per model"
    throttled = await get(http, sim, ids[1])
    assert throttled["estimatedCost"] == {"credits": 10}
    sim.advance(10)
    await sim.wait_rendered()
    assert await states() == ["SUCCEEDED", "RUNNING", "THROTTLED"]
    sim.advance(10)
    await sim.wait_rendered()
    assert await states() == ["SUCCEEDED", "SUCCEEDED", "RUNNING"]
    sim.advance(10)
    await sim.wait_rendered()
    assert await states() == ["SUCCEEDED"] * 3


async def test_throttle_directive_keeps_a_task_throttled(http: aiohttp.ClientSession) -> None:
    async with RunwaySimulator(options(concurrency=5)) as sim:
        task_id = await create(http, sim, i2v(promptText="waves [sim:throttle=30]"))
        sim.advance(20)
        assert (await get(http, sim, task_id))["status"] == "THROTTLED"
        sim.advance(12)
        assert (await get(http, sim, task_id))["status"] == "RUNNING"


async def test_delete_cancels_active_tasks_and_deletes_finished_ones(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    a = await create(http, sim)
    b = await create(http, sim)
    sim.advance(2)
    assert [sim.task_status(a), sim.task_status(b)] == ["RUNNING", "THROTTLED"]
    async with http.delete(f"{sim.base_url}/v1/tasks/{a}") as resp:
        assert resp.status == 204
    cancelled = await get(http, sim, a)
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["cost"] == {"credits": 0}
    assert (await get(http, sim, b))["status"] == "RUNNING", "the freed slot goes to the next"
    sim.advance(10)
    await sim.wait_rendered()
    assert (await get(http, sim, b))["status"] == "SUCCEEDED"
    async with http.delete(f"{sim.base_url}/v1/tasks/{b}") as resp:
        assert resp.status == 204
    async with http.get(f"{sim.base_url}/v1/tasks/{b}") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]
    async with http.delete(f"{sim.base_url}/v1/tasks/{b}") as resp:
        assert resp.status == 404
    assert sim.task_status(b) is None


async def test_fail_cancel_and_seconds_directives(http: aiohttp.ClientSession) -> None:
    async with RunwaySimulator(options(concurrency=5)) as sim:
        failed = await create(http, sim, i2v(promptText="a face [sim:fail=SAFETY.INPUT.TEXT]"))
        gone = await create(http, sim, i2v(promptText="[sim:cancel] a cat"))
        quick = await create(http, sim, i2v(promptText="[sim:seconds=2] a dog"))
        sim.advance(3.5)
        await sim.wait_rendered()
        assert (await get(http, sim, quick))["status"] == "SUCCEEDED"
        assert (await get(http, sim, failed))["status"] == "RUNNING"
        sim.advance(10)
        body = await get(http, sim, failed)
        assert body["status"] == "FAILED"
        assert body["failureCode"] == "SAFETY.INPUT.TEXT"
        assert body["failure"]
        assert body["cost"] == {"credits": 0}
        assert (await get(http, sim, gone))["status"] == "CANCELLED"


async def test_big_directive_pads_the_output(http: aiohttp.ClientSession) -> None:
    async with RunwaySimulator(options(task_seconds=1)) as sim:
        task_id = await create(http, sim, i2v(promptText="[sim:big=3]"))
        sim.advance(5)
        await sim.wait_rendered()
        status, clip = await fetch(http, (await get(http, sim, task_id))["output"][0])
        assert status == 200
        assert len(clip) >= 3 * 1024 * 1024
        assert video_shape(clip)[:2] == (640, 360)


def broken_png() -> bytes:
    """A PNG whose chunks and CRCs are fine but whose pixel data does not inflate."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"this is not zlib data at all")
        + chunk(b"IEND", b"")
    )


async def test_an_image_that_cannot_be_decoded_fails_the_task(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    uri = "data:image/png;base64," + base64.b64encode(broken_png()).decode()
    task_id = await create(http, sim, i2v(promptImage=uri))
    sim.advance(20)
    await sim.wait_rendered()
    body = await get(http, sim, task_id)
    assert body["status"] == "FAILED"
    assert body["failureCode"] == "ASSET.INVALID"
    assert sim.task_status(task_id) == "FAILED"


# ---- output URLs ------------------------------------------------------------------------


async def test_output_urls_expire_and_a_fresh_get_gives_fresh_urls(
    http: aiohttp.ClientSession,
) -> None:
    async with RunwaySimulator(options(url_ttl_seconds=100)) as sim:
        task_id = await create(http, sim)
        sim.advance(20)
        await sim.wait_rendered()
        url = (await get(http, sim, task_id))["output"][0]
        assert (await fetch(http, url))[0] == 200
        sim.advance(101)
        status, body = await fetch(http, url)
        assert status == 403 and b"expired" in body
        fresh = (await get(http, sim, task_id))["output"][0]
        assert fresh != url
        assert (await fetch(http, fresh))[0] == 200
        sim.expire_outputs()
        assert (await fetch(http, fresh))[0] == 403
        newest = (await get(http, sim, task_id))["output"][0]
        assert (await fetch(http, newest))[0] == 200
        assert (await fetch(http, newest.replace("sig=", "sig=0")))[0] == 403
        async with http.head(newest) as resp:
            assert resp.status == 200
            assert int(resp.headers["Content-Length"]) > 1000


# ---- cometapi ---------------------------------------------------------------------------


async def test_cometapi_wraps_tasks_and_hides_them_at_first() -> None:
    opts = options(provider="cometapi", task_not_exist_seconds=3.0)
    headers = {"Authorization": "Bearer sk-anything"}
    async with RunwaySimulator(opts) as sim, aiohttp.ClientSession(headers=headers) as http:
        async with http.post(
            f"{sim.base_url}/v1/image_to_video",
            json=i2v(),
            headers={"X-Runway-Version": "2024-11-06"},
        ) as resp:
            assert resp.status == 200
            task_id = (await resp.json())["id"]
        url = f"{sim.base_url}/v1/tasks/{task_id}"
        async with http.get(url) as resp:
            assert resp.status == 400
            assert await resp.json() == {
                "code": "task_not_exist",
                "message": "task_not_exist",
                "data": None,
            }
        sim.advance(5)
        async with http.get(url) as resp:
            assert resp.status == 200
            wrapped = await resp.json()
        assert wrapped["code"] == "success"
        outer = wrapped["data"]
        assert outer["task_id"] == task_id
        assert outer["status"] == "IN_PROGRESS"
        assert outer["action"] == "IMAGE_TO_VIDEO"
        assert outer["data"]["status"] == "RUNNING"
        assert outer["progress"].endswith("%")
        sim.advance(20)
        await sim.wait_rendered()
        async with http.get(url) as resp:
            outer = (await resp.json())["data"]
        assert outer["status"] == "SUCCESS"
        assert outer["progress"] == "100%"
        assert outer["finish_time"] >= outer["start_time"] >= outer["submit_time"] > 0
        assert outer["data"]["output"][0].startswith(sim.base_url)
        async with http.get(f"{sim.base_url}/v1/tasks/nope") as resp:
            assert resp.status == 400
            assert (await resp.json())["code"] == "task_not_exist"
        async with http.post(f"{sim.base_url}/v1/image_to_video", json=i2v()) as resp:
            assert resp.status == 400, "the version header is required on create"


# ---- auth and headers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"X-Runway-Version": "2024-11-06"}, 401),
        ({"Authorization": "Bearer key_123", "X-Runway-Version": "2024-11-06"}, 401),
        ({"Authorization": KEY, "X-Runway-Version": "2024-11-06"}, 401),
        ({"Authorization": f"Bearer {KEY}"}, 400),
        ({"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2023-01-01"}, 400),
        (HEADERS, 404),
    ],
)
async def test_auth_and_version_headers(
    sim: RunwaySimulator, headers: dict[str, str], status: int
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sim.base_url}/v1/tasks/unknown", headers=headers) as resp,
    ):
        assert resp.status == status
        body = await resp.json()
    assert body["error"]
    assert KEY not in str(body)
    if status == 400:
        assert "X-Runway-Version" in body["error"]


async def test_a_configured_key_must_match_exactly() -> None:
    other = "key_" + "f" * 128
    async with RunwaySimulator(options(api_key=KEY)) as sim, aiohttp.ClientSession() as http:
        url = f"{sim.base_url}/v1/organization"
        bad = {"Authorization": f"Bearer {other}", "X-Runway-Version": "2024-11-06"}
        async with http.get(url, headers=bad) as resp:
            assert resp.status == 401
        async with http.get(url, headers=HEADERS) as resp:
            assert resp.status == 200


# ---- validation over HTTP ---------------------------------------------------------------


async def test_create_answers_400_with_issues(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    gif = io.BytesIO()
    Image.new("RGB", (64, 64)).save(gif, "GIF")
    cases: list[tuple[Any, str]] = [
        (i2v(ratio="1:1"), "ratio"),
        (i2v(promptImage="data:image/png;base64,@@@@"), "promptImage"),
        (
            i2v(promptImage="data:image/png;base64," + base64.b64encode(gif.getvalue()).decode()),
            "promptImage",
        ),
        (
            i2v(promptImage="data:image/png;base64," + base64.b64encode(b"hello").decode()),
            "promptImage",
        ),
        (i2v(promptImage="runway://uploads/nothing/a.png"), "promptImage"),
    ]
    for body, path in cases:
        async with http.post(f"{sim.base_url}/v1/image_to_video", json=body) as resp:
            assert resp.status == 400, body
            answer = await resp.json()
        assert answer["error"]
        assert answer["issues"][0]["path"][0] == path, answer
    async with http.post(
        f"{sim.base_url}/v1/image_to_video",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400
    assert sim.created_count == 0


# ---- assets by URL, upload and video ----------------------------------------------------


@pytest.fixture
async def asset_host() -> AsyncIterator[str]:
    async def image(_: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPFound("/a.png")

    app = web.Application()
    app.router.add_get("/a.png", image)
    app.router.add_get("/moved.png", moved)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_loopback_urls_are_fetched(
    sim: RunwaySimulator, http: aiohttp.ClientSession, asset_host: str
) -> None:
    task_id = await create(http, sim, i2v(promptImage=f"{asset_host}/a.png"))
    sim.advance(20)
    await sim.wait_rendered()
    assert (await get(http, sim, task_id))["status"] == "SUCCEEDED"
    for path in ("/missing.png", "/moved.png"):
        body = i2v(promptImage=f"{asset_host}{path}")
        async with http.post(f"{sim.base_url}/v1/image_to_video", json=body) as resp:
            assert resp.status == 400
            assert "Failed to fetch asset" in (await resp.json())["issues"][0]["message"]


async def test_remote_https_inputs_are_accepted_with_a_stand_in(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    task_id = await create(http, sim, i2v(promptImage="https://cdn.example.com/cat.png"))
    sim.advance(20)
    await sim.wait_rendered()
    done = await get(http, sim, task_id)
    assert done["status"] == "SUCCEEDED"
    status, clip = await fetch(http, done["output"][0])
    assert status == 200
    assert video_shape(clip)[:2] == (640, 360)


async def test_uploads_give_runway_uris(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    async with http.post(
        f"{sim.base_url}/v1/uploads", json={"filename": "in.png", "type": "ephemeral"}
    ) as resp:
        assert resp.status == 200
        ticket = await resp.json()
    assert ticket["runwayUri"].startswith("runway://")
    forged = aiohttp.FormData({**ticket["fields"], "signature": "0" * 64})
    forged.add_field("file", PNG, filename="in.png", content_type="image/png")
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.post(ticket["uploadUrl"], data=forged) as resp:
            assert resp.status == 403
        form = aiohttp.FormData(ticket["fields"])
        form.add_field("file", PNG, filename="in.png", content_type="image/png")
        async with anonymous.post(ticket["uploadUrl"], data=form) as resp:
            assert resp.status == 204
    task_id = await create(http, sim, i2v(promptImage=ticket["runwayUri"]))
    sim.advance(20)
    await sim.wait_rendered()
    assert (await get(http, sim, task_id))["status"] == "SUCCEEDED"
    async with http.post(f"{sim.base_url}/v1/uploads", json={"filename": "a.png"}) as resp:
        assert resp.status == 400
        assert (await resp.json())["issues"][0]["path"] == ["type"]


async def test_video_to_video_restyles_the_input(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    source = make_mp4((320, 240), seconds=2.0, fps=8)
    body = {
        "model": "gen4_aleph",
        "videoUri": "data:video/mp4;base64," + base64.b64encode(source).decode(),
        "promptText": "make it snow",
        "references": [{"type": "image", "uri": PNG_URI}],
    }
    async with http.post(f"{sim.base_url}/v1/video_to_video", json=body) as resp:
        assert resp.status == 200, await resp.text()
        task_id = (await resp.json())["id"]
    assert (await get(http, sim, task_id))["estimatedCost"] == {"credits": 30}
    sim.advance(20)
    await sim.wait_rendered()
    done = await get(http, sim, task_id)
    assert done["status"] == "SUCCEEDED"
    status, clip = await fetch(http, done["output"][0])
    assert status == 200
    width, height, seconds = video_shape(clip)
    assert (width, height) == (320, 240)
    assert seconds == pytest.approx(2.0, abs=0.15)
    # The output URL itself is a loopback URL the simulator accepts as input.
    again = {**body, "videoUri": done["output"][0], "references": []}
    async with http.post(f"{sim.base_url}/v1/video_to_video", json=again) as resp:
        assert resp.status == 200, await resp.text()


async def test_video_longer_than_the_model_allows_is_refused(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    long_clip = make_mp4((32, 32), seconds=31.0, fps=1)
    body = {
        "model": "gen4_aleph",
        "videoUri": "data:video/mp4;base64," + base64.b64encode(long_clip).decode(),
        "promptText": "snow",
    }
    async with http.post(f"{sim.base_url}/v1/video_to_video", json=body) as resp:
        assert resp.status == 400
        issue = (await resp.json())["issues"][0]
    assert issue["path"] == ["videoUri"]
    assert "at most 30 seconds" in issue["message"]


# ---- faults -----------------------------------------------------------------------------


async def test_rate_limit_and_server_errors(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    sim.add_fault(Fault(method="POST", path_prefix="/v1/image_to_video", status=429, retry_after=7))
    sim.add_fault(Fault(method="GET", path_prefix="/v1/tasks", status=503, times=2))
    async with http.post(f"{sim.base_url}/v1/image_to_video", json=i2v()) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "7"
    assert sim.created_count == 0
    task_id = await create(http, sim)
    for _ in range(2):
        async with http.get(f"{sim.base_url}/v1/tasks/{task_id}") as resp:
            assert resp.status == 503
    assert (await get(http, sim, task_id))["status"] == "PENDING"
    assert sim.faults == []


async def test_delay_malformed_body_and_dropped_connection(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    sim.add_fault(Fault(path_prefix="/v1/organization", status=200, delay=5.0))
    with pytest.raises(asyncio.TimeoutError):
        async with http.get(
            f"{sim.base_url}/v1/organization", timeout=aiohttp.ClientTimeout(total=0.2)
        ):
            pass
    sim.add_fault(Fault(path_prefix="/v1/organization", status=200, body="{not json"))
    async with http.get(f"{sim.base_url}/v1/organization") as resp:
        assert resp.status == 200
        with pytest.raises(ValueError):
            await resp.json()
    sim.add_fault(Fault(method="POST", drop_connection=True))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.post(f"{sim.base_url}/v1/image_to_video", json=i2v())
    assert sim.created_count == 0
    sim.add_fault(Fault(path_prefix="/v1/organization", status=200, delay=0.05))
    async with http.get(f"{sim.base_url}/v1/organization") as resp:
        assert resp.status == 200, "a short delay still answers normally"


# ---- organization and the HTTP control API ----------------------------------------------


async def test_organization_reports_limits_and_usage(http: aiohttp.ClientSession) -> None:
    async with RunwaySimulator(options(concurrency={"gen4_turbo": 3, "*": 1})) as sim:
        await create(http, sim)
        async with http.get(f"{sim.base_url}/v1/organization") as resp:
            org = await resp.json()
    assert org["creditBalance"] > 0
    assert org["tier"]["models"]["gen4_turbo"]["maxConcurrentGenerations"] == 3
    assert org["tier"]["models"]["veo3.1"]["maxConcurrentGenerations"] == 1
    assert org["usage"]["models"]["gen4_turbo"]["dailyGenerations"] == 1


async def test_http_control_api(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    task_id = await create(http, sim)
    base = f"{sim.base_url}/_sim"
    async with http.post(f"{base}/advance", json={"seconds": 20}) as resp:
        assert resp.status == 200
    async with http.post(f"{base}/wait-rendered", json={"task_id": task_id}) as resp:
        assert resp.status == 200
    async with http.post(f"{base}/wait-rendered", json={"task_id": 5}) as resp:
        assert resp.status == 400
    async with http.get(f"{base}/state") as resp:
        state = await resp.json()
    assert state["created_count"] == 1
    assert state["tasks"] == {task_id: "SUCCEEDED"}
    assert ["POST", "/v1/image_to_video"] in state["requests"]
    url = (await get(http, sim, task_id))["output"][0]
    async with http.post(f"{base}/expire") as resp:
        assert resp.status == 200
    assert (await fetch(http, url))[0] == 403
    fault = {"method": "GET", "path_prefix": "/v1/tasks", "status": 502, "times": 5}
    async with http.post(f"{base}/faults", json=fault) as resp:
        assert resp.status == 200
    async with http.get(f"{sim.base_url}/v1/tasks/{task_id}") as resp:
        assert resp.status == 502
    async with http.post(f"{base}/faults", json={"bogus": 1}) as resp:
        assert resp.status == 400
    async with http.post(f"{base}/reset-faults") as resp:
        assert resp.status == 200
    assert (await get(http, sim, task_id))["status"] == "SUCCEEDED"


def test_parse_throttle() -> None:
    assert parse_throttle(None) == 2
    assert parse_throttle("3") == 3
    assert parse_throttle("gen4_turbo=1, veo3.1=4") == {"gen4_turbo": 1, "veo3.1": 4}
    with pytest.raises(ValueError, match="MODEL=N"):
        parse_throttle("gen4_turbo")


def test_simulate_command_serves_until_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "simulate",
            "--port",
            "0",
            "--time-scale",
            "100",
            "--throttle",
            "gen4_turbo=2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line + (
            proc.stderr.read() if proc.stderr else ""
        )
        url = line.rsplit(" ", 1)[1].strip()

        async def probe() -> dict[str, Any]:
            async with aiohttp.ClientSession() as http, http.get(f"{url}/_sim/state") as resp:
                state: dict[str, Any] = await resp.json()
                return state

        assert asyncio.run(probe())["created_count"] == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_time_scale_runs_the_clock_faster(http: aiohttp.ClientSession) -> None:
    opts = options(time_scale=2000.0, task_seconds=20.0, url_ttl_seconds=200.0)
    async with RunwaySimulator(opts) as sim:
        task_id = await create(http, sim)
        await asyncio.sleep(0.05)  # at least 100 simulated seconds
        await sim.wait_rendered(task_id)
        done = await get(http, sim, task_id)
        assert done["status"] == "SUCCEEDED"
        await asyncio.sleep(0.15)  # at least 300 more: the URL's 200 s are over
        assert (await fetch(http, done["output"][0]))[0] == 403


# ---- rendering never holds a GET; finished tasks are forgotten --------------------------


async def test_a_finished_run_reports_running_until_its_clip_exists(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    # Holding the render slot keeps every clip unrendered; a GET that waited for its clip
    # would never answer.
    async with sim._encode_slots:
        task_id = await create(http, sim)
        sim.advance(30)
        bodies = await asyncio.wait_for(
            asyncio.gather(*(get(http, sim, task_id) for _ in range(20))), timeout=10
        )
        assert {b["status"] for b in bodies} == {"RUNNING"}
        assert {b["progress"] for b in bodies} == {0.99}
        assert "output" not in bodies[0]
        assert sim.task_status(task_id) == "RUNNING"
        assert sim.state()["tasks"] == {task_id: "RUNNING"}
    await sim.wait_rendered(task_id)
    done = await get(http, sim, task_id)
    assert done["status"] == "SUCCEEDED"
    assert (await fetch(http, done["output"][0]))[0] == 200
    await sim.wait_rendered("no-such-task")


async def test_cometapi_keeps_a_task_in_progress_until_its_clip_exists() -> None:
    headers = {"Authorization": "Bearer sk-anything", "X-Runway-Version": "2024-11-06"}
    async with (
        RunwaySimulator(options(provider="cometapi")) as sim,
        aiohttp.ClientSession(headers=headers) as http,
    ):
        async with sim._encode_slots:
            url = f"{sim.base_url}/v1/tasks/{await create(http, sim)}"
            sim.advance(30)
            async with http.get(url) as resp:
                outer = (await resp.json())["data"]
            assert (outer["status"], outer["progress"], outer["finish_time"]) == (
                "IN_PROGRESS",
                "99%",
                0,
            )
        await sim.wait_rendered()
        async with http.get(url) as resp:
            outer = (await resp.json())["data"]
        assert outer["status"] == "SUCCESS"
        assert outer["finish_time"] >= outer["start_time"] > 0


async def test_finished_tasks_are_forgotten_after_the_retention(
    http: aiohttp.ClientSession,
) -> None:
    opts = options(concurrency=5, retention_seconds=3600.0, url_ttl_seconds=1e9)
    async with RunwaySimulator(opts) as sim:
        done = await create(http, sim)
        failed = await create(http, sim, i2v(promptText="[sim:fail=SAFETY.INPUT.TEXT] a"))
        endless = await create(http, sim, i2v(promptText="[sim:seconds=1000000] b"))
        async with http.post(
            f"{sim.base_url}/v1/uploads", json={"filename": "in.png", "type": "ephemeral"}
        ) as resp:
            ticket = await resp.json()
        form = aiohttp.FormData(ticket["fields"])
        form.add_field("file", PNG, filename="in.png", content_type="image/png")
        async with (
            aiohttp.ClientSession() as anonymous,
            anonymous.post(ticket["uploadUrl"], data=form) as resp,
        ):
            assert resp.status == 204
        sim.advance(20)
        await sim.wait_rendered()
        url = (await get(http, sim, done))["output"][0]
        async with http.get(f"{sim.base_url}/v1/organization") as resp:
            balance = (await resp.json())["creditBalance"]
        assert (sim.task_count, len(sim.board.tasks), len(sim.uploads.files)) == (3, 3, 1)

        sim.advance(3500)  # not an hour since any task finished
        assert (await get(http, sim, done))["status"] == "SUCCEEDED"
        assert (await get(http, sim, failed))["status"] == "FAILED"

        sim.advance(24 * 3600)  # the upload's day is over too; advance() alone evicts
        assert (sim.task_count, len(sim.board.tasks)) == (1, 1)
        assert (sim.uploads.files, sim.uploads.pending) == ({}, {})
        for task_id in (done, failed):
            async with http.get(f"{sim.base_url}/v1/tasks/{task_id}") as resp:
                assert resp.status == 404
                assert (await resp.json())["error"] == "Task not found"
            async with http.delete(f"{sim.base_url}/v1/tasks/{task_id}") as resp:
                assert resp.status == 404
            assert sim.task_status(task_id) is None
        assert (await fetch(http, url))[0] == 404
        assert sim.state()["tasks"] == {endless: "RUNNING"}, "unfinished tasks are kept"
        async with http.get(f"{sim.base_url}/v1/organization") as resp:
            assert (await resp.json())["creditBalance"] == balance, "spent credits stay spent"
        body = i2v(promptImage=ticket["runwayUri"])
        async with http.post(f"{sim.base_url}/v1/image_to_video", json=body) as resp:
            assert resp.status == 400


async def test_cometapi_answers_task_not_exist_after_the_retention() -> None:
    opts = options(provider="cometapi", retention_seconds=600.0)
    headers = {"Authorization": "Bearer sk-anything", "X-Runway-Version": "2024-11-06"}
    async with RunwaySimulator(opts) as sim, aiohttp.ClientSession(headers=headers) as http:
        task_id = await create(http, sim, i2v(promptText="[sim:fail=INTERNAL.BAD_OUTPUT.CODE01]"))
        url = f"{sim.base_url}/v1/tasks/{task_id}"
        sim.advance(20)
        async with http.get(url) as resp:
            assert (await resp.json())["data"]["status"] == "FAILURE"
        sim.advance(600)
        async with http.get(url) as resp:
            assert resp.status == 400
            assert (await resp.json())["code"] == "task_not_exist"
        assert sim.task_count == 0


async def test_memory_held_per_task_shrinks_back(http: aiohttp.ClientSession) -> None:
    opts = options(concurrency=50, retention_seconds=100.0, request_log_limit=40)
    async with RunwaySimulator(opts) as sim:
        ids = [await create(http, sim, i2v(seed=n)) for n in range(30)]
        sim.advance(20)
        await sim.wait_rendered()
        for task_id in ids:
            assert (await get(http, sim, task_id))["status"] == "SUCCEEDED"
        assert (sim.task_count, len(sim.board.tasks)) == (30, 30)
        assert 30 <= len(sim.request_log) <= 40
        assert sim.request_log[-1] == ("GET", f"/v1/tasks/{ids[-1]}"), "the newest are kept"
        sim.advance(100)
        assert (sim.task_count, len(sim.board.tasks)) == (0, 0)
        assert sim.state()["tasks"] == {}
        assert sim.created_count == 30


# ---- realistic mode and what benchmarks observe -------------------------------------------


async def test_realistic_mode_times_tasks_by_their_seeded_plan(http: aiohttp.ClientSession) -> None:
    real = Realism(seed=11, early_failure_rate=0.0, partway_failure_rate=0.0)
    plan = real.plan("gen4_turbo", 0)
    async with RunwaySimulator(options(realism=real, record_tasks=True)) as sim:
        task_id = await create(http, sim)
        assert (await get(http, sim, task_id))["status"] == "PENDING"
        sim.advance(plan.pending_seconds + 1.0)
        running = await get(http, sim, task_id)
        assert running["status"] == "RUNNING" and running["progress"] > 0
        sim.advance(plan.run_seconds)
        await sim.wait_rendered(task_id)
        assert (await get(http, sim, task_id))["status"] == "SUCCEEDED"
        seen = sim.observed[task_id]
        assert [status for _, status in seen.gets] == ["PENDING", "RUNNING", "SUCCEEDED"]
        assert seen.final == "SUCCEEDED" and seen.failure is None
        assert seen.terminal_at is not None
        assert seen.terminal_at >= plan.pending_seconds + plan.run_seconds - 1e-6
        assert sim.request_counts["GET /v1/tasks"] == 3
        assert sim.request_counts["POST /v1/image_to_video"] == 1


async def test_realistic_failures_report_their_code_and_kind(http: aiohttp.ClientSession) -> None:
    real = Realism(seed=3, early_failure_rate=1.0, early_in_pending_share=1.0)
    plan = real.plan("gen4_turbo", 0)
    assert plan.fail_in_pending is not None
    async with RunwaySimulator(options(realism=real, record_tasks=True)) as sim:
        task_id = await create(http, sim)
        sim.advance(plan.pending_seconds)
        body = await get(http, sim, task_id)
        assert body["status"] == "FAILED" and body["failureCode"] == "SAFETY.INPUT.IMAGE"
        seen = sim.observed[task_id]
        assert seen.failure == "early" and seen.final == "FAILED"
        assert seen.terminal_at == pytest.approx(seen.created + plan.fail_in_pending, abs=0.01)


async def test_reused_clips_render_once_for_the_same_request(http: aiohttp.ClientSession) -> None:
    async with RunwaySimulator(options(reuse_clips=True, concurrency=4)) as sim:
        first = await create(http, sim, i2v(seed=1))
        second = await create(http, sim, i2v(seed=2))
        other = await create(http, sim, i2v(duration=3))
        await sim.wait_rendered()
        sim.advance(20.0)
        urls = [(await get(http, sim, t))["output"][0] for t in (first, second, other)]
        clips = [(await fetch(http, url))[1] for url in urls]
        assert clips[0] == clips[1]  # one render served to both
        assert clips[2] != clips[0]
        assert video_shape(clips[2])[2] == pytest.approx(3.0, abs=0.2)


async def test_by_default_nothing_is_recorded_per_task(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    task_id = await create(http, sim)
    await get(http, sim, task_id)
    assert sim.observed == {}
    assert sim.request_counts["GET /v1/tasks"] == 1
