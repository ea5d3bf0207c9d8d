"""Scripted faults and the auth/version gate of the simulator."""

from __future__ import annotations

import json

import pytest

from bot.simulator.gate import Fault, check_headers, fault_response, take_fault

KEY = "key_" + "ab" * 64
OK = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}


def test_faults_match_by_method_and_prefix_and_are_used_up() -> None:
    post = Fault(method="POST", path_prefix="/v1/image_to_video", status=429, times=2)
    anything = Fault(status=503)
    faults = [post, anything]
    assert take_fault(faults, "GET", "/v1/image_to_video") is anything
    assert faults == [post]
    assert take_fault(faults, "GET", "/v1/tasks/x") is None
    assert take_fault(faults, "POST", "/v1/image_to_video") is post
    assert take_fault(faults, "POST", "/v1/image_to_video") is post
    assert faults == []


def test_fault_responses() -> None:
    limited = fault_response(Fault(status=429, retry_after=2.5))
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "2.5"
    assert fault_response(Fault(status=429, retry_after=3.0)).headers["Retry-After"] == "3"
    plain = fault_response(Fault(status=502))
    assert plain.text is not None and json.loads(plain.text) == {"error": "Bad gateway"}
    raw = fault_response(Fault(status=200, body="{not json"))
    assert raw.text == "{not json"
    assert "Retry-After" not in raw.headers
    assert raw.content_type == "application/json"
    page = fault_response(Fault(status=503, body="<h1>down</h1>", content_type="text/html"))
    assert (page.status, page.content_type, page.text) == (503, "text/html", "<h1>down</h1>")
    latin = fault_response(Fault(status=502, body="x", content_type="text/plain; charset=latin-1"))
    assert latin.headers["Content-Type"] == "text/plain; charset=latin-1"
    assert latin.body == b"x"


@pytest.mark.parametrize(
    ("headers", "method", "provider", "api_key", "expected"),
    [
        (OK, "GET", "runway", None, None),
        ({**OK, "Authorization": "Bearer key_short"}, "GET", "runway", None, 401),
        ({**OK, "Authorization": KEY}, "GET", "runway", None, 401),
        ({"X-Runway-Version": "2024-11-06"}, "GET", "runway", None, 401),
        ({**OK, "Authorization": "Bearer " + KEY.upper()}, "GET", "runway", None, 401),
        (OK, "GET", "runway", "key_" + "cd" * 64, 401),
        ({**OK, "Authorization": "Bearer custom"}, "GET", "runway", "custom", None),
        ({"Authorization": f"Bearer {KEY}"}, "GET", "runway", None, 400),
        ({**OK, "X-Runway-Version": "2025-01-01"}, "POST", "runway", None, 400),
        ({"Authorization": "Bearer sk-1"}, "GET", "cometapi", None, None),
        ({"Authorization": "Bearer sk-1"}, "POST", "cometapi", None, 400),
        ({"Authorization": "Bearer "}, "GET", "cometapi", None, 401),
    ],
)
def test_check_headers(
    headers: dict[str, str], method: str, provider: str, api_key: str | None, expected: int | None
) -> None:
    refused = check_headers(headers, method, provider, api_key)
    if expected is None:
        assert refused is None
        return
    assert refused is not None
    status, body = refused
    assert status == expected
    assert KEY not in json.dumps(body)
    assert "custom" not in json.dumps(body)
