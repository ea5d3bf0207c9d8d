"""Check and prepare still images for Runway: verify, convert, resize, fit a data URI.

Choices (Runway asks for JPEG/PNG/WebP, "avoid < 640x640 or > 4K", width/height 0.5-2.36):
- the real type comes from the content (``sniff``); Pillow may only open that one format;
- every image is decoded and re-encoded (first frame) as PNG when the source was lossless,
  else JPEG, so trailers (a ZIP or HTML after the image) and metadata (EXIF, text chunks)
  are never forwarded; transparency is flattened onto white; a small colour profile is kept;
- EXIF orientation is applied, then dropped, so phone photos arrive upright;
- below ``MIN_SIDE`` pixels on a side the image is refused; a short side under ``TARGET_SIDE``
  is upscaled to it, and anything larger than a 4K frame (3840x2160 either way) is downscaled;
- more than ``MAX_PIXELS`` in the header is refused before decoding (decompression bombs);
- if the data URI would exceed 5 MB the image is re-encoded as JPEG at lower quality, then
  downscaled step by step until it fits.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, PngImagePlugin, UnidentifiedImageError

from bot.domain import InputRole, JobInput
from bot.i18n import text
from bot.media._text import Capitalised, human_size, not_a, with_extension
from bot.media.datauri import max_raw_bytes
from bot.media.errors import (
    BadAspectRatio,
    CorruptMedia,
    EmptyMedia,
    ImageTooSmall,
    MediaError,
    MediaTooLarge,
    TooManyPixels,
    UnsupportedMedia,
)
from bot.media.sniff import SVG, describe_text, sniff

MAX_IMAGE_INPUT_BYTES = 50_000_000
MAX_PIXELS = 80_000_000
MIN_SIDE = 64
TARGET_SIDE = 640
MAX_LONG_SIDE = 3840
MAX_SHORT_SIDE = 2160
MIN_ASPECT = 0.5
MAX_ASPECT = 2.36
_ASPECT_SLACK = 0.01

_PILLOW_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/avif": "AVIF",
}
_LOSSLESS_SOURCES = {"image/png", "image/gif", "image/bmp", "image/tiff"}
_JPEG_QUALITIES = (90, 82, 74, 65)
_EXIF_ORIENTATION = 0x0112
_DOWNSCALE_STEP = 0.8
_MAX_DOWNSCALES = 8
# An embedded colour profile up to this size is kept; a larger one is applied (converted to
# sRGB) and dropped, or just dropped when it cannot be read.
MAX_KEPT_ICC_BYTES = 64 * 1024
# Pillow refuses PNG text and iCCP chunks that inflate past 1 MB (a zlib-bomb guard), so a
# PNG with a 3 MB colour profile would read as damaged. Each chunk may inflate to 16 MB;
# Pillow's total cap for them (MAX_TEXT_MEMORY, 64 MB) still holds.
_PNG_CHUNK_LIMIT = 16 * 1024 * 1024
PngImagePlugin.MAX_TEXT_CHUNK = max(PngImagePlugin.MAX_TEXT_CHUNK, _PNG_CHUNK_LIMIT)
_DAMAGED = "media.image.damaged"


@dataclass(frozen=True, slots=True)
class _Opened:
    image: Image.Image
    mime: str


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height from the header (no full decode); MediaError if it is not an image."""
    opened = _open(data, filename="")
    return opened.image.size


def prepare_image(
    data: bytes,
    *,
    role: InputRole = InputRole.IMAGE,
    filename: str = "",
    max_input_bytes: int = MAX_IMAGE_INPUT_BYTES,
) -> JobInput:
    """Verify ``data`` is a usable image and return it ready for Runway (JPEG/PNG/WebP that fits
    a 5 MB data URI, upright, between 640 px short side and 4K); MediaError says why not."""
    if len(data) > max_input_bytes:
        raise MediaTooLarge.of(
            "media.image.too_large",
            size=human_size(len(data)),
            limit=human_size(max_input_bytes),
        )
    opened = _open(data, filename=filename)
    image = opened.image
    _decode(image)
    if image.getexif().get(_EXIF_ORIENTATION, 1) not in (0, 1):
        image = ImageOps.exif_transpose(image)
    width, height = image.size
    _check_shape(width, height)

    scale = _scale_for(width, height)
    # Always re-encoded, never forwarded byte for byte: whatever follows the image (a ZIP or
    # HTML trailer) and every metadata chunk (EXIF, text, XMP) stays behind.
    rgb = _to_rgb(image)
    if scale != 1.0:
        rgb = rgb.resize(_scaled(width, height, scale), Image.Resampling.LANCZOS, reducing_gap=3.0)
    icc = image.info.get("icc_profile") if image.mode in ("RGB", "RGBA", "P") else None
    rgb, icc = _colour_profile(rgb, icc if isinstance(icc, bytes) else None)
    rgb.info = {}  # Pillow's PNG writer would otherwise copy the source's profile and chunks
    mime, encoded, rgb = _encode_to_fit(rgb, lossless=opened.mime in _LOSSLESS_SOURCES, icc=icc)
    return JobInput(
        role=role,
        mime=mime,
        data=encoded,
        filename=with_extension(filename, _EXT[mime], role.value),
        width=rgb.width,
        height=rgb.height,
    )


