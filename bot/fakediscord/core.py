"""The fake Discord's state and the services its handlers share (no routes, no server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from bot.fakediscord import rules
from bot.fakediscord.openapi import BodyValidator
from bot.fakediscord.state import Channel, User, World

DEFAULT_TOKEN = "fake.discord.token"
DEFAULT_APPLICATION_ID = 1100000000000000001
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12

GUILD_MESSAGE_EVENTS = {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"}
GUILD_MEMBER_EVENTS = {"GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE"}
GUILDS_EVENTS = {
    "GUILD_CREATE",
    "GUILD_UPDATE",
    "CHANNEL_CREATE",
    "CHANNEL_UPDATE",
    "CHANNEL_DELETE",
    "THREAD_CREATE",
    "THREAD_UPDATE",
    "THREAD_DELETE",
    "GUILD_ROLE_CREATE",
    "GUILD_ROLE_UPDATE",
}

AFTER_SENT = web.RequestKey("after_sent", list[Callable[[], None]])
"""Request key: callbacks to run once the HTTP answer to that request was written."""


def after_sent(request: web.Request, callback: Callable[[], None]) -> None:
    """Run `callback` once the answer to `request` has been sent (or its sending failed)."""
    request.setdefault(AFTER_SENT, []).append(callback)


@dataclass
class Settings:
    """Switches tests flip through the control API."""

    require_registered_commands: bool = True
    enforce_default_member_permissions: bool = True
    ack_seconds: float = rules.INTERACTION_ACK_SECONDS
    token_seconds: float = rules.INTERACTION_TOKEN_SECONDS
    heartbeat_interval_ms: int = 41250
    check_bot_token: bool = True
    answer_wait_seconds: float = 10.0

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if not hasattr(self, key):
                raise KeyError(key)
            setattr(self, key, type(getattr(self, key))(value))


@dataclass
class LoggedCall:
    """One REST request the fake received."""

    method: str
    path: str
    route: str
    query: dict[str, str]
    body: Any
    files: list[dict[str, Any]]
    status: int = 0
    response: Any = None
    at: float = field(default_factory=time.time)


def _guild_of(event: str, data: dict[str, Any]) -> int | None:
    """The guild an event belongs to, for shard routing (None: a DM or no guild)."""
    raw = data.get("guild_id")
    if raw is None and event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"):
        raw = data.get("id")
    return int(raw) if raw else None


class FakeCore:
    """Owns the world and its rules; the REST, gateway and control handlers act on it."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        application_id: int = DEFAULT_APPLICATION_ID,
        bot_name: str = "RunwayBot",
        time_scale: float = 1.0,
    ) -> None:
        self.token = token
        self.application_id = application_id
        self.bot_name = bot_name
        self.clock = rules.Clock(time_scale)
        self.settings = Settings()
        self.limiter = rules.RateLimiter()
        self.nonces = rules.NonceCache()
        self.validator = BodyValidator()
        self.world = World(
            application_id, User(application_id, bot_name, bot=True), clock=self.clock.now
        )
        self.calls: list[LoggedCall] = []
        self.invalid: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.sessions: dict[str, Any] = {}  # session_id -> gateway.Session
        self.gateway_log: list[dict[str, Any]] = []
        self.changed = asyncio.Condition()
        self.version = 0
        """Counts the changes `notify()` announced (a watcher compares it with the last it saw)."""
        self.base_url = ""

    # -- URLs ---------------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/gateway"

    # -- events -------------------------------------------------------------------------------

    async def notify(self) -> None:
        """Tell waiters on `changed` that the world may have changed."""
        async with self.changed:
            self.version += 1
            self.changed.notify_all()

    async def dispatch(
        self, event: str, data: dict[str, Any], *, guild_id: int | None = None
    ) -> None:
        """Send a DISPATCH to every identified gateway session whose intents allow it, on the
        shard that serves the event's guild (``guild_id``, else the payload's)."""
        routed = guild_id if guild_id else _guild_of(event, data)
        for session in list(self.sessions.values()):
            if not session.serves(routed):
                continue
            if (
                event in GUILD_MESSAGE_EVENTS
                and guild_id
                and not session.intents & (INTENT_GUILD_MESSAGES)
            ):
                continue
            if (
                event in GUILD_MESSAGE_EVENTS
                and not routed
                and not session.intents & INTENT_DIRECT_MESSAGES
            ):
                continue
            if event in GUILDS_EVENTS and not session.intents & INTENT_GUILDS:
                continue
            if event in GUILD_MEMBER_EVENTS and not session.intents & INTENT_GUILD_MEMBERS:
                continue
            await session.dispatch(event, data)
        await self.notify()

    async def auto_archive(self, channel: Channel) -> None:
        """Archive a thread idle past its auto_archive_duration (done lazily, whenever a
        thread is looked at or posted to) and tell the gateway."""
        if self.world.auto_archive(channel):
            await self.dispatch("THREAD_UPDATE", channel.to_json(), guild_id=channel.guild_id)

    def record_invalid(self, call: LoggedCall, error: rules.DiscordError) -> None:
        self.invalid.append(
            {
                "method": call.method,
                "path": call.path,
                "route": call.route,
                "body": call.body,
                "errors": error.errors,
                "message": error.message,
                "code": error.code,
            }
        )

    def calls_json(self) -> list[dict[str, Any]]:
        return [asdict(c) for c in self.calls]
