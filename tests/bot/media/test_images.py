from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms

from bot.domain import InputRole
from bot.media.datauri import data_uri_fits, to_data_uri
from bot.media.errors import (
    BadAspectRatio,
    CorruptMedia,
    EmptyMedia,
    ImageTooSmall,
    MediaTooLarge,
    TooManyPixels,
    UnsupportedMedia,
)
from bot.media.images import image_size, prepare_image
from bot.media.sniff import sniff
from tests.bot.media.conftest import (
    MakeVideo,
    encode_image,
    noise,
    png_with_header_size,
    rgb_at,
    solid,
)


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    ("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_accepted_formats_are_reencoded_without_trailer_or_metadata(fmt: str, mime: str) -> None:
    exif = Image.Exif()
    exif[0x010E] = "secret description"  # ImageDescription
    exif[0x0112] = 1
    data = encode_image(solid((1280, 720)), fmt, exif=exif.tobytes())
    trailer = b"PK\x03\x04" + b"zip-trailer" * 50 + b"<html><script>alert(1)</script></html>"
    item = prepare_image(data + trailer, filename="holiday." + fmt.lower())
    expected = "image/jpeg" if fmt == "WEBP" else mime  # lossy WebP: JPEG like other photos
    assert item.mime == expected and sniff(item.data) == expected
    assert b"zip-trailer" not in item.data and b"<html>" not in item.data
    assert b"secret description" not in item.data
    out = reopen(item.data)
    assert dict(out.getexif()) == {}
    assert out.size == (item.width, item.height) == (1280, 720)
    assert out.convert("RGB").getpixel((5, 5)) == pytest.approx((40, 120, 200), abs=3)
    assert item.role is InputRole.IMAGE


def test_animated_gif_becomes_a_png_of_its_first_frame() -> None:
    frames = [solid((1280, 720), color) for color in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    item = prepare_image(buf.getvalue(), filename="party.gif")
    assert item.mime == "image/png"
    assert sniff(item.data) == "image/png"
    assert item.filename == "party.png"
    out = reopen(item.data)
    assert out.size == (1280, 720)
    assert getattr(out, "n_frames", 1) == 1
    assert out.convert("RGB").getpixel((10, 10)) == (255, 0, 0)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_lossless_odd_formats_become_png(fmt: str) -> None:
    item = prepare_image(encode_image(solid((700, 700), (1, 2, 3)), fmt), filename="scan")
    assert item.mime == "image/png"
    assert reopen(item.data).convert("RGB").getpixel((5, 5)) == (1, 2, 3)
    assert item.filename == "scan.png"


def test_avif_becomes_jpeg() -> None:
    item = prepare_image(encode_image(solid((700, 700)), "AVIF"))
    assert item.mime == "image/jpeg"
    assert reopen(item.data).format == "JPEG"


def test_transparency_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (700, 700), (0, 0, 0, 0))
    image.paste((200, 10, 10, 255), (0, 0, 350, 700))
    item = prepare_image(encode_image(image, "PNG"))
    out = reopen(item.data)
    assert item.mime == "image/png"
    assert out.mode == "RGB"
    assert out.getpixel((600, 10)) == (255, 255, 255)
    assert out.getpixel((10, 10)) == (200, 10, 10)


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    item = prepare_image(encode_image(solid((700, 700), (0, 0, 0, 0), mode="CMYK"), "JPEG"))
    out = reopen(item.data)
    assert item.mime == "image/jpeg"
    assert out.mode == "RGB"
    assert all(c > 240 for c in rgb_at(out, (5, 5)))  # CMYK 0,0,0,0 is white


def test_exif_orientation_is_applied() -> None:
    image = solid((1000, 700), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 100, 100))  # red top-left corner as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    item = prepare_image(encode_image(image, "JPEG", exif=exif.tobytes(), quality=95))
    out = reopen(item.data)
    assert (item.width, item.height) == out.size == (700, 1000)
    red, _, blue = rgb_at(out, (650, 50))  # stored top-left ends up top-right
    assert red > 200 and blue < 60
    assert out.getexif().get(0x0112, 1) == 1


def test_small_images_are_upscaled_to_640_on_the_short_side() -> None:
    item = prepare_image(encode_image(solid((200, 100)), "PNG"))
    assert (item.width, item.height) == (1280, 640)
    assert reopen(item.data).size == (1280, 640)


@pytest.mark.parametrize(
    ("size", "expected"), [((4000, 2000), (3840, 1920)), ((3000, 3000), (2160, 2160))]
)
def test_images_beyond_4k_are_downscaled(size: tuple[int, int], expected: tuple[int, int]) -> None:
    item = prepare_image(encode_image(solid(size), "PNG"))
    assert (item.width, item.height) == expected
    assert reopen(item.data).size == expected


def test_a_detailed_image_is_made_to_fit_the_5mb_data_uri() -> None:
    data = encode_image(noise((2400, 1600)), "PNG")
    assert len(data) > 10_000_000
    item = prepare_image(data, filename="noise.png")
    assert item.mime == "image/jpeg"
    assert item.filename == "noise.jpg"
    assert data_uri_fits(item)
    assert len(to_data_uri(item)) <= 5_000_000
    assert reopen(item.data).size == (item.width, item.height)


