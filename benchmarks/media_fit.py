"""The media pipeline on worst-case inputs: noisy stills and busy, high-bitrate clips.

- prepare_image on a 4000x3000 PNG of random noise (the worst case for every compressor):
  it must be downscaled and re-encoded until its data URI fits Runway's 5 MB limit.
- prepare_video on a 12 s 1280x720 clip trimmed to its first 5 s (keep_seconds).
- fit_clip of the same clip (about 15 MiB) to an 8 MiB upload limit.
Reported: seconds per step, input and output sizes, and output size against the target.
Inputs are made here with Pillow and PyAV (random content, seeded sizes).
"""

from __future__ import annotations

import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import _common as c
import av
from PIL import Image

from bot.media import data_uri_length, fit_clip, prepare_image, prepare_video, probe_video
from bot.media.datauri import IMAGE_DATA_URI_LIMIT

MIB = 1024 * 1024


def noise_png(width: int, height: int) -> bytes:
    """A PNG of random pixels."""
    img = Image.frombytes("RGB", (width, height), random.randbytes(width * height * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def busy_video(path: Path, size: tuple[int, int], fps: int, seconds: float) -> None:
    """An H.264 MP4 of blurred block noise, changing every frame (high bitrate at crf 28)."""
    w, h = size
    block = 16
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "28"})
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        for i in range(round(fps * seconds)):
            small = Image.frombytes(
                "RGB", (w // block, h // block), os.urandom((w // block) * (h // block) * 3)
            )
            picture = small.resize((w, h), Image.Resampling.BILINEAR)
            frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def main(quick: bool) -> int:
    random.seed(4000)
    fps = 24
    if quick:
        image_size, video_size, video_s, keep_s, target = (1600, 1200), (640, 360), 4, 2, MIB
    else:
        image_size, video_size, video_s, keep_s, target = (4000, 3000), (1280, 720), 12, 5, 8 * MIB
    results: dict[str, object] = {}

    png = noise_png(*image_size)
    started = time.perf_counter()
    prepared = prepare_image(png, filename="noise.png")
    image_s = time.perf_counter() - started
    uri_len = data_uri_length(prepared.mime, len(prepared.data))
    results["image"] = {
        "input": f"{image_size[0]}x{image_size[1]} noise PNG",
        "input_bytes": len(png),
        "seconds": c.rounded(image_s),
        "output_mime": prepared.mime,
        "output_size": f"{prepared.width}x{prepared.height}",
        "output_bytes": len(prepared.data),
        "data_uri_bytes": uri_len,
        "ratio_data_uri_vs_limit": c.rounded(uri_len / IMAGE_DATA_URI_LIMIT),
    }

    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        src = Path(tmp) / "busy.mp4"
        started = time.perf_counter()
        busy_video(src, video_size, fps, video_s)
        make_s = time.perf_counter() - started
        data = src.read_bytes()

        started = time.perf_counter()
        trimmed = prepare_video(data, filename="busy.mp4", keep_seconds=keep_s)
        trim_s = time.perf_counter() - started
        results["video_trim"] = {
            "input": f"{video_size[0]}x{video_size[1]} {fps} fps {video_s} s H.264",
            "input_bytes": len(data),
            "input_made_in_s": c.rounded(make_s),
            "keep_seconds": keep_s,
            "seconds": c.rounded(trim_s),
            "output_bytes": len(trimmed.data),
            "output_duration_s": c.rounded(trimmed.duration_seconds or 0.0),
            "output_size": f"{trimmed.width}x{trimmed.height}",
            "ratio_output_vs_input_bytes": c.rounded(len(trimmed.data) / len(data)),
            "ratio_seconds_per_kept_second": c.rounded(trim_s / keep_s),
        }

        started = time.perf_counter()
        fitted = fit_clip(src, target, Path(tmp) / "fit")
        fit_s = time.perf_counter() - started
        out_bytes = fitted.stat().st_size
        fits = out_bytes <= target
        info = probe_video(fitted)
        results["fit_clip"] = {
            "input_bytes": len(data),
            "target_bytes": target,
            "seconds": c.rounded(fit_s),
            "output_bytes": out_bytes,
            "output_size": f"{info.width}x{info.height}",
            "output_duration_s": c.rounded(info.duration_seconds),
            "fits": fits,
            "ratio_output_vs_target": c.rounded(out_bytes / target),
            "ratio_seconds_per_clip_second": c.rounded(fit_s / info.duration_seconds),
        }
    c.emit("media_fit", quick, {**results, "peak_rss_kib": c.peak_rss_kib()})
    return 0 if fits and uri_len <= IMAGE_DATA_URI_LIMIT else 1


if __name__ == "__main__":
    args = c.parse_args(__doc__ or "")
    sys.exit(main(args.quick))
