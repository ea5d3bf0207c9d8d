from __future__ import annotations

from pathlib import Path

import pytest

from bot.media.encode import MIN_BPP, plan_for_budget
from bot.media.errors import ClipTooLarge, CorruptMedia, MediaError
from bot.media.fit import MAX_LONG_SIDE, MAX_SHORT_SIDE, QUALITY_BPP, fit_clip
from bot.media.probe import probe_video
from tests.bot.media.conftest import MakeVideo


def test_a_clip_that_fits_is_returned_as_is(make_video: MakeVideo, tmp_path: Path) -> None:
    src = make_video("out.mp4")
    workdir = tmp_path / "work"
    assert fit_clip(src, src.stat().st_size, workdir) == src
    assert not workdir.exists() or not any(workdir.iterdir())


def test_a_big_clip_is_reencoded_to_fit(make_video: MakeVideo, tmp_path: Path) -> None:
    src = make_video("out.mp4", size=(320, 240), fps=24, seconds=2, noisy=True, audio=True)
    before = probe_video(src)
    limit = 300_000
    assert before.size_bytes > 3 * limit
    out = fit_clip(src, limit, tmp_path / "work")
    assert out != src and out.parent == tmp_path / "work"
    assert out.stat().st_size <= limit
    after = probe_video(out)
    assert after.codec == "h264"
    assert after.has_audio and after.audio_codec == "aac"
    assert after.duration_seconds == pytest.approx(before.duration_seconds, abs=0.1)
    assert (after.width, after.height) == (320, 240)
    assert src.exists()


def test_a_tight_limit_scales_the_picture_down(make_video: MakeVideo, tmp_path: Path) -> None:
    src = make_video("out.mp4", size=(320, 240), fps=24, seconds=2, noisy=True)
    limit = 16_000
    # The budget itself is below MIN_BPP at full size, so the plan (not x264's luck) shrinks it;
    # later attempts only ever shrink further.
    plan = plan_for_budget(
        probe_video(src),
        limit,
        max_long_side=MAX_LONG_SIDE,
        max_short_side=MAX_SHORT_SIDE,
        audio=True,
        quality_bpp=QUALITY_BPP,
    )
    assert plan.width < 320 and plan.height < 240
    assert plan.video_bitrate < MIN_BPP * 320 * 240 * plan.fps
    out = fit_clip(src, limit, tmp_path / "work")
    info = probe_video(out)
    assert out.stat().st_size <= limit
    assert info.width < 320 and info.height < 240
    assert info.width / info.height == pytest.approx(320 / 240, rel=0.05)


def test_an_impossible_limit_raises_clip_too_large(make_video: MakeVideo, tmp_path: Path) -> None:
    src = make_video("out.mp4", size=(320, 240), fps=24, seconds=2, noisy=True)
    workdir = tmp_path / "work"
    with pytest.raises(ClipTooLarge) as caught:
        fit_clip(src, 3_000, workdir)
    assert isinstance(caught.value, MediaError)
    assert caught.value.max_bytes == 3_000
    assert caught.value.message.startswith("This clip is ")
    assert "cannot be shrunk to fit 3 KB" in caught.value.message
    assert not any(workdir.iterdir())


def test_an_unreadable_clip_is_a_media_error(tmp_path: Path) -> None:
    src = tmp_path / "broken.mp4"
    src.write_bytes(b"\0\0\0\x18ftypisom" + b"\x01" * 5000)
    with pytest.raises(CorruptMedia):
        fit_clip(src, 1_000, tmp_path / "work")
