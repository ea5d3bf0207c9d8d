"""What the buttons and commands do to jobs: create (cost first), cancel, rerun and iterate on a
finished clip; shared by cogs and views."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import discord

from bot.catalog import Endpoint
from bot.config import Settings
from bot.domain import (
    InputRole,
    Job,
    JobError,
    JobInput,
    JobKind,
    JobParams,
    JobState,
    NewJob,
    Origin,
    QuotaExceeded,
    UserError,
)
from bot.logs import job_context
from bot.media import prepare_image, prepare_video, probe_video
from bot.media.frames import last_frame, thumbnail, video_thumbnail
from bot.worker.submission import video_budget

from .context import Services, services_of
from .embeds import changes_lines, cost_line, over_quota_text, refund_line
from .errors import answer as reply
from .permissions import (
    THREAD_PERMISSIONS,
    is_admin,
    missing,
    missing_permission_text,
    role_ids,
)
from .posting import (
    PostFailed,
    PostUncertain,
    StatusView,
    can_hold_threads,
    confirmation_text,
    post_job,
)
from .translator import interaction_public_locale, member_locale, tr

log = logging.getLogger(__name__)


def target_channel(interaction: discord.Interaction[Any]) -> discord.abc.Messageable | None:
    """Where a job started from this interaction posts its status: a thread's parent channel."""
    channel = interaction.channel
    if isinstance(channel, discord.Thread) and isinstance(channel.parent, discord.TextChannel):
        return channel.parent
    if isinstance(channel, discord.abc.Messageable):
        return channel
    return None


MAX_CLIP_BYTES = 100 * 1024 * 1024  # a clip posted by the bot, read back to iterate on it
TRIM_SLACK_SECONDS = 0.05


@dataclass(frozen=True)
class Cost:
    """What a job will cost the member before it is created."""

    estimate: float  # catalog estimate, in credits
    unit: str  # the quota's unit: "credits" or "jobs"
    needed: float  # what the job takes from the quota, in ``unit``
    left: float | None  # what the member has left now (None: unlimited)
    threshold: int | None  # the server's confirm_above (None: never ask)

    @property
    def left_after(self) -> float | None:
        """What the member has left once the job is reserved (None: unlimited)."""
        return None if self.left is None else self.left - self.needed

    @property
    def over(self) -> bool:
        """More than the member has left: the job will be refused."""
        return self.left is not None and self.needed > self.left + 1e-9

    @property
    def asks(self) -> bool:
        """Above the server's threshold: the member confirms first."""
        return self.threshold is not None and self.estimate > self.threshold

    @property
    def line(self) -> str:
        """``About 75 credits; 25 credits left after it.``"""
        return cost_line(self.estimate, self.left_after, self.unit)


AskConfirm = Callable[
    [discord.Interaction[Any], Services, NewJob, Cost, discord.abc.Messageable],
    Awaitable[None],
]
"""Shows the Confirm / Cancel prompt for a job above the threshold (``views.ask_to_confirm``;
passed in because the views sit above this module)."""


async def cost_of(services: Services, new: NewJob) -> Cost:
    """The estimate of ``new``, what the member has left and the server's threshold.

    Raises JobError when the request is not valid for the catalog.
    """
    jobs = services.jobs
    roles = [i.role for i in new.inputs]
    params = jobs.validate(
        new.kind,
        new.params,
        new.prompt,
        has_reference=InputRole.REFERENCE in roles,
        has_last_frame=InputRole.LAST_FRAME in roles,
    )
    main = next((i for i in new.inputs if i.role is InputRole.VIDEO), None)
    seconds = main.duration_seconds if new.kind is JobKind.RESTYLE and main else None
    estimate = jobs.estimate_credits(new.kind, params, seconds)
    status = await services.quota.status(new.guild_id, new.user_id, new.user_role_ids)
    needed = 1.0 if status.unit == "jobs" else estimate
    threshold = None
    if new.guild_id is not None:
        threshold = (await services.quota.guilds.get(new.guild_id)).confirm_above
    return Cost(estimate, status.unit, needed, status.remaining, threshold)


POST_FAILED_REASON = "Cancelled: Discord refused its status message."
"""The stored text of a job cancelled because its status message could not be posted."""


