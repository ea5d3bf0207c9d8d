"""Tell what a file really is from its first bytes, never from its name or claimed type."""

from __future__ import annotations

from bot.i18n import Text, text

_HEAD = 4096

# ISO base media (ftyp) major/compatible brands that mean a still image rather than a video.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def sniff(data: bytes) -> str | None:
    """The real MIME type of ``data`` judged by content, or None when it is not media we know.

    Recognised: image/png, image/jpeg, image/gif, image/webp, image/bmp, image/tiff,
    image/heic, image/avif, video/mp4, video/quicktime, video/webm, video/x-matroska,
    video/x-msvideo, video/3gpp, audio/mpeg, audio/ogg, audio/wav, audio/flac.
    """
    head = data[:_HEAD]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head.startswith(b"RIFF"):
        kind = head[8:12]
        if kind == b"WEBP":
            return "image/webp"
        if kind == b"AVI ":
            return "video/x-msvideo"
        if kind == b"WAVE":
            return "audio/wav"
        return None
    if len(head) >= 26 and head.startswith(b"BM") and head[6:10] == b"\0\0\0\0":
        return "image/bmp"
    if head.startswith((b"II*\0", b"MM\0*")):
        return "image/tiff"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _iso_media_type(head)
    if len(head) >= 8 and head[4:8] in _QUICKTIME_ATOMS:
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None


def _iso_media_type(head: bytes) -> str | None:
    size = int.from_bytes(head[0:4], "big")
    box = head[8 : min(max(size, 16), len(head), 256)]
    major = box[0:4]
    brands = {major} | {box[i : i + 4] for i in range(8, len(box) - 3, 4)}
    if major in _AVIF_BRANDS:
        return "image/avif"
    if major in _HEIF_BRANDS or (
        brands & _HEIF_BRANDS and not brands & {b"isom", b"mp41", b"mp42"}
    ):
        return "image/heic"
    if major == b"qt  ":
        return "video/quicktime"
    if major.startswith(b"3g"):
        return "video/3gpp"
    if major in (b"M4A ", b"M4B ", b"M4P "):
        return "audio/mp4"
    return "video/mp4"


def describe(data: bytes) -> str:
    """A short phrase for what ``data`` is, for messages ("text", "a PDF document", "a video")."""
    return describe_text(data).render(None)


def describe_text(data: bytes) -> Text:
    """What ``data`` is, as a catalogue text to render in the reader's locale."""
    return text(_describe_key(data))


def _describe_key(data: bytes) -> str:
    mime = sniff(data)
    if mime is not None:
        default = "media.what.image" if mime.startswith("image/") else "media.what.video"
        return _MIME_PHRASES.get(mime, default)
    head = data[:_HEAD]
    for magic, phrase in _OTHER_MAGIC:
        if head.startswith(magic):
            return phrase
    if _looks_like_text(head):
        lowered = head.lstrip().lower()
        if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in lowered):
            return SVG
        if lowered.startswith((b"<!doctype html", b"<html")):
            return "media.what.html"
        return "media.what.text"
    return "media.what.unknown"


SVG = "media.what.svg"

# Catalogue keys of the phrases (English: "a PNG image", "a PDF document", ...).
_MIME_PHRASES = {
    "image/png": "media.what.png",
    "image/jpeg": "media.what.jpeg",
    "image/gif": "media.what.gif",
    "image/webp": "media.what.webp",
    "image/bmp": "media.what.bmp",
    "image/tiff": "media.what.tiff",
    "image/heic": "media.what.heic",
    "image/avif": "media.what.avif",
    "video/mp4": "media.what.mp4",
    "video/quicktime": "media.what.mov",
    "video/webm": "media.what.webm",
    "video/x-matroska": "media.what.mkv",
    "video/x-msvideo": "media.what.avi",
    "video/3gpp": "media.what.3gp",
    "audio/mpeg": "media.what.mp3",
    "audio/ogg": "media.what.ogg",
    "audio/wav": "media.what.wav",
    "audio/flac": "media.what.flac",
    "audio/mp4": "media.what.m4a",
}

_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "media.what.pdf"),
    (b"PK\x03\x04", "media.what.zip_office"),
    (b"PK\x05\x06", "media.what.zip"),
    (b"Rar!\x1a\x07", "media.what.rar"),
    (b"7z\xbc\xaf\x27\x1c", "media.what.7z"),
    (b"\x1f\x8b", "media.what.gzip"),
    (b"\x7fELF", "media.what.program"),
    (b"MZ", "media.what.windows_program"),
    (b"8BPS", "media.what.photoshop"),
)


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\0" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the end of the sample
            return False
        text = head[: exc.start].decode("utf-8")
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
    return printable >= 0.95 * len(text)
