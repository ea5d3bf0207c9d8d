"""The hostile and unusual attachment corpus, made on the fly with Pillow, PyAV and zlib.

Each :class:`Case` is one file as a member could upload it (bytes, file name, the content
type Discord would declare) and what must come of it: ``converted`` (a job with the input
made usable) or a refusal whose exact message is ``refusal``. Used by the media corpus
(``test_hostile_corpus.py``, the preparation itself) and the command corpus
(``tests/cogs/test_hostile_inputs.py``, the whole /animate or /restyle flow).
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
from PIL import Image

from tests.bot.media.conftest import encode_image, marked_frame, noise, png_with_header_size

Slot = Literal["image", "video"]

DAMAGED_IMAGE = (
    "This image is damaged or incomplete, so it cannot be read. Try saving or exporting it again."
)
DAMAGED_VIDEO = (
    "This video is damaged or incomplete, so it cannot be read. Try saving or exporting it again."
)


@dataclass(frozen=True)
class Case:
    """One upload and its expected outcome (``refusal`` None: converted into a job)."""

    id: str
    slot: Slot
    make: Callable[[], bytes]
    filename: str
    content_type: str | None
    refusal: str | None = None
    # Only for converted cases: the prepared input's (width, height), when fixed.
    size: tuple[int, int] | None = None
    # What ``prepare_image`` / ``prepare_video`` say when the command refuses earlier
    # (by the declared type or size, before reading): None means the same as ``refusal``.
    media_refusal: str | None = None

    @property
    def prepare_refusal(self) -> str | None:
        return self.media_refusal or self.refusal

    @property
    def converted(self) -> bool:
        return self.refusal is None

    def data(self) -> bytes:
        """The file's bytes, made once per test session (some take a second to encode)."""
        if self.id not in _MADE:
            _MADE[self.id] = self.make()
        return _MADE[self.id]


_MADE: dict[str, bytes] = {}


# ---------------------------------------------------------------- building blocks


def photo(size: tuple[int, int] = (1280, 720), mode: str = "RGB") -> Image.Image:
    """A picture with structure (not flat), so encoders and resizers do real work."""
    image = marked_frame(size[0], size[1], 3)
    return image if mode == "RGB" else image.convert(mode)


def png(size: tuple[int, int] = (1280, 720), mode: str = "RGB", **options: object) -> bytes:
    return encode_image(photo(size, mode), "PNG", **options)


def jpeg(size: tuple[int, int] = (1280, 720), **options: object) -> bytes:
    return encode_image(photo(size), "JPEG", quality=90, **options)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_chunk(kind: bytes, data: bytes) -> bytes:
    """A 1280x720 PNG with one extra chunk right after IHDR."""
    base = png()
    ihdr_end = 8 + 25
    return base[:ihdr_end] + _chunk(kind, data) + base[ihdr_end:]


def streamed_bomb(width: int, height: int) -> bytes:
    """A real, complete grey PNG of ``width`` x ``height`` zero pixels, compressed as it is
    generated (a few hundred KB standing for tens of megapixels)."""
    packer = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def ztxt_bomb() -> bytes:
    """A PNG whose compressed text chunk inflates to 32 MB (twice what may be inflated)."""
    text = zlib.compress(b"\0" * 32_000_000, 9)
    return png_with_chunk(b"zTXt", b"bomb\0\0" + text)


def gif_header_claiming(width: int, height: int) -> bytes:
    """A GIF whose logical screen claims ``width`` x ``height`` around a 1x1 frame."""
    small = encode_image(Image.new("P", (1, 1)), "GIF")
    return small[:6] + struct.pack("<HH", width, height) + small[10:]


def animated(fmt: str, frames: int = 4, size: tuple[int, int] = (800, 600)) -> bytes:
    images = [marked_frame(size[0], size[1], i) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, fmt, save_all=True, append_images=images[1:], duration=120, loop=0)
    return out.getvalue()


def exif_bytes(orientation: int = 1, padding: int = 0) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010E] = "x" * padding if padding else "camera"  # ImageDescription
    exif[0x8298] = "hidden-copyright-marker"  # Copyright
    return exif.tobytes()


def heic_like() -> bytes:
    """The first box of an iPhone photo (ftyp heic): enough for any sniffer."""
    ftyp = b"ftypheic\0\0\0\0mif1heic"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + os.urandom(2000)


SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="1280" '
    b'height="720"><script>alert(1)</script><rect width="100%" height="100%"/></svg>\n'
)
HTML = b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>\n"


def zip_bytes() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.txt", "hello from inside the polyglot")
    return out.getvalue()


# ---------------------------------------------------------------- videos


