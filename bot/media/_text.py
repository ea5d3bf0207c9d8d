"""Small formatting helpers for user-facing media messages."""

from __future__ import annotations

from pathlib import PurePosixPath


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


MEDIA_EXTENSIONS = frozenset(
    {"png", "jpg", "jpeg", "jfif", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif", "avif"}
    | {"mp4", "m4v", "mov", "qt", "webm", "mkv", "avi", "3gp"}
)


def not_a(expected: str, what: str, filename: str) -> str:
    """E.g. "That file is called .png but it is actually text, not an image." """
    ext = extension(filename)
    if ext in MEDIA_EXTENSIONS:
        return f"That file is called .{ext} but it is actually {what}, not {expected}."
    return f"That file is {what}, not {expected}."
