"""Small formatting helpers for user-facing media messages."""

from __future__ import annotations

from pathlib import PurePosixPath

from bot.i18n import Text
from bot.media.errors import UnsupportedMedia


def human_size(n: int) -> str:
    """Bytes as a short decimal size ("850 KB", "12.3 MB")."""
    if n < 1_000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1_000:.0f} KB"
    return f"{n / 1_000_000:.1f} MB"


def extension(filename: str) -> str:
    """The lower-case extension of a file name without the dot ("" when none)."""
    return PurePosixPath(filename.replace("\\", "/")).suffix.lstrip(".").lower()


def with_extension(filename: str, ext: str, default_stem: str) -> str:
    """``filename`` (directory parts dropped) with its extension replaced by ``ext``."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    stem = PurePosixPath(name).stem if name else ""
    stem = "".join(ch for ch in stem if ch.isalnum() or ch in "-_ .")[:80].strip(" .")
    return f"{stem or default_stem}.{ext}"


# The extensions a file of each type usually carries.
EXTENSIONS: dict[str, frozenset[str]] = {
    "image/png": frozenset({"png", "apng"}),
    "image/jpeg": frozenset({"jpg", "jpeg", "jfif", "jpe"}),
    "image/gif": frozenset({"gif"}),
    "image/webp": frozenset({"webp"}),
    "image/bmp": frozenset({"bmp", "dib"}),
    "image/tiff": frozenset({"tif", "tiff"}),
    "image/heic": frozenset({"heic", "heif"}),
    "image/avif": frozenset({"avif"}),
    "video/mp4": frozenset({"mp4", "m4v"}),
    "video/quicktime": frozenset({"mov", "qt"}),
    "video/webm": frozenset({"webm"}),
    "video/x-matroska": frozenset({"mkv"}),
    "video/x-msvideo": frozenset({"avi"}),
    "video/3gpp": frozenset({"3gp", "3gpp"}),
}
MEDIA_EXTENSIONS = frozenset().union(*EXTENSIONS.values())


def not_a(expected: Text, what: Text, filename: str, mime: str | None = None) -> UnsupportedMedia:
    """E.g. "That file is called .png but it is actually text, not an image." The name is only
    mentioned when it claims a media type the content (``mime``) does not have."""
    ext = extension(filename)
    if ext in MEDIA_EXTENSIONS and ext not in EXTENSIONS.get(mime or "", frozenset()):
        return UnsupportedMedia.of("media.misnamed", ext=ext, what=what, expected=expected)
    return UnsupportedMedia.of("media.not_a", what=what, expected=expected)


class Capitalised(Text):
    """A catalogue text that starts a sentence: its first letter upper-case in any locale."""

    __slots__ = ()

    def render(self, locale: object) -> str:
        """The text in ``locale``, first letter capitalised."""
        out = super().render(locale)
        return out[:1].upper() + out[1:]