def test_role_and_filename_are_kept_but_cleaned() -> None:
    item = prepare_image(
        encode_image(solid((700, 700)), "GIF"), role=InputRole.REFERENCE, filename="../x/My pic.gif"
    )
    assert item.role is InputRole.REFERENCE
    assert item.filename == "My pic.png"


def test_empty_file_is_refused() -> None:
    with pytest.raises(EmptyMedia) as caught:
        prepare_image(b"", filename="a.png")
    assert caught.value.message == "That file is empty."


def test_text_renamed_png_is_refused_by_content() -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        prepare_image(b"Dear diary, today I renamed a file.\n", filename="cat.png")
    assert caught.value.message == (
        "That file is called .png but it is actually text, not an image."
    )


def test_video_sent_as_image_is_refused(make_video: MakeVideo) -> None:
    data = make_video("clip.mp4", seconds=0.5).read_bytes()
    with pytest.raises(UnsupportedMedia) as caught:
        prepare_image(data, filename="clip.png")
    assert caught.value.message == (
        "That file is called .png but it is actually an MP4 video, not an image."
    )


def test_svg_gets_a_helpful_message() -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        prepare_image(b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', filename="logo.svg")
    assert "export it as PNG or JPEG" in caught.value.message


def test_heic_is_refused_with_a_hint() -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        prepare_image(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 200, filename="IMG_1.HEIC")
    assert caught.value.message.startswith("A HEIC photo cannot be used here")
    assert "Most Compatible" in caught.value.message


def test_truncated_jpeg_is_corrupt() -> None:
    data = encode_image(noise((640, 640)), "JPEG")
    with pytest.raises(CorruptMedia) as caught:
        prepare_image(data[: len(data) // 2], filename="half.jpg")
    assert "damaged or incomplete" in caught.value.message


def test_garbage_after_a_png_signature_is_corrupt() -> None:
    with pytest.raises(CorruptMedia):
        prepare_image(b"\x89PNG\r\n\x1a\n" + b"\x13" * 200)


def test_decompression_bomb_header_is_refused_before_decoding() -> None:
    with pytest.raises(TooManyPixels) as caught:
        prepare_image(png_with_header_size(100_000, 100_000))
    assert "too many pixels" in caught.value.message
    assert "80 megapixels" in caught.value.message


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_too_many_pixels_names_the_size() -> None:
    with pytest.raises(TooManyPixels) as caught:
        prepare_image(png_with_header_size(10_000, 9_000))
    assert caught.value.message == (
        "This image is 10000×9000 pixels (90 megapixels); the limit is 80 megapixels."
    )


def test_tiny_image_is_refused() -> None:
    with pytest.raises(ImageTooSmall) as caught:
        prepare_image(encode_image(solid((40, 30)), "PNG"))
    assert caught.value.message.startswith("This image is only 40×30 pixels")


@pytest.mark.parametrize(("size", "shape"), [((2000, 400), "5:1"), ((400, 1000), "1:2.5")])
def test_extreme_aspect_ratios_are_refused(size: tuple[int, int], shape: str) -> None:
    with pytest.raises(BadAspectRatio) as caught:
        prepare_image(encode_image(solid(size), "PNG"))
    assert caught.value.message.startswith(f"This image is {shape} ")
    assert "between 1:2 (tall) and 2.36:1 (wide)" in caught.value.message


@pytest.mark.parametrize("size", [(1584, 672), (640, 1280)])
def test_aspect_ratios_at_the_limits_are_accepted(size: tuple[int, int]) -> None:
    item = prepare_image(encode_image(solid(size), "PNG"))
    assert item.width is not None and item.height is not None
    assert item.width / item.height == pytest.approx(size[0] / size[1], rel=0.01)


def test_oversized_input_is_refused_before_reading() -> None:
    data = encode_image(solid((700, 700)), "PNG")
    with pytest.raises(MediaTooLarge) as caught:
        prepare_image(data, max_input_bytes=len(data) - 1)
    assert caught.value.message.startswith("This image is ")


def test_image_size_reads_the_header() -> None:
    assert image_size(encode_image(solid((321, 123)), "WEBP")) == (321, 123)
    with pytest.raises(UnsupportedMedia):
        image_size(b"plain text")


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    item = prepare_image(encode_image(Image.new("I;16", (700, 700), 30_000), "PNG"))
    assert rgb_at(reopen(item.data), (1, 1)) == pytest.approx((117, 117, 117), abs=2)


def test_a_huge_jpeg_is_decoded_at_reduced_scale_and_fits_4k() -> None:
    data = encode_image(solid((8000, 4000)), "JPEG", quality=80)
    item = prepare_image(data)
    assert (item.width, item.height) == (3840, 1920)
    assert reopen(item.data).size == (3840, 1920)


def test_a_file_named_like_its_content_is_not_called_misleading() -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        prepare_image(b"shopping list\n", filename="notes.txt")
    assert caught.value.message == "That file is text, not an image."


def test_an_rgb_colour_profile_survives_reencoding() -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode_image(solid((700, 700)), "WEBP", icc_profile=profile)
    exif = Image.Exif()
    exif[0x0112] = 3  # rotated 180°: forces a re-encode
    data = encode_image(reopen(data), "JPEG", icc_profile=profile, exif=exif.tobytes())
    item = prepare_image(data)
    assert item.data != data
    assert reopen(item.data).info.get("icc_profile") == profile
