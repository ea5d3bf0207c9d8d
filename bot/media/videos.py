"""Check and prepare input videos for Runway: probe, refuse, trim and re-encode to H.264 MP4.

A video that is already H.264/yuv420p MP4, upright, within 1920x1080 and 60 fps, short
enough, and small enough for ``max_output_bytes`` (by default a 16 MB data URI) keeps its
encoded pictures: they are copied into a fresh MP4 without sound, other streams or metadata
(a phone's GPS location goes no further). Otherwise it is re-encoded (video only: Runway's
video_to_video ignores sound) at up to 30 fps, sized to the byte budget. Animated GIFs are
accepted and converted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bot.domain import InputRole, JobInput
from bot.i18n import text
from bot.media._text import human_size, not_a, with_extension
from bot.media.datauri import max_raw_bytes
from bot.media.encode import encode_within, plan_for_budget
from bot.media.errors import (
    ClipTooLarge,
    EmptyMedia,
    MediaTooLarge,
    UnsupportedMedia,
    VideoTooLong,
    VideoTooShort,
)
from bot.media.probe import VideoInfo, probe_video
from bot.media.remux import video_only
from bot.media.sniff import describe_text, sniff

__all__ = ["VideoInfo", "prepare_video", "probe_video"]

MAX_VIDEO_INPUT_BYTES = 200_000_000
MIN_VIDEO_SECONDS = 1.0
MAX_LONG_SIDE = 1920
MAX_SHORT_SIDE = 1080
MAX_PASS_FPS = 60.5
_ACCEPTED = {
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/x-matroska",
    "video/x-msvideo",
    "video/3gpp",
    "image/gif",  # animated GIFs are short videos; a still one is refused below
}
_TRIM_SLACK_SECONDS = 0.05


def prepare_video(
    data: bytes,
    *,
    filename: str = "",
    max_seconds: float | None = None,
    keep_seconds: float | None = None,
    max_input_bytes: int = MAX_VIDEO_INPUT_BYTES,
    max_output_bytes: int | None = None,
) -> JobInput:
    """Verify ``data`` is a usable video and return it as H.264 MP4 ready for Runway.

    ``keep_seconds`` trims to the first that many seconds (a model that only reads the start);
    ``max_seconds`` is the longest clip the model accepts, checked after trimming.
    ``max_output_bytes`` defaults to what fits a 16 MB data URI; pass a larger limit when the
    caller will upload the file instead. MediaError says what is wrong.
    """
    if not data:
        raise EmptyMedia.of("media.empty")
    if len(data) > max_input_bytes:
        raise MediaTooLarge.of(
            "media.video.too_large", size=human_size(len(data)), limit=human_size(max_input_bytes)
        )
    mime = sniff(data)
    if mime not in _ACCEPTED:
        raise not_a(text("media.what.video"), describe_text(data), filename, mime)
    info = probe_video(data)
    if info.frames < 2:
        if mime == "image/gif":
            raise UnsupportedMedia.of("media.video.still_gif")
        raise VideoTooShort.of("media.video.one_frame", min=f"{MIN_VIDEO_SECONDS:g}")
    if info.duration_seconds < MIN_VIDEO_SECONDS:
        raise VideoTooShort.of(
            "media.video.too_short",
            seconds=f"{info.duration_seconds:.1f}",
            min=f"{MIN_VIDEO_SECONDS:g}",
        )
    trim = keep_seconds is not None and info.duration_seconds > keep_seconds + _TRIM_SLACK_SECONDS
    sent_seconds = keep_seconds if trim and keep_seconds is not None else info.duration_seconds
    if max_seconds is not None and sent_seconds > max_seconds + _TRIM_SLACK_SECONDS:
        raise VideoTooLong.of(
            "media.video.too_long", seconds=f"{info.duration_seconds:.1f}", max=f"{max_seconds:g}"
        )
    budget = max_output_bytes if max_output_bytes is not None else max_raw_bytes("video/mp4")
    name = with_extension(filename, "mp4", "video")
    if not trim and _passes(mime, info, len(data), budget):
        stripped = video_only(data)
        if stripped is not None and len(stripped) <= budget:
            return _mp4_input(stripped, name, info)
    with tempfile.TemporaryDirectory(prefix="media-") as tmp:
        src = Path(tmp) / "in"
        src.write_bytes(data)
        dest = Path(tmp) / "out.mp4"
        plan = plan_for_budget(
            info,
            budget,
            seconds=sent_seconds if trim else None,
            max_long_side=MAX_LONG_SIDE,
            max_short_side=MAX_SHORT_SIDE,
        )
        try:
            encode_within(src, dest, budget, plan)
        except ClipTooLarge as exc:
            raise MediaTooLarge.of(
                "media.video.too_large_encoded", limit=human_size(budget)
            ) from exc
        encoded = dest.read_bytes()
    return _mp4_input(encoded, name, probe_video(encoded))


def _mp4_input(data: bytes, filename: str, info: VideoInfo) -> JobInput:
    return JobInput(
        role=InputRole.VIDEO,
        mime="video/mp4",
        data=data,
        filename=filename,
        width=info.width,
        height=info.height,
        duration_seconds=info.duration_seconds,
    )


def _passes(mime: str, info: VideoInfo, size: int, budget: int) -> bool:
    return (
        mime == "video/mp4"
        and info.codec == "h264"
        and info.pix_fmt in ("yuv420p", "yuvj420p")
        and info.rotation == 0
        and max(info.width, info.height) <= MAX_LONG_SIDE
        and min(info.width, info.height) <= MAX_SHORT_SIDE
        and info.fps <= MAX_PASS_FPS
        and size <= budget
    )
