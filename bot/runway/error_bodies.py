"""What an error answer's body says, across Runway's and the gateway's dialects.

Runway answers ``{"error": "text", "issues": [...]}``. The CometAPI gateway (new-api's relay)
answers task errors as ``{"code": "...", "message": "...", "data": null}`` and its own
refusals OpenAI-style, ``{"error": {"message", "type": "new_api_error", "code"}}``. Anything
else (an HTML page, an empty body) comes from something in between and says nothing about
whether the request went on. See docs/providers.md for the sources.
"""

from __future__ import annotations

import json
from typing import Any

GATEWAY_ERROR_TYPE = "new_api_error"
BALANCE_EXHAUSTED_CODES = frozenset({"insufficient_user_quota", "insufficient_quota"})
UPSTREAM_REFUSED = "fail_to_fetch_task"


def _error_object(body: object) -> dict[str, Any] | None:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def is_runway_error(body: object) -> bool:
    """Runway's own JSON error: ``{"error": "text", ...}``."""
    return isinstance(body, dict) and isinstance(body.get("error"), str)


def is_gateway_refusal(body: object) -> bool:
    """The gateway's own OpenAI-style error (it answered without asking Runway)."""
    error = _error_object(body)
    return error is not None and error.get("type") == GATEWAY_ERROR_TYPE


def codes(body: object) -> set[str]:
    """Every machine code the body carries (top-level ``code`` and ``error.code``)."""
    found: set[str] = set()
    if isinstance(body, dict) and isinstance(body.get("code"), str) and body["code"]:
        found.add(body["code"])
    error = _error_object(body)
    if error is not None and isinstance(error.get("code"), str) and error["code"]:
        found.add(error["code"])
    return found


def upstream_body(body: object) -> object:
    """The upstream (Runway) body a gateway ``fail_to_fetch_task`` answer carries as text."""
    if not (isinstance(body, dict) and body.get("code") == UPSTREAM_REFUSED):
        return None
    message = body.get("message")
    if not isinstance(message, str):
        return None
    try:
        return json.loads(message)
    except ValueError:
        return None


def is_load_shedding(body: object) -> bool:
    """A 503 body that surely means "refused before any work": Runway's JSON error (directly
    or relayed by the gateway), or the gateway's own refusal (no channel for the model)."""
    return is_runway_error(body) or is_gateway_refusal(body) or is_runway_error(upstream_body(body))


def is_balance_exhausted(body: object) -> bool:
    """The account's balance is used up (the gateway's ``insufficient_user_quota``)."""
    return bool(codes(body) & BALANCE_EXHAUSTED_CODES)


def is_daily_limit(body: object, raw: str) -> bool:
    """Runway's 429 for an exhausted daily generation limit (its text names the day)."""
    texts = [raw]
    if isinstance(body, dict):
        texts += [str(body.get("error") or ""), str(body.get("message") or "")]
        upstream = upstream_body(body)
        if isinstance(upstream, dict):
            texts.append(str(upstream.get("error") or ""))
    return any("daily" in text.lower() for text in texts)
