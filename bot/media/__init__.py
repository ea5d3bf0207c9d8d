"""Inspect and prepare media (Pillow + PyAV): real types by content, images and videos made
acceptable to Runway, and clips made to fit an upload limit. No discord imports.

Heavy work is synchronous; async callers run these functions in ``asyncio.to_thread``.
"""

from bot.media.datauri import (
    IMAGE_DATA_URI_LIMIT,
    VIDEO_DATA_URI_LIMIT,
    data_uri_fits,
    data_uri_length,
    to_data_uri,
)
from bot.media.errors import (
    BadAspectRatio,
    ClipTooLarge,
    CorruptMedia,
    EmptyMedia,
    ImageTooSmall,
    MediaError,
    MediaTooLarge,
    NoVideoStream,
    TooManyPixels,
    UnsupportedMedia,
    VideoTooLong,
    VideoTooShort,
)
from bot.media.fit import fit_clip
from bot.media.images import image_size, prepare_image
from bot.media.sniff import describe, sniff
from bot.media.videos import VideoInfo, prepare_video, probe_video

__all__ = [
    "IMAGE_DATA_URI_LIMIT",
    "VIDEO_DATA_URI_LIMIT",
    "BadAspectRatio",
    "ClipTooLarge",
    "CorruptMedia",
    "EmptyMedia",
    "ImageTooSmall",
    "MediaError",
    "MediaTooLarge",
    "NoVideoStream",
    "TooManyPixels",
    "UnsupportedMedia",
    "VideoInfo",
    "VideoTooLong",
    "VideoTooShort",
    "data_uri_fits",
    "data_uri_length",
    "describe",
    "fit_clip",
    "image_size",
    "prepare_image",
    "prepare_video",
    "probe_video",
    "sniff",
    "to_data_uri",
]
