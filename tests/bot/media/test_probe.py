from __future__ import annotations

from pathlib import Path

import av
import pytest

from bot.media.errors import CorruptMedia, NoVideoStream, TooManyPixels
from bot.media.probe import probe_video
from tests.bot.media.conftest import MakeVideo


def test_probe_reports_size_rate_duration_and_codec(make_video: MakeVideo) -> None:
    path = make_video("a.mp4", size=(96, 64), fps=12, seconds=2.5, audio=True)
    info = probe_video(path)
    assert (info.width, info.height) == (96, 64)
    assert info.fps == pytest.approx(12)
    assert info.duration_seconds == pytest.approx(2.5, abs=0.1)
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert info.size_bytes == path.stat().st_size
    assert info.has_audio and info.audio_codec == "aac"
    assert info.frames == 30
    assert probe_video(path.read_bytes()) == info


def test_probe_webm_without_stream_durations(make_video: MakeVideo) -> None:
    info = probe_video(make_video("a.webm", codec="libvpx", fmt="webm", seconds=1.5))
    assert info.codec == "vp8"
    assert info.duration_seconds == pytest.approx(1.5, abs=0.1)
    assert "webm" in info.container


def test_probe_reports_rotation_and_displayed_size(make_video: MakeVideo) -> None:
    info = probe_video(make_video("r.mp4", size=(64, 48), rotation=90))
    assert info.rotation == 90
    assert (info.width, info.height) == (48, 64)


def test_sound_only_file_has_no_video(make_video: MakeVideo) -> None:
    with pytest.raises(NoVideoStream) as caught:
        probe_video(make_video("a.m4a", video=False, audio=True))
    assert caught.value.message == "That file has only sound in it, no video."


def test_truncated_mp4_is_corrupt(make_video: MakeVideo) -> None:
    data = make_video("a.mp4", seconds=2).read_bytes()  # moov at the end: gone when cut
    with pytest.raises(CorruptMedia) as caught:
        probe_video(data[: len(data) // 2])
    assert "damaged or incomplete" in caught.value.message


def test_mp4_cut_off_after_its_index_is_reported_as_cut_off(make_video: MakeVideo) -> None:
    path = make_video("a.mp4", seconds=10, noisy=True, options={"movflags": "+faststart"})
    data = path.read_bytes()
    with pytest.raises(CorruptMedia) as caught:
        probe_video(data[: int(len(data) * 0.4)])
    assert caught.value.message.startswith("This video seems to be cut off: it should be 10.0 s")


def test_random_bytes_after_a_video_header_are_corrupt(make_video: MakeVideo) -> None:
    data = make_video("a.mp4").read_bytes()
    with pytest.raises(CorruptMedia):
        probe_video(data[:64] + bytes(range(256)) * 8)


def test_frames_beyond_8k_are_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=1, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 8704, 4352, "yuv420p"
        frame = av.VideoFrame(8704, 4352, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts = 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(TooManyPixels) as caught:
        probe_video(path)
    assert caught.value.message == (
        "This video is 8704×4352 pixels; the largest we accept is 8K (8192×4320)."
    )
