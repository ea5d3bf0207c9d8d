"""The hostile attachment corpus against the media layer itself (``prepare_image`` /
``prepare_video``): every usable file comes out converted and clean, every other one is
refused with its own message, and nothing raises anything but a MediaError."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image

from bot.domain import JobInput
from bot.media import MediaError, prepare_image, prepare_video
from bot.media.datauri import data_uri_fits
from bot.media.probe import probe_video
from bot.media.sniff import sniff
from tests.bot.media.hostile import ALL_CASES, IMAGE_CASES, VIDEO_CASES, Case

pytestmark = pytest.mark.timeout(120)

# What gen4_aleph (the default /restyle model) asks of a video.
MAX_SECONDS = 30.0
KEEP_SECONDS = 5.0
# Bytes that ride along in the corpus (trailers, metadata) and must never be forwarded.
SMUGGLED = (b"PK\x03\x04", b"<html", b"alert(1)", b"hidden-copyright-marker", b"AAAAAAAAAAAAAAAA")


def prepare(case: Case) -> JobInput:
    data = case.data()
    if case.slot == "image":
        return prepare_image(data, filename=case.filename)
    return prepare_video(
        data, filename=case.filename, max_seconds=MAX_SECONDS, keep_seconds=KEEP_SECONDS
    )


def test_the_corpus_is_big_and_names_are_unique() -> None:
    assert len(ALL_CASES) >= 60
    assert len({c.id for c in ALL_CASES}) == len(ALL_CASES)
    assert sum(c.converted for c in ALL_CASES) >= 25
    assert sum(not c.converted for c in ALL_CASES) >= 25


@pytest.mark.parametrize("case", [c for c in IMAGE_CASES if c.converted], ids=lambda c: c.id)
def test_usable_images_are_converted_to_a_clean_png_or_jpeg(case: Case) -> None:
    item = prepare(case)

    assert item.mime in ("image/png", "image/jpeg")
    assert sniff(item.data) == item.mime
    assert data_uri_fits(item)
    for marker in SMUGGLED:
        assert marker not in item.data, marker
    out = Image.open(io.BytesIO(item.data))
    out.load()
    assert out.format == ("PNG" if item.mime == "image/png" else "JPEG")
    assert getattr(out, "n_frames", 1) == 1
    assert out.mode in ("RGB", "L")
    assert dict(out.getexif()) == {}  # orientation applied, then every EXIF tag dropped
    assert not {"comment", "Comment", "exif", "xmp"} & set(out.info)
    assert len(out.info.get("icc_profile") or b"") <= 64 * 1024
    assert out.size == (item.width, item.height)
    if case.size is not None:
        assert out.size == case.size
    assert min(out.size) >= 640 and max(out.size) <= 3840
    # the picture survived: the marker frame's red block is at the top left
    if case.id not in ("png-16-bit-grey", "png-1-bit", "png-grey-alpha", "jpeg-cmyk"):
        red, green, blue = out.convert("RGB").getpixel((2, 2))  # type: ignore[misc]
        if case.id == "jpeg-exif-rotated-90":  # turned upright: the block is top right now
            red, green, blue = out.convert("RGB").getpixel((out.width - 3, 2))  # type: ignore[misc]
        assert red > 200 and green < 60 and blue < 60, (red, green, blue)


@pytest.mark.parametrize("case", [c for c in VIDEO_CASES if c.converted], ids=lambda c: c.id)
def test_usable_videos_are_converted_to_h264_mp4(case: Case) -> None:
    item = prepare(case)

    assert item.mime == "video/mp4" and sniff(item.data) in ("video/mp4",)
    info = probe_video(item.data)
    assert info.codec == "h264" and info.pix_fmt in ("yuv420p", "yuvj420p")
    assert info.rotation == 0 and info.fps <= 60.5
    assert max(info.width, info.height) <= 1920 and min(info.width, info.height) <= 1080
    assert info.width % 2 == 0 and info.height % 2 == 0
    assert 1.0 <= info.duration_seconds <= KEEP_SECONDS + 0.1
    assert (item.width, item.height) == (info.width, info.height)
    with av.open(io.BytesIO(item.data)) as container:
        assert len(container.streams.video) == 1
        assert len(container.streams.audio) == 0  # video_to_video ignores sound: never sent
    if case.id == "rotated-90":
        assert (info.width, info.height) == (240, 320)
    if case.id == "120-fps-capped":
        assert info.fps <= 30.5


@pytest.mark.parametrize("case", [c for c in ALL_CASES if not c.converted], ids=lambda c: c.id)
def test_unusable_files_are_refused_with_their_own_message(case: Case) -> None:
    with pytest.raises(MediaError) as caught:
        prepare(case)
    assert caught.value.message == case.prepare_refusal
    assert "Something went wrong" not in caught.value.message
