from __future__ import annotations

import pytest
from PIL import Image

from bot.media.sniff import describe, sniff
from tests.bot.media.conftest import MakeVideo, encode_image, solid


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
        ("AVIF", "image/avif"),
    ],
)
def test_images_are_recognised_by_content(fmt: str, mime: str) -> None:
    assert sniff(encode_image(solid((32, 32)), fmt)) == mime


@pytest.mark.parametrize(
    ("name", "codec", "fmt", "mime"),
    [
        ("a.mp4", "libx264", "mp4", "video/mp4"),
        ("a.mov", "libx264", "mov", "video/quicktime"),
        ("a.webm", "libvpx", "webm", "video/webm"),
        ("a.mkv", "libx264", "matroska", "video/x-matroska"),
        ("a.avi", "mpeg4", "avi", "video/x-msvideo"),
    ],
)
def test_videos_are_recognised_by_content(
    make_video: MakeVideo, name: str, codec: str, fmt: str, mime: str
) -> None:
    path = make_video(name, codec=codec, fmt=fmt, seconds=0.5)
    assert sniff(path.read_bytes()) == mime


def test_heic_brand_is_an_image_not_a_video() -> None:
    header = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64
    assert sniff(header) == "image/heic"
    assert describe(header) == "a HEIC photo"


def test_mp4_brands_are_video() -> None:
    header = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41" + b"\0" * 32
    assert sniff(header) == "video/mp4"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"just some text, not an image\n",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"PK\x03\x04\x14\x00\x00\x00",
        b"\x00\x01\x02\x03\x04\x05\x06\x07" * 8,
        b"RIFF\x10\x00\x00\x00JUNK",
    ],
)
def test_other_content_is_not_media(data: bytes) -> None:
    assert sniff(data) is None


def test_a_misleading_name_does_not_matter() -> None:
    # sniff only ever sees bytes: a JPEG is a JPEG whatever it was called.
    jpeg = encode_image(solid((16, 16)), "JPEG")
    assert sniff(jpeg) == "image/jpeg"
    assert sniff(b"GIF89a but actually text") == "image/gif"  # magic wins; Pillow decides later


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (b"hello there\nsecond line\n", "text"),
        ("héllo wörld ".encode() * 10, "text"),
        (b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>", "an SVG drawing"),
        (b"<!DOCTYPE html><html></html>", "a web page (HTML)"),
        (b"%PDF-1.4 ...", "a PDF document"),
        (b"\x7fELF\x02\x01\x01", "a program"),
        (b"\x00\xff\x10\x80" * 10, "a kind of file we do not recognise"),
    ],
)
def test_describe_names_what_a_file_is(data: bytes, phrase: str) -> None:
    assert describe(data) == phrase


def test_describe_names_media() -> None:
    assert describe(encode_image(Image.new("RGB", (8, 8)), "PNG")) == "a PNG image"
