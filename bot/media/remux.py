"""Copy a video's picture into a fresh MP4, leaving everything else behind.

A phone's clip carries more than its pictures: the place it was filmed (GPS in the MP4's
``udta``/``meta`` boxes), the device, names, a sound track and sometimes data or subtitle
streams. None of it is needed by Runway, which only reads the frames. :func:`video_only`
copies the video stream's packets as they are (no re-encoding, so no quality is lost and it
takes milliseconds) into a new MP4 that has no metadata of its own.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import av

from bot.media.errors import MediaError
from bot.media.probe import open_input

__all__ = ["video_only"]


def video_only(data: bytes) -> bytes | None:
    """``data``'s first video stream alone in a new MP4, packets copied; container and
    stream metadata, sound and any other stream are dropped. None when the file cannot be
    remuxed (the caller re-encodes it instead)."""
    try:
        return _remux(data)
    except (av.FFmpegError, MediaError, OSError, ValueError, EOFError):
        return None


def _remux(data: bytes) -> bytes | None:
    with tempfile.TemporaryDirectory(prefix="remux-") as tmp:
        dest = Path(tmp) / "out.mp4"
        with (
            open_input(data) as inp,
            av.open(str(dest), "w", format="mp4", options={"movflags": "+faststart"}) as out,
        ):
            if not inp.streams.video:
                return None
            vin = inp.streams.video[0]
            vout = out.add_stream_from_template(vin)
            vout.metadata.clear()  # the template copies the handler name, language, ...
            copied = 0
            for packet in inp.demux(vin):
                if packet.dts is None:  # the demuxer's empty flush packet
                    continue
                packet.stream = vout
                out.mux(packet)
                copied += 1
        return dest.read_bytes() if copied else None
