"""Probe a video with PyAV: size, frame rate, duration, codec; damaged files are refused."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.container import InputContainer

from bot.media.errors import CorruptMedia, NoVideoStream, TooManyPixels

DAMAGED_VIDEO = "media.video.damaged"  # catalogue key
# Frames beyond 8K are refused before decoding anything (a decode would need gigabytes).
MAX_VIDEO_PIXELS = 8192 * 4320
# A clip whose packets cover much less than its header claims is treated as cut off.
_TRUNCATION_RATIO = 0.9
_TRUNCATION_SLACK_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What a video file holds; ``width``/``height`` are as displayed (after rotation)."""

    width: int
    height: int
    fps: float
    duration_seconds: float
    codec: str
    size_bytes: int
    container: str = ""
    pix_fmt: str | None = None
    has_audio: bool = False
    audio_codec: str | None = None
    rotation: int = 0
    frames: int = 0


def open_input(source: bytes | Path) -> InputContainer:
    """Open ``source`` for reading; CorruptMedia when FFmpeg cannot make sense of it."""
    try:
        if isinstance(source, Path):
            return av.open(str(source), "r")
        return av.open(io.BytesIO(source), "r")
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise CorruptMedia.of(DAMAGED_VIDEO) from exc


def probe_video(source: bytes | Path) -> VideoInfo:
    """Read ``source`` through (demuxing every packet, decoding the first frame) and describe it.

    Raises NoVideoStream when there is no video track and CorruptMedia when it is unreadable,
    has no decodable frame, or stops well short of the length its header claims.
    """
    size = source.stat().st_size if isinstance(source, Path) else len(source)
    try:
        with open_input(source) as container:
            return _probe(container, size)
    except (av.FFmpegError, OSError, EOFError) as exc:
        raise CorruptMedia.of(DAMAGED_VIDEO) from exc


def _probe(container: InputContainer, size: int) -> VideoInfo:
    if not container.streams.video:
        if container.streams.audio:
            raise NoVideoStream.of("media.video.sound_only")
        raise NoVideoStream.of("media.video.none")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    audio = container.streams.audio[0] if container.streams.audio else None
    time_base = stream.time_base or Fraction(1, 90_000)
    if ctx.width * ctx.height > MAX_VIDEO_PIXELS:
        raise TooManyPixels.of("media.video.too_many_pixels", width=ctx.width, height=ctx.height)
    if ctx.width <= 0 or ctx.height <= 0:
        raise CorruptMedia.of(DAMAGED_VIDEO)

    first_ts: int | None = None
    end_ts: int | None = None
    frames = 0
    rotation = 0
    decoded = False
    for packet in container.demux(stream):
        if packet.pts is None and packet.dts is None:
            if not decoded and packet.size == 0:
                for frame in _safe_decode(stream, None):
                    decoded, rotation = True, _rotation_of(frame)
            continue
        frames += 1
        ts = packet.pts if packet.pts is not None else packet.dts
        assert ts is not None
        first_ts = ts if first_ts is None else min(first_ts, ts)
        end = ts + (packet.duration or 0)
        end_ts = end if end_ts is None else max(end_ts, end)
        if not decoded:
            for frame in _safe_decode(stream, packet):
                if not decoded:
                    decoded, rotation = True, _rotation_of(frame)
    if not decoded:
        for frame in _safe_decode(stream, None):
            decoded, rotation = True, _rotation_of(frame)
            break
    if not decoded or frames == 0:
        raise CorruptMedia.of(DAMAGED_VIDEO)

    measured = float((end_ts - first_ts) * time_base) if first_ts is not None and end_ts else 0.0
    claimed = float(stream.duration * time_base) if stream.duration else None
    if claimed is None and container.duration:
        claimed = container.duration / av.time_base
    if claimed and measured and measured < claimed * _TRUNCATION_RATIO - _TRUNCATION_SLACK_SECONDS:
        raise CorruptMedia.of(
            "media.video.cut_off", claimed=f"{claimed:.1f}", measured=f"{measured:.1f}"
        )
    duration = measured or claimed or 0.0

    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else (frames / duration if duration else 0.0)
    width, height = ctx.width, ctx.height
    if rotation % 180 != 0:
        width, height = height, width
    return VideoInfo(
        width=width,
        height=height,
        fps=fps,
        duration_seconds=duration,
        codec=ctx.name,
        size_bytes=size,
        container=container.format.name,
        pix_fmt=ctx.format.name if ctx.format is not None else None,
        has_audio=audio is not None,
        audio_codec=audio.codec_context.name if audio is not None else None,
        rotation=rotation,
        frames=frames,
    )


def _safe_decode(
    stream: av.video.stream.VideoStream, packet: av.Packet[Any] | None
) -> list[av.VideoFrame]:
    try:
        return stream.decode(packet)
    except (av.FFmpegError, ValueError):
        return []


def _rotation_of(frame: av.VideoFrame) -> int:
    try:
        return round(frame.rotation) % 360
    except (AttributeError, ValueError):
        return 0
