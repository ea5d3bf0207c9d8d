"""The bundled samples: present, small, and real media the bot accepts."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from bot.playground.samples import IMAGE_SIZE, SAMPLES, draw_image, sample
from bot.simulator.clipmaker import probe_seconds


def test_the_samples_are_small() -> None:
    assert sum(s.path.stat().st_size for s in SAMPLES) < 300 * 1024


def test_the_image_is_a_png_of_the_drawn_size() -> None:
    with Image.open(BytesIO(sample("image").read())) as img:
        assert (img.format, img.size) == ("PNG", IMAGE_SIZE)
    with Image.open(BytesIO(draw_image())) as fresh:  # the drawing code still makes one
        assert (fresh.format, fresh.size) == ("PNG", IMAGE_SIZE)


def test_the_clip_is_a_two_second_video() -> None:
    assert sample("clip").content_type == "video/mp4"
    assert probe_seconds(sample("clip").read()) == pytest.approx(2.0, abs=0.1)


def test_an_unknown_sample_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="there are: image, clip"):
        sample("nope")
