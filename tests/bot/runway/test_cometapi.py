"""CometAPI dialect: wrapped task answers, outer statuses, task_not_exist, create ids.

Samples are the ones recorded in RUNWAY-API.md (CometAPI docs and Runway's task object).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.runway.cometapi import (
    created_task_id,
    is_task_not_exist,
    is_wrapped,
    map_outer_status,
    unwrap_task,
)
from bot.runway.errors import BadResponseError, TaskNotVisibleYet
from bot.runway.models import TaskStatus

WRAPPED_QUEUED = json.loads(
    """{"code": "success", "message": "", "data": {"task_id": "3d95", "action": "IMAGE_TO_VIDEO",
 "status": "QUEUED", "fail_reason": "", "submit_time": 1773366766, "start_time": 0,
 "finish_time": 0, "progress": "0%", "data": {"id": "3d95", "status": "PENDING",
 "createdAt": "2026-03-13T09:52:46+08:00"}}}"""
)
TASK_NOT_EXIST = {"code": "task_not_exist", "message": "task not exist", "data": None}
RAW_RUNNING = {
    "id": "d2e3",
    "status": "RUNNING",
    "createdAt": "2024-06-27T19:49:32.335Z",
    "progress": 0.42,
    "estimatedCost": {"credits": 25},
}
RAW_SUCCEEDED = {
    "id": "d2e3",
    "status": "SUCCEEDED",
    "createdAt": "2024-06-27T19:49:32.335Z",
    "output": ["https://example.invalid/a.mp4?_jwt=x"],
    "cost": {"credits": 25},
}
RAW_FAILED = {
    "id": "d2e3",
    "status": "FAILED",
    "createdAt": "2024-06-27T19:49:32.335Z",
    "failure": "human text",
    "failureCode": "SAFETY.INPUT.TEXT",
    "cost": {"credits": 0},
}


def wrap(outer_status: str, inner: dict[str, Any] | None, **outer: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"task_id": "t-1", "status": outer_status, **outer}
    if inner is not None:
        data["data"] = inner
    return {"code": "success", "message": "", "data": data}


@pytest.mark.parametrize(
    ("outer", "expected"),
    [
        ("NOT_START", TaskStatus.PENDING),
        ("SUBMITTED", TaskStatus.PENDING),
        ("QUEUED", TaskStatus.PENDING),
        ("UNKNOWN", TaskStatus.PENDING),
        ("IN_PROGRESS", TaskStatus.RUNNING),
        ("SUCCESS", TaskStatus.SUCCEEDED),
        ("FAILURE", TaskStatus.FAILED),
        ("THROTTLED", TaskStatus.THROTTLED),
        ("cancelled", TaskStatus.CANCELLED),
        ("WHATEVER", None),
        (None, None),
        (3, None),
    ],
)
def test_map_outer_status(outer: object, expected: TaskStatus | None) -> None:
    assert map_outer_status(outer) == expected


def test_documented_wrapped_sample_prefers_the_inner_task() -> None:
    assert is_wrapped(WRAPPED_QUEUED)
    task = unwrap_task(WRAPPED_QUEUED)
    assert task.id == "3d95"
    assert task.status is TaskStatus.PENDING
    assert task.created_at is not None and task.created_at.utcoffset() is not None
    assert task.progress == 0.0


@pytest.mark.parametrize("raw", [RAW_RUNNING, RAW_SUCCEEDED, RAW_FAILED])
def test_raw_tasks_pass_through(raw: dict[str, Any]) -> None:
    assert not is_wrapped(raw)
    task = unwrap_task(raw)
    assert task.id == "d2e3"
    assert task.status == TaskStatus(raw["status"])


def test_raw_task_fields_are_read() -> None:
    running = unwrap_task(RAW_RUNNING)
    assert running.progress == 0.42
    assert running.estimated_cost is not None and running.estimated_cost.credits == 25
    done = unwrap_task(RAW_SUCCEEDED)
    assert done.output == ["https://example.invalid/a.mp4?_jwt=x"]
    assert done.cost is not None and done.cost.credits == 25
    failed = unwrap_task(RAW_FAILED)
    assert (failed.failure, failed.failure_code) == ("human text", "SAFETY.INPUT.TEXT")


@pytest.mark.parametrize("raw", [RAW_RUNNING, RAW_SUCCEEDED, RAW_FAILED])
def test_wrapped_inner_task_keeps_every_field(raw: dict[str, Any]) -> None:
    outer = {"RUNNING": "IN_PROGRESS", "SUCCEEDED": "SUCCESS", "FAILED": "FAILURE"}[raw["status"]]
    assert unwrap_task(wrap(outer, raw)) == unwrap_task(raw)


def test_outer_status_is_used_without_an_inner_task() -> None:
    task = unwrap_task(wrap("IN_PROGRESS", None, progress="37%"))
    assert task.id == "t-1"
    assert task.status is TaskStatus.RUNNING
    assert task.progress == pytest.approx(0.37)


def test_inner_throttled_beats_outer_queued() -> None:
    task = unwrap_task(wrap("QUEUED", {"id": "t-1", "status": "THROTTLED"}))
    assert task.status is TaskStatus.THROTTLED


def test_settled_outer_failure_wins_over_a_stale_inner_task() -> None:
    task = unwrap_task(
        wrap("FAILURE", {"id": "t-1", "status": "RUNNING"}, fail_reason="upstream timeout")
    )
    assert task.status is TaskStatus.FAILED
    assert task.failure == "upstream timeout"


def test_outer_failure_without_a_reason_still_has_a_failure_text() -> None:
    task = unwrap_task(wrap("FAILURE", None, fail_reason=""))
    assert task.status is TaskStatus.FAILED
    assert task.failure


def test_outer_success_uses_result_url_when_inner_has_no_output() -> None:
    task = unwrap_task(wrap("SUCCESS", None, result_url="https://cdn.invalid/o.mp4"))
    assert task.status is TaskStatus.SUCCEEDED
    assert task.output == ["https://cdn.invalid/o.mp4"]


def test_inner_id_missing_takes_the_outer_task_id() -> None:
    assert unwrap_task(wrap("QUEUED", {"status": "PENDING"})).id == "t-1"


def test_unknown_fields_are_ignored() -> None:
    task = unwrap_task(wrap("IN_PROGRESS", {**RAW_RUNNING, "brandNew": {"x": 1}}, extra=[1]))
    assert task.status is TaskStatus.RUNNING


def test_task_not_exist_is_not_visible_yet() -> None:
    assert is_task_not_exist(TASK_NOT_EXIST)
    assert not is_task_not_exist(WRAPPED_QUEUED)
    with pytest.raises(TaskNotVisibleYet) as caught:
        unwrap_task(TASK_NOT_EXIST)
    assert caught.value.transient


@pytest.mark.parametrize(
    "body",
    [
        {"code": "fail_to_fetch_task", "message": "upstream said no", "data": None},
        {"code": "success", "message": "", "data": None},
        {"code": "success", "message": "", "data": "nope"},
        wrap("MYSTERY", None),
        {"id": "x"},
        {"id": "x", "status": "EXPLODED"},
        [1, 2],
        "text",
    ],
)
def test_unreadable_bodies_are_bad_responses(body: object) -> None:
    with pytest.raises(BadResponseError):
        unwrap_task(body)


@pytest.mark.parametrize(
    "body",
    [
        {"id": "3d957031-9a2a-45e2-9dc7-bc8513059c50"},
        {"code": "success", "message": "", "data": {"id": "3d957031-9a2a-45e2-9dc7-bc8513059c50"}},
        {"code": "success", "data": {"task_id": "3d957031-9a2a-45e2-9dc7-bc8513059c50"}},
        {"code": "success", "data": "3d957031-9a2a-45e2-9dc7-bc8513059c50"},
    ],
)
def test_created_task_id_forms(body: object) -> None:
    assert created_task_id(body) == "3d957031-9a2a-45e2-9dc7-bc8513059c50"


@pytest.mark.parametrize(
    "body", [{}, {"code": "quota_exceeded", "message": "no credit", "data": None}, [], {"id": ""}]
)
def test_created_task_id_missing_is_a_bad_response(body: object) -> None:
    with pytest.raises(BadResponseError):
        created_task_id(body)