async def publish(
    interaction: discord.Interaction[Any],
    services: Services,
    job: Job,
    channel: discord.abc.Messageable,
    *,
    status_view: StatusView,
) -> None:
    """Post the job's status message (buttons from ``status_view``, the input's preview) and
    thread, then confirm ephemerally with a link, the cost and what the bot changed.

    If the bot cannot post, the job is cancelled (its quota refunded) and the user is told
    exactly which permission is missing; when the outcome is unknown (a dropped connection,
    a 5xx) the job stays and the worker's publishing step posts or adopts its message.
    A job the worker sent to Runway meanwhile has its status redrawn at once (the worker's
    own update found no message to edit).
    """
    interaction.extras["job_id"] = job.id
    position = await services.jobs.queue_position(job.id)
    notes: list[str] = []
    open_thread = True
    if interaction.guild_id is not None and can_hold_threads(channel):
        lacking = missing(interaction.app_permissions, THREAD_PERMISSIONS)
        if lacking:
            open_thread = False
            reader = member_locale(interaction)
            notes.append(
                missing_permission_text(lacking, locale=reader)
                + " "
                + tr(interaction, "action.no_thread")
            )
    try:
        posted = await post_job(
            services,
            channel,
            job,
            status_view=status_view,
            queue_position=position,
            open_thread=open_thread,
            notes=notes,
            locale=await interaction_public_locale(interaction),
            reader=member_locale(interaction),
            # Without Attach Files the status must still go out: then without a preview.
            thumbnail=None
            if missing(interaction.app_permissions, ("attach_files",))
            else await _preview(services, job),
        )
    except PostUncertain as exc:
        # Discord may have stored it, or will take it later: the worker adopts or posts it.
        log.warning("job %s: %s; left to the publishing step", job.id, exc)
        await reply(interaction, tr(interaction, "action.post_pending", job=job.id))
        return
    except PostFailed as exc:
        try:
            await services.jobs.cancel(
                job.id, actor_id=job.user_id, actor_is_admin=True, reason=POST_FAILED_REASON
            )
            outcome = tr(interaction, "action.post_cancelled", job=job.id)
        except JobError:
            log.warning("job %s: could not cancel after a failed post", job.id)
            outcome = tr(interaction, "action.post_not_cancelled", job=job.id)
        await reply(interaction, f"{exc.text(interaction.locale)}\n{outcome}")
        return
    now = await services.jobs.get(job.id) or job
    if now.state is not job.state and services.delivery is not None:
        await services.delivery.refresh(now)
    unit = services.settings.quota.unit.value
    reader = member_locale(interaction)
    extra = [
        cost_line(now.estimated_credits, now.quota_left, unit, reader),
        *changes_lines(now, reader),
    ]
    await reply(interaction, confirmation_text(now, posted, extra, locale=reader))


async def _preview(services: Services, job: Job) -> bytes | None:
    """A small JPEG of the job's input (image, or a video's first frame) for its status."""
    inputs = await services.jobs.inputs(job.id)
    main = next((i for i in inputs if i.role in (InputRole.IMAGE, InputRole.VIDEO)), None)
    if main is None:
        return None
    make = thumbnail if main.role is InputRole.IMAGE else video_thumbnail
    return await asyncio.to_thread(make, main.data)


async def submit(
    interaction: discord.Interaction[Any],
    services: Services,
    new: NewJob,
    channel: discord.abc.Messageable,
    *,
    status_view: StatusView,
    ask: AskConfirm | None = None,
) -> Job | None:
    """Cost first: a job above the server's threshold asks ``ask`` for a Confirm first (nothing
    is reserved until then); any other creates the job (quota reserved) and publishes it."""
    try:
        cost = await cost_of(services, new)
    except JobError as exc:
        await reply(interaction, exc.text(interaction.locale))
        return None
    new = replace(new, quota_left=cost.left_after)
    if ask is not None and cost.asks and not cost.over:
        await ask(interaction, services, new, cost, channel)
        return None
    return await create(interaction, services, new, channel, status_view=status_view)


async def create(
    interaction: discord.Interaction[Any],
    services: Services,
    new: NewJob,
    channel: discord.abc.Messageable,
    *,
    status_view: StatusView,
) -> Job | None:
    """Create the job (quota reserved) and publish it; answer the user on refusal."""
    return await _start(interaction, services, channel, services.jobs.create(new), status_view)


