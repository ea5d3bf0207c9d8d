"""/animate, /restyle and the "Animate this image" message menu (with its prompt modal)."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import SEED_MAX, Endpoint, ModelSpec
from bot.config import Settings
from bot.domain import InputRole, JobInput, JobKind, JobParams, NewJob, UserError
from bot.i18n import Text, t
from bot.i18n import text as later
from bot.media import prepare_image
from bot.prompts import clean_prompt, removal_note
from bot.ui.actions import prepare_video_input, submit
from bot.ui.context import services_of
from bot.ui.errors import answer as reply
from bot.ui.errors import guarded
from bot.ui.fallback import answer_unhandled_component, answer_unhandled_modal
from bot.ui.permissions import missing, missing_permission_text, role_ids
from bot.ui.text import amount, safe, truncate
from bot.ui.translator import member_locale, tr
from bot.ui.views import ask_to_confirm, iterate_modal_submitted, job_view

if TYPE_CHECKING:
    from bot.app import RunwayBot

log = logging.getLogger(__name__)

MIB = 1024 * 1024
MAX_IMAGE_BYTES = 20 * MIB
MAX_VIDEO_BYTES = 100 * MIB

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".webm", ".mkv", ".m4v", ".avi"}


class CheckFailed(UserError):
    """A cheap check failed; ``message`` is shown to the user as is."""

    @classmethod
    def about(cls, key: str, /, **fmt: object) -> CheckFailed:
        """The refusal whose text is catalogue entry ``key`` (read in the member's language)."""
        return cls(t(key, None, **fmt), key=key, fmt=fmt)


def _label(label: str) -> Text:
    """An attachment's name (``image``, ``last frame``) to read in the member's language."""
    return later("gen.label." + label.replace(" ", "_"))


def _looks_like(attachment: discord.Attachment, kind: str, extensions: set[str]) -> bool:
    if attachment.content_type:
        return attachment.content_type.split(";")[0].strip().lower().startswith(f"{kind}/")
    return os.path.splitext(attachment.filename)[1].lower() in extensions


# Declared types that say nothing about the content (it is sniffed after reading).
_UNDECLARED_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}


def _may_be_media(attachment: discord.Attachment) -> bool:
    """Worth reading: declared as any image or video, declared as nothing in particular, or
    named like media. The real type is decided by content (``bot.media.sniff``), so a PNG
    sent as ``application/octet-stream`` or an animated GIF given as a video is judged there."""
    declared = (attachment.content_type or "").split(";")[0].strip().lower()
    if declared.startswith(("image/", "video/")) or declared in _UNDECLARED_TYPES:
        return True
    return os.path.splitext(attachment.filename)[1].lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS


def _first_image(attachments: list[discord.Attachment]) -> discord.Attachment | None:
    """The first attachment declared as an image, else the first that may be one."""
    return next(
        (a for a in attachments if _looks_like(a, "image", IMAGE_EXTENSIONS)),
        next((a for a in attachments if _may_be_media(a)), None),
    )


def check_attachment(attachment: discord.Attachment, *, kind: str, label: str) -> None:
    """Refuse what is surely not media (declared e.g. text/plain and not named like media)
    and what is too big or empty; raises :class:`CheckFailed`. The type is judged by
    content after reading."""
    limit = MAX_IMAGE_BYTES if kind == "image" else MAX_VIDEO_BYTES
    if not _may_be_media(attachment):
        declared = attachment.content_type
        raise CheckFailed.about(
            "gen.not_image" if kind == "image" else "gen.not_video",
            label=_label(label),
            file=safe(truncate(attachment.filename, 80)),
            what=safe(declared) if declared else later("gen.unknown_type"),
        )
    if attachment.size > limit:
        raise CheckFailed.about(
            "gen.too_big",
            label=_label(label),
            size=f"{attachment.size / MIB:.1f}",
            limit=limit // MIB,
        )
    if attachment.size == 0:
        raise CheckFailed.about("gen.empty", label=_label(label))


def dm_refusal(interaction: discord.Interaction[Any], settings: Settings) -> str | None:
    """Why this interaction may not start a job here, or None."""
    if interaction.guild_id is None and not settings.discord.allow_dms:
        return tr(interaction, "gen.dms_off")
    return None


def post_permission_problem(interaction: discord.Interaction[Any]) -> str | None:
    """The permissions the bot lacks to post a job's messages in this channel, as a sentence."""
    if interaction.guild_id is None:
        return None
    in_thread = isinstance(interaction.channel, discord.Thread)
    needed = (
        "view_channel",
        "send_messages_in_threads" if in_thread else "send_messages",
        "embed_links",
        "attach_files",
    )
    lacking = missing(interaction.app_permissions, needed)
    return missing_permission_text(lacking, locale=member_locale(interaction)) if lacking else None


