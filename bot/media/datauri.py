"""Data URIs for prepared inputs, within Runway's size limits for them."""

from __future__ import annotations

import base64

from bot.domain import JobInput

# Runway's limits on a data URI's encoded length; decimal megabytes to stay on the safe side.
IMAGE_DATA_URI_LIMIT = 5_000_000
VIDEO_DATA_URI_LIMIT = 16_000_000


def data_uri_length(mime: str, size: int) -> int:
    """The length of the data URI for ``size`` bytes of ``mime`` (base64 grows by 4/3)."""
    return len(f"data:{mime};base64,") + 4 * ((size + 2) // 3)


def data_uri_limit(mime: str) -> int:
    """Runway's data URI limit for this kind of file."""
    return VIDEO_DATA_URI_LIMIT if mime.startswith("video/") else IMAGE_DATA_URI_LIMIT


def max_raw_bytes(mime: str) -> int:
    """The largest file of this kind whose data URI still fits Runway's limit."""
    prefix = len(f"data:{mime};base64,")
    return (data_uri_limit(mime) - prefix) // 4 * 3


def data_uri_fits(item: JobInput) -> bool:
    """True when ``item`` may be sent as a data URI (image 5 MB, video 16 MB encoded)."""
    return data_uri_length(item.mime, len(item.data)) <= data_uri_limit(item.mime)


def to_data_uri(item: JobInput) -> str:
    """``item`` as a ``data:<mime>;base64,...`` URI (whether it fits is for the caller to check)."""
    return f"data:{item.mime};base64,{base64.b64encode(item.data).decode('ascii')}"