def video(
    *,
    size: tuple[int, int] = (320, 240),
    fps: int = 24,
    seconds: float = 1.5,
    codec: str = "libx264",
    fmt: str = "mp4",
    pix_fmt: str = "yuv420p",
    rotation: int | None = None,
    audio_streams: int = 0,
    with_video: bool = True,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
) -> bytes:
    """A real clip written by PyAV (``pts`` in ``time_base`` units gives a VFR clip)."""
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        path = Path(tmp) / f"clip.{fmt}"
        with av.open(str(path), "w", format=fmt) as out:
            vstream = None
            if with_video:
                options = {"preset": "ultrafast"} if codec == "libx264" else {}
                if codec.startswith("libvpx"):
                    options = {"deadline": "realtime", "cpu-used": "8"}
                vstream = out.add_stream(codec, rate=fps, options=options)
                assert isinstance(vstream, av.VideoStream)
                vstream.width, vstream.height, vstream.pix_fmt = size[0], size[1], pix_fmt
                if time_base is not None:
                    vstream.time_base = time_base
                if rotation is not None:
                    vstream.set_display_rotation(rotation)
            audios = []
            for _ in range(audio_streams):
                astream = out.add_stream("aac", rate=48_000)
                assert isinstance(astream, av.AudioStream)
                audios.append(astream)
            if vstream is not None:
                stamps = pts if pts is not None else list(range(max(1, round(fps * seconds))))
                # Two pictures, converted once, alternate (big frames are slow to make).
                pictures = [
                    av.VideoFrame.from_image(  # type: ignore[no-untyped-call]
                        marked_frame(size[0], size[1], index)
                    ).reformat(format=pix_fmt)
                    for index in range(min(2, len(stamps)))
                ]
                for index, stamp in enumerate(stamps):
                    frame = pictures[index % len(pictures)]
                    frame.pts = stamp
                    frame.time_base = time_base or Fraction(1, fps)
                    out.mux(vstream.encode(frame))
                out.mux(vstream.encode(None))
            for astream in audios:
                samples = 1024
                for k in range(round(48_000 * seconds / samples)):
                    aframe = av.AudioFrame(format="fltp", layout="stereo", samples=samples)
                    for plane in aframe.planes:
                        plane.update(bytes(samples * 4))
                    aframe.sample_rate = 48_000
                    aframe.pts = k * samples
                    out.mux(astream.encode(aframe))
                out.mux(astream.encode(None))
        return path.read_bytes()


def audio_only(fmt: str) -> bytes:
    return video(with_video=False, audio_streams=1, fmt=fmt, seconds=2.0)


def cut(make: Callable[[], bytes], share: float) -> Callable[[], bytes]:
    return lambda: (data := make())[: int(len(data) * share)]


def then(make: Callable[[], bytes], tail: bytes) -> Callable[[], bytes]:
    return lambda: make() + tail


# ---------------------------------------------------------------- the corpus

