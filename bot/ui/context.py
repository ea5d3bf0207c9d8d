"""The services the Discord layer works with, reachable from any interaction's client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.config import Settings

if TYPE_CHECKING:
    from bot.jobs import JobService
    from bot.quota import QuotaService
    from bot.runway.client import RunwayClient
    from bot.ui.delivery import DiscordDelivery


@dataclass
class Services:
    """Settings plus the job engine's services; ``delivery`` refreshes status messages,
    ``runway`` answers operator questions (organization balance)."""

    settings: Settings
    jobs: JobService
    quota: QuotaService
    delivery: DiscordDelivery | None = None
    runway: RunwayClient | None = None


class ServicesUnavailable(RuntimeError):
    """The bot is still starting (or stopping) and its services are not ready."""


def services_of(client: discord.Client) -> Services:
    """The :class:`Services` attached to the bot behind an interaction."""
    services = getattr(client, "services", None)
    if not isinstance(services, Services):
        raise ServicesUnavailable("the bot is not ready yet")
    return services
