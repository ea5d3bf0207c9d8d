"""Errors raised by the media helpers; every ``message`` is safe to show to a Discord user."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

from bot.domain import UserError
from bot.i18n import t


class MediaError(UserError):
    """An input or output file we cannot use as it is; ``message`` says why in plain words."""

    code = "media"

    @classmethod
    def of(cls, key: str, /, **fmt: object) -> Self:
        """The error whose text is catalogue entry ``key`` (``message`` is the English)."""
        return cls(t(key, None, **fmt), key=key, fmt=fmt)


class EmptyMedia(MediaError):
    """The file has no bytes at all."""

    code = "empty"


class MediaTooLarge(MediaError):
    """The file is bigger than we are willing to read."""

    code = "too_large"


class UnsupportedMedia(MediaError):
    """The file is not of a kind we accept (checked by content, not by name)."""

    code = "unsupported"


class CorruptMedia(MediaError):
    """The file claims to be a supported kind but cannot be read (damaged or incomplete)."""

    code = "corrupt"


class TooManyPixels(MediaError):
    """The image is too large to decode safely (a possible decompression bomb)."""

    code = "too_many_pixels"


class ImageTooSmall(MediaError):
    """The image is too small to animate."""

    code = "too_small"


class BadAspectRatio(MediaError):
    """The image is narrower or wider than Runway accepts."""

    code = "aspect_ratio"


class NoVideoStream(MediaError):
    """The file has no video track."""

    code = "no_video"


class VideoTooLong(MediaError):
    """The video is longer than the model accepts."""

    code = "too_long"


class VideoTooShort(MediaError):
    """The video has no length (a single frame or zero duration)."""

    code = "too_short"


class ClipTooLarge(MediaError):
    """A clip could not be made to fit a size limit; ``achieved_bytes`` is the smallest we got."""

    code = "clip_too_large"

    def __init__(
        self,
        message: str,
        *,
        achieved_bytes: int | None,
        max_bytes: int,
        key: str | None = None,
        fmt: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, key=key, fmt=fmt)
        self.achieved_bytes = achieved_bytes
        self.max_bytes = max_bytes
