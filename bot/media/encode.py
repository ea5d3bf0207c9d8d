"""Re-encode a video to H.264/yuv420p MP4 with PyAV: trim, cap the frame rate, scale, and aim
for a byte budget (bitrate from the target size, scaling down when bits per pixel run low)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.stream import AudioStream
from av.video.stream import VideoStream
from PIL import Image

from bot.i18n import t
from bot.media._text import human_size
from bot.media.errors import ClipTooLarge, CorruptMedia
from bot.media.probe import DAMAGED_VIDEO, VideoInfo, open_input

MAX_FPS = 30
AUDIO_BITRATE = 96_000
MIN_AUDIO_BITRATE = 32_000
AUDIO_SHARE = 0.15  # at most this share of a tight budget goes to sound
MIN_VIDEO_BITRATE = 30_000
# Bits per pixel per frame: below MIN_BPP we scale down instead; above a plan's quality_bpp the
# extra bits buy little, so a generous budget is not filled.
MIN_BPP = 0.045
QUALITY_BPP = 0.15
MIN_SHORT_SIDE = 144
CONTAINER_MARGIN = 0.94  # share of the byte budget for the streams; the rest for MP4 overhead
MAX_ATTEMPTS = 4
_PRESET = "veryfast"
# Threads per decoder and per encoder. Each frame thread holds its own frames, so "auto"
# (one per core, and 1.5x that in x264) makes a re-encode's memory grow with the machine.
CODEC_THREADS = 2


@dataclass(frozen=True, slots=True)
class EncodePlan:
    """How to re-encode one clip."""

    width: int
    height: int
    fps: int
    video_bitrate: int
    seconds: float | None = None  # keep only the first this many seconds
    audio: bool = False
    audio_bitrate: int = AUDIO_BITRATE


def _even(n: float) -> int:
    return max(2, int(n) // 2 * 2)


def fit_dimensions(width: int, height: int, max_long: int, max_short: int) -> tuple[int, int]:
    """Even dimensions no larger than the limits, keeping the aspect ratio."""
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, max_long / long_side, max_short / short_side)
    return _even(width * scale), _even(height * scale)


def plan_for_budget(
    info: VideoInfo,
    max_bytes: int,
    *,
    seconds: float | None = None,
    max_long_side: int = 1920,
    max_short_side: int = 1080,
    audio: bool = False,
    quality_bpp: float = QUALITY_BPP,
) -> EncodePlan:
    """A plan whose bitrate fills ``max_bytes`` (less margin) over the clip's kept duration,
    at the largest size that keeps at least MIN_BPP, never above ``quality_bpp``."""
    fps = max(1, min(MAX_FPS, round(info.fps) if info.fps else MAX_FPS))
    duration = info.duration_seconds if seconds is None else min(seconds, info.duration_seconds)
    duration = max(duration, 1.0 / fps)
    keep_audio = audio and info.has_audio
    total_rate = max_bytes * 8 * CONTAINER_MARGIN / duration
    audio_bitrate = int(min(AUDIO_BITRATE, max(MIN_AUDIO_BITRATE, AUDIO_SHARE * total_rate)))
    bitrate = int(total_rate - (audio_bitrate if keep_audio else 0))
    width, height = fit_dimensions(info.width, info.height, max_long_side, max_short_side)
    pixels_per_second = width * height * fps
    if bitrate < MIN_BPP * pixels_per_second:
        shrink = math.sqrt(bitrate / (MIN_BPP * pixels_per_second)) if bitrate > 0 else 0.0
        short_side = min(width, height)
        shrink = max(shrink, MIN_SHORT_SIDE / short_side if short_side > MIN_SHORT_SIDE else 1.0)
        width, height = _even(width * shrink), _even(height * shrink)
    bitrate = min(bitrate, max(int(quality_bpp * width * height * fps), 4 * MIN_VIDEO_BITRATE))
    return EncodePlan(
        width=width,
        height=height,
        fps=fps,
        video_bitrate=max(bitrate, 1),
        seconds=seconds,
        audio=keep_audio,
        audio_bitrate=audio_bitrate,
    )


def encode_within(src: Path, dest: Path, max_bytes: int, plan: EncodePlan) -> Path:
    """Encode ``src`` to ``dest`` by ``plan``, lowering the bitrate (and size) until the file is
    at most ``max_bytes``; ClipTooLarge with the smallest size reached when that fails."""
    smallest: int | None = None
    for _ in range(MAX_ATTEMPTS):
        if plan.video_bitrate < MIN_VIDEO_BITRATE:
            break
        transcode(src, dest, plan)
        size = dest.stat().st_size
        smallest = size if smallest is None else min(smallest, size)
        if size <= max_bytes:
            return dest
        factor = max_bytes / size * 0.92
        bitrate = int(plan.video_bitrate * factor)
        width, height = plan.width, plan.height
        if bitrate < MIN_BPP * width * height * plan.fps and min(width, height) > MIN_SHORT_SIDE:
            shrink = max(math.sqrt(factor), MIN_SHORT_SIDE / min(width, height))
            width, height = _even(width * shrink), _even(height * shrink)
        plan = replace(plan, width=width, height=height, video_bitrate=bitrate)
    dest.unlink(missing_ok=True)
    key = "media.clip.too_large"
    fmt: dict[str, object] = {
        "size": human_size(src.stat().st_size),
        "limit": human_size(max_bytes),
    }
    if smallest:
        key, fmt["reached"] = "media.clip.too_large_reached", human_size(smallest)
    raise ClipTooLarge(
        t(key, None, **fmt), achieved_bytes=smallest, max_bytes=max_bytes, key=key, fmt=fmt
    )


def transcode(src: Path, dest: Path, plan: EncodePlan) -> None:
    """Write ``src`` to ``dest`` as H.264 yuv420p MP4 (and AAC audio if ``plan.audio``)."""
    try:
        _transcode(src, dest, plan)
    except (av.FFmpegError, EOFError) as exc:
        dest.unlink(missing_ok=True)
        raise CorruptMedia.of(DAMAGED_VIDEO) from exc


def _transcode(src: Path, dest: Path, plan: EncodePlan) -> None:
    with (
        open_input(src) as inp,
        av.open(str(dest), "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        vin.codec_context.thread_count = CODEC_THREADS
        ain = inp.streams.audio[0] if plan.audio and inp.streams.audio else None

        vout = out.add_stream("libx264", rate=plan.fps)
        vout.width, vout.height, vout.pix_fmt = plan.width, plan.height, "yuv420p"
        vout.time_base = Fraction(1, plan.fps)
        vout.bit_rate = plan.video_bitrate
        vout.codec_context.options = {
            "preset": _PRESET,
            "maxrate": str(int(plan.video_bitrate * 1.25)),
            "bufsize": str(int(plan.video_bitrate * 2)),
            "profile": "high",
            "threads": str(CODEC_THREADS),
        }
        aout: AudioStream | None = None
        if ain is not None:
            aout = out.add_stream("aac", rate=ain.codec_context.sample_rate or 48_000)
            aout.bit_rate = plan.audio_bitrate

        streams: list[VideoStream | AudioStream] = [vin] if ain is None else [vin, ain]
        video_start: float | None = None
        audio_start: float | None = None
        last_pts = -1
        for packet in inp.demux(streams):
            if packet.stream.type == "video":
                for frame in _decode(packet):
                    assert isinstance(frame, av.VideoFrame)
                    t = frame.time if frame.time is not None else (last_pts + 1) / plan.fps
                    video_start = t if video_start is None else video_start
                    t -= video_start
                    if plan.seconds is not None and t >= plan.seconds - 1e-6:
                        continue
                    pts = round(t * plan.fps)
                    if pts <= last_pts:
                        continue
                    last_pts = pts
                    out_frame = _prepare_frame(frame, plan)
                    out_frame.pts = pts
                    out_frame.time_base = Fraction(1, plan.fps)
                    out.mux(vout.encode(out_frame))
            elif aout is not None:
                for aframe in _decode(packet):
                    assert isinstance(aframe, av.AudioFrame)
                    t = aframe.time or 0.0
                    audio_start = t if audio_start is None else audio_start
                    if plan.seconds is not None and t - audio_start >= plan.seconds:
                        continue
                    aframe.pts = None
                    out.mux(aout.encode(aframe))
        out.mux(vout.encode(None))
        if aout is not None:
            out.mux(aout.encode(None))
    if last_pts < 0:
        dest.unlink(missing_ok=True)
        raise CorruptMedia.of(DAMAGED_VIDEO)


def _decode(packet: av.Packet[Any]) -> Iterator[av.VideoFrame | av.AudioFrame]:
    for frame in packet.decode():
        if isinstance(frame, av.VideoFrame | av.AudioFrame):
            yield frame


_TRANSPOSE = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


def _prepare_frame(frame: av.VideoFrame, plan: EncodePlan) -> av.VideoFrame:
    rotation = round(getattr(frame, "rotation", 0) or 0) % 360
    if rotation in _TRANSPOSE:
        image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
        frame = av.VideoFrame.from_image(image.transpose(_TRANSPOSE[rotation]))  # type: ignore[no-untyped-call]
    return frame.reformat(
        width=plan.width, height=plan.height, format="yuv420p", interpolation="BICUBIC"
    )
