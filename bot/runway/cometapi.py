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

from typing import Any

from pydantic import ValidationError

from .errors import BadResponseError, TaskNotVisibleYet
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

    inner = outer.get("data")
    fields: dict[str, Any] = dict(inner) if isinstance(inner, dict) else {}
    if not fields.get("id"):
        fields["id"] = outer.get("task_id") or outer.get("id")

    outer_status = map_outer_status(outer.get("status"))
    inner_status = map_outer_status(fields.get("status"))
    status = inner_status or outer_status
    if (
        outer_status is not None
        and outer_status.terminal
        and (inner_status is None or not inner_status.terminal)
    ):
        status = outer_status
    if status is None:
        raise BadResponseError(f"the gateway's task status {outer.get('status')!r} is unknown")
    fields["status"] = status.value

    if fields.get("progress") is None:
        fields["progress"] = _parse_progress(outer.get("progress"))
    if status is TaskStatus.FAILED and not fields.get("failure"):
        reason = outer.get("fail_reason")
        fields["failure"] = (
            reason if isinstance(reason, str) and reason else "failed at the gateway"
        )
    if status is TaskStatus.SUCCEEDED and not fields.get("output"):
        result_url = outer.get("result_url")
        if isinstance(result_url, str) and result_url:
            fields["output"] = [result_url]
    return _validate(fields)


def created_task_id(body: object) -> str:
    """The new task's id from a create answer: ``{"id"}`` or a wrapped form."""
    if isinstance(body, dict):
        task_id = body.get("id")
        if isinstance(task_id, str) and task_id:
            return task_id
        if is_wrapped(body):
            code = error_code(body)
            if code not in (None, "success"):
                raise BadResponseError(f"the gateway answered {code!r}: {_message(body)[:200]}")
            data = body.get("data")
            if isinstance(data, str) and data:
                return data
            if isinstance(data, dict):
                for key in ("id", "task_id"):
                    value = data.get(key)
                    if isinstance(value, str) and value:
                        return value
    raise BadResponseError("the create answer has no task id")


def _validate(body: object) -> Task:
    try:
        return Task.model_validate(body)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors())
        raise BadResponseError(f"the task answer has an unexpected shape ({fields})") from None
