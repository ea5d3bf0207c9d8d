"""Make a finished clip fit an upload limit (e.g. a Discord guild's) by re-encoding it."""

from __future__ import annotations

import uuid
from pathlib import Path

from bot.media.encode import encode_within, plan_for_budget
from bot.media.errors import MediaError
from bot.media.probe import probe_video

MAX_LONG_SIDE = 1920
MAX_SHORT_SIDE = 1080
# Delivered clips may use most of the budget: quality matters more than size here.
QUALITY_BPP = 0.35


def fit_clip(src: Path, max_bytes: int, workdir: Path) -> Path:
    """``src`` itself when it is at most ``max_bytes``, else a re-encoded H.264/AAC MP4 copy
    that is: a new, uniquely named file in ``workdir`` that the caller deletes when done.
    The bitrate comes from the byte budget and the duration; the picture is scaled down when
    the bits per pixel would get too low.

    Raises ClipTooLarge (a MediaError, with ``achieved_bytes``) when no acceptable encode fits,
    and CorruptMedia when ``src`` cannot be read, so the caller can fall back (e.g. post a link).
    """
    if src.stat().st_size <= max_bytes:
        return src
    if max_bytes <= 0:
        raise MediaError.of("media.clip.no_room")
    info = probe_video(src)
    workdir.mkdir(parents=True, exist_ok=True)
    dest = workdir / f"{src.stem}.fit-{uuid.uuid4().hex[:8]}.mp4"
    plan = plan_for_budget(
        info,
        max_bytes,
        max_long_side=MAX_LONG_SIDE,
        max_short_side=MAX_SHORT_SIDE,
        audio=True,
        quality_bpp=QUALITY_BPP,
    )
    return encode_within(src, dest, max_bytes, plan)
