"""The CometAPI gateway's dialect of the Runway API.

CometAPI serves Runway's paths under its own base (``https://api.cometapi.com/runwayml``)
and may answer a task GET in a wrapper::

    {"code": "success", "message": "", "data": {"task_id": "...", "status": "QUEUED",
     "fail_reason": "", "progress": "0%", "data": {<the raw Runway task>}}}

The raw inner task is preferred; the outer status is mapped when the inner one is
missing, or when the gateway has already settled the task (FAILURE/SUCCESS) while
the inner copy is stale. Errors come as ``{"code": ..., "message": ..., "data": null}``;
``task_not_exist`` right after a create means "not visible yet", not "gone".
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from .errors import BadResponseError, MissingTaskIdError, TaskNotVisibleYet
from .models import Task, TaskStatus

BASE_URL = "https://api.cometapi.com/runwayml"
TASK_NOT_EXIST = "task_not_exist"

OUTER_STATUSES: dict[str, TaskStatus] = {
    "NOT_START": TaskStatus.PENDING,
    "SUBMITTED": TaskStatus.PENDING,
    "QUEUED": TaskStatus.PENDING,
    # The gateway does not know either; keep polling until the caller's deadline.
    "UNKNOWN": TaskStatus.PENDING,
    "IN_PROGRESS": TaskStatus.RUNNING,
    "SUCCESS": TaskStatus.SUCCEEDED,
    "FAILURE": TaskStatus.FAILED,
}


def map_outer_status(value: object) -> TaskStatus | None:
    """The Runway status for a gateway status (Runway's own names pass through), or None."""
    if not isinstance(value, str):
        return None
    name = value.strip().upper()
    if name in OUTER_STATUSES:
        return OUTER_STATUSES[name]
    try:
        return TaskStatus(name)
    except ValueError:
        return None


def error_code(body: object) -> str | None:
    """The ``code`` of a CometAPI error body, if it is one."""
    if isinstance(body, dict):
        code = body.get("code")
        if isinstance(code, str) and code:
            return code
    return None


def is_task_not_exist(body: object) -> bool:
    """True for CometAPI's ``task_not_exist`` answer."""
    return error_code(body) == TASK_NOT_EXIST


def is_wrapped(body: object) -> bool:
    """True when ``body`` is the gateway's envelope rather than a raw Runway task."""
    if not isinstance(body, dict) or "code" not in body:
        return False
    return not ("id" in body and "status" in body)


def _parse_progress(value: object) -> float | None:
    """A 0..1 fraction from ``"42%"``, ``42`` or ``0.42``."""
    number: float
    if isinstance(value, str):
        text = value.strip().rstrip("%").strip()
        if not text:
            return None
        try:
            number = float(text) / 100.0
        except ValueError:
            return None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value) / 100.0 if value > 1 else float(value)
    else:
        return None
    return min(1.0, max(0.0, number))


def _message(body: dict[str, Any]) -> str:
    message = body.get("message")
    return message if isinstance(message, str) else ""


def unwrap_task(body: object) -> Task:
    """A Task from a raw or wrapped task body.

    Raises TaskNotVisibleYet for ``task_not_exist`` and BadResponseError for any
    shape it cannot read.
    """
    if not is_wrapped(body):
        return _validate(body)
    assert isinstance(body, dict)
    code = error_code(body)
    if code == TASK_NOT_EXIST:
        raise TaskNotVisibleYet(
            f"the task is not visible at the gateway yet ({_message(body) or code})", status=None
        )
    if code not in (None, "success"):
        raise BadResponseError(f"the gateway answered {code!r}: {_message(body)[:200]}")
    outer = body.get("data")
    if not isinstance(outer, dict):
        raise BadResponseError("the gateway's task answer has no task in it")

    inner = _inner_task(outer.get("data"))
    fields: dict[str, Any] = dict(inner) if inner is not None else {}
    fields["id"] = str(fields.get("id") or outer.get("task_id") or outer.get("id") or "")
    status = _freshest_status(map_outer_status(outer.get("status")), fields.get("status"))
    if status is None:
        raise BadResponseError(f"the gateway's task status {outer.get('status')!r} is unknown")
    fields["status"] = status.value

    outer_progress = _parse_progress(outer.get("progress"))
    inner_progress = fields.get("progress")
    if not isinstance(inner_progress, int | float) or isinstance(inner_progress, bool):
        inner_progress = None
    known = [p for p in (inner_progress, outer_progress) if p is not None]
    fields["progress"] = max(known) if known and not status.terminal else inner_progress
    reason = outer.get("fail_reason")
    reason = reason.strip() if isinstance(reason, str) else ""
    if status is TaskStatus.FAILED and not fields.get("failure"):
        fields["failure"] = reason or "failed at the gateway"
    if status is TaskStatus.SUCCEEDED and not fields.get("output"):
        url = success_url(outer.get("result_url"), reason)
        if url is not None:
            fields["output"] = [url]
    return _validate(fields)


_RANK = {
    TaskStatus.PENDING: 0,
    TaskStatus.THROTTLED: 1,
    TaskStatus.RUNNING: 2,
    TaskStatus.SUCCEEDED: 3,
    TaskStatus.FAILED: 3,
    TaskStatus.CANCELLED: 3,
}


def _freshest_status(outer: TaskStatus | None, inner_value: object) -> TaskStatus | None:
    """The later of the outer and inner statuses (the inner copy may lag behind the
    gateway's own record); when both are final, the inner raw task wins."""
    inner = map_outer_status(inner_value)
    if inner is None or outer is None:
        return inner or outer
    return outer if _RANK[outer] > _RANK[inner] else inner


def _inner_task(value: object) -> dict[str, Any] | None:
    """The raw upstream task in the gateway's ``data.data`` (an object, JSON text, or null)."""
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def success_url(result_url: object, fail_reason: str) -> str | None:
    """The finished video's URL from the gateway's ``result_url``, or (older versions) an
    http(s) URL the gateway left in ``fail_reason``."""
    for candidate in (result_url, fail_reason):
        if isinstance(candidate, str) and candidate.strip().startswith(("https://", "http://")):
            return candidate.strip()
    return None


def created_task_id(body: object) -> str:
    """The new task's id from any create answer the gateway gives.

    ``{"id"}``, ``{"id", "estimatedCost"}``, ``{"task_id"}``, an OpenAI-video object
    ``{"id", "task_id", "object": "video"}`` (``task_id`` wins: the gateway's own id, which
    its task GET takes), or an envelope whose ``data`` is the id or such an object. Raises
    MissingTaskIdError for an answer that names no task (CometAPI documents ``{}``): the
    task may run and be billed all the same.
    """
    if is_wrapped(body):
        assert isinstance(body, dict)
        code = error_code(body)
        if code not in (None, "success"):
            raise BadResponseError(f"the gateway answered {code!r}: {_message(body)[:200]}")
        body = body.get("data")
        if isinstance(body, str | int) and not isinstance(body, bool) and str(body).strip():
            return str(body).strip()
    if isinstance(body, dict):
        for key in ("task_id", "id"):
            value = body.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                return str(value).strip()
    raise MissingTaskIdError(
        "the gateway accepted the create but its answer names no task, so it cannot be followed"
    )


def _validate(body: object) -> Task:
    try:
        return Task.model_validate(body)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors())
        raise BadResponseError(f"the task answer has an unexpected shape ({fields})") from None
