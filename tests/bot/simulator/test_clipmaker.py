"""Real clips made by the simulator's clip maker, checked by opening them with PyAV."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import av
import pytest
from PIL import Image

from bot.simulator import clipmaker
from bot.simulator.clipmaker import ClipError, output_size
from tests.bot.simulator.sim_media import make_mp4, make_png


@dataclass
class Probe:
    width: int
    height: int
    fps: Fraction
    frames: int
    seconds: float
    codec: str
    first: Image.Image
    last: Image.Image


def probe(data: bytes) -> Probe:
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        images = [f.to_image() for f in container.decode(stream)]  # type: ignore[no-untyped-call]
        assert container.duration is not None
        return Probe(
            width=stream.width,
            height=stream.height,
            fps=Fraction(stream.average_rate or 0),
            frames=len(images),
            seconds=container.duration / 1_000_000,
            codec=stream.codec_context.name,
            first=images[0],
            last=images[-1],
        )


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("1280:720", (640, 360)),
        ("720:1280", (360, 640)),
        ("960:960", (640, 640)),
        ("1104:832", (640, 482)),
        ("1584:672", (640, 272)),
        ("1080:1920", (360, 640)),
        ("1280:768", (640, 384)),
    ],
)
def test_output_size_keeps_the_ratio_with_long_side_640(ratio: str, size: tuple[int, int]) -> None:
    w, h = output_size(ratio)
    assert (w, h) == size
    assert w % 2 == 0 and h % 2 == 0
    rw, rh = (int(p) for p in ratio.split(":"))
    assert abs(w / h - rw / rh) < 0.01


@pytest.mark.parametrize(("ratio", "duration"), [("1280:720", 2), ("720:1280", 3)])
def test_image_clip_is_h264_at_ratio_fps_and_duration(ratio: str, duration: int) -> None:
    data = clipmaker.image_to_video_clip(make_png(), ratio=ratio, duration=duration)
    info = probe(data)
    assert (info.width, info.height) == output_size(ratio)
    assert info.codec == "h264"
    assert info.fps == 24
    assert info.frames == duration * 24
    assert info.seconds == pytest.approx(duration, abs=0.05)
    assert info.first.tobytes() != info.last.tobytes(), "the camera moves"


def test_image_clip_crossfades_to_the_last_frame() -> None:
    red = make_png(color=(220, 20, 20))
    green = make_png(color=(20, 220, 20))
    info = probe(clipmaker.image_to_video_clip(red, ratio="960:960", duration=2, last_image=green))
    r0, g0, _ = info.first.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))  # type: ignore[misc]
    r1, g1, _ = info.last.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))  # type: ignore[misc]
    assert r0 > g0
    assert g1 > r1


def test_video_clip_follows_input_shape_and_length_and_is_restyled() -> None:
    source = make_mp4((320, 180), seconds=2.0, fps=10)
    info = probe(clipmaker.video_to_video_clip(source, prompt="make it snow"))
    assert (info.width, info.height) == (320, 180)
    assert info.fps == 24
    assert info.seconds == pytest.approx(2.0, abs=0.1)
    src = probe(source)
    assert info.first.tobytes() != src.first.resize((320, 180)).tobytes()
    # Mirrored: the bright block moved from the left edge to the right edge.
    gray = info.first.convert("L")
    assert gray.getpixel((300, 40)) > gray.getpixel((20, 40))  # type: ignore[operator]


def test_video_clip_is_cut_to_max_seconds_and_scaled_down() -> None:
    source = make_mp4((1280, 720), seconds=3.0, fps=8)
    info = probe(clipmaker.video_to_video_clip(source, prompt="x", max_seconds=1.5))
    assert (info.width, info.height) == (640, 360)
    assert info.seconds == pytest.approx(1.5, abs=0.1)


def test_probe_seconds() -> None:
    assert clipmaker.probe_seconds(make_mp4(seconds=2.0)) == pytest.approx(2.0, abs=0.15)


def test_padding_keeps_the_clip_playable() -> None:
    clip = clipmaker.image_to_video_clip(make_png(), ratio="1280:720", duration=2)
    big = clipmaker.pad_to(clip, 3 * 1024 * 1024)
    assert len(big) >= 3 * 1024 * 1024
    assert probe(big).frames == 48
    assert clipmaker.pad_to(clip, 10) == clip


def test_test_card_is_a_png_of_the_asked_size() -> None:
    with Image.open(io.BytesIO(clipmaker.test_card("example.com", (320, 180)))) as card:
        assert card.format == "PNG"
        assert card.size == (320, 180)
        assert len(card.convert("RGB").getcolors(maxcolors=4096) or []) > 5


def test_unreadable_inputs_raise_clip_error() -> None:
    with pytest.raises(ClipError, match="not a readable image"):
        clipmaker.image_to_video_clip(b"not an image", ratio="1280:720", duration=2)
    with pytest.raises(ClipError, match="not a readable video"):
        clipmaker.video_to_video_clip(b"\x00" * 100)
    with pytest.raises(ClipError):
        clipmaker.probe_seconds(b"garbage")


def test_only_clips_of_small_inputs_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    image = make_png((96, 64), color=(10, 120, 200))
    video = make_mp4((64, 48), seconds=0.5, fps=8)
    monkeypatch.setattr(clipmaker, "CACHE_INPUT_MAX", len(image) - 1)
    i2v_before = clipmaker._cached_i2v.cache_info()
    big = clipmaker.image_to_video_clip(image, ratio="960:960", duration=1, seed=4242)
    assert clipmaker._cached_i2v.cache_info() == i2v_before, "an input over the limit"
    monkeypatch.setattr(clipmaker, "CACHE_INPUT_MAX", len(image))
    small = clipmaker.image_to_video_clip(image, ratio="960:960", duration=1, seed=4242)
    assert small == big
    assert clipmaker._cached_i2v.cache_info().misses == i2v_before.misses + 1
    assert clipmaker.image_to_video_clip(image, ratio="960:960", duration=1, seed=4242) is small

    monkeypatch.setattr(clipmaker, "CACHE_INPUT_MAX", len(video) - 1)
    v2v_before = clipmaker._cached_v2v.cache_info()
    clipmaker.video_to_video_clip(video, prompt="cache probe")
    assert clipmaker._cached_v2v.cache_info() == v2v_before
    assert clipmaker._cached_i2v.cache_info().maxsize == 8
    assert clipmaker._cached_v2v.cache_info().maxsize == 4
