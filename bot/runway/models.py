"""Typed models of the Runway API's requests and responses (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TaskStatus(StrEnum):
    """The six statuses a Runway task can report."""

    PENDING = "PENDING"
    THROTTLED = "THROTTLED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        """True once the task will not change any more."""
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class Credits(_Wire):
    """A cost in credits (1 credit = $0.01)."""

    credits: float


class Task(_Wire):
    """A task as returned by ``GET /v1/tasks/{id}``. Unknown fields are ignored."""

    id: str
    status: TaskStatus
    created_at: datetime | None = Field(default=None, alias="createdAt")
    progress: float | None = None
    output: list[str] | None = None
    failure: str | None = None
    failure_code: str | None = Field(default=None, alias="failureCode")
    cost: Credits | None = None
    estimated_cost: Credits | None = Field(default=None, alias="estimatedCost")


class CreatedTask(_Wire):
    """The body of a successful create: just the new task's id."""

    id: str


class PromptFrame(_Wire):
    """One keyframe of an image_to_video request."""

    uri: str
    position: Literal["first", "last"] = "first"


class ContentModeration(_Wire):
    """Moderation settings sent with a create request."""

    public_figure_threshold: Literal["auto", "low"] = Field(
        default="auto", alias="publicFigureThreshold"
    )


class ImageToVideoRequest(_Wire):
    """Body of ``POST /v1/image_to_video``."""

    model: str
    prompt_image: str | list[PromptFrame] = Field(alias="promptImage")
    prompt_text: str | None = Field(default=None, alias="promptText")
    ratio: str
    duration: int | None = None
    seed: int | None = None
    audio: bool | None = None
    content_moderation: ContentModeration | None = Field(default=None, alias="contentModeration")

    def to_wire(self) -> dict[str, Any]:
        """The JSON body, camelCase, without unset fields."""
        return self.model_dump(by_alias=True, exclude_none=True)


class VideoReference(_Wire):
    """A reference image for video_to_video."""

    type: Literal["image"] = "image"
    uri: str


class VideoToVideoRequest(_Wire):
    """Body of ``POST /v1/video_to_video``."""

    model: str
    video_uri: str = Field(alias="videoUri")
    prompt_text: str | None = Field(default=None, alias="promptText")
    references: list[VideoReference] | None = None
    ratio: str | None = None
    seed: int | None = None
    content_moderation: ContentModeration | None = Field(default=None, alias="contentModeration")

    def to_wire(self) -> dict[str, Any]:
        """The JSON body, camelCase, without unset fields."""
        return self.model_dump(by_alias=True, exclude_none=True)


class UploadTicket(_Wire):
    """Answer of ``POST /v1/uploads``: where to post the file and the URI to use after."""

    upload_url: str = Field(alias="uploadUrl")
    fields: dict[str, str] = Field(default_factory=dict)
    runway_uri: str = Field(alias="runwayUri")


class Organization(_Wire):
    """Answer of ``GET /v1/organization`` (only the parts the bot shows)."""

    credit_balance: float | None = Field(default=None, alias="creditBalance")
    tier: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None


class ValidationIssue(_Wire):
    """One problem in a 400 answer's ``issues`` list."""

    path: list[str | int] = Field(default_factory=list)
    message: str = ""
