"""Real clips for the simulator, made with PyAV and Pillow (CPU-bound: call off the event loop).

Clips are H.264 (yuv420p) MP4 at 24 fps. To keep encoding cheap they are rendered at
the requested aspect ratio with the long side scaled to ``OUTPUT_LONG_SIDE`` pixels
(both sides rounded to even numbers): a 1280:720 request gives 640x360.
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct

import av
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

FPS = 24
OUTPUT_LONG_SIDE = 640
_ZOOM = 0.18
CACHE_INPUT_MAX = 4 * 1024 * 1024  # larger inputs are rendered without caching the clip


class ClipError(Exception):
    """An input could not be decoded; ``message`` says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def output_size(ratio: str, long_side: int = OUTPUT_LONG_SIDE) -> tuple[int, int]:
    """Frame size for a ``W:H`` ratio with the long side scaled to ``long_side``."""
    w, h = (int(p) for p in ratio.split(":"))
    if w >= h:
        return _even(long_side), _even(long_side * h / w)
    return _even(long_side * w / h), _even(long_side)


def fit_size(width: int, height: int, long_side: int = OUTPUT_LONG_SIDE) -> tuple[int, int]:
    """A size with the same aspect, the long side at most ``long_side``, both sides even."""
    scale = min(1.0, long_side / max(width, height))
    return _even(width * scale), _even(height * scale)


def pad_to(data: bytes, min_bytes: int) -> bytes:
    """``data`` (an MP4) grown to at least ``min_bytes`` with a trailing ``free`` box."""
    missing = min_bytes - len(data)
    if missing <= 0:
        return data
    size = max(missing, 8)
    return data + struct.pack(">I", size) + b"free" + bytes(size - 8)