async def read_attachment(attachment: discord.Attachment, label: str) -> bytes:
    """The attachment's bytes (read now: Discord's CDN links expire)."""
    try:
        return await attachment.read()
    except (discord.HTTPException, OSError) as exc:
        log.warning("reading attachment %s failed: %s", attachment.id, exc)
        raise CheckFailed.about("gen.download_failed", label=_label(label)) from exc


def _model_choices(settings: Settings, endpoint: Endpoint, current: str) -> list[ModelSpec]:
    needle = current.lower().strip()
    return [
        m
        for m in settings.enabled_models(endpoint)
        if not needle or needle in m.id.lower() or needle in m.display_name.lower()
    ][:25]


def _selected_model(settings: Settings, endpoint: Endpoint, value: Any) -> ModelSpec | None:
    if isinstance(value, str) and value:
        spec = settings.model(value)
        if spec is not None and spec.enabled and spec.endpoint is endpoint:
            return spec
    return settings.default_model(endpoint)


def _ratio_label(ratio: str, locale: str = "en") -> str:
    w, h = (int(x) for x in ratio.split(":"))
    shape = "landscape" if w > h else "portrait" if h > w else "square"
    return t(f"auto.ratio_{shape}", locale, width=w, height=h)


@dataclass(frozen=True)
class Request:
    """What the user asked for, before the files are read."""

    kind: JobKind
    prompt: str
    params: JobParams
    main: discord.Attachment
    extra: discord.Attachment | None = None  # last frame (animate) or reference (restyle)


