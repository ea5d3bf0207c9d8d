"""Media made by the simulator tests: a patterned PNG and a small H.264 MP4."""

from __future__ import annotations

import io

import av
from PIL import Image, ImageDraw


def make_png(
    size: tuple[int, int] = (800, 600), color: tuple[int, int, int] = (200, 40, 40)
) -> bytes:
    img = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(img)
    w, h = size
    for i in range(0, w, 40):
        draw.line([(i, 0), (i, h)], fill=(255, 255, 255), width=6)
    draw.ellipse([w // 3, h // 3, 2 * w // 3, 2 * h // 3], fill=(20, 20, 220))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def make_mp4(size: tuple[int, int] = (320, 180), seconds: float = 2.0, fps: int = 10) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(int(seconds * fps)):
            img = Image.new("RGB", size, (i * 12 % 256, 90, 160))
            ImageDraw.Draw(img).rectangle([0, 0, size[0] // 4, size[1] // 2], fill=(250, 250, 0))
            frame = av.VideoFrame.from_image(img)  # type: ignore[no-untyped-call]
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()
