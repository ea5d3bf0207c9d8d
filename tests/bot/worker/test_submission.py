"""build_request against the real simulator on 127.0.0.1: data URIs for what fits, ephemeral
uploads for bigger inputs where the provider has them, a clear refusal where it does not."""

from __future__ import annotations

import base64
import random
from collections.abc import AsyncIterator

import pytest

from bot.domain import InputRole, JobError, JobInput, JobKind
from bot.media.datauri import max_raw_bytes
from bot.runway.client import RunwayClient
from bot.simulator import RunwaySimulator, SimulatorOptions
from bot.worker.submission import MAX_UPLOAD_VIDEO_BYTES, can_upload, video_budget
from bot.worker.submission import build_request as build
from tests.bot.conftest import mp4_bytes

KEY = "key_" + "cd" * 64
BIG = 13_000_000  # more than the 12 MB whose base64 fits a 16 MB data URI


@pytest.fixture
async def sim() -> AsyncIterator[RunwaySimulator]:
    async with RunwaySimulator(SimulatorOptions()) as s:
        yield s


def client_for(sim: RunwaySimulator, provider: str) -> RunwayClient:
    assert provider in ("runway", "simulator", "cometapi")
    return RunwayClient(
        base_url=sim.base_url,
        api_key=KEY,
        provider=provider,  # type: ignore[arg-type]
        max_retries=0,
        request_timeout=10.0,
    )


def big_video() -> JobInput:
    data = random.Random(7).randbytes(BIG)
    return JobInput(InputRole.VIDEO, "video/mp4", data, "big.mp4")


async def restyle(client: RunwayClient, video: JobInput) -> str:
    request = await build(
        client, JobKind.RESTYLE, model="gen4_aleph", prompt="snow", ratio=None,
        duration=None, seed=1, audio=False, inputs=[video],
    )  # fmt: skip
    uri = request.to_wire()["videoUri"]
    assert isinstance(uri, str)
    return uri


def test_budget_follows_whether_the_provider_can_upload() -> None:
    assert max_raw_bytes("video/mp4") < BIG
    assert can_upload("runway") and can_upload("simulator") and not can_upload("cometapi")
    assert video_budget("runway") == video_budget("simulator") == MAX_UPLOAD_VIDEO_BYTES
    assert video_budget("cometapi") == max_raw_bytes("video/mp4") < MAX_UPLOAD_VIDEO_BYTES


@pytest.mark.parametrize("provider", ["runway", "simulator", "cometapi"])
async def test_a_video_that_fits_goes_as_a_data_uri(sim: RunwaySimulator, provider: str) -> None:
    data = mp4_bytes(1.5)
    async with client_for(sim, provider) as client:
        uri = await restyle(client, JobInput(InputRole.VIDEO, "video/mp4", data, "a.mp4"))
    prefix = "data:video/mp4;base64,"
    assert uri.startswith(prefix) and base64.b64decode(uri[len(prefix) :]) == data
    assert ("POST", "/v1/uploads") not in sim.request_log


@pytest.mark.parametrize("provider", ["runway", "simulator"])
async def test_a_video_too_big_for_a_data_uri_is_uploaded(
    sim: RunwaySimulator, provider: str
) -> None:
    video = big_video()
    async with client_for(sim, provider) as client:
        uri = await restyle(client, video)
    assert uri.startswith("runway://uploads/") and uri.endswith("/big.mp4")
    assert ("POST", "/v1/uploads") in sim.request_log
    assert sim.uploads.lookup(uri) == video.data


async def test_cometapi_refuses_an_input_too_big_for_a_data_uri_clearly(
    sim: RunwaySimulator,
) -> None:
    async with client_for(sim, "cometapi") as client:
        with pytest.raises(JobError) as caught:
            await restyle(client, big_video())
    message = caught.value.message
    assert message.startswith("The video file is 13.0 MB;")
    assert "at most 12.0 MB per file" in message
    assert "Send a shorter or smaller one." in message
    assert caught.value.text("ja").startswith("動画ファイルは 13.0 MB あります。")
    assert sim.request_log == []


async def test_a_lost_input_is_explained_in_the_members_language(sim: RunwaySimulator) -> None:
    async with client_for(sim, "runway") as client:
        with pytest.raises(JobError) as caught:
            await build(
                client, JobKind.ANIMATE, model="gen4_turbo", prompt="sea", ratio="1280:720",
                duration=5, seed=1, audio=False, inputs=[],
            )  # fmt: skip
    assert caught.value.message == "The input image of this job is no longer available."
    assert caught.value.text("ja") == "このジョブの入力画像はもう利用できません。"
    assert caught.value.text("es") == "La imagen de entrada de este trabajo ya no está disponible."
    assert sim.request_log == []
