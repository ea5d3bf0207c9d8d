"""The CometAPI gateway's dialects for the simulator (CometAPI behaves like the open-source
new-api gateway): the shapes of its create answers, how its wrapped task GET can look, and
its error answers as ready-made faults.

Per task, ``[sim:create=...]``, ``[sim:inner=...]``, ``[sim:url=...]`` and ``[sim:sweep]``
(see the simulator's module docstring) pick the shape; :func:`create_body` and
:func:`reshape_task_dto` write it. The fault helpers return a :class:`Fault` to pass to
``RunwaySimulator.add_fault`` (or ``POST /_sim/gateway-faults``); each takes the usual
matching fields as keywords (``method``, ``path_prefix``, ``times``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .gate import Fault
from .tasks import Directives
from .wire import credits_value

__all__ = [
    "GATEWAY_FAULTS",
    "create_body",
    "delete_not_routed_404",
    "fail_to_fetch",
    "final_429",
    "gateway_content_path",
    "html_503",
    "insufficient_quota_403",
    "invalid_key_401",
    "invalid_url_body",
    "new_api_error",
    "no_channel_503",
    "reshape_task_dto",
    "runway_503",
    "runway_daily_limit_429",
]

HTML_503 = "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
RUNWAY_DAILY_LIMIT = "You have exceeded your daily task limit. The limit resets at midnight UTC."


# ---- create answers ----------------------------------------------------------------------


def create_body(
    shape: str | None, task_id: str, *, model: str, estimated: float, created_wall: float
) -> dict[str, Any]:
    """The body of a 200 create answer in ``shape`` (None or ``id``: ``{"id": ...}``)."""
    if shape == "id_cost":
        return {"id": task_id, "estimatedCost": {"credits": credits_value(estimated)}}
    if shape == "task_id":
        return {"task_id": task_id}
    if shape == "openai_video":
        return {
            "id": task_id,
            "task_id": task_id,
            "object": "video",
            "model": model,
            "status": "queued",
            "progress": 0,
            "created_at": int(created_wall),
        }
    if shape == "envelope_str":
        return {"code": "success", "message": "", "data": task_id}
    if shape == "envelope_obj":
        return {
            "code": "success",
            "message": "",
            "data": {"task_id": task_id, "status": "SUBMITTED"},
        }
    if shape == "empty":
        return {}
    return {"id": task_id}


# ---- the wrapped task GET ------------------------------------------------------------------


def gateway_content_path(task_id: str) -> str:
    """The path of the gateway's own clip route for a task."""
    return f"/v1/videos/{task_id}/content"


def reshape_task_dto(
    dto: dict[str, Any],
    d: Directives,
    *,
    first_inner: dict[str, Any],
    last_inner: dict[str, Any] | None,
    gateway_url: str,
) -> None:
    """Rewrite the wrapped GET's TaskDto (``body["data"]``) in place per the directives.

    ``first_inner`` is the first raw task the gateway saw (PENDING), ``last_inner`` the
    last unfinished one it answered (None if none yet).
    """
    raw = dto.get("data")
    url = None
    if isinstance(raw, dict) and dto.get("status") == "SUCCESS":
        output = raw.get("output")
        url = output[0] if isinstance(output, list) and output else None
    if d.inner == "null":
        inner: dict[str, Any] | None = None
    elif d.inner == "stale":
        inner = dict(first_inner)
    elif d.sweep:
        inner = dict(last_inner if last_inner is not None else first_inner)
    else:
        inner = raw
    place = d.url or "output"
    if url is not None and place != "output":
        if isinstance(inner, dict):
            inner = {k: v for k, v in inner.items() if k != "output"}
        if place == "result_url":
            dto["result_url"] = url
        elif place == "fail_reason":
            dto["fail_reason"] = url
        else:
            dto["result_url"] = gateway_url
    dto["data"] = inner


# ---- gateway error answers as faults -------------------------------------------------------


def new_api_error(message: str, type_: str = "new_api_error", code: str = "") -> dict[str, Any]:
    """The OpenAI-style error body the gateway writes."""
    return {"error": {"message": message, "type": type_, "param": "", "code": code}}


