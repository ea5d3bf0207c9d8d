"""Stills from media: a clip's last frame (to continue from it) and small preview thumbnails."""

from __future__ import annotations

import io
from typing import Any

import av
from PIL import Image, ImageOps, UnidentifiedImageError

from bot.media.errors import CorruptMedia, NoVideoStream
from bot.media.probe import DAMAGED_VIDEO, MAX_VIDEO_PIXELS, open_input

THUMBNAIL_SIDE = 320
# The frame decoded last wins; a long clip is read through, which is what a player does too.
MAX_LAST_FRAME_PACKETS = 100_000


def last_frame(video: bytes) -> bytes:
    """The last decodable frame of ``video`` as a PNG (Runway's clips carry no rotation, so
    none is applied).

    Raises NoVideoStream without a video track and CorruptMedia when no frame decodes.
    """
    try:
        with open_input(video) as container:
            if not container.streams.video:
                raise NoVideoStream.of("media.video.none")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            if ctx.width * ctx.height > MAX_VIDEO_PIXELS:
                raise CorruptMedia.of(DAMAGED_VIDEO)
            frame = _last_decoded(container, stream)
    except (av.FFmpegError, OSError, EOFError, ValueError) as exc:
        raise CorruptMedia.of(DAMAGED_VIDEO) from exc
    if frame is None:
        raise CorruptMedia.of(DAMAGED_VIDEO)
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    image.convert("RGB").save(out, "PNG")
    return out.getvalue()


def _last_decoded(container: Any, stream: Any) -> av.VideoFrame | None:
    last: av.VideoFrame | None = None
    for count, packet in enumerate(container.demux(stream)):
        if count >= MAX_LAST_FRAME_PACKETS:
            break
        try:
            for frame in packet.decode():
                last = frame
        except (av.FFmpegError, ValueError):
            continue  # a damaged packet near the end: keep the frame before it
    return last


def thumbnail(image: bytes, side: int = THUMBNAIL_SIDE) -> bytes | None:
    """A JPEG of ``image`` at most ``side`` pixels on its long side, or None when the bytes
    are not an image Pillow can read (a preview is never worth failing a job over)."""
    try:
        with Image.open(io.BytesIO(image)) as opened:
            picture = ImageOps.exif_transpose(opened)
            picture.thumbnail((side, side))
            out = io.BytesIO()
            picture.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def video_thumbnail(video: bytes, side: int = THUMBNAIL_SIDE) -> bytes | None:
    """A JPEG of the first frame of ``video`` (see :func:`thumbnail`), or None."""
    try:
        with open_input(video) as container:
            if not container.streams.video:
                return None
            for frame in container.decode(video=0):
                still = io.BytesIO()
                picture: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
                picture.save(still, "PNG")
                return thumbnail(still.getvalue(), side)
    except (CorruptMedia, av.FFmpegError, OSError, EOFError, ValueError):
        return None
    return None
