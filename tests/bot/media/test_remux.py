"""Remuxing keeps a video's encoded pictures and drops everything else."""

from __future__ import annotations

import io

import av

from bot.media.probe import probe_video
from bot.media.remux import video_only
from tests.bot.media.conftest import MakeVideo, video_packets

TAGS = {"title": "a walk past my house", "artist": "Alice Example", "comment": "phone 15"}


def test_only_the_video_stream_is_kept_packet_for_packet(make_video: MakeVideo) -> None:
    data = make_video("in.mp4", size=(96, 64), seconds=2, audio=True, tags=TAGS).read_bytes()
    out = video_only(data)
    assert out is not None
    assert video_packets(out) == video_packets(data)
    with av.open(io.BytesIO(out)) as container:
        assert [s.type for s in container.streams] == ["video"]
        assert not set(TAGS) & set(container.metadata)
    for value in TAGS.values():
        assert value.encode() not in out
    before, after = probe_video(data), probe_video(out)
    assert (after.frames, after.width, after.height) == (before.frames, 96, 64)
    assert abs(after.duration_seconds - before.duration_seconds) < 0.05
    assert len(out) < len(data)  # the sound track is gone


def test_what_cannot_be_remuxed_is_left_to_the_re_encoder(make_video: MakeVideo) -> None:
    sound_only = make_video("sound.mp4", video=False, audio=True).read_bytes()
    assert video_only(sound_only) is None
    assert video_only(b"this is not a video at all") is None
    assert video_only(b"") is None