class GenerateCog(commands.Cog):
    """Starting jobs: /animate, /restyle and the message menu."""

    def __init__(self, bot: RunwayBot) -> None:
        self.bot = bot
        # Servers only, so the commands do not show in DMs, unless the bot allows DMs.
        contexts = app_commands.AppCommandContext(
            guild=True, dm_channel=bot.settings.discord.allow_dms
        )
        self.animate.allowed_contexts = contexts
        self.restyle.allowed_contexts = contexts
        self.menu = app_commands.ContextMenu(
            name="Animate this image",
            callback=self.animate_message,
            allowed_contexts=contexts,
            allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
        )
        bot.tree.add_command(self.menu, override=True)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @property
    def settings(self) -> Settings:
        return self.bot.settings

    # -- autocomplete ---------------------------------------------------------------------

    def _model_options(
        self, endpoint: Endpoint, current: str, locale: str = "en"
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(
                name=t(
                    "auto.model",
                    locale,
                    model=m.display_name,
                    credits=amount(m.credits_per_second),
                ),
                value=m.id,
            )
            for m in _model_choices(self.settings, endpoint, current)
        ]

    async def animate_model_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Enabled image-to-video models."""
        return self._model_options(Endpoint.IMAGE_TO_VIDEO, current, member_locale(interaction))

    async def restyle_model_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Enabled video-to-video models."""
        return self._model_options(Endpoint.VIDEO_TO_VIDEO, current, member_locale(interaction))

    async def ratio_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """``auto`` plus the ratios of the chosen (or default) model."""
        spec = _selected_model(
            self.settings, Endpoint.IMAGE_TO_VIDEO, getattr(interaction.namespace, "model", None)
        )
        locale = member_locale(interaction)
        choices = [app_commands.Choice(name=t("auto.ratio_auto", locale), value="auto")]
        if spec is not None:
            choices += [
                app_commands.Choice(name=_ratio_label(r, locale), value=r) for r in spec.ratios
            ]
        needle = current.strip().lower()
        return [c for c in choices if needle in c.name.lower() or needle in c.value][:25]

    async def duration_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[int]]:
        """The durations of the chosen (or default) model, with their estimated credits."""
        spec = _selected_model(
            self.settings, Endpoint.IMAGE_TO_VIDEO, getattr(interaction.namespace, "model", None)
        )
        if spec is None:
            return []
        return [
            app_commands.Choice(
                name=t(
                    "auto.duration",
                    member_locale(interaction),
                    seconds=d,
                    credits=amount(d * spec.credits_per_second),
                ),
                value=d,
            )
            for d in spec.durations
            if not current.strip() or current.strip() in str(d)
        ][:25]

    # -- commands -------------------------------------------------------------------------

    def default_model_id(self, endpoint: Endpoint) -> str:
        """The first enabled model of an endpoint ("" when none is)."""
        spec = self.settings.default_model(endpoint)
        return spec.id if spec else ""

    @app_commands.command(name="animate", description="Turn an image into a short video clip.")
    @app_commands.describe(
        image="The picture to animate (PNG, JPEG, WebP or GIF)",
        prompt="What should happen in the clip",
        model="Which Runway model to use",
        duration="Length of the clip in seconds",
        ratio="Shape of the clip (auto: closest to your image)",
        seed="Fixed seed, to repeat a result",
        last_frame="An image the clip should end on (some models only)",
    )
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.autocomplete(model=animate_model_autocomplete, ratio=ratio_autocomplete)
    @app_commands.autocomplete(duration=duration_autocomplete)
    async def animate(
        self,
        interaction: discord.Interaction[Any],
        image: discord.Attachment,
        prompt: str,
        model: app_commands.Range[str, 1, 64] | None = None,
        duration: app_commands.Range[int, 1, 60] | None = None,
        ratio: app_commands.Range[str, 1, 32] | None = None,
        seed: app_commands.Range[int, 0, SEED_MAX] | None = None,
        last_frame: discord.Attachment | None = None,
    ) -> None:
        """/animate: image to video."""
        chosen = model or self.default_model_id(Endpoint.IMAGE_TO_VIDEO)
        if not chosen:
            await reply(interaction, tr(interaction, "action.no_model_image"))
            return
        params = JobParams(model=chosen, ratio=ratio, duration=duration, seed=seed)
        await self.start(interaction, Request(JobKind.ANIMATE, prompt, params, image, last_frame))

    @app_commands.command(name="restyle", description="Transform a video clip with a prompt.")
    @app_commands.describe(
        video="The clip to transform (MP4, MOV or WebM)",
        prompt="How the clip should change",
        reference="An image showing the style to aim for",
        model="Which Runway model to use",
        seed="Fixed seed, to repeat a result",
    )
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.autocomplete(model=restyle_model_autocomplete)
    async def restyle(
        self,
        interaction: discord.Interaction[Any],
        video: discord.Attachment,
        prompt: str,
        reference: discord.Attachment | None = None,
        model: app_commands.Range[str, 1, 64] | None = None,
        seed: app_commands.Range[int, 0, SEED_MAX] | None = None,
    ) -> None:
        """/restyle: video to video."""
        chosen = model or self.default_model_id(Endpoint.VIDEO_TO_VIDEO)
        if not chosen:
            await reply(interaction, tr(interaction, "action.no_model_video"))
            return
        params = JobParams(model=chosen, seed=seed)
        await self.start(interaction, Request(JobKind.RESTYLE, prompt, params, video, reference))

    async def animate_message(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        """Message menu: open a prompt modal for the first image of the message."""
        refusal = dm_refusal(interaction, self.settings)
        if refusal:
            await reply(interaction, refusal)
            return
        image = _first_image(list(message.attachments))
        if image is None:
            await reply(interaction, tr(interaction, "gen.no_image"))
            return
        modal = PromptModal(message.id, member_locale(interaction))
        # Not kept in memory: the submission is handled from the custom id alone (on_interaction),
        # so a modal opened before a restart, or answered before discord.py stored it, still works.
        modal.stop()
        await interaction.response.send_modal(modal)

    @commands.Cog.listener("on_interaction")
    async def answer_unknown_buttons(self, interaction: discord.Interaction[Any]) -> None:
        """Buttons no handler takes (crafted or outdated ``rw:`` ids) get a short answer."""
        await answer_unhandled_component(interaction)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """The submitted prompt modal of the message menu (see :class:`PromptModal`)."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        prompt = text_inputs(data.get("components") or []).get(PromptModal.PROMPT_ID, "")
        if await iterate_modal_submitted(interaction, custom_id, prompt):
            return
        message_id = PromptModal.message_id_in(custom_id)
        if message_id is None:
            await answer_unhandled_modal(interaction)  # a crafted or outdated rw: form
            return
        await guarded(
            interaction, "the prompt modal", self._animate_from(interaction, message_id, prompt)
        )

    async def _animate_from(
        self, interaction: discord.Interaction[Any], message_id: int, prompt: str
    ) -> None:
        # First: fetching the message can outlast Discord's 3 s window under load.
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            await reply(interaction, tr(interaction, "gen.cannot_read"))
            return
        try:
            message = await channel.fetch_message(message_id)
        except discord.NotFound:
            await reply(interaction, tr(interaction, "gen.deleted"))
            return
        except discord.Forbidden:
            await reply(
                interaction,
                missing_permission_text(
                    ["Read Message History"], locale=member_locale(interaction)
                ),
            )
            return
        image = _first_image(list(message.attachments))
        if image is None:
            await reply(interaction, tr(interaction, "gen.image_gone"))
            return
        params = JobParams(model=self.default_model_id(Endpoint.IMAGE_TO_VIDEO))
        await self.start(interaction, Request(JobKind.ANIMATE, prompt, params, image))

    # -- the flow -------------------------------------------------------------------------

    async def start(self, interaction: discord.Interaction[Any], request: Request) -> None:
        """Cheap checks, acknowledge, read and check the files, reserve quota, post."""
        services = services_of(self.bot)
        channel = interaction.channel
        problem = dm_refusal(interaction, self.settings) or post_permission_problem(interaction)
        if problem or not isinstance(channel, discord.abc.Messageable):
            await reply(interaction, problem or tr(interaction, "gen.cannot_post_here"))
            return
        main_kind, main_label = (
            ("image", "image") if request.kind is JobKind.ANIMATE else ("video", "video")
        )
        extra_label = "last frame" if request.kind is JobKind.ANIMATE else "reference image"
        cleaned = clean_prompt(request.prompt)
        note = removal_note(cleaned, interaction.locale)
        try:
            params = services.jobs.validate(
                request.kind,
                request.params,
                request.prompt,
                has_reference=request.kind is JobKind.RESTYLE and request.extra is not None,
                has_last_frame=request.kind is JobKind.ANIMATE and request.extra is not None,
            )
            check_attachment(request.main, kind=main_kind, label=main_label)
            if request.extra is not None:
                check_attachment(request.extra, kind="image", label=extra_label)
        except UserError as exc:  # JobError from validate, CheckFailed
            refusal = exc.text(interaction.locale)
            await reply(interaction, f"{refusal}\n{note}" if note else refusal)
            return

        if not interaction.response.is_done():  # a modal submit was acknowledged first
            await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            inputs, source_seconds = await self._inputs(request, params)
        except UserError as exc:  # CheckFailed, MediaError
            await reply(interaction, exc.text(interaction.locale))
            return
        new = NewJob(
            kind=request.kind,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id or 0,
            prompt=cleaned.text,
            params=params,
            inputs=inputs,
            user_role_ids=role_ids(interaction.user),
            source_seconds=source_seconds,
        )
        job = await submit(
            interaction, services, new, channel, status_view=job_view, ask=ask_to_confirm
        )
        if job is not None and note:
            await reply(interaction, note)

    async def _inputs(
        self, request: Request, params: JobParams
    ) -> tuple[tuple[JobInput, ...], float | None]:
        """Read the attachments now and prepare them (media work off the event loop); also
        the input video's length when it was trimmed."""
        animate = request.kind is JobKind.ANIMATE
        data = await read_attachment(request.main, "image" if animate else "video")
        source_seconds = None
        if animate:
            main = await asyncio.to_thread(
                prepare_image, data, role=InputRole.IMAGE, filename=request.main.filename
            )
        else:
            main, source_seconds = await prepare_video_input(
                self.settings, params.model, data, filename=request.main.filename
            )
        if request.extra is None:
            return (main,), source_seconds
        extra = await read_attachment(request.extra, "image")
        role = InputRole.LAST_FRAME if animate else InputRole.REFERENCE
        second = await asyncio.to_thread(
            prepare_image, extra, role=role, filename=request.extra.filename
        )
        return (main, second), source_seconds


class PromptModal(discord.ui.Modal, title="Animate this image"):
    """The message menu's prompt form; its custom id names the message whose image it animates.

    Sent stopped (never stored by discord.py): :meth:`GenerateCog.on_interaction` handles the
    submission from the custom id and the prompt alone.
    """

    PREFIX = "rw:animate-message:"
    PROMPT_ID = "prompt"

    def __init__(self, message_id: int, locale: str = "en") -> None:
        super().__init__(
            title=t("modal.animate_title", locale),
            timeout=None,
            custom_id=f"{self.PREFIX}{message_id}",
        )
        self.prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
            label=t("modal.prompt", locale),
            custom_id=self.PROMPT_ID,
            style=discord.TextStyle.paragraph,
            placeholder=t("modal.animate_placeholder", locale),
            required=False,
            max_length=4000,
        )
        self.add_item(self.prompt)

    @classmethod
    def message_id_in(cls, custom_id: str) -> int | None:
        """The message id a submitted modal's custom id names, or None if it is not ours."""
        rest = custom_id.removeprefix(cls.PREFIX)
        return int(rest) if rest != custom_id and rest.isdigit() else None


def text_inputs(components: list[Any]) -> dict[str, str]:
    """``custom_id -> value`` of every text input in a submitted modal (rows or labels)."""
    values: dict[str, str] = {}
    for component in components:
        if not isinstance(component, dict):
            continue
        if component.get("type") == 4 and "custom_id" in component:
            values[str(component["custom_id"])] = str(component.get("value") or "")
        inner = component.get("components") or []
        if isinstance(component.get("component"), dict):
            inner = [component["component"]]
        values.update(text_inputs(list(inner)))
    return values


async def setup(bot: RunwayBot) -> None:
    """Extension entry point."""
    await bot.add_cog(GenerateCog(bot))
