"""The simulator speaking the CometAPI gateway's dialects (new-api): create shapes, wrapped
GETs with a null or stale inner task, where the clip URL is, flickering visibility, the
timeout sweep, the gateway's error answers, unrouted DELETE and the created-task record."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.simulator import RunwaySimulator, SimulatorOptions, dialects
from bot.simulator.gate import Fault
from tests.bot.simulator.sim_media import make_png

COMET_KEY = "sk-comet-test"
RUNWAY_KEY = "key_" + "0123456789abcdef" * 8
VERSION = {"X-Runway-Version": "2024-11-06"}
PNG_URI = "data:image/png;base64," + base64.b64encode(make_png((320, 240))).decode()


def options(**changes: Any) -> SimulatorOptions:
    base: dict[str, Any] = {
        "provider": "cometapi",
        "api_key": COMET_KEY,
        "task_seconds": 10.0,
        "pending_seconds": 1.0,
        "concurrency": 4,
        "task_not_exist_seconds": 0.0,
    }
    base.update(changes)
    return SimulatorOptions(**base)


@pytest.fixture
async def sim() -> AsyncIterator[RunwaySimulator]:
    async with RunwaySimulator(options()) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(force_close=True)
    headers = {"Authorization": f"Bearer {COMET_KEY}", **VERSION}
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        yield session


def i2v(prompt: str = "a quiet harbour", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gen4_turbo",
        "promptImage": PNG_URI,
        "ratio": "1280:720",
        "duration": 2,
        "promptText": prompt,
    }
    body.update(changes)
    return body


async def post_create(
    http: aiohttp.ClientSession, sim: RunwaySimulator, prompt: str = "a quiet harbour"
) -> tuple[int, Any]:
    async with http.post(f"{sim.base_url}/v1/image_to_video", json=i2v(prompt)) as resp:
        return resp.status, await resp.json(content_type=None)


async def create(http: aiohttp.ClientSession, sim: RunwaySimulator, prompt: str) -> str:
    """Create a task and return its id as the simulator recorded it."""
    status, body = await post_create(http, sim, prompt)
    assert status == 200, body
    return sim.created_ids[-1]


async def get(
    http: aiohttp.ClientSession, sim: RunwaySimulator, task_id: str
) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{sim.base_url}/v1/tasks/{task_id}") as resp:
        body: dict[str, Any] = await resp.json()
        return resp.status, body


async def dto(http: aiohttp.ClientSession, sim: RunwaySimulator, task_id: str) -> dict[str, Any]:
    """The TaskDto of a wrapped GET that must succeed."""
    status, body = await get(http, sim, task_id)
    assert status == 200, body
    assert body["code"] == "success"
    outer: dict[str, Any] = body["data"]
    return outer


async def finish(sim: RunwaySimulator, task_id: str) -> None:
    sim.advance(15)
    await sim.wait_rendered(task_id)


async def raw_answer(resp: aiohttp.ClientResponse) -> tuple[int, str, str, str | None]:
    return resp.status, resp.content_type, await resp.text(), resp.headers.get("Retry-After")


# ---- [sim:create=SHAPE] -----------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    ["id", "id_cost", "task_id", "openai_video", "envelope_str", "envelope_obj", "empty"],
)
async def test_create_shape_directive(
    sim: RunwaySimulator, http: aiohttp.ClientSession, shape: str
) -> None:
    status, body = await post_create(http, sim, f"a cat [sim:create={shape}]")
    assert status == 200
    assert sim.created_count == 1
    task_id = sim.created_ids[0]
    expected: dict[str, Any] = {
        "id": {"id": task_id},
        "id_cost": {"id": task_id, "estimatedCost": {"credits": 10}},
        "task_id": {"task_id": task_id},
        "envelope_str": {"code": "success", "message": "", "data": task_id},
        "envelope_obj": {
            "code": "success",
            "message": "",
            "data": {"task_id": task_id, "status": "SUBMITTED"},
        },
        "empty": {},
    }
    if shape == "openai_video":
        created_at = body.pop("created_at")
        assert isinstance(created_at, int) and created_at > 1_700_000_000
        assert body == {
            "id": task_id,
            "task_id": task_id,
            "object": "video",
            "model": "gen4_turbo",
            "status": "queued",
            "progress": 0,
        }
    else:
        assert body == expected[shape]
    # Whatever the answer said, the task exists and runs to the end.
    await finish(sim, task_id)
    assert (await dto(http, sim, task_id))["status"] == "SUCCESS"


async def test_create_shape_directive_works_with_provider_runway() -> None:
    headers = {"Authorization": f"Bearer {RUNWAY_KEY}", **VERSION}
    async with (
        RunwaySimulator(options(provider="runway", api_key=None)) as sim,
        aiohttp.ClientSession(headers=headers) as http,
    ):
        status, body = await post_create(http, sim, "[sim:create=empty] a dog")
        assert (status, body) == (200, {})
        task_id = sim.created_ids[-1]
        status, raw = await get(http, sim, task_id)
        assert status == 200 and raw["id"] == task_id and raw["status"] == "PENDING"
        status, body = await post_create(http, sim, "[sim:create=task_id] a dog")
        assert body == {"task_id": sim.created_ids[-1]}
        assert sim.state()["created_ids"] == sim.created_ids and len(sim.created_ids) == 2


# ---- [sim:inner=...] --------------------------------------------------------------------


async def test_inner_null_directive(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    task_id = await create(http, sim, "[sim:inner=null] [sim:url=result_url] a cat")
    first = await dto(http, sim, task_id)
    assert first["data"] is None
    assert first["status"] == "SUBMITTED" and first["task_id"] == task_id
    await finish(sim, task_id)
    done = await dto(http, sim, task_id)
    assert done["data"] is None
    assert done["status"] == "SUCCESS" and done["progress"] == "100%"
    assert done["result_url"].startswith(f"{sim.base_url}/_outputs/")


async def test_inner_stale_directive(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    task_id = await create(http, sim, "[sim:inner=stale] a cat")
    pending = await dto(http, sim, task_id)
    frozen = pending["data"]
    assert frozen["status"] == "PENDING" and frozen["id"] == task_id
    assert "progress" not in frozen and "output" not in frozen
    sim.advance(5)
    running = await dto(http, sim, task_id)
    assert running["status"] == "IN_PROGRESS"
    assert running["progress"] != "0%"
    assert running["data"] == frozen
    await finish(sim, task_id)
    done = await dto(http, sim, task_id)
    assert done["status"] == "SUCCESS" and done["progress"] == "100%"
    assert done["data"] == frozen, "the inner task never moves, and has no output"
    failing = await create(http, sim, "[sim:inner=stale] [sim:fail=INTERNAL] a cat")
    await finish(sim, failing)
    failed = await dto(http, sim, failing)
    assert failed["status"] == "FAILURE" and failed["fail_reason"]
    assert failed["data"]["status"] == "PENDING"


# ---- [sim:url=WHERE] --------------------------------------------------------------------


async def test_url_output_directive_is_the_default(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    for prompt in ("[sim:url=output] a cat", "a cat"):
        task_id = await create(http, sim, prompt)
        await finish(sim, task_id)
        done = await dto(http, sim, task_id)
        assert "result_url" not in done and done["fail_reason"] == ""
        async with http.get(done["data"]["output"][0]) as resp:
            assert resp.status == 200 and resp.content_type == "video/mp4"


async def test_url_result_url_directive(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    task_id = await create(http, sim, "[sim:url=result_url] a cat")
    sim.advance(5)
    assert "result_url" not in await dto(http, sim, task_id), "only once it succeeded"
    await finish(sim, task_id)
    done = await dto(http, sim, task_id)
    assert done["status"] == "SUCCESS"
    assert done["data"]["status"] == "SUCCEEDED" and "output" not in done["data"]
    assert done["fail_reason"] == ""
    async with http.get(done["result_url"]) as resp:
        assert resp.status == 200 and resp.content_type == "video/mp4"


async def test_url_fail_reason_directive(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    task_id = await create(http, sim, "[sim:url=fail_reason] a cat")
    await finish(sim, task_id)
    done = await dto(http, sim, task_id)
    assert done["status"] == "SUCCESS"
    assert "result_url" not in done and "output" not in done["data"]
    assert done["fail_reason"].startswith(f"{sim.base_url}/_outputs/")
    async with http.get(done["fail_reason"]) as resp:
        assert resp.status == 200


async def test_url_gateway_directive_serves_the_clip_only_with_the_key(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    task_id = await create(http, sim, "[sim:url=gateway] a cat")
    url = f"{sim.base_url}/v1/videos/{task_id}/content"
    async with http.get(url) as resp:
        assert resp.status == 400, "not finished yet"
        assert "not completed" in (await resp.json())["error"]["message"]
    await finish(sim, task_id)
    done = await dto(http, sim, task_id)
    assert done["result_url"] == url
    assert "output" not in done["data"]
    async with aiohttp.ClientSession() as anonymous, anonymous.get(url) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["type"] == "new_api_error"
    bad = {"Authorization": "Bearer sk-someone-else"}
    async with aiohttp.ClientSession(headers=bad) as other, other.get(url) as resp:
        assert resp.status == 401
    async with http.get(url) as resp:
        assert resp.status == 200 and resp.content_type == "video/mp4"
        assert len(await resp.read()) > 1000
    assert sim.content_requests == {"with_key": 2, "without_key": 2}
    assert sim.state()["content_requests"] == {"with_key": 2, "without_key": 2}
    sim.expire_outputs()
    async with http.get(url) as resp:
        assert resp.status == 200, "the gateway's own URL does not expire"
    async with http.get(f"{sim.base_url}/v1/videos/nope/content") as resp:
        assert resp.status == 404


# ---- [sim:flicker=N] --------------------------------------------------------------------


async def test_flicker_directive(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    task_id = await create(http, sim, "[sim:flicker=2] a cat")
    seen = [await get(http, sim, task_id) for _ in range(4)]
    assert [status for status, _ in seen] == [200, 400, 400, 200]
    assert seen[1][1] == {"code": "task_not_exist", "message": "task_not_exist", "data": None}
    assert (await get(http, sim, task_id))[0] == 200


async def test_flicker_starts_after_the_first_normal_answer() -> None:
    async with (
        RunwaySimulator(options(task_not_exist_seconds=3.0)) as sim,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {COMET_KEY}", **VERSION}) as http,
    ):
        task_id = await create(http, sim, "[sim:flicker] a cat")
        assert (await get(http, sim, task_id))[0] == 400, "not visible yet"
        sim.advance(3)
        assert [(await get(http, sim, task_id))[0] for _ in range(3)] == [200, 400, 200]


# ---- [sim:sweep] ------------------------------------------------------------------------


async def test_sweep_directive(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    task_id = await create(http, sim, "[sim:sweep] a cat")
    sim.advance(5)
    running = await dto(http, sim, task_id)
    assert running["status"] == "IN_PROGRESS"
    sim.advance(10)
    await sim.wait_rendered(task_id)
    swept = await dto(http, sim, task_id)
    assert swept["status"] == "FAILURE"
    assert swept["fail_reason"] == "task timeout"
    assert "result_url" not in swept
    inner = swept["data"]
    assert inner == running["data"], "the inner task stays the last unfinished one answered"
    assert inner["status"] == "RUNNING"
    text = json.dumps(swept)
    assert "failureCode" not in text and '"cost"' not in text
    assert sim.task_status(task_id) == "FAILED"
    never_polled = await create(http, sim, "[sim:sweep] a dog")
    await finish(sim, never_polled)
    assert (await dto(http, sim, never_polled))["data"]["status"] == "PENDING"


# ---- gateway error answers --------------------------------------------------------------


async def test_no_channel_503(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    sim.add_fault(dialects.no_channel_503("gen4_turbo"))
    async with http.post(f"{sim.base_url}/v1/image_to_video", json=i2v()) as resp:
        status, ctype, text, retry_after = await raw_answer(resp)
    assert (status, ctype, retry_after) == (503, "application/json", None)
    assert json.loads(text) == {
        "error": {
            "message": "No available channel for model gen4_turbo under group default",
            "type": "new_api_error",
            "param": "",
            "code": "model_not_found",
        }
    }
    assert sim.created_count == 0, "nothing was sent upstream"


async def test_html_503(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    sim.add_fault(dialects.html_503())
    async with http.get(f"{sim.base_url}/v1/tasks/x") as resp:
        status, ctype, text, _ = await raw_answer(resp)
    assert (status, ctype) == (503, "text/html")
    assert text == "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"


async def test_runway_503(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    sim.add_fault(dialects.runway_503(times=2))
    for _ in range(2):
        status, body = await post_create(http, sim)
        assert (status, body) == (503, {"error": "Service temporarily unavailable"})
    assert (await post_create(http, sim))[0] == 200


async def test_fail_to_fetch(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    task_id = await create(http, sim, "a cat")
    sim.add_fault(dialects.fail_to_fetch(502, "upstream: bad gateway"))
    assert await get(http, sim, task_id) == (
        502,
        {"code": "fail_to_fetch_task", "message": "upstream: bad gateway", "data": None},
    )
    assert (await get(http, sim, task_id))[0] == 200


async def test_insufficient_quota_403(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    sim.add_fault(dialects.insufficient_quota_403())
    status, body = await post_create(http, sim)
    assert status == 403
    assert body == {
        "error": {
            "message": "user quota is not enough",
            "type": "new_api_error",
            "param": "",
            "code": "insufficient_user_quota",
        }
    }
    assert sim.created_count == 0


async def test_invalid_key_401_on_creates_and_polls(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    task_id = await create(http, sim, "a cat")
    sim.add_fault(dialects.invalid_key_401(times=2))
    expected = {
        "error": {"message": "invalid token", "type": "new_api_error", "param": "", "code": ""}
    }
    assert await post_create(http, sim) == (401, expected)
    assert await get(http, sim, task_id) == (401, expected)
    assert sim.created_count == 1


async def test_final_429(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    sim.add_fault(dialects.final_429())
    async with http.post(f"{sim.base_url}/v1/image_to_video", json=i2v()) as resp:
        status, _, text, retry_after = await raw_answer(resp)
    assert (status, retry_after) == (429, None)
    assert json.loads(text)["error"] == {
        "message": "upstream rate limited, please retry later",
        "type": "new_api_error",
        "param": "",
        "code": "rate_limit_exceeded",
    }


async def test_runway_daily_limit_429(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    sim.add_fault(dialects.runway_daily_limit_429())
    async with http.post(f"{sim.base_url}/v1/image_to_video", json=i2v()) as resp:
        status, _, text, retry_after = await raw_answer(resp)
    assert (status, retry_after) == (429, None)
    body = json.loads(text)
    assert body == {
        "error": "You have exceeded your daily task limit. The limit resets at midnight UTC."
    }
    assert "daily" in body["error"]
    assert sim.created_count == 0


async def test_delete_not_routed_404_fault(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    task_id = await create(http, sim, "a cat")
    path = f"/v1/tasks/{task_id}"
    sim.add_fault(dialects.delete_not_routed_404(path))
    async with http.get(f"{sim.base_url}{path}") as resp:
        assert resp.status == 200, "only DELETE matches"
    async with http.delete(f"{sim.base_url}{path}") as resp:
        assert resp.status == 404
        assert await resp.json() == {
            "error": {
                "message": f"Invalid URL (DELETE {path})",
                "type": "invalid_request_error",
                "param": "",
                "code": "",
            }
        }
    assert sim.task_status(task_id) == "PENDING"


# ---- DELETE through the gateway, created ids, the control route --------------------------


async def test_delete_routed_false_leaves_tasks_running(http: aiohttp.ClientSession) -> None:
    async with RunwaySimulator(options(delete_routed=False)) as sim:
        task_id = await create(http, sim, "a cat")
        sim.advance(3)
        for path in (f"/v1/tasks/{task_id}", "/v1/tasks/unknown"):
            async with http.delete(f"{sim.base_url}{path}") as resp:
                assert resp.status == 404
                body = await resp.json()
                assert body["error"]["message"] == f"Invalid URL (DELETE {path})"
                assert body["error"]["type"] == "invalid_request_error"
        assert sim.task_status(task_id) == "RUNNING"
        await finish(sim, task_id)
        assert (await dto(http, sim, task_id))["status"] == "SUCCESS"
    async with RunwaySimulator(options()) as routed:
        task_id = await create(http, routed, "a cat")
        async with http.delete(f"{routed.base_url}/v1/tasks/{task_id}") as resp:
            assert resp.status == 204, "routed by default"
        assert routed.task_status(task_id) == "CANCELLED"


async def test_created_ids_are_recorded(sim: RunwaySimulator, http: aiohttp.ClientSession) -> None:
    ids = [await create(http, sim, f"[sim:create={shape}] a cat") for shape in ("empty", "id")]
    assert len(set(ids)) == 2
    state = sim.state()
    assert state["created_ids"] == ids
    assert state["created_count"] == 2
    assert set(state["tasks"]) == set(ids)
    status, _ = await post_create(http, sim, "[sim:seconds=abc]" * 300)  # too long: 400
    assert status == 400
    assert sim.state()["created_ids"] == ids, "a refused create makes no task"


async def test_gateway_faults_over_the_control_api(
    sim: RunwaySimulator, http: aiohttp.ClientSession
) -> None:
    base = f"{sim.base_url}/_sim/gateway-faults"
    spec = {"name": "no_channel_503", "args": {"model": "veo3.1", "times": 2}}
    async with http.post(base, json=spec) as resp:
        assert resp.status == 200
    for _ in range(2):
        status, body = await post_create(http, sim)
        assert status == 503 and "veo3.1" in body["error"]["message"]
    async with http.post(base, json={"name": "html_503", "args": {"method": "GET"}}) as resp:
        assert resp.status == 200
    async with http.get(f"{sim.base_url}/v1/tasks/x") as resp:
        assert resp.status == 503 and resp.content_type == "text/html"
    for bad in ({"name": "nope"}, {"name": "final_429", "args": {"bogus": 1}}, [1]):
        async with http.post(base, json=bad) as resp:
            assert resp.status == 400
    fault = {"status": 503, "body": "<p>down</p>", "content_type": "text/html"}
    async with http.post(f"{sim.base_url}/_sim/faults", json=fault) as resp:
        assert resp.status == 200
    async with http.get(f"{sim.base_url}/v1/tasks/x") as resp:
        assert (resp.status, resp.content_type, await resp.text()) == (
            503,
            "text/html",
            "<p>down</p>",
        )


def test_fault_helpers_keep_the_usual_matching_fields() -> None:
    fault = dialects.invalid_key_401(method="GET", path_prefix="/v1/tasks/", times=3)
    assert isinstance(fault, Fault)
    assert (fault.method, fault.path_prefix, fault.status, fault.times) == (
        "GET",
        "/v1/tasks/",
        401,
        3,
    )
    assert isinstance(fault.body, str) and fault.content_type == "application/json"
    assert dialects.html_503().content_type == "text/html"
    assert set(dialects.GATEWAY_FAULTS) == {
        "no_channel_503",
        "html_503",
        "runway_503",
        "fail_to_fetch",
        "insufficient_quota_403",
        "invalid_key_401",
        "final_429",
        "runway_daily_limit_429",
        "delete_not_routed_404",
    }
