from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.media.encode import (
    MIN_BPP,
    MIN_VIDEO_BITRATE,
    EncodePlan,
    encode_within,
    fit_dimensions,
    plan_for_budget,
    transcode,
)
from bot.media.errors import ClipTooLarge
from bot.media.probe import VideoInfo, probe_video
from tests.bot.media.conftest import MakeVideo

HD = VideoInfo(width=1280, height=720, fps=24, duration_seconds=10.0, codec="h264", size_bytes=0)


@pytest.mark.parametrize(
    ("size", "limits", "expected"),
    [
        ((1280, 720), (1920, 1080), (1280, 720)),
        ((3840, 2160), (1920, 1080), (1920, 1080)),
        ((1080, 1920), (1280, 720), (720, 1280)),
        ((2000, 2000), (1920, 1080), (1080, 1080)),
        ((63, 47), (1920, 1080), (62, 46)),
    ],
)
def test_fit_dimensions_keeps_the_shape_with_even_sides(
    size: tuple[int, int], limits: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert fit_dimensions(*size, *limits) == expected


def test_a_generous_budget_keeps_the_size_and_caps_the_bitrate() -> None:
    plan = plan_for_budget(HD, 100_000_000, quality_bpp=0.1)
    assert (plan.width, plan.height, plan.fps) == (1280, 720, 24)
    assert plan.video_bitrate == int(0.1 * 1280 * 720 * 24)


def test_the_bitrate_comes_from_the_budget_and_duration() -> None:
    plan = plan_for_budget(HD, 3_000_000)
    expected = 3_000_000 * 8 * 0.94 / 10
    assert plan.video_bitrate == pytest.approx(expected, rel=0.01)
    assert (plan.width, plan.height) == (1280, 720)


def test_a_small_budget_scales_down_to_keep_bits_per_pixel() -> None:
    plan = plan_for_budget(HD, 1_000_000)
    assert plan.width < 1280 and plan.height < 720
    assert plan.width % 2 == 0 and plan.height % 2 == 0
    assert plan.video_bitrate / (plan.width * plan.height * plan.fps) >= MIN_BPP * 0.95


def test_sound_gets_a_share_of_a_tight_budget() -> None:
    with_sound = replace(HD, has_audio=True)
    plan = plan_for_budget(with_sound, 2_000_000, audio=True)
    silent = plan_for_budget(with_sound, 2_000_000, audio=False)
    assert plan.audio and not silent.audio
    assert 32_000 <= plan.audio_bitrate <= 96_000
    assert silent.video_bitrate - plan.video_bitrate == plan.audio_bitrate


def test_trimming_spends_the_budget_on_the_kept_seconds() -> None:
    assert (
        plan_for_budget(HD, 1_000_000, seconds=5.0).video_bitrate
        > plan_for_budget(HD, 1_000_000).video_bitrate
    )


def test_transcode_writes_h264_at_the_planned_size_and_rate(
    make_video: MakeVideo, tmp_path: Path
) -> None:
    src = make_video("in.webm", size=(64, 48), fps=50, codec="libvpx", fmt="webm", seconds=1)
    dest = tmp_path / "out.mp4"
    transcode(src, dest, EncodePlan(width=32, height=24, fps=25, video_bitrate=100_000))
    info = probe_video(dest)
    assert (info.codec, info.width, info.height, info.pix_fmt) == ("h264", 32, 24, "yuv420p")
    assert info.fps == pytest.approx(25)
    assert info.frames == 25


def test_encode_within_reports_the_smallest_size_reached(
    make_video: MakeVideo, tmp_path: Path
) -> None:
    # Loud noise at a fixed 256 kb/s is more than the budget by itself: every attempt misses.
    src = make_video("in.mp4", seconds=4, noisy=True, audio=True)
    plan = EncodePlan(
        width=64,
        height=48,
        fps=10,
        video_bitrate=4 * MIN_VIDEO_BITRATE,
        audio=True,
        audio_bitrate=256_000,
    )
    dest = tmp_path / "out.mp4"
    with pytest.raises(ClipTooLarge) as caught:
        encode_within(src, dest, 60_000, plan)
    achieved = caught.value.achieved_bytes
    assert achieved is not None and achieved > 60_000
    assert "the smallest we got was" in caught.value.message
    assert not dest.exists()