@functools.lru_cache(maxsize=8)
def test_card(label: str, size: tuple[int, int] = (1280, 720)) -> bytes:
    """A PNG test card (colour bars, a grid and ``label``) standing in for unreachable inputs."""
    w, h = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    bars = [
        (192, 192, 192),
        (192, 192, 0),
        (0, 192, 192),
        (0, 192, 0),
        (192, 0, 192),
        (192, 0, 0),
        (0, 0, 192),
    ]
    for i, color in enumerate(bars):
        draw.rectangle([i * w // len(bars), 0, (i + 1) * w // len(bars), h], fill=color)
    for x in range(0, w, w // 16):
        draw.line([(x, 0), (x, h)], fill=(30, 30, 30), width=2)
    for y in range(0, h, h // 9):
        draw.line([(0, y), (w, y)], fill=(30, 30, 30), width=2)
    draw.rectangle([w // 4, h * 2 // 5, w * 3 // 4, h * 3 // 5], fill=(0, 0, 0))
    draw.text((w // 4 + 12, h // 2 - 6), f"simulated input: {label}"[:60], fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _open_image(data: bytes, what: str) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ClipError(f"the {what} is not a readable image") from exc
    return ImageOps.exif_transpose(img).convert("RGB")


def _cover(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Center-crop ``img`` to the aspect of ``size`` and resize to it."""
    return ImageOps.fit(img, size, Image.Resampling.BILINEAR)


class _Encoder:
    def __init__(self, size: tuple[int, int]) -> None:
        self.buffer = io.BytesIO()
        self.container = av.open(self.buffer, "w", format="mp4")
        self.stream = self.container.add_stream(
            "libx264", rate=FPS, options={"preset": "ultrafast", "crf": "30"}
        )
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = "yuv420p"
        self.count = 0

    def add(self, img: Image.Image) -> None:
        frame = av.VideoFrame.from_image(img)  # type: ignore[no-untyped-call]
        frame.pts = self.count
        self.count += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def finish(self) -> bytes:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        return self.buffer.getvalue()


def image_to_video_clip(
    image: bytes,
    *,
    ratio: str,
    duration: float,
    seed: int = 0,
    last_image: bytes | None = None,
) -> bytes:
    """A slow zoom/pan over ``image`` (cross-fading to ``last_image`` if given).

    Recent clips of small inputs are cached (a few, so the cache stays small).
    """
    if len(image) + len(last_image or b"") <= CACHE_INPUT_MAX:
        return _cached_i2v(image, ratio, duration, seed, last_image)
    return _i2v(image, ratio, duration, seed, last_image)


@functools.lru_cache(maxsize=8)
def _cached_i2v(
    image: bytes, ratio: str, duration: float, seed: int, last_image: bytes | None
) -> bytes:
    return _i2v(image, ratio, duration, seed, last_image)


def _i2v(image: bytes, ratio: str, duration: float, seed: int, last_image: bytes | None) -> bytes:
    size = output_size(ratio)
    work = (int(size[0] * (1 + _ZOOM)) + 2, int(size[1] * (1 + _ZOOM)) + 2)
    first = _cover(_open_image(image, "prompt image"), work)
    last = _cover(_open_image(last_image, "last frame"), work) if last_image else None
    frames = max(1, round(duration * FPS))
    dx, dy = (1 if seed % 2 == 0 else -1), (1 if (seed // 2) % 2 == 0 else -1)
    enc = _Encoder(size)
    for i in range(frames):
        t = i / max(1, frames - 1)
        src = Image.blend(first, last, t) if last is not None else first
        zoom = 1 + _ZOOM * t
        cw, ch = work[0] / zoom, work[1] / zoom
        slack_x, slack_y = (work[0] - cw) / 2, (work[1] - ch) / 2
        left = slack_x + dx * slack_x * 0.6 * t
        top = slack_y + dy * slack_y * 0.6 * t
        box = (left, top, left + cw, top + ch)
        enc.add(src.resize(size, Image.Resampling.BILINEAR, box=box))
    return enc.finish()


def _palette(prompt: str) -> tuple[str, str]:
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    dark = f"#{digest[0] // 4:02x}{digest[1] // 4:02x}{digest[2] // 3:02x}"
    light = f"#{128 + digest[3] // 2:02x}{128 + digest[4] // 2:02x}{128 + digest[5] // 2:02x}"
    return dark, light


def probe_seconds(video: bytes) -> float:
    """Duration of a video in seconds (ClipError if it cannot be read)."""
    try:
        with av.open(io.BytesIO(video), "r") as container:
            if not container.streams.video:
                raise ClipError("the input video has no video stream")
            stream = container.streams.video[0]
            if container.duration:
                return float(container.duration) / 1_000_000
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
            count = sum(1 for _ in container.decode(stream))
            return count / float(stream.average_rate or FPS)
    except av.FFmpegError as exc:
        raise ClipError("the input video is not a readable video") from exc


def video_to_video_clip(
    video: bytes, *, prompt: str = "", max_seconds: float | None = None
) -> bytes:
    """A visibly restyled copy of ``video``: mirrored and recoloured (duotone chosen by prompt).

    The output follows the input's aspect ratio (long side at most ``OUTPUT_LONG_SIDE``) and
    length (up to ``max_seconds``), resampled to 24 fps. Recent clips of small inputs are
    cached.
    """
    if len(video) <= CACHE_INPUT_MAX:
        return _cached_v2v(video, prompt, max_seconds)
    return _v2v(video, prompt, max_seconds)


@functools.lru_cache(maxsize=4)
def _cached_v2v(video: bytes, prompt: str, max_seconds: float | None) -> bytes:
    return _v2v(video, prompt, max_seconds)


def _v2v(video: bytes, prompt: str, max_seconds: float | None) -> bytes:
    dark, light = _palette(prompt)
    enc: _Encoder | None = None
    size = (0, 0)
    current: Image.Image | None = None
    out_index = 0
    try:
        with av.open(io.BytesIO(video), "r") as container:
            if not container.streams.video:
                raise ClipError("the input video has no video stream")
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else out_index / FPS
                if max_seconds is not None and t >= max_seconds:
                    break
                if enc is None:
                    size = fit_size(frame.width, frame.height)
                    enc = _Encoder(size)
                # Emit output frames whose time precedes this input frame.
                while current is not None and out_index / FPS < t:
                    enc.add(current)
                    out_index += 1
                small = frame.reformat(width=size[0], height=size[1], format="rgb24")
                gray = ImageOps.grayscale(small.to_image())  # type: ignore[no-untyped-call]
                current = ImageOps.mirror(ImageOps.colorize(gray, dark, light))
    except av.FFmpegError as exc:
        raise ClipError("the input video is not a readable video") from exc
    if enc is None or current is None:
        raise ClipError("the input video has no frames")
    enc.add(current)
    return enc.finish()
