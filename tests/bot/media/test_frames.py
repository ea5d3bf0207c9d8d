"""Stills from media: a clip's last frame, and previews for status messages."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image

from bot.domain import InputRole, JobInput
from bot.media import CorruptMedia, NoVideoStream
from bot.media.frames import last_frame, thumbnail, video_thumbnail


def video(seconds: float, width: int = 160, height: int = 120, fps: int = 10) -> bytes:
    """A real H.264 MP4 whose frame ``i`` is grey level ``i * 20`` (the last one is known)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options={"qp": "0"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(round(seconds * fps)):
            level = min(255, i * 20)
            frame = av.VideoFrame.from_image(  # type: ignore[no-untyped-call]
                Image.new("RGB", (width, height), (level, level, level))
            )
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def clip(seconds: float) -> JobInput:
    """A prepared video input of ``seconds`` seconds (for cost tests)."""
    return JobInput(
        role=InputRole.VIDEO,
        mime="video/mp4",
        data=b"",
        width=160,
        height=120,
        duration_seconds=seconds,
    )


def test_last_frame_is_the_last_one() -> None:
    data = last_frame(video(1.0))  # 10 frames: the last is grey level 180
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (160, 120)
    level = image.convert("L").getpixel((80, 60))
    assert isinstance(level, int) and abs(level - 180) <= 3


def test_last_frame_of_something_else_is_refused() -> None:
    with pytest.raises(CorruptMedia):
        last_frame(b"\x00\x00\x00\x18ftypmp42 broken")
    buf = io.BytesIO()
    with av.open(buf, "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame(format="s16", layout="mono", samples=800)
        frame.rate = 8000
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(NoVideoStream):
        last_frame(buf.getvalue())


def test_thumbnails_are_small_jpegs_or_none() -> None:
    big = io.BytesIO()
    Image.new("RGB", (1280, 720), (10, 20, 30)).save(big, "PNG")
    small = Image.open(io.BytesIO(thumbnail(big.getvalue()) or b""))
    assert small.format == "JPEG" and small.size == (320, 180)
    first = Image.open(io.BytesIO(video_thumbnail(video(1.0, 640, 480)) or b""))
    assert first.format == "JPEG" and first.size == (320, 240)
    assert thumbnail(b"not an image") is None
    assert video_thumbnail(b"not a video") is None
