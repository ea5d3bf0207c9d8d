"""Factories that make real media files with Pillow and PyAV (small, so the tests stay fast)."""

from __future__ import annotations

import io
import random
import struct
import zlib
from array import array
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
import pytest
from PIL import Image


def encode_image(image: Image.Image, fmt: str, **options: Any) -> bytes:
    """``image`` saved in Pillow format ``fmt``."""
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def solid(
    size: tuple[int, int], color: tuple[int, ...] = (40, 120, 200), mode: str = "RGB"
) -> Image.Image:
    return Image.new(mode, size, color)


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Pseudo-random pixels (the worst case for every compressor), the same for the same seed
    so that what an encoder makes of them does not change from run to run."""
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def png_with_header_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression-bomb shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def marked_frame(width: int, height: int, index: int) -> Image.Image:
    """A frame whose top-left quarter (half width, quarter height) is pure red."""
    image = Image.new("RGB", (width, height), (20, (index * 17) % 200 + 30, 160))
    image.paste((255, 0, 0), (0, 0, width // 2, height // 4))
    return image


def _noise_samples(count: int, seed: int) -> bytes:
    """``count`` float32 samples of white noise at half scale (the same for the same seed)."""
    rng = random.Random(seed)
    return array("f", (rng.uniform(-0.5, 0.5) for _ in range(count))).tobytes()


def video_packets(data: bytes) -> list[bytes]:
    """The encoded packets of a video's first video stream, in order."""
    with av.open(io.BytesIO(data), "r") as container:
        return [bytes(p) for p in container.demux(video=0) if p.dts is not None]


def rgb_at(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    """The RGB colour of one pixel."""
    pixel = image.convert("RGB").getpixel(xy)
    assert isinstance(pixel, tuple)
    red, green, blue = pixel[:3]
    return red, green, blue


class MakeVideo(Protocol):
    def __call__(
        self,
        name: str = "clip.mp4",
        *,
        size: tuple[int, int] = (64, 48),
        fps: int = 10,
        seconds: float = 2.0,
        codec: str = "libx264",
        fmt: str = "mp4",
        audio: bool = False,
        video: bool = True,
        noisy: bool = False,
        rotation: int | None = None,
        options: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> Path: ...


def _write_video(
    path: Path,
    *,
    size: tuple[int, int],
    fps: int,
    seconds: float,
    codec: str,
    fmt: str,
    audio: bool,
    video: bool,
    noisy: bool,
    rotation: int | None,
    options: dict[str, str] | None,
    tags: dict[str, str] | None = None,
) -> Path:
    width, height = size
    frames = max(1, round(fps * seconds))
    with av.open(str(path), "w", format=fmt, options=options or {}) as out:
        out.metadata.update(tags or {})
        vstream: av.VideoStream | None = None
        if video:
            codec_options = {"preset": "ultrafast"} if codec == "libx264" else {}
            if noisy and codec == "libx264":
                codec_options["crf"] = "8"
            added = out.add_stream(codec, rate=fps, options=codec_options)
            assert isinstance(added, av.VideoStream)
            vstream = added
            vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
            if rotation is not None:
                vstream.set_display_rotation(rotation)
        astream = out.add_stream("aac", rate=48_000) if audio else None
        if vstream is not None:
            for i in range(frames):
                image = noise(size, seed=i) if noisy else marked_frame(width, height, i)
                frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
                frame.pts = i
                frame.time_base = Fraction(1, fps)
                out.mux(vstream.encode(frame))
            out.mux(vstream.encode(None))
        if astream is not None:
            samples = 1024
            for k in range(round(48_000 * seconds / samples)):
                aframe = av.AudioFrame(format="fltp", layout="stereo", samples=samples)
                for p, plane in enumerate(aframe.planes):
                    seed = 2 * k + p
                    plane.update(_noise_samples(samples, seed) if noisy else bytes(samples * 4))
                aframe.sample_rate = 48_000
                aframe.pts = k * samples
                out.mux(astream.encode(aframe))
            out.mux(astream.encode(None))
    return path


@pytest.fixture
def make_video(tmp_path: Path) -> MakeVideo:
    """Write a real video into ``tmp_path`` and return its path."""

    def make(
        name: str = "clip.mp4",
        *,
        size: tuple[int, int] = (64, 48),
        fps: int = 10,
        seconds: float = 2.0,
        codec: str = "libx264",
        fmt: str = "mp4",
        audio: bool = False,
        video: bool = True,
        noisy: bool = False,
        rotation: int | None = None,
        options: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> Path:
        return _write_video(
            tmp_path / name,
            size=size,
            fps=fps,
            seconds=seconds,
            codec=codec,
            fmt=fmt,
            audio=audio,
            video=video,
            noisy=noisy,
            rotation=rotation,
            options=options,
            tags=tags,
        )

    return make


def first_frame(source: bytes | Path) -> Image.Image:
    """The first decoded frame of a video as a Pillow image (rotation not applied)."""
    with av.open(
        io.BytesIO(source) if isinstance(source, bytes) else str(source), "r"
    ) as container:
        for frame in container.decode(video=0):
            image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
            return image
    raise AssertionError("no frame")
