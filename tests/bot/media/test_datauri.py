from __future__ import annotations

import base64

import pytest

from bot.domain import InputRole, JobInput
from bot.media.datauri import (
    IMAGE_DATA_URI_LIMIT,
    VIDEO_DATA_URI_LIMIT,
    data_uri_fits,
    data_uri_length,
    max_raw_bytes,
    to_data_uri,
)


def item(mime: str, size: int) -> JobInput:
    role = InputRole.VIDEO if mime.startswith("video/") else InputRole.IMAGE
    return JobInput(role=role, mime=mime, data=b"\x07" * size)


def test_data_uri_round_trips() -> None:
    data = bytes(range(256)) * 3
    uri = to_data_uri(JobInput(role=InputRole.IMAGE, mime="image/png", data=data))
    prefix, encoded = uri.split(",", 1)
    assert prefix == "data:image/png;base64"
    assert base64.b64decode(encoded) == data


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 1000, 12345])
def test_length_matches_the_real_uri(size: int) -> None:
    assert data_uri_length("image/jpeg", size) == len(to_data_uri(item("image/jpeg", size)))


@pytest.mark.parametrize(
    ("mime", "limit"), [("image/jpeg", IMAGE_DATA_URI_LIMIT), ("video/mp4", VIDEO_DATA_URI_LIMIT)]
)
def test_fits_exactly_up_to_the_limit(mime: str, limit: int) -> None:
    largest = max_raw_bytes(mime)
    assert data_uri_length(mime, largest) <= limit < data_uri_length(mime, largest + 3)
    assert data_uri_fits(item(mime, largest))
    assert not data_uri_fits(item(mime, largest + 3))


def test_limits_are_runways() -> None:
    assert IMAGE_DATA_URI_LIMIT == 5_000_000
    assert VIDEO_DATA_URI_LIMIT == 16_000_000
