"""Turn a stored job and its inputs into a Runway create request."""

from __future__ import annotations

from collections.abc import Sequence

from ..domain import InputRole, JobError, JobInput, JobKind
from ..media import data_uri_fits, to_data_uri
from ..media._text import human_size
from ..media.datauri import max_raw_bytes
from ..runway.client import RunwayClient
from ..runway.models import (
    ContentModeration,
    ImageToVideoRequest,
    PromptFrame,
    VideoReference,
    VideoToVideoRequest,
)

# Providers that serve ``POST /v1/uploads`` (CometAPI does not: it takes data URIs only).
UPLOAD_PROVIDERS = frozenset({"runway", "simulator"})
# The largest input video kept for an upload: well under Runway's 200 MB, and stored in SQLite.
MAX_UPLOAD_VIDEO_BYTES = 64_000_000


def can_upload(provider: str) -> bool:
    """True when ``provider`` accepts ephemeral uploads for inputs too big for a data URI."""
    return provider in UPLOAD_PROVIDERS


def video_budget(provider: str) -> int:
    """The most bytes an input video may have for ``provider``: an upload's cap where uploads
    exist, else what fits a 16 MB data URI (a bigger video must be re-encoded to fit)."""
    return MAX_UPLOAD_VIDEO_BYTES if can_upload(provider) else max_raw_bytes("video/mp4")


_TOO_LARGE = {
    InputRole.IMAGE: "submission.too_large.image",
    InputRole.LAST_FRAME: "submission.too_large.last_frame",
    InputRole.VIDEO: "submission.too_large.video",
    InputRole.REFERENCE: "submission.too_large.reference",
}


async def _uri(client: RunwayClient, item: JobInput) -> str:
    """A data URI when it fits; otherwise an ephemeral upload where the provider has them."""
    if data_uri_fits(item):
        return to_data_uri(item)
    if can_upload(client.provider):
        name = item.filename or f"input.{item.mime.split('/')[-1]}"
        return await client.upload_ephemeral(name, item.data, item.mime)
    raise JobError.of(
        _TOO_LARGE[item.role],
        size=human_size(len(item.data)),
        limit=human_size(max_raw_bytes(item.mime)),
    )


async def build_request(
    client: RunwayClient,
    kind: JobKind,
    *,
    model: str,
    prompt: str,
    ratio: str | None,
    duration: int | None,
    seed: int | None,
    audio: bool,
    inputs: Sequence[JobInput],
) -> ImageToVideoRequest | VideoToVideoRequest:
    """The create request for a job (uploads large videos first when needed)."""
    by_role: dict[InputRole, list[JobInput]] = {}
    for item in inputs:
        by_role.setdefault(item.role, []).append(item)
    text = prompt or None
    moderation = ContentModeration()
    if kind is JobKind.ANIMATE:
        if not by_role.get(InputRole.IMAGE) or ratio is None:
            raise JobError.of("submission.image_gone")
        first = await _uri(client, by_role[InputRole.IMAGE][0])
        image: str | list[PromptFrame] = first
        if by_role.get(InputRole.LAST_FRAME):
            last = await _uri(client, by_role[InputRole.LAST_FRAME][0])
            image = [
                PromptFrame(uri=first, position="first"),
                PromptFrame(uri=last, position="last"),
            ]
        return ImageToVideoRequest(
            model=model,
            prompt_image=image,
            prompt_text=text,
            ratio=ratio,
            duration=duration,
            seed=seed,
            audio=True if audio else None,
            content_moderation=moderation,
        )
    if not by_role.get(InputRole.VIDEO):
        raise JobError.of("submission.video_gone")
    video = await _uri(client, by_role[InputRole.VIDEO][0])
    refs = [
        VideoReference(uri=await _uri(client, item))
        for item in by_role.get(InputRole.REFERENCE, [])
    ]
    return VideoToVideoRequest(
        model=model,
        video_uri=video,
        prompt_text=text,
        references=refs or None,
        seed=seed,
        content_moderation=moderation,
    )