async def _start(
    interaction: discord.Interaction[Any],
    services: Services,
    channel: discord.abc.Messageable,
    creating: Awaitable[Job],
    status_view: StatusView,
) -> Job | None:
    """Await a create; answer a refusal in plain words, else publish the job."""
    try:
        job = await creating
    except QuotaExceeded as exc:
        await reply(interaction, over_quota_text(exc, member_locale(interaction)))
        return None
    except JobError as exc:
        await reply(interaction, exc.text(interaction.locale))
        return None
    with job_context(job.id, user_id=job.user_id, guild_id=job.guild_id):
        await publish(interaction, services, job, channel, status_view=status_view)
    return job


def may_moderate(interaction: discord.Interaction[Any], services: Services, job: Job) -> bool:
    """Admin rights over someone else's job: a configured owner anywhere, or Manage Server
    in the job's own server (an admin of one server cannot touch another server's jobs)."""
    owners = services.settings.discord.owner_ids
    if interaction.user.id in owners:
        return True
    same_guild = job.guild_id is not None and job.guild_id == interaction.guild_id
    return same_guild and is_admin(interaction, owners)


async def cancel_job(interaction: discord.Interaction[Any], job_id: int) -> Job | None:
    """Cancel a job for the interaction's user (requester, admin or owner)."""
    services = services_of(interaction.client)
    await interaction.response.defer(ephemeral=True, thinking=True)
    existing = await services.jobs.get(job_id)
    admin = existing is not None and may_moderate(interaction, services, existing)
    try:
        job = await services.jobs.cancel(job_id, actor_id=interaction.user.id, actor_is_admin=admin)
    except JobError as exc:
        await reply(interaction, exc.text(interaction.locale))
        return None
    interaction.extras["job_id"] = job.id
    if job.state is JobState.CANCELLED:
        owner = None if job.user_id == interaction.user.id else job.user_id
        unit = services.settings.quota.unit.value
        refund = refund_line(job, unit, owner=owner, locale=member_locale(interaction))
        text = tr(interaction, "action.cancelled", job=job.id, refund=refund)
    else:
        text = tr(interaction, "action.cancelling", job=job.id)
    with job_context(job.id, user_id=job.user_id, guild_id=job.guild_id):
        await reply(interaction, text)
        if services.delivery is not None:
            await services.delivery.refresh(job)
    return job


async def rerun_job(
    interaction: discord.Interaction[Any],
    job_id: int,
    *,
    keep_seed: bool,
    status_view: StatusView,
    ask: AskConfirm | None = None,
    prompt: str | None = None,
) -> Job | None:
    """Start a job again from its stored inputs, with the same or a new random seed, or (with
    ``prompt``) the same seed and an edited prompt."""
    services = services_of(interaction.client)
    channel = target_channel(interaction)
    if channel is None:
        await reply(interaction, tr(interaction, "action.cannot_post"))
        return None
    await interaction.response.defer(ephemeral=True, thinking=True)  # before any database read
    original = await services.jobs.get(job_id)
    if original is None:
        await reply(interaction, tr(interaction, "job.gone"))
        return None
    # Retry and Edit keep the seed; Vary leaves it to the job service to pick a different one.
    seed = original.params.seed if keep_seed or prompt is not None else None
    try:
        new = await services.jobs.plan_rerun(
            job_id,
            actor_id=interaction.user.id,
            new_seed=seed,
            prompt=prompt,
            origin=Origin.EDIT if prompt is not None else None,
            user_role_ids=role_ids(interaction.user),
        )
    except JobError as exc:
        await reply(interaction, exc.text(interaction.locale))
        return None
    return await submit(interaction, services, new, channel, status_view=status_view, ask=ask)


def the_clip(message: discord.Message | None, job_id: int) -> discord.Attachment | None:
    """The clip the bot posted for ``job_id`` on ``message`` (the one a button sits under)."""
    if message is None:
        return None
    name = f"runway-job-{job_id}.mp4"
    return next((a for a in message.attachments if a.filename == name), None)


