"""The playground's bundled samples: a picture to animate and a clip to restyle, so it works
offline on a fresh machine. Both were made by this module (``python -m bot.playground.samples``
rewrites them) and are under the project's licence."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
IMAGE_SIZE = (768, 432)


@dataclass(frozen=True)
class Sample:
    """One bundled file, offered by name on the page."""

    name: str
    filename: str
    content_type: str
    title: str

    @property
    def path(self) -> Path:
        return SAMPLES_DIR / self.filename

    def read(self) -> bytes:
        return self.path.read_bytes()


SAMPLES: tuple[Sample, ...] = (
    Sample("image", "sunset-lighthouse.png", "image/png", "Lighthouse at sunset (image)"),
    Sample("clip", "sunset-lighthouse.mp4", "video/mp4", "Lighthouse at sunset (clip)"),
)


def sample(name: str) -> Sample:
    """The sample called ``name``; ``KeyError`` names the ones there are."""
    for item in SAMPLES:
        if item.name == name:
            return item
    raise KeyError(f"no sample {name!r} (there are: {', '.join(s.name for s in SAMPLES)})")


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def draw_image() -> bytes:
    """A lighthouse on a cliff at sunset over the sea, as a PNG."""
    width, height = IMAGE_SIZE
    horizon = int(height * 0.62)
    img = Image.new("RGB", IMAGE_SIZE)
    draw = ImageDraw.Draw(img)
    for y in range(horizon):  # sky: deep violet to orange
        draw.line([(0, y), (width, y)], fill=_mix((46, 34, 94), (250, 152, 84), y / horizon))
    sun = (int(width * 0.34), horizon - 18)
    draw.ellipse([sun[0] - 52, sun[1] - 52, sun[0] + 52, sun[1] + 52], fill=(255, 214, 120))
    for y in range(horizon, height):  # sea: orange glow to dark blue
        t = (y - horizon) / (height - horizon)
        draw.line([(0, y), (width, y)], fill=_mix((196, 110, 92), (22, 36, 72), t**0.6))
    for i in range(14):  # the sun's path on the water
        y = horizon + 6 + i * 9
        half = 46 - i * 3
        draw.line([(sun[0] - half, y), (sun[0] + half, y)], fill=(255, 196, 120), width=2)
    cliff = [(width * 0.62, height), (width * 0.70, horizon - 30), (width * 0.86, horizon - 44)]
    cliff += [(width, horizon - 36), (width, height)]
    draw.polygon([(round(x), round(y)) for x, y in cliff], fill=(34, 26, 44))
    base_x, base_y = int(width * 0.78), horizon - 42
    tower = [(base_x - 16, base_y), (base_x - 10, base_y - 120)]
    tower += [(base_x + 10, base_y - 120), (base_x + 16, base_y)]
    draw.polygon(tower, fill=(238, 232, 226))
    for k in range(3):  # red bands
        top, inset = base_y - 30 - k * 34, k * 2
        band = [base_x - 15 + inset, top - 12, base_x + 15 - inset, top]
        draw.rectangle(band, fill=(196, 58, 62))
    draw.rectangle([base_x - 13, base_y - 140, base_x + 13, base_y - 120], fill=(255, 236, 150))
    draw.polygon(
        [(base_x - 16, base_y - 140), (base_x, base_y - 160), (base_x + 16, base_y - 140)],
        fill=(60, 44, 62),
    )
    for side in (-1, 1):  # the beam
        tip = (base_x + side * 210, base_y - 150 + side * 8)
        beam = [(base_x, base_y - 130), (tip[0], tip[1] - 16), (tip[0], tip[1] + 16)]
        overlay = Image.new("RGBA", IMAGE_SIZE, (0, 0, 0, 0))
        ImageDraw.Draw(overlay).polygon(beam, fill=(255, 240, 170, 70))
        img.paste(overlay, (0, 0), overlay)
    for n in range(5):  # gulls
        gx, gy = 90 + n * 57, 70 + int(22 * math.sin(n * 1.7))
        draw.arc([gx - 9, gy - 5, gx, gy + 5], 200, 340, fill=(40, 30, 60), width=2)
        draw.arc([gx, gy - 5, gx + 9, gy + 5], 200, 340, fill=(40, 30, 60), width=2)
    out = BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def make_clip(image: bytes) -> bytes:
    """Two seconds of the simulator's zoom over ``image`` (H.264 MP4)."""
    from bot.simulator.clipmaker import image_to_video_clip

    return image_to_video_clip(image, ratio="16:9", duration=2.0, seed=1)


def write_samples() -> list[Path]:
    """(Re)make every sample file in ``SAMPLES_DIR``."""
    SAMPLES_DIR.mkdir(parents=True, exist_ok=True)
    image = draw_image()
    sample("image").path.write_bytes(image)
    sample("clip").path.write_bytes(make_clip(image))
    return [s.path for s in SAMPLES]


if __name__ == "__main__":
    for written in write_samples():
        print(f"{written.name}: {written.stat().st_size} bytes", file=sys.stderr)
