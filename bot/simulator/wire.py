"""How the simulator writes tasks on the wire: Runway's raw task and CometAPI's wrapper."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..runway.models import TaskStatus
from .tasks import SimTask

COMET_STATUS = {
    TaskStatus.PENDING: "SUBMITTED",
    TaskStatus.THROTTLED: "QUEUED",
    TaskStatus.RUNNING: "IN_PROGRESS",
    TaskStatus.SUCCEEDED: "SUCCESS",
    TaskStatus.FAILED: "FAILURE",
    TaskStatus.CANCELLED: "FAILURE",
}


def iso_time(ts: float) -> str:
    """A Unix time as Runway writes it: ISO 8601, milliseconds, ``Z``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def credits_value(value: float) -> int | float:
    """Credits as a JSON number: an integer when whole."""
    return int(value) if float(value).is_integer() else round(value, 2)


def task_body(
    task: SimTask,
    status: TaskStatus,
    *,
    created_wall: float,
    estimated: float,
    progress: float,
    output_url: str | None,
) -> dict[str, Any]:
    """The raw task of ``GET /v1/tasks/{id}`` (the fields the official SDK requires per status)."""
    body: dict[str, Any] = {
        "id": task.id,
        "status": status.value,
        "createdAt": iso_time(created_wall),
    }
    if not status.terminal:
        body["estimatedCost"] = {"credits": credits_value(estimated)}
        if status is TaskStatus.RUNNING:
            body["progress"] = progress
        return body
    body["cost"] = {"credits": round(estimated) if status is TaskStatus.SUCCEEDED else 0}
    if status is TaskStatus.SUCCEEDED:
        body["output"] = [output_url]
    elif status is TaskStatus.FAILED:
        body["failure"] = task.failure or "The task failed."
        if task.failure_code is not None:  # a gateway timeout sweep has none
            body["failureCode"] = task.failure_code
    return body


def comet_wrap(
    task: SimTask, raw: dict[str, Any], *, action: str, wall: dict[str, float | None]
) -> dict[str, Any]:
    """CometAPI's envelope around a raw task; ``wall`` maps submit/start/finish to Unix times."""
    status = TaskStatus(raw["status"])
    progress = 100 if status.terminal else int(raw.get("progress", 0.0) * 100)

    def stamp(key: str) -> int:
        value = wall.get(key)
        return int(value) if value is not None else 0

    return {
        "code": "success",
        "message": "",
        "data": {
            "task_id": task.id,
            "action": action,
            "status": COMET_STATUS[status],
            "fail_reason": raw.get("failure", ""),
            "submit_time": stamp("submit"),
            "start_time": stamp("start"),
            "finish_time": stamp("finish"),
            "progress": f"{progress}%",
            "data": raw,
        },
    }


def comet_task_not_exist() -> dict[str, Any]:
    """CometAPI's answer (HTTP 400) for a task it cannot see (yet)."""
    return {"code": "task_not_exist", "message": "task_not_exist", "data": None}
