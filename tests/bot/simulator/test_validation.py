"""The simulator's create-body validation, table-driven against the default catalog."""

from __future__ import annotations

from typing import Any

import pytest

from bot.catalog import Endpoint, default_catalog
from bot.simulator.validation import (
    IMAGE_DATA_URI_MAX,
    VIDEO_DATA_URI_MAX,
    RequestInvalid,
    utf16_units,
    validate_create,
)

CATALOG = {m.id: m for m in default_catalog()}
PNG = "data:image/png;base64,iVBORw0KGgo="
MP4 = "data:video/mp4;base64,AAAAIGZ0eXBpc29t"
I2V = Endpoint.IMAGE_TO_VIDEO
V2V = Endpoint.VIDEO_TO_VIDEO


def i2v(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gen4_turbo",
        "promptImage": PNG,
        "ratio": "1280:720",
        "duration": 5,
        "promptText": "a slow dolly in",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def v2v(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "gen4_aleph", "videoUri": MP4, "promptText": "make it snow"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def frames(*positions: str) -> list[dict[str, str]]:
    return [{"uri": PNG, "position": p} for p in positions]


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


INVALID: list[tuple[str, Endpoint, Any, tuple[str | int, ...], str]] = [
    ("unknown model", I2V, i2v(model="gen9"), ("model",), "Invalid discriminator value"),
    ("missing model", I2V, without(i2v(), "model"), ("model",), "Required"),
    ("v2v model on i2v", I2V, i2v(model="gen4_aleph"), ("model",), "not available"),
    ("i2v model on v2v", V2V, v2v(model="gen4_turbo"), ("model",), "not available"),
    ("ratio not allowed", I2V, i2v(ratio="1:1"), ("ratio",), "received '1:1'"),
    ("ratio of another model", I2V, i2v(ratio="1920:1080"), ("ratio",), "Invalid enum"),
    ("ratio missing", I2V, without(i2v(), "ratio"), ("ratio",), "Required"),
    ("duration too long", I2V, i2v(duration=11), ("duration",), "Expected one of"),
    ("duration as text", I2V, i2v(duration="5"), ("duration",), "Expected integer"),
    ("veo duration", I2V, i2v(model="veo3.1", duration=5), ("duration",), "4, 6, 8"),
    ("prompt too long", I2V, i2v(promptText="a" * 1001), ("promptText",), "at most 1000"),
    ("prompt UTF-16", I2V, i2v(promptText="😀" * 501), ("promptText",), "got 1002"),
    ("prompt empty", I2V, i2v(promptText="  "), ("promptText",), "at least 1"),
    ("prompt not text", I2V, i2v(promptText=5), ("promptText",), "Expected string"),
    ("prompt required", I2V, i2v(model="gen4.5", promptText=None), ("promptText",), "Required"),
    ("seed negative", I2V, i2v(seed=-1), ("seed",), "greater than or equal to 0"),
    ("seed too big", I2V, i2v(seed=4_294_967_296), ("seed",), "less than or equal"),
    ("seed bool", I2V, i2v(seed=True), ("seed",), "Expected integer"),
    ("image missing", I2V, without(i2v(), "promptImage"), ("promptImage",), "Required"),
    ("ftp URL", I2V, i2v(promptImage="ftp://x.org/a.png"), ("promptImage",), "HTTPS URL"),
    ("plain http", I2V, i2v(promptImage="http://x.org/a.png"), ("promptImage",), "HTTPS URL"),
    ("IP address URL", I2V, i2v(promptImage="https://1.2.3.4/a.png"), ("promptImage",), "IP"),
    ("gif data URI", I2V, i2v(promptImage="data:image/gif;base64,R0lG"), ("promptImage",), "gif"),
    ("not base64", I2V, i2v(promptImage="data:image/png,abc"), ("promptImage",), "data URI"),
    (
        "image data URI too big",
        I2V,
        i2v(promptImage="data:image/png;base64," + "A" * IMAGE_DATA_URI_MAX),
        ("promptImage",),
        "limited to",
    ),
    ("frames empty", I2V, i2v(promptImage=[]), ("promptImage",), "non-empty"),
    (
        "last frame unsupported",
        I2V,
        i2v(promptImage=frames("first", "last")),
        ("promptImage", 1, "position"),
        "does not support a last frame",
    ),
    (
        "last frame alone",
        I2V,
        i2v(model="veo3.1", duration=8, promptImage=frames("last")),
        ("promptImage",),
        "needs a first frame",
    ),
    (
        "two first frames",
        I2V,
        i2v(promptImage=frames("first", "first")),
        ("promptImage",),
        "at most once",
    ),
    (
        "bad position",
        I2V,
        i2v(promptImage=frames("middle")),
        ("promptImage", 0, "position"),
        "'middle'",
    ),
    ("audio unsupported", I2V, i2v(audio=True), ("audio",), "does not support audio"),
    (
        "moderation value",
        I2V,
        i2v(contentModeration={"publicFigureThreshold": "high"}),
        ("contentModeration", "publicFigureThreshold"),
        "'auto' | 'low'",
    ),
    ("body not an object", I2V, ["model"], (), "Expected object"),
    ("video missing", V2V, without(v2v(), "videoUri"), ("videoUri",), "Required"),
    ("v2v prompt required", V2V, v2v(promptText=None), ("promptText",), "Required"),
    (
        "too many references",
        V2V,
        v2v(references=[{"type": "image", "uri": PNG}] * 2),
        ("references",),
        "at most 1",
    ),
    (
        "references unsupported",
        V2V,
        v2v(model="aleph2", references=[{"type": "image", "uri": PNG}]),
        ("references",),
        "does not accept references",
    ),
    (
        "reference type",
        V2V,
        v2v(references=[{"type": "video", "uri": MP4}]),
        ("references", 0, "type"),
        "expected 'image'",
    ),
    (
        "reference gif",
        V2V,
        v2v(references=[{"type": "image", "uri": "data:image/gif;base64,R0lG"}]),
        ("references", 0, "uri"),
        "Unsupported image type",
    ),
    ("image as video", V2V, v2v(videoUri=PNG), ("videoUri",), "Unsupported video type"),
    (
        "video data URI too big",
        V2V,
        v2v(videoUri="data:video/mp4;base64," + "A" * VIDEO_DATA_URI_MAX),
        ("videoUri",),
        "limited to",
    ),
]


@pytest.mark.parametrize(
    ("endpoint", "body", "path", "fragment"),
    [pytest.param(e, b, p, f, id=name) for name, e, b, p, f in INVALID],
)
def test_invalid_bodies_are_refused_with_an_issue(
    endpoint: Endpoint, body: Any, path: tuple[str | int, ...], fragment: str
) -> None:
    with pytest.raises(RequestInvalid) as caught:
        validate_create(endpoint, body, CATALOG)
    wire = caught.value.to_wire()
    assert wire["error"] == "Validation of body failed"
    matching = [i for i in wire["issues"] if tuple(i["path"]) == path]
    assert matching, wire
    assert any(fragment in i["message"] for i in matching), matching


VALID: list[tuple[str, Endpoint, dict[str, Any]]] = [
    ("minimal", I2V, i2v(promptText=None, duration=None)),
    ("prompt at the limit", I2V, i2v(promptText="😀" * 500)),
    ("seed bounds", I2V, i2v(seed=4_294_967_295)),
    ("seed zero", I2V, i2v(seed=0)),
    ("https URL", I2V, i2v(promptImage="https://cdn.example.com/a.png")),
    ("loopback URL", I2V, i2v(promptImage="http://127.0.0.1:8123/a.png")),
    ("localhost URL", I2V, i2v(promptImage="http://localhost:8123/a.png")),
    ("upload URI", I2V, i2v(promptImage="runway://uploads/abc/a.png")),
    ("jpeg and webp", I2V, i2v(promptImage="data:image/webp;base64,UklG")),
    ("first frame array", I2V, i2v(promptImage=frames("first"))),
    (
        "veo first and last",
        I2V,
        i2v(model="veo3.1", duration=8, promptImage=frames("first", "last")),
    ),
    ("veo audio", I2V, i2v(model="veo3.1_fast", duration=4, ratio="1080:1920", audio=True)),
    ("gen4.5 with prompt", I2V, i2v(model="gen4.5")),
    ("moderation", I2V, i2v(contentModeration={"publicFigureThreshold": "low"})),
    ("aleph", V2V, v2v()),
    ("aleph reference", V2V, v2v(references=[{"type": "image", "uri": PNG}])),
    ("aleph2 without prompt", V2V, v2v(model="aleph2", promptText=None)),
    ("aleph ratio ignored", V2V, v2v(ratio="1280:720")),
    ("video URL", V2V, v2v(videoUri="https://cdn.example.com/in.mp4")),
]


@pytest.mark.parametrize(
    ("endpoint", "body"), [pytest.param(e, b, id=name) for name, e, b in VALID]
)
def test_valid_bodies_pass(endpoint: Endpoint, body: dict[str, Any]) -> None:
    valid = validate_create(endpoint, body, CATALOG)
    assert valid.spec.id == body["model"]
    assert valid.assets, "every valid request names at least one asset"


def test_defaults_and_asset_roles() -> None:
    valid = validate_create(
        I2V, i2v(model="veo3.1", duration=None, promptImage=frames("first", "last")), CATALOG
    )
    assert valid.duration == 8  # the catalog's default_duration
    assert [a.role for a in valid.assets] == ["first", "last"]
    assert [a.path for a in valid.assets] == [("promptImage", 0, "uri"), ("promptImage", 1, "uri")]
    aleph = validate_create(V2V, v2v(references=[{"type": "image", "uri": PNG}]), CATALOG)
    assert [(a.role, a.kind) for a in aleph.assets] == [("video", "video"), ("reference", "image")]


def test_every_problem_is_listed_at_once() -> None:
    body = i2v(ratio="1:1", duration=99, seed=-5, promptText="x" * 2000)
    with pytest.raises(RequestInvalid) as caught:
        validate_create(I2V, body, CATALOG)
    paths = {tuple(i.path) for i in caught.value.issues}
    assert paths == {("ratio",), ("duration",), ("seed",), ("promptText",)}


def test_utf16_units_counts_surrogate_pairs() -> None:
    assert utf16_units("abc") == 3
    assert utf16_units("é") == 1
    assert utf16_units("😀") == 2