async def iterate_clip(
    interaction: discord.Interaction[Any],
    job_id: int,
    origin: Origin,
    *,
    status_view: StatusView,
    ask: AskConfirm | None = None,
    prompt: str | None = None,
) -> Job | None:
    """Continue from the clip's last frame (a new animate job) or restyle the clip (a new
    restyle job with ``prompt``); the clip is read back from the message the button is on."""
    services = services_of(interaction.client)
    channel = target_channel(interaction)
    if channel is None:
        await reply(interaction, tr(interaction, "action.cannot_post"))
        return None
    await interaction.response.defer(ephemeral=True, thinking=True)
    original = await services.jobs.get(job_id)
    if original is None:
        await reply(interaction, tr(interaction, "job.gone"))
        return None
    verb = "continue" if origin is Origin.CONTINUE else "restyle"
    if original.user_id != interaction.user.id:  # before downloading anything
        await reply(interaction, tr(interaction, f"job.only_requester_{verb}"))
        return None
    clip = the_clip(interaction.message, job_id)
    if clip is None:
        await reply(interaction, tr(interaction, "action.clip_gone"))
        return None
    settings = services.settings
    try:
        if clip.size > MAX_CLIP_BYTES:
            raise JobError.of("action.clip_too_large", code="too_large")
        data = await clip.read()
        if origin is Origin.CONTINUE:
            kind, params, inputs, source = await _continue_inputs(settings, original, data)
        else:
            kind, params, inputs, source = await _restyle_inputs(settings, original, data)
        new = await services.jobs.derive(
            job_id,
            actor_id=interaction.user.id,
            kind=kind,
            params=params,
            prompt=original.prompt if prompt is None else prompt,
            inputs=inputs,
            origin=origin,
            source_seconds=source,
            user_role_ids=role_ids(interaction.user),
        )
    except UserError as exc:  # JobError, MediaError
        await reply(interaction, exc.text(interaction.locale))
        return None
    except discord.HTTPException:
        await reply(interaction, tr(interaction, "action.clip_download"))
        return None
    return await submit(interaction, services, new, channel, status_view=status_view, ask=ask)


def _model_for(settings: Settings, endpoint: Endpoint, preferred: str) -> str:
    spec = settings.model(preferred)
    if spec is not None and spec.enabled and spec.endpoint is endpoint:
        return spec.id
    default = settings.default_model(endpoint)
    if default is None:
        kind = "image" if endpoint is Endpoint.IMAGE_TO_VIDEO else "video"
        raise JobError.of(f"action.no_model_{kind}", code="no_model")
    return default.id


async def _continue_inputs(
    settings: Settings, original: Job, clip: bytes
) -> tuple[JobKind, JobParams, tuple[JobInput, ...], float | None]:
    """The clip's last frame as the image of a new animate job (same model and length when
    the clip was animated; the ratio chosen from the frame)."""
    frame = await asyncio.to_thread(last_frame, clip)
    image = await asyncio.to_thread(
        prepare_image, frame, role=InputRole.IMAGE, filename=f"job-{original.id}-last.png"
    )
    animated = original.kind is JobKind.ANIMATE
    model = _model_for(settings, Endpoint.IMAGE_TO_VIDEO, original.params.model if animated else "")
    duration = original.params.duration if animated and model == original.params.model else None
    return JobKind.ANIMATE, JobParams(model=model, duration=duration), (image,), None


async def _restyle_inputs(
    settings: Settings, original: Job, clip: bytes
) -> tuple[JobKind, JobParams, tuple[JobInput, ...], float | None]:
    """The clip as the video of a new restyle job (same model when it was a restyle)."""
    restyled = original.kind is JobKind.RESTYLE
    model = _model_for(settings, Endpoint.VIDEO_TO_VIDEO, original.params.model if restyled else "")
    video, source = await prepare_video_input(
        settings, model, clip, filename=f"job-{original.id}.mp4"
    )
    return JobKind.RESTYLE, JobParams(model=model), (video,), source


async def prepare_video_input(
    settings: Settings, model_id: str, data: bytes, *, filename: str
) -> tuple[JobInput, float | None]:
    """``data`` prepared for the model (trimmed to what it bills), and the original length
    when it was trimmed (None otherwise); media work runs in a thread."""
    spec = settings.model(model_id)

    def work() -> tuple[JobInput, float | None]:
        prepared = prepare_video(
            data,
            filename=filename,
            max_seconds=spec.max_input_seconds if spec else None,
            keep_seconds=spec.billed_input_seconds if spec else None,
            # Room for an upload where the provider has them; else re-encode to fit a
            # data URI now, so a video that cannot fit is refused before any quota is held.
            max_output_bytes=video_budget(settings.runway.provider),
        )
        original = probe_video(data).duration_seconds
        sent = prepared.duration_seconds or original
        return prepared, original if original > sent + TRIM_SLACK_SECONDS else None

    return await asyncio.to_thread(work)
