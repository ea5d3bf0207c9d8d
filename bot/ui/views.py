"""Persistent buttons (Cancel, Vary, Edit prompt, Continue, Restyle, Retry) that keep working
after a restart, the modals two of them open, and the (in-memory) cost confirmation.

Each button is a :class:`discord.ui.DynamicItem` whose custom id carries the job id, so the
bot only has to register the classes (``bot.add_dynamic_items``) at start-up.

This module sits above :mod:`bot.ui.actions` (the buttons run its actions); the actions and
:mod:`bot.ui.posting` get :func:`job_view` passed in as ``status_view`` instead of importing it.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, ClassVar, Self

import discord

from bot.domain import Job, NewJob, Origin
from bot.i18n import t
from bot.jobs import job_id_can_exist
from bot.worker.failures import describe_failure

from .actions import Cost, cancel_job, create, iterate_clip, rerun_job
from .context import Services, services_of
from .embeds import Outcome, cost_line, outcome
from .errors import answer as reply
from .errors import guarded
from .text import amount
from .translator import member_locale

CONFIRM_SECONDS = 120.0

Button = discord.ui.Button[discord.ui.View]


class _JobButton(discord.ui.DynamicItem[Button], template=r"rw:[a-z]+:(?P<job_id>[0-9]+)"):
    """A button whose custom id is ``rw:<action>:<job id>``; subclasses set the template."""

    _action: ClassVar[str]
    _style: ClassVar[discord.ButtonStyle]

    def __init__(self, job_id: int, locale: str = "en") -> None:
        super().__init__(
            discord.ui.Button(
                label=t(f"button.{self._action}", locale),
                style=self._style,
                custom_id=f"rw:{self._action}:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from a clicked custom id (after a restart)."""
        return cls(int(match["job_id"]))

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """An id no job can have (past the store's 64-bit range) is answered here, not run."""
        if job_id_can_exist(self.job_id):
            return True
        await reply(interaction, t("fallback.no_such_job", interaction.locale))
        return False


class CancelButton(_JobButton, template=r"rw:cancel:(?P<job_id>[0-9]+)"):
    """Cancels a job that has not finished (requester or admin)."""

    _action = "cancel"
    _style = discord.ButtonStyle.danger

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(interaction, "Cancel button", cancel_job(interaction, self.job_id))


class RerunButton(_JobButton, template=r"rw:rerun:(?P<job_id>[0-9]+)"):
    """Starts the same job again with a new random seed."""

    _action = "rerun"  # the id of the old Rerun button, so clips posted before still work
    _style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(
            interaction,
            "Vary button",
            rerun_job(
                interaction,
                self.job_id,
                keep_seed=False,
                status_view=job_view,
                ask=ask_to_confirm,
            ),
        )


class RetryButton(_JobButton, template=r"rw:retry:(?P<job_id>[0-9]+)"):
    """Sends a failed or interrupted job again with the same parameters."""

    _action = "retry"
    _style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(
            interaction,
            "Retry button",
            rerun_job(
                interaction, self.job_id, keep_seed=True, status_view=job_view, ask=ask_to_confirm
            ),
        )


async def _open_modal(interaction: discord.Interaction[Any], job_id: int, action: str) -> None:
    """Open the prompt modal of ``action`` for the job's requester (others are refused)."""
    services = services_of(interaction.client)
    job = await services.jobs.get(job_id)
    if job is None:
        await reply(interaction, t("job.gone", interaction.locale))
        return
    if job.user_id != interaction.user.id:
        verb = "edit" if action == IterateModal.EDIT else "restyle"
        await reply(interaction, t(f"job.only_requester_{verb}", interaction.locale))
        return
    modal = IterateModal(action, job_id, job.prompt, member_locale(interaction))
    modal.stop()  # handled from its custom id alone (iterate_modal_submitted), even after a restart
    await interaction.response.send_modal(modal)