IMAGE_CASES: tuple[Case, ...] = (
    # declared type is wrong or missing: judged by content
    Case("png-as-octet-stream", "image", png, "upload.png", "application/octet-stream",
         size=(1280, 720)),
    Case("png-without-type-or-extension", "image", png, "upload", None, size=(1280, 720)),
    Case("png-declared-jpeg", "image", png, "photo.jpg", "image/jpeg", size=(1280, 720)),
    Case("jpeg-named-png", "image", jpeg, "photo.png", "image/png", size=(1280, 720)),
    Case("png-declared-text-but-named-png", "image", png, "x.png", "text/plain",
         size=(1280, 720)),
    # polyglots: the image is used, what rides after it is not forwarded
    Case("png-zip-polyglot", "image", then(png, zip_bytes()), "poly.png", "image/png",
         size=(1280, 720)),
    Case("png-html-trailer", "image", then(png, HTML), "poly.png", "image/png", size=(1280, 720)),
    Case("jpeg-zip-polyglot", "image", then(jpeg, zip_bytes()), "poly.jpg", "image/jpeg",
         size=(1280, 720)),
    Case("gif-js-polyglot", "image", then(lambda: animated("GIF", 1), b"*/=alert(1)//"),
         "poly.gif", "image/gif", size=(853, 640)),
    # not images at all
    Case("html-named-png", "image", lambda: HTML, "cat.png", "image/png",
         "That file is called .png but it is actually a web page (HTML), not an image."),
    Case("zip-named-jpg", "image", zip_bytes, "cat.jpg", "image/jpeg",
         "That file is called .jpg but it is actually a ZIP archive (or an Office document), "
         "not an image."),
    Case("pdf-as-octet-stream", "image", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"0" * 500,
         "doc.pdf", "application/octet-stream", "That file is a PDF document, not an image."),
    Case("wrong-magic-bytes", "image", lambda: b"\x89PNX\r\n\x1a\n" + os.urandom(4000),
         "cat.png", "image/png",
         "That file is called .png but it is actually a kind of file we do not recognise, "
         "not an image."),
    Case("elf-program-named-png", "image", lambda: b"\x7fELF\x02\x01\x01" + bytes(2000),
         "cat.png", "image/png",
         "That file is called .png but it is actually a program, not an image."),
    Case("text-file", "image", lambda: b"just some notes\n", "notes.txt", "text/plain",
         "The image must be an image; notes.txt is text/plain.",
         media_refusal="That file is text, not an image."),
    # damaged
    Case("png-truncated", "image", cut(png, 0.5), "cut.png", "image/png", DAMAGED_IMAGE),
    Case("jpeg-truncated", "image", cut(lambda: encode_image(noise((640, 480)), "JPEG"), 0.4),
         "cut.jpg", "image/jpeg", DAMAGED_IMAGE),
    Case("png-header-only", "image", lambda: png()[:40], "stub.png", "image/png", DAMAGED_IMAGE),
    Case("zero-bytes", "image", lambda: b"", "empty.png", "image/png", "The image is empty.",
         media_refusal="That file is empty."),
    # sizes and bombs
    Case("png-header-claims-100000x100000", "image", lambda: png_with_header_size(100_000, 100_000),
         "huge.png", "image/png",
         "This image has far too many pixels to process safely (the limit is 80 megapixels)."),
    Case("png-header-claims-9000x9000", "image", lambda: png_with_header_size(9000, 9000),
         "huge.png", "image/png",
         "This image is 9000×9000 pixels (81 megapixels); the limit is 80 megapixels."),
    Case("png-decompression-bomb-10000x9000", "image", lambda: streamed_bomb(10_000, 9_000),
         "bomb.png", "image/png",
         "This image is 10000×9000 pixels (90 megapixels); the limit is 80 megapixels."),
    Case("gif-screen-65535x65535", "image", lambda: gif_header_claiming(65535, 65535),
         "huge.gif", "image/gif",
         "This image has far too many pixels to process safely (the limit is 80 megapixels)."),
    Case("png-ztxt-bomb", "image", ztxt_bomb, "bomb.png", "image/png",
         "This image carries more hidden data than I can safely unpack (its metadata inflates "
         "to too much). Save or export it again without metadata."),
    Case("png-1x1", "image", lambda: png((1, 1)), "dot.png", "image/png",
         "This image is only 1×1 pixels; send one at least 64 pixels on each side "
         "(640 or more looks best)."),
    Case("png-20-to-1", "image", lambda: png((2000, 100)), "strip.png", "image/png",
         "This image is 20:1 (2000×100); Runway accepts shapes between 1:2 (tall) and 2.36:1 "
         "(wide). Crop it and try again."),
    Case("png-odd-641x479", "image", lambda: png((641, 479)), "odd.png", "image/png",
         size=(856, 640)),
    Case("jpeg-5000x3000", "image", lambda: jpeg((5000, 3000)), "big.jpg", "image/jpeg",
         size=(3600, 2160)),
    # metadata
    Case("jpeg-huge-exif", "image", lambda: jpeg(exif=exif_bytes(padding=60_000)), "exif.jpg",
         "image/jpeg", size=(1280, 720)),
    Case("png-3mb-icc-profile", "image", lambda: png(icc_profile=os.urandom(3_000_000)),
         "icc.png", "image/png", size=(1280, 720)),
    Case("jpeg-3mb-icc-profile", "image", lambda: jpeg(icc_profile=os.urandom(3_000_000)),
         "icc.jpg", "image/jpeg", size=(1280, 720)),
    Case("png-2mb-text-chunk", "image",
         lambda: png_with_chunk(b"tEXt", b"Comment\0" + b"A" * 2_000_000), "text.png",
         "image/png", size=(1280, 720)),
    Case("jpeg-exif-rotated-90", "image", lambda: jpeg(exif=exif_bytes(orientation=6)),
         "phone.jpg", "image/jpeg", size=(720, 1280)),
    # animation and pixel formats
    Case("animated-gif", "image", lambda: animated("GIF"), "anim.gif", "image/gif",
         size=(853, 640)),
    Case("animated-webp", "image", lambda: animated("WEBP"), "anim.webp", "image/webp",
         size=(853, 640)),
    Case("apng", "image", lambda: animated("PNG"), "anim.png", "image/png", size=(853, 640)),
    Case("jpeg-cmyk", "image", lambda: encode_image(photo().convert("CMYK"), "JPEG"),
         "cmyk.jpg", "image/jpeg", size=(1280, 720)),
    Case("png-16-bit-grey", "image", lambda: png(mode="I;16"), "deep.png", "image/png",
         size=(1280, 720)),
    Case("png-palette-transparency", "image",
         lambda: png(mode="P", transparency=0), "pal.png", "image/png", size=(1280, 720)),
    Case("png-rgba", "image", lambda: png(mode="RGBA"), "alpha.png", "image/png",
         size=(1280, 720)),
    Case("png-grey-alpha", "image", lambda: png(mode="LA"), "la.png", "image/png",
         size=(1280, 720)),
    Case("png-1-bit", "image", lambda: png(mode="1"), "bw.png", "image/png", size=(1280, 720)),
    Case("bmp", "image", lambda: encode_image(photo(), "BMP"), "old.bmp", "image/bmp",
         size=(1280, 720)),
    Case("tiff", "image", lambda: encode_image(photo(), "TIFF"), "scan.tif", "image/tiff",
         size=(1280, 720)),
    Case("avif", "image", lambda: encode_image(photo(), "AVIF"), "new.avif", "image/avif",
         size=(1280, 720)),
    # kinds that cannot be used
    Case("heic", "image", heic_like, "IMG_0001.HEIC", "image/heic",
         "A HEIC photo cannot be used here: send a PNG, JPEG or WebP image. "
         "(On an iPhone: Settings > Camera > Formats > Most Compatible.)"),
    Case("svg", "image", lambda: SVG, "logo.svg", "image/svg+xml",
         "That file is an SVG drawing; those cannot be used: export it as PNG or JPEG first."),
    Case("video-given-as-image", "image", lambda: video(), "clip.mp4", "video/mp4",
         "That file is an MP4 video, not an image."),
)  # fmt: skip

