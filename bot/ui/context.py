"""The services the Discord layer works with, reachable from any interaction's client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import discord

from bot.config import Settings
from bot.domain import Job

if TYPE_CHECKING:
    from bot.jobs import JobService
    from bot.quota import QuotaService
    from bot.runway.client import RunwayClient


class StatusRefresher(Protocol):
    """What the Discord layer needs of the delivery (:class:`bot.ui.delivery.DiscordDelivery`,
    which sits above this module): redraw a job's status message now."""

    async def refresh(self, job: Job) -> None:
        """Redraw the job's status message (after a cancel from a button or command)."""


@dataclass
class Services:
    """Settings plus the job engine's services; ``delivery`` refreshes status messages,
    ``runway`` answers operator questions (organization balance)."""

    settings: Settings
    jobs: JobService
    quota: QuotaService
    delivery: StatusRefresher | None = None
    runway: RunwayClient | None = None


class ServicesUnavailable(RuntimeError):
    """The bot is still starting (or stopping) and its services are not ready."""


def services_of(client: discord.Client) -> Services:
    """The :class:`Services` attached to the bot behind an interaction."""
    services = getattr(client, "services", None)
    if not isinstance(services, Services):
        raise ServicesUnavailable("the bot is not ready yet")
    return services