def invalid_url_body(method: str, path: str) -> dict[str, Any]:
    """The gateway's answer (HTTP 404) for a route it does not have."""
    return new_api_error(f"Invalid URL ({method} {path})", "invalid_request_error")


def _fault(
    status: int,
    body: Any,
    *,
    method: str,
    path_prefix: str,
    times: int,
    content_type: str = "application/json",
) -> Fault:
    text = body if isinstance(body, str) else json.dumps(body)
    return Fault(
        method=method,
        path_prefix=path_prefix,
        status=status,
        times=times,
        body=text,
        content_type=content_type,
    )


def no_channel_503(
    model: str, *, method: str = "POST", path_prefix: str = "/v1/", times: int = 1
) -> Fault:
    """503: the gateway has no channel for ``model`` (nothing was sent upstream)."""
    message = f"No available channel for model {model} under group default"
    body = new_api_error(message, code="model_not_found")
    return _fault(503, body, method=method, path_prefix=path_prefix, times=times)


def html_503(*, method: str = "*", path_prefix: str = "/v1/", times: int = 1) -> Fault:
    """503 with a proxy's HTML page (a load balancer in front of the gateway)."""
    return _fault(
        503, HTML_503, method=method, path_prefix=path_prefix, times=times, content_type="text/html"
    )


def runway_503(*, method: str = "*", path_prefix: str = "/v1/", times: int = 1) -> Fault:
    """503 with Runway's own load-shedding JSON, passed through the gateway."""
    body = {"error": "Service temporarily unavailable"}
    return _fault(503, body, method=method, path_prefix=path_prefix, times=times)


def fail_to_fetch(
    status: int,
    upstream_text: str,
    *,
    method: str = "GET",
    path_prefix: str = "/v1/tasks/",
    times: int = 1,
) -> Fault:
    """The gateway could not fetch the task upstream: ``fail_to_fetch_task`` with ``status``."""
    body = {"code": "fail_to_fetch_task", "message": upstream_text, "data": None}
    return _fault(status, body, method=method, path_prefix=path_prefix, times=times)


def insufficient_quota_403(
    *, method: str = "POST", path_prefix: str = "/v1/", times: int = 1
) -> Fault:
    """403: the gateway account's balance is exhausted."""
    body = new_api_error("user quota is not enough", code="insufficient_user_quota")
    return _fault(403, body, method=method, path_prefix=path_prefix, times=times)


def invalid_key_401(*, method: str = "*", path_prefix: str = "/v1/", times: int = 1) -> Fault:
    """401: the gateway key is invalid or exhausted (creates and polls alike)."""
    body = new_api_error("invalid token")
    return _fault(401, body, method=method, path_prefix=path_prefix, times=times)


def final_429(*, method: str = "POST", path_prefix: str = "/v1/", times: int = 1) -> Fault:
    """429 without Retry-After: the gateway already retried its other channels."""
    body = new_api_error("upstream rate limited, please retry later", code="rate_limit_exceeded")
    return _fault(429, body, method=method, path_prefix=path_prefix, times=times)


def runway_daily_limit_429(
    *, method: str = "POST", path_prefix: str = "/v1/", times: int = 1
) -> Fault:
    """Runway's 429 on create once the organization's daily generation limit is reached."""
    body = {"error": RUNWAY_DAILY_LIMIT}
    return _fault(429, body, method=method, path_prefix=path_prefix, times=times)


def delete_not_routed_404(path: str = "/v1/tasks/", *, times: int = 1) -> Fault:
    """404 "Invalid URL" for DELETEs under ``path``: the gateway does not route DELETE."""
    body = invalid_url_body("DELETE", path)
    return _fault(404, body, method="DELETE", path_prefix=path, times=times)


GATEWAY_FAULTS: dict[str, Callable[..., Fault]] = {
    f.__name__: f
    for f in (
        no_channel_503,
        html_503,
        runway_503,
        fail_to_fetch,
        insufficient_quota_403,
        invalid_key_401,
        final_429,
        runway_daily_limit_429,
        delete_not_routed_404,
    )
}
"""The helpers by name, for ``POST /_sim/gateway-faults``."""