VIDEO_CASES: tuple[Case, ...] = (
    Case("mp4-as-octet-stream", "video", video, "clip.mp4", "application/octet-stream"),
    Case("animated-gif-to-restyle", "video", lambda: animated("GIF", 12, (320, 240)), "anim.gif",
         "image/gif"),
    Case("still-gif-to-restyle", "video", lambda: animated("GIF", 1, (320, 240)), "still.gif",
         "image/gif", "That GIF has a single frame: it is a still image, not a video."),
    Case("png-to-restyle", "video", png, "cat.png", "image/png",
         "That file is a PNG image, not a video."),
    Case("mp4-audio-only", "video", lambda: audio_only("mp4"), "song.mp4", "video/mp4",
         "That file has only sound in it, no video."),
    Case("mkv-audio-only", "video", lambda: audio_only("matroska"), "song.mkv",
         "video/x-matroska", "That file has only sound in it, no video."),
    Case("wav", "video", lambda: audio_only("wav"), "sound.wav", "audio/wav",
         "The video must be a video; sound.wav is audio/wav.",
         media_refusal="That file is a WAV audio file, not a video."),
    Case("mp4-truncated", "video", cut(video, 0.5), "cut.mp4", "video/mp4", DAMAGED_VIDEO),
    Case("zero-byte-video", "video", lambda: b"", "empty.mp4", "video/mp4",
         "The video is empty.", media_refusal="That file is empty."),
    Case("rotated-90", "video", lambda: video(rotation=90), "phone.mp4", "video/mp4"),
    Case("vfr", "video", lambda: video(pts=[0, 1, 3, 4, 9, 10, 20, 21, 40, 41, 60, 80], fps=40,
                                       time_base=Fraction(1, 40)), "vfr.mp4", "video/mp4"),
    Case("absurd-duration-10-hours", "video",
         lambda: video(pts=[0, 1, 36_000], time_base=Fraction(1, 1), fps=1), "long.mp4",
         "video/mp4"),
    Case("4k60-tiny-duration", "video",
         lambda: video(size=(3840, 2160), fps=60, seconds=0.2), "uhd.mp4", "video/mp4",
         "This video is only 0.2 s long; send a clip of at least 1 s."),
    Case("120-fps-capped", "video", lambda: video(size=(640, 360), fps=120, seconds=1.1),
         "fast.mp4", "video/mp4"),
    Case("odd-size-ffv1-mkv", "video",
         lambda: video(size=(321, 241), codec="ffv1", fmt="matroska"), "odd.mkv",
         "video/x-matroska"),
    Case("vp9-webm", "video", lambda: video(codec="libvpx-vp9", fmt="webm"), "clip.webm",
         "video/webm"),
    Case("mkv-many-streams", "video", lambda: video(fmt="matroska", audio_streams=8), "many.mkv",
         "video/x-matroska"),
    Case("mpeg4-avi", "video", lambda: video(codec="mpeg4", fmt="avi"), "old.avi",
         "video/x-msvideo"),
    Case("mov", "video", lambda: video(fmt="mov"), "clip.mov", "video/quicktime"),
)  # fmt: skip

ALL_CASES = IMAGE_CASES + VIDEO_CASES