_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def _open(data: bytes, *, filename: str) -> _Opened:
    if not data:
        raise EmptyMedia.of("media.empty")
    mime = sniff(data)
    if mime is None or not mime.startswith("image/"):
        what = describe_text(data)
        if what.key == SVG:
            raise UnsupportedMedia.of("media.image.svg")
        raise not_a(text("media.what.image"), what, filename, mime)
    pillow_format = _PILLOW_FORMATS.get(mime)
    if pillow_format is None:
        what = Capitalised(describe_text(data).key)
        if mime == "image/heic":
            raise UnsupportedMedia.of("media.image.heic", what=what)
        raise UnsupportedMedia.of("media.image.format", what=what)
    try:
        with warnings.catch_warnings():  # the pixel count is checked below, against our limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[pillow_format])
    except Image.DecompressionBombError as exc:
        raise TooManyPixels.of("media.image.bomb", limit=MAX_PIXELS // 1_000_000) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _unreadable(exc) from exc
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise TooManyPixels.of(
            "media.image.too_many_pixels",
            width=width,
            height=height,
            megapixels=f"{width * height / 1_000_000:.0f}",
            limit=MAX_PIXELS // 1_000_000,
        )
    if width <= 0 or height <= 0:
        raise CorruptMedia.of(_DAMAGED)
    return _Opened(image=image, mime=mime)


def _decode(image: Image.Image) -> None:
    if image.format == "JPEG":
        long_side = max(image.size)
        if long_side > 2 * MAX_LONG_SIDE:
            # Decode big JPEGs at a reduced scale: faster and far less memory.
            factor = long_side / MAX_LONG_SIDE
            image.draft("RGB", (int(image.width / factor) + 1, int(image.height / factor) + 1))
    try:
        image.seek(0)
        image.load()
    except Image.DecompressionBombError as exc:
        raise TooManyPixels.of("media.image.bomb", limit=MAX_PIXELS // 1_000_000) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _unreadable(exc) from exc


def _unreadable(exc: BaseException) -> MediaError:
    """Pillow's refusal to inflate an oversized metadata chunk (a zlib bomb), or damage."""
    if isinstance(exc, ValueError) and "Decompressed data too large" in str(exc):
        return MediaTooLarge.of("media.image.hidden_data")
    return CorruptMedia.of(_DAMAGED)


def _check_shape(width: int, height: int) -> None:
    if min(width, height) < MIN_SIDE:
        raise ImageTooSmall.of(
            "media.image.too_small", width=width, height=height, min=MIN_SIDE, best=TARGET_SIDE
        )
    aspect = width / height
    if aspect < MIN_ASPECT - _ASPECT_SLACK or aspect > MAX_ASPECT + _ASPECT_SLACK:
        shape = f"{aspect:.2g}:1" if aspect >= 1 else f"1:{1 / aspect:.2g}"
        raise BadAspectRatio.of("media.image.aspect", shape=shape, width=width, height=height)


def _scale_for(width: int, height: int) -> float:
    long_side, short_side = max(width, height), min(width, height)
    if long_side > MAX_LONG_SIDE or short_side > MAX_SHORT_SIDE:
        return min(MAX_LONG_SIDE / long_side, MAX_SHORT_SIDE / short_side)
    if short_side < TARGET_SIDE:
        return min(TARGET_SIDE / short_side, MAX_LONG_SIDE / long_side)
    return 1.0


def _scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    return max(1, round(width * scale)), max(1, round(height * scale))


def _colour_profile(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """``image`` and the profile to embed: a small RGB profile (e.g. Display P3 from phones)
    is kept so colours do not shift; a huge one is converted to sRGB, or dropped if unreadable."""
    if icc is None or len(icc) <= MAX_KEPT_ICC_BYTES:
        return image, icc
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image, None
    return (converted if isinstance(converted, Image.Image) else image), None


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return True
    return image.mode == "P" and "transparency" in image.info


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # Deep grey images: scale to 8 bits rather than let conversion clip them to white.
        wide = image.convert("F")
        high = wide.getextrema()[1]
        assert isinstance(high, int | float)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(high), 255.0)
        return wide.point(lambda v: v * (255.0 / top)).convert("L").convert("RGB")
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode(image: Image.Image, fmt: str, quality: int = 0, icc: bytes | None = None) -> bytes:
    out = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if fmt == "PNG":
        image.save(out, "PNG", optimize=False, compress_level=6, **extra)
    else:
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=False, **extra)
    return out.getvalue()


def _encode_to_fit(
    image: Image.Image, *, lossless: bool, icc: bytes | None
) -> tuple[str, bytes, Image.Image]:
    """Encode as PNG (lossless sources) or JPEG, lowering quality, then size, until it fits."""
    if lossless:
        encoded = _encode(image, "PNG", icc=icc)
        if len(encoded) <= max_raw_bytes("image/png"):
            return "image/png", encoded, image
    limit = max_raw_bytes("image/jpeg")
    for quality in _JPEG_QUALITIES:
        encoded = _encode(image, "JPEG", quality, icc)
        if len(encoded) <= limit:
            return "image/jpeg", encoded, image
    current = image
    for _ in range(_MAX_DOWNSCALES):
        size = _scaled(current.width, current.height, _DOWNSCALE_STEP)
        current = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        encoded = _encode(current, "JPEG", _JPEG_QUALITIES[-1], icc)
        if len(encoded) <= limit:
            return "image/jpeg", encoded, current
    raise MediaError.of("media.image.too_detailed")
