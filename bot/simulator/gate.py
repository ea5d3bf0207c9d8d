"""What happens to a simulator request before a handler sees it: scripted faults, then
the auth and version checks Runway (or CometAPI) makes."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .validation import RUNWAY_VERSION

_RUNWAY_KEY = re.compile(r"^key_[0-9a-f]{128}$")
_MESSAGES = {
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


@dataclass
class Fault:
    """One scripted fault, consumed ``times`` times by matching requests.

    A status below 300 without ``body`` only delays the request, which is then handled
    normally. ``body`` is sent as is with ``content_type`` (e.g. ``text/html`` for a
    proxy's error page); ready-made gateway answers are in ``dialects``.
    """

    method: str = "*"
    path_prefix: str = "/v1/"
    status: int = 500
    retry_after: float | None = None
    times: int = 1
    delay: float = 0.0
    body: str | None = None
    drop_connection: bool = False
    content_type: str = "application/json"


def take_fault(faults: list[Fault], method: str, path: str) -> Fault | None:
    """The first fault matching the request, consumed once (removed when used up)."""
    for fault in faults:
        if fault.method not in ("*", method) or not path.startswith(fault.path_prefix):
            continue
        fault.times -= 1
        if fault.times <= 0:
            faults.remove(fault)
        return fault
    return None


def fault_response(fault: Fault) -> web.Response:
    """The answer a fault scripts: its raw body, or a JSON error; Retry-After when set."""
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        ra = fault.retry_after
        headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
    if fault.body is not None:
        if ";" in fault.content_type:  # parameters given: send the header exactly as written
            headers["Content-Type"] = fault.content_type
            return web.Response(status=fault.status, body=fault.body.encode(), headers=headers)
        return web.Response(
            status=fault.status, text=fault.body, content_type=fault.content_type, headers=headers
        )
    text = _MESSAGES.get(fault.status, f"Simulated error {fault.status}")
    return web.json_response({"error": text}, status=fault.status, headers=headers)


def check_headers(
    headers: Mapping[str, str], method: str, provider: str, api_key: str | None
) -> tuple[int, dict[str, Any]] | None:
    """None when auth and version headers pass, else the (status, body) to answer.

    Any well-formed Runway key (``key_`` + 128 hex) is accepted, or any non-empty key
    for CometAPI, unless ``api_key`` is set (then only that key). The version header is
    required on every call to Runway and on creates through CometAPI.
    """
    auth = headers.get("Authorization", "")
    key = auth[7:].strip() if auth.startswith("Bearer ") else ""
    if api_key is not None:
        good = bool(key) and hmac.compare_digest(key.encode(), api_key.encode())
    elif provider == "runway":
        good = bool(_RUNWAY_KEY.match(key))
    else:
        good = bool(key)
    if not good:
        if provider == "cometapi":
            return 401, {"code": "unauthorized", "message": "invalid api key", "data": None}
        return 401, {"error": "Missing or invalid API key"}
    version = headers.get("X-Runway-Version")
    if (provider == "runway" or method == "POST") and version != RUNWAY_VERSION:
        what = "missing" if version is None else f"{version!r} is not supported"
        return 400, {
            "error": f"X-Runway-Version header {what}; use {RUNWAY_VERSION}",
            "issues": [{"path": ["X-Runway-Version"], "message": f"Expected {RUNWAY_VERSION}"}],
        }
    return None