class EditPromptButton(_JobButton, template=r"rw:edit:(?P<job_id>[0-9]+)"):
    """Opens a modal prefilled with the prompt; its submit starts the job again with it."""

    _action = "edit"
    _style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(
            interaction, "Edit prompt button", _open_modal(interaction, self.job_id, "edit")
        )


class ContinueButton(_JobButton, template=r"rw:continue:(?P<job_id>[0-9]+)"):
    """Animates the clip's last frame with the same prompt (a new animate job)."""

    _action = "continue"
    _style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(
            interaction,
            "Continue button",
            iterate_clip(
                interaction, self.job_id, Origin.CONTINUE, status_view=job_view, ask=ask_to_confirm
            ),
        )


class RestyleClipButton(_JobButton, template=r"rw:restyle:(?P<job_id>[0-9]+)"):
    """Opens a prompt modal; its submit restyles the clip (a new restyle job)."""

    _action = "restyle"
    _style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(
            interaction, "Restyle button", _open_modal(interaction, self.job_id, "restyle")
        )


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    CancelButton,
    RerunButton,
    RetryButton,
    EditPromptButton,
    ContinueButton,
    RestyleClipButton,
)


class IterateModal(discord.ui.Modal):
    """The prompt form of Edit prompt and Restyle this clip, prefilled with the job's prompt.

    Its custom id ``rw:modal:<action>:<job id>`` carries everything: it is sent stopped and
    :func:`iterate_modal_submitted` handles the submission, so it survives a restart.
    """

    EDIT = "edit"
    RESTYLE = "restyle"
    PROMPT_ID = "prompt"
    _ID = re.compile(r"rw:modal:(?P<action>edit|restyle):(?P<job_id>[0-9]+)")

    def __init__(self, action: str, job_id: int, prompt: str, locale: str = "en") -> None:
        edit = action == self.EDIT
        title = t("modal.edit_title" if edit else "modal.restyle_title", locale)
        super().__init__(title=title, timeout=None, custom_id=f"rw:modal:{action}:{job_id}")
        self.prompt: discord.ui.TextInput[IterateModal] = discord.ui.TextInput(
            label=t("modal.prompt" if edit else "modal.restyle_prompt", locale),
            custom_id=self.PROMPT_ID,
            style=discord.TextStyle.paragraph,
            default=prompt[:4000] or None,
            required=False,
            max_length=4000,
        )
        self.add_item(self.prompt)

    @classmethod
    def parse(cls, custom_id: str) -> tuple[str, int] | None:
        """``(action, job id)`` of a submitted modal's custom id, or None if it is not ours."""
        match = cls._ID.fullmatch(custom_id)
        return (match["action"], int(match["job_id"])) if match else None


async def iterate_modal_submitted(
    interaction: discord.Interaction[Any], custom_id: str, prompt: str
) -> bool:
    """Handle a submitted :class:`IterateModal`; False when ``custom_id`` is not one."""
    parsed = IterateModal.parse(custom_id)
    if parsed is None:
        return False
    action, job_id = parsed
    if not job_id_can_exist(job_id):  # a crafted id past the store's range
        await reply(interaction, t("fallback.no_such_job", interaction.locale))
        return True
    if action == IterateModal.EDIT:
        work = rerun_job(
            interaction,
            job_id,
            keep_seed=True,
            prompt=prompt,
            status_view=job_view,
            ask=ask_to_confirm,
        )
    else:
        work = iterate_clip(
            interaction,
            job_id,
            Origin.RESTYLE,
            prompt=prompt,
            status_view=job_view,
            ask=ask_to_confirm,
        )
    await guarded(interaction, f"the {action} modal", work)
    return True


