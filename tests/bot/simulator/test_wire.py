"""Task JSON as the simulator writes it, checked against the official SDK's models."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter
from runwayml.types import TaskRetrieveResponse

from bot.runway.models import Task, TaskStatus
from bot.simulator.tasks import SimTask
from bot.simulator.wire import comet_task_not_exist, comet_wrap, credits_value, iso_time, task_body

SDK_TASK: TypeAdapter[Any] = TypeAdapter(TaskRetrieveResponse)


def sample(status: TaskStatus) -> dict[str, Any]:
    task = SimTask(id="t-1", seq=1, model="gen4_turbo", created=0.0, ready_at=1.0, run_seconds=5)
    if status is TaskStatus.FAILED:
        task.failure, task.failure_code = "no", "SAFETY.INPUT.TEXT"
    return task_body(
        task,
        status,
        created_wall=1_750_000_000.5,
        estimated=25.0,
        progress=0.4,
        output_url="http://127.0.0.1:1/_outputs/t-1.mp4?sig=x",
    )


@pytest.mark.parametrize("status", list(TaskStatus))
def test_every_status_parses_with_the_sdk_and_our_model(status: TaskStatus) -> None:
    body = sample(status)
    sdk = SDK_TASK.validate_python(body)
    assert sdk.status == status.value
    ours = Task.model_validate(body)
    assert ours.status is status
    assert ours.created_at is not None
    if status.terminal:
        assert "estimatedCost" not in body
        assert isinstance(body["cost"]["credits"], int)
    else:
        assert body["estimatedCost"] == {"credits": 25}
    assert ("progress" in body) == (status is TaskStatus.RUNNING)
    assert ("output" in body) == (status is TaskStatus.SUCCEEDED)
    if status is TaskStatus.FAILED:
        assert body["failureCode"] == "SAFETY.INPUT.TEXT"


def test_a_failure_without_a_code_has_no_failure_code() -> None:
    task = SimTask(id="t-1", seq=1, model="m", created=0.0, ready_at=1.0, run_seconds=5)
    task.failure = "task timeout"
    body = task_body(
        task, TaskStatus.FAILED, created_wall=1.0, estimated=5, progress=0, output_url=None
    )
    assert body["failure"] == "task timeout" and "failureCode" not in body
    assert SDK_TASK.validate_python(body).failure_code is None


def test_comet_envelope() -> None:
    task = SimTask(id="t-1", seq=1, model="m", created=0.0, ready_at=1.0, run_seconds=5)
    raw = sample(TaskStatus.RUNNING)
    wrapped = comet_wrap(task, raw, action="IMAGE_TO_VIDEO", wall={"submit": 10.0, "start": 11.0})
    assert wrapped["code"] == "success"
    data = wrapped["data"]
    assert data["status"] == "IN_PROGRESS"
    assert data["progress"] == "40%"
    assert (data["submit_time"], data["start_time"], data["finish_time"]) == (10, 11, 0)
    assert data["data"] is raw
    assert comet_task_not_exist()["code"] == "task_not_exist"


def test_small_formatters() -> None:
    assert iso_time(0) == "1970-01-01T00:00:00.000Z"
    assert credits_value(25.0) == 25 and isinstance(credits_value(25.0), int)
    assert credits_value(2.5) == 2.5
