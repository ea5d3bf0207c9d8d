from __future__ import annotations

import io

import av
import pytest

from bot.domain import InputRole
from bot.media.datauri import data_uri_fits
from bot.media.errors import (
    CorruptMedia,
    EmptyMedia,
    MediaTooLarge,
    NoVideoStream,
    UnsupportedMedia,
    VideoTooLong,
    VideoTooShort,
)
from bot.media.probe import probe_video
from bot.media.sniff import sniff
from bot.media.videos import prepare_video
from tests.bot.media.conftest import (
    MakeVideo,
    encode_image,
    first_frame,
    rgb_at,
    solid,
    video_packets,
)


def test_h264_mp4_keeps_its_pictures_and_loses_sound_and_metadata(make_video: MakeVideo) -> None:
    tags = {"title": "my secret walk", "comment": "filmed on Alice's phone"}
    data = make_video("a.mp4", size=(96, 64), seconds=2, audio=True, tags=tags).read_bytes()
    assert b"my secret walk" in data
    item = prepare_video(data, filename="walk.mp4", max_seconds=30)
    assert video_packets(item.data) == video_packets(data)  # copied, not re-encoded
    with av.open(io.BytesIO(item.data)) as out:
        assert [s.type for s in out.streams] == ["video"]
        assert not set(tags) & set(out.metadata)
    assert b"my secret walk" not in item.data and b"Alice" not in item.data
    assert item.role is InputRole.VIDEO
    assert item.mime == "video/mp4"
    assert item.filename == "walk.mp4"
    assert (item.width, item.height) == (96, 64)
    assert item.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert data_uri_fits(item)


@pytest.mark.parametrize(
    ("name", "codec", "fmt"),
    [("a.webm", "libvpx", "webm"), ("a.mov", "mpeg4", "mov"), ("a.mkv", "libx264", "matroska")],
)
def test_other_containers_and_codecs_become_h264_mp4(
    make_video: MakeVideo, name: str, codec: str, fmt: str
) -> None:
    data = make_video(name, codec=codec, fmt=fmt, seconds=1.5).read_bytes()
    item = prepare_video(data, filename=name)
    assert sniff(item.data) == "video/mp4"
    info = probe_video(item.data)
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (64, 48) == (item.width, item.height)
    assert info.duration_seconds == pytest.approx(1.5, abs=0.15)
    assert item.filename == name.rsplit(".", 1)[0] + ".mp4"


def test_keep_seconds_trims_the_clip(make_video: MakeVideo) -> None:
    data = make_video("a.mp4", seconds=4).read_bytes()
    item = prepare_video(data, keep_seconds=1.5, max_seconds=30)
    info = probe_video(item.data)
    assert info.duration_seconds == pytest.approx(1.5, abs=0.11)
    assert item.duration_seconds == info.duration_seconds
    assert info.codec == "h264"


def test_too_long_video_names_both_lengths(make_video: MakeVideo) -> None:
    data = make_video("long.mp4", size=(32, 32), fps=2, seconds=42).read_bytes()
    with pytest.raises(VideoTooLong) as caught:
        prepare_video(data, max_seconds=30)
    assert caught.value.message.startswith(
        "This video is 42.0 s long; the model accepts at most 30 s."
    )


def test_a_long_video_is_fine_when_only_its_start_is_kept(make_video: MakeVideo) -> None:
    data = make_video("long.mp4", size=(32, 32), fps=2, seconds=42).read_bytes()
    item = prepare_video(data, max_seconds=30, keep_seconds=5)
    assert probe_video(item.data).duration_seconds == pytest.approx(5, abs=0.6)


def test_rotated_phone_video_is_made_upright(make_video: MakeVideo) -> None:
    data = make_video("r.mp4", size=(64, 48), rotation=90).read_bytes()
    item = prepare_video(data)
    info = probe_video(item.data)
    assert info.rotation == 0
    assert (info.width, info.height) == (48, 64)
    # The red block sat at the stored top-left; a 90° counter-clockwise turn puts it bottom-left.
    frame = first_frame(item.data)
    red, _, blue = rgb_at(frame, (4, 60))
    assert red > 200 and blue < 80
    red, _, blue = rgb_at(frame, (4, 4))
    assert red < 80 and blue > 120


def test_odd_sizes_become_even(make_video: MakeVideo) -> None:
    data = make_video("odd.webm", size=(63, 47), codec="libvpx", fmt="webm").read_bytes()
    item = prepare_video(data)
    assert (item.width, item.height) == (62, 46)