class ConfirmView(discord.ui.View):
    """Confirm / Cancel for a job above the server's threshold. Kept in memory only: nothing
    is reserved until Confirm, so a restart or the timeout simply drops the request."""

    def __init__(
        self,
        services: Services,
        new: NewJob,
        channel: discord.abc.Messageable,
        locale: str = "en",
    ) -> None:
        super().__init__(timeout=CONFIRM_SECONDS)
        self.services = services
        self.new = new
        self.channel = channel
        self.locale = locale
        self.confirm.label = t("button.confirm", locale)
        self.cancel.label = t("button.cancel", locale)
        self.message: discord.WebhookMessage | discord.InteractionMessage | None = None
        self.decided = False

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.user.id != self.new.user_id:
            await reply(interaction, t("confirm.only_requester", interaction.locale))
            return False
        return True

    def _decide(self) -> bool:
        """True for the first press only (a double click starts one job)."""
        if self.decided:
            return False
        self.decided = True
        self.stop()
        return True

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.success)
    async def confirm(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[ConfirmView]
    ) -> None:
        """Create the job now (quota reserved) and publish it."""
        if not self._decide():
            await reply(interaction, t("confirm.already", interaction.locale))
            return
        await interaction.response.edit_message(
            content=t("confirm.starting", interaction.locale), view=None
        )
        await guarded(
            interaction,
            "Confirm button",
            create(interaction, self.services, self.new, self.channel, status_view=job_view),
        )

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[ConfirmView]
    ) -> None:
        """Drop the request: nothing was reserved."""
        if not self._decide():
            await reply(interaction, t("confirm.already", interaction.locale))
            return
        await interaction.response.edit_message(
            content=t("confirm.dropped", interaction.locale), view=None
        )

    async def on_timeout(self) -> None:
        if self.decided or self.message is None:
            return
        self.decided = True
        with contextlib.suppress(discord.HTTPException):  # a stale ephemeral prompt is harmless
            await self.message.edit(content=t("confirm.timeout", self.locale), view=None)


def confirm_text(cost: Cost, locale: str = "en") -> str:
    """The question above the Confirm button: the estimate, the threshold, what is left."""
    return t(
        "confirm.question",
        locale,
        credits=amount(cost.estimate),
        threshold=cost.threshold,
        cost=cost_line(cost.estimate, cost.left_after, cost.unit, locale),
    )


async def ask_to_confirm(
    interaction: discord.Interaction[Any],
    services: Services,
    new: NewJob,
    cost: Cost,
    channel: discord.abc.Messageable,
) -> None:
    """Show the cost and a Confirm / Cancel prompt (ephemeral); see :class:`ConfirmView`."""
    view = ConfirmView(services, new, channel, member_locale(interaction))
    text = confirm_text(cost, member_locale(interaction))
    mentions = discord.AllowedMentions.none()
    if interaction.response.is_done():
        view.message = await interaction.followup.send(
            text, view=view, ephemeral=True, allowed_mentions=mentions, wait=True
        )
    else:
        await interaction.response.send_message(
            text, view=view, ephemeral=True, allowed_mentions=mentions
        )
        view.message = await interaction.original_response()


def job_view(job: Job, locale: str = "en") -> discord.ui.View | None:
    """The buttons under a status message: Cancel while the job is not finished (labels in
    the server's ``locale``: everyone sees them)."""
    if not job.state.active:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job.id, locale))
    return view


def result_view(job: Job, locale: str = "en") -> discord.ui.View:
    """The buttons under a finished clip: Vary, Edit prompt, Continue, Restyle."""
    view = discord.ui.View(timeout=None)
    view.add_item(RerunButton(job.id, locale))
    view.add_item(EditPromptButton(job.id, locale))
    view.add_item(ContinueButton(job.id, locale))
    view.add_item(RestyleClipButton(job.id, locale))
    return view


def failure_view(job: Job, locale: str = "en") -> discord.ui.View | None:
    """The buttons under a failure notice: Retry, or Edit prompt after a safety refusal (the
    same request would be refused again); none for cancelled jobs."""
    if outcome(job) is Outcome.CANCELLED:
        return None
    view = discord.ui.View(timeout=None)
    if outcome(job) is Outcome.FAILED and describe_failure(job.error_code).moderation:
        view.add_item(EditPromptButton(job.id, locale))
    else:
        view.add_item(RetryButton(job.id, locale))
    return view
