"""Persistent buttons (Cancel, Rerun, Retry) that keep working after a restart.

Each button is a :class:`discord.ui.DynamicItem` whose custom id carries the job id, so the
bot only has to register the classes (``bot.add_dynamic_items``) at start-up.

This module sits above :mod:`bot.ui.actions` (the buttons run its actions); the actions and
:mod:`bot.ui.posting` get :func:`job_view` passed in as ``status_view`` instead of importing it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Self

import discord

from bot.domain import Job

from .actions import cancel_job, rerun_job
from .embeds import Outcome, outcome
from .errors import guarded

Button = discord.ui.Button[discord.ui.View]


class _JobButton(discord.ui.DynamicItem[Button], template=r"rw:[a-z]+:(?P<job_id>[0-9]+)"):
    """A button whose custom id is ``rw:<action>:<job id>``; subclasses set the template."""

    _action: ClassVar[str]
    _label: ClassVar[str]
    _style: ClassVar[discord.ButtonStyle]

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=self._label, style=self._style, custom_id=f"rw:{self._action}:{job_id}"
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


class CancelButton(_JobButton, template=r"rw:cancel:(?P<job_id>[0-9]+)"):
    """Cancels a job that has not finished (requester or admin)."""

    _action = "cancel"
    _label = "Cancel"
    _style = discord.ButtonStyle.danger

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(interaction, "Cancel button", cancel_job(interaction, self.job_id))


class RerunButton(_JobButton, template=r"rw:rerun:(?P<job_id>[0-9]+)"):
    """Starts the same job again with a new random seed."""

    _action = "rerun"
    _label = "Rerun with a new seed"
    _style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(
            interaction,
            "Rerun button",
            rerun_job(interaction, self.job_id, keep_seed=False, status_view=job_view),
        )


class RetryButton(_JobButton, template=r"rw:retry:(?P<job_id>[0-9]+)"):
    """Sends a failed or interrupted job again with the same parameters."""

    _action = "retry"
    _label = "Retry"
    _style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(
            interaction,
            "Retry button",
            rerun_job(interaction, self.job_id, keep_seed=True, status_view=job_view),
        )


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    CancelButton,
    RerunButton,
    RetryButton,
)


def job_view(job: Job) -> discord.ui.View | None:
    """The buttons under a status message: Cancel while the job is not finished."""
    if not job.state.active:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job.id))
    return view


def result_view(job: Job) -> discord.ui.View:
    """The buttons under a finished clip: Rerun with a new seed."""
    view = discord.ui.View(timeout=None)
    view.add_item(RerunButton(job.id))
    return view


def failure_view(job: Job) -> discord.ui.View | None:
    """The buttons under a failure notice: Retry (not for cancelled jobs)."""
    if outcome(job) is Outcome.CANCELLED:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(RetryButton(job.id))
    return view