def test_high_frame_rates_are_capped(make_video: MakeVideo) -> None:
    data = make_video("fast.webm", fps=60, codec="libvpx", fmt="webm", seconds=1.2).read_bytes()
    info = probe_video(prepare_video(data).data)
    assert info.fps == pytest.approx(30)
    assert info.duration_seconds == pytest.approx(1.2, abs=0.1)


def test_video_too_big_for_the_budget_is_recompressed(make_video: MakeVideo) -> None:
    data = make_video("n.mp4", size=(320, 240), fps=24, seconds=2, noisy=True).read_bytes()
    assert len(data) > 1_000_000
    item = prepare_video(data, max_output_bytes=200_000)
    assert len(item.data) <= 200_000
    info = probe_video(item.data)
    assert info.codec == "h264"
    assert info.duration_seconds == pytest.approx(2.0, abs=0.1)


def test_video_that_cannot_be_squeezed_enough_is_refused(make_video: MakeVideo) -> None:
    data = make_video("n.mp4", size=(320, 240), fps=24, seconds=2, noisy=True).read_bytes()
    with pytest.raises(MediaTooLarge) as caught:
        prepare_video(data, max_output_bytes=2_000)
    assert "too large to send even after compressing it" in caught.value.message


def test_sound_is_dropped_when_reencoding(make_video: MakeVideo) -> None:
    data = make_video("a.mkv", fmt="matroska", audio=True).read_bytes()
    assert probe_video(data).has_audio
    assert not probe_video(prepare_video(data).data).has_audio


def test_empty_file_is_refused() -> None:
    with pytest.raises(EmptyMedia):
        prepare_video(b"", filename="a.mp4")


def test_image_sent_as_video_is_refused() -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        prepare_video(encode_image(solid((64, 64)), "PNG"), filename="clip.mp4")
    assert caught.value.message == (
        "That file is called .mp4 but it is actually a PNG image, not a video."
    )


def test_text_sent_as_video_is_refused() -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        prepare_video(b"not a video at all\n", filename="notes")
    assert caught.value.message == "That file is text, not a video."


def test_sound_only_file_is_refused(make_video: MakeVideo) -> None:
    data = make_video("a.m4a", video=False, audio=True).read_bytes()
    with pytest.raises(NoVideoStream):
        prepare_video(data, filename="song.mp4")


def test_corrupt_mp4_is_refused(make_video: MakeVideo) -> None:
    data = make_video("a.mp4").read_bytes()
    with pytest.raises(CorruptMedia):
        prepare_video(data[: len(data) * 2 // 3], filename="a.mp4")


def test_single_frame_video_is_too_short(make_video: MakeVideo) -> None:
    data = make_video("one.mp4", seconds=0.1).read_bytes()
    with pytest.raises(VideoTooShort) as caught:
        prepare_video(data)
    assert caught.value.message == "This video has only one frame; send a clip of at least 1 s."


def test_half_second_video_is_too_short(make_video: MakeVideo) -> None:
    data = make_video("short.mp4", seconds=0.5).read_bytes()
    with pytest.raises(VideoTooShort) as caught:
        prepare_video(data)
    assert caught.value.message == "This video is only 0.5 s long; send a clip of at least 1 s."


def animated_gif(count: int) -> bytes:
    frames = [solid((64, 48), (40 * i, 0, 200)) for i in range(count)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    return out.getvalue()


def test_animated_gif_becomes_an_mp4() -> None:
    item = prepare_video(animated_gif(8), filename="dance.gif")
    assert item.filename == "dance.mp4"
    info = probe_video(item.data)
    assert (info.codec, info.width, info.height) == ("h264", 64, 48)
    assert info.duration_seconds == pytest.approx(1.6, abs=0.1)


def test_still_gif_is_not_a_video() -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        prepare_video(animated_gif(1), filename="still.gif")
    assert caught.value.message == "That GIF has a single frame: it is a still image, not a video."


def test_a_webp_named_webp_is_just_not_a_video() -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        prepare_video(encode_image(solid((64, 64)), "WEBP"), filename="pic.webp")
    assert caught.value.message == "That file is a WebP image, not a video."


def test_oversized_input_is_refused_before_probing(make_video: MakeVideo) -> None:
    data = make_video("a.mp4").read_bytes()
    with pytest.raises(MediaTooLarge):
        prepare_video(data, max_input_bytes=len(data) - 1)
