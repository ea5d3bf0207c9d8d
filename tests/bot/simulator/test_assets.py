"""Asset resolution: data URIs, loopback URLs and runway:// uploads."""

from __future__ import annotations

import base64
import io

import aiohttp
import pytest
from PIL import Image

from bot.simulator.assets import UploadStore, resolve_asset
from bot.simulator.validation import AssetRef, RequestInvalid
from tests.bot.simulator.sim_media import make_png

PNG = make_png((64, 48))


def ref(uri: str, kind: str = "image") -> AssetRef:
    return AssetRef(("promptImage",), kind, uri, "first")  # type: ignore[arg-type]


async def resolve(uri: str, store: UploadStore | None = None, kind: str = "image") -> bytes:
    async with aiohttp.ClientSession() as session:
        return await resolve_asset(ref(uri, kind), store or UploadStore(), session)


async def test_data_uri_is_decoded() -> None:
    assert await resolve("data:image/png;base64," + base64.b64encode(PNG).decode()) == PNG


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("data:image/png;base64,@@not base64@@", "Invalid base64"),
        ("data:image/png;base64,", "Empty data URI"),
        ("data:image/png;base64," + base64.b64encode(b"plain text").decode(), "not a readable"),
        ("runway://uploads/none/a.png", "Unknown or expired"),
        ("http://127.0.0.1:9/a.png", "connection failed"),
    ],
)
async def test_unusable_assets_are_400_issues(uri: str, fragment: str) -> None:
    with pytest.raises(RequestInvalid) as caught:
        await resolve(uri)
    issue = caught.value.issues[0]
    assert issue.path == ("promptImage",)
    assert fragment in issue.message


async def test_other_https_hosts_get_a_test_card_without_network() -> None:
    image = await resolve("https://cdn.example.com/a.png")
    with Image.open(io.BytesIO(image)) as card:
        assert card.format == "PNG" and card.size == (1280, 720)
    video = await resolve("https://cdn.example.com/in.mp4", kind="video")
    assert video[4:8] == b"ftyp"


async def test_gif_bytes_are_refused_even_when_labelled_png() -> None:
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    with pytest.raises(RequestInvalid) as caught:
        await resolve("data:image/png;base64," + base64.b64encode(gif.getvalue()).decode())
    assert "Unsupported image type GIF" in caught.value.issues[0].message


async def test_uploads_need_the_ticket_fields() -> None:
    store = UploadStore()
    upload_id, fields, uri = store.ticket("in.png")
    assert uri.startswith("runway://") and uri.endswith("/in.png")
    assert store.accept("other", fields, PNG) == "unknown upload"
    assert store.accept(upload_id, {**fields, "signature": "x"}, PNG) == "bad upload signature"
    assert store.accept(upload_id, fields, b"") == "empty file"
    assert store.accept(upload_id, fields, PNG) is None
    assert store.accept(upload_id, fields, PNG) == "unknown upload", "a ticket is used once"
    assert await resolve(uri, store) == PNG


async def test_uploads_expire_after_their_ttl() -> None:
    now = [0.0]
    store = UploadStore(ttl_seconds=100.0, now=lambda: now[0])
    upload_id, fields, uri = store.ticket("in.png")
    stale_id, stale_fields, _ = store.ticket("late.png")
    assert store.accept(upload_id, fields, PNG) is None
    now[0] = 99.0
    assert await resolve(uri, store) == PNG
    now[0] = 100.0
    with pytest.raises(RequestInvalid) as caught:
        await resolve(uri, store)
    assert "Unknown or expired" in caught.value.issues[0].message
    assert store.accept(stale_id, stale_fields, PNG) == "unknown upload", "tickets expire too"
    assert (store.files, store.pending, store.expires) == ({}, {}, {})
