"""Discord's rules as the fake enforces them: clock, permissions, limits, rate limits, nonces."""

from __future__ import annotations

import hashlib
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

# Permission bits (https://discord.com/developers/docs/topics/permissions).
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

DEFAULT_EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MENTION_EVERYONE
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | CREATE_PRIVATE_THREADS
    | SEND_MESSAGES_IN_THREADS
)
"""What a new guild's @everyone role gets (close to Discord's default)."""

DM_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
    | ADD_REACTIONS | USE_EXTERNAL_EMOJIS
)  # fmt: skip
"""What the bot may do in its own DM channel with a user."""
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
UPLOAD_LIMIT_BY_TIER = {0: DEFAULT_UPLOAD_LIMIT, 1: DEFAULT_UPLOAD_LIMIT, 2: 50 << 20, 3: 100 << 20}
MAX_CONTENT_LENGTH = 2000
MAX_EMBED_TOTAL = 6000
INTERACTION_ACK_SECONDS = 3.0
INTERACTION_TOKEN_SECONDS = 15 * 60.0
NONCE_WINDOW_SECONDS = 5 * 60.0
ATTACHMENT_URL_SECONDS = 24 * 3600.0
GLOBAL_PER_SECOND = 50
"""Discord's global limit: requests per second per bot token (interactions exempt)."""


def upload_limit(premium_tier: int, override: int | None = None) -> int:
    """Largest total upload a message in a guild of this boost tier may carry."""
    if override is not None:
        return override
    return UPLOAD_LIMIT_BY_TIER.get(premium_tier, DEFAULT_UPLOAD_LIMIT)


class DiscordError(Exception):
    """An error answer, as Discord formats it: HTTP status plus {"code", "message"}."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def unknown(what: str, code: int) -> DiscordError:
    return DiscordError(404, code, f"Unknown {what}")


UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
UNKNOWN_USER = 10013
UNKNOWN_APPLICATION = 10002
UNKNOWN_INTERACTION = 10062


def unknown_interaction() -> DiscordError:
    return DiscordError(404, UNKNOWN_INTERACTION, "Unknown interaction")


def already_acknowledged() -> DiscordError:
    return DiscordError(400, 40060, "Interaction has already been acknowledged.")


def invalid_webhook_token() -> DiscordError:
    return DiscordError(401, 50027, "Invalid Webhook Token")


def missing_permissions() -> DiscordError:
    return DiscordError(403, 50013, "Missing Permissions")


def thread_archived() -> DiscordError:
    return DiscordError(400, 50083, "Thread is archived")


def missing_access() -> DiscordError:
    return DiscordError(403, 50001, "Missing Access")


def cannot_message_user() -> DiscordError:
    """The user does not accept direct messages from the bot (or shares no server with it)."""
    return DiscordError(403, 50007, "Cannot send messages to this user")


def too_large() -> DiscordError:
    return DiscordError(413, 40005, "Request entity too large")


def unauthorized() -> DiscordError:
    return DiscordError(401, 0, "401: Unauthorized")


FormProblem = tuple[list[str | int], str, str]
"""One Invalid Form Body error: (path to the field, code, message)."""


def form_error(path: list[str | int], code: str, message: str) -> DiscordError:
    """A 50035 Invalid Form Body with one error at `path`."""
    return form_errors([(path, code, message)])


def form_errors(problems: list[FormProblem]) -> DiscordError:
    """A 50035 Invalid Form Body with every error nested at its path, as Discord nests them."""
    errors: dict[str, Any] = {}
    for path, code, message in problems:
        node = errors
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
    return DiscordError(400, 50035, "Invalid Form Body", errors)


class Clock:
    """Simulated seconds: real monotonic time times `scale`, plus manual advances."""

    def __init__(self, scale: float = 1.0) -> None:
        self._scale = scale
        self._real0 = time.monotonic()
        self._sim0 = 0.0

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> float:
        return self._sim0 + (time.monotonic() - self._real0) * self._scale

    def set_scale(self, scale: float) -> None:
        if scale < 0:
            raise ValueError("time scale must not be negative")
        self._sim0 = self.now()
        self._real0 = time.monotonic()
        self._scale = scale

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("cannot move the clock backwards")
        self._sim0 += seconds


def compute_permissions(
    *,
    guild_id: int,
    owner_id: int,
    user_id: int,
    role_ids: list[int],
    role_permissions: dict[int, int],
    overwrites: list[dict[str, Any]],
) -> int:
    """Discord's permission algorithm: base (everyone + roles), admin, then channel overwrites."""
    if user_id == owner_id:
        return ALL_PERMISSIONS
    perms = role_permissions.get(guild_id, 0)
    for rid in role_ids:
        perms |= role_permissions.get(rid, 0)
    if perms & ADMINISTRATOR:
        return ALL_PERMISSIONS
    by_id = {int(o["id"]): o for o in overwrites}
    everyone = by_id.get(guild_id)
    if everyone is not None:
        perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
    allow = deny = 0
    for rid in role_ids:
        o = by_id.get(rid)
        if o is not None and o["type"] == 0:
            allow |= int(o["allow"])
            deny |= int(o["deny"])
    perms = (perms & ~deny) | allow
    member = by_id.get(user_id)
    if member is not None and member["type"] == 1:
        perms = (perms & ~int(member["deny"])) | int(member["allow"])
    if not perms & VIEW_CHANNEL:
        return 0
    return perms


@dataclass
class ForcedLimit:
    """The next `count` requests matching method+route answer 429."""

    method: str
    route: str
    count: int
    retry_after: float
    is_global: bool = False


def _seconds_left(start: float, window: float) -> float:
    """Time left in a window, rounded up to the millisecond (never announce too early)."""
    left = window - (time.monotonic() - start)
    return max(0.001, math.ceil(left * 1000) / 1000)


@dataclass
class RateLimiter:
    """Realistic X-RateLimit headers on every answer, and scripted (or random) 429s.

    Realistic mode counts bot-token requests against a global limit (per second) and each
    route bucket (fixed window per major parameter); `share` answers that fraction of
    bot-token requests with a per-route 429 (seeded, so runs repeat).

    `time_factor`: how many seconds pass on the bot's clock per real second (a bot on a
    :class:`bot.clock.VirtualClock`). Windows are counted in real time; every duration the
    bot is told (Reset-After, Retry-After, `retry_after`) is multiplied by it, so the bot's
    wait ends when the real window does.
    """

    random_rate: float = 0.0
    random_retry_after: float = 0.05
    seed: int = 0
    forced: list[ForcedLimit] = field(default_factory=list)
    limited: list[tuple[str, str]] = field(default_factory=list)

    realistic: bool = False
    bucket_limit: int = 5
    bucket_seconds: float = 5.0
    global_per_second: int = GLOBAL_PER_SECOND
    share: float = 0.0
    share_retry_after: float = 0.05
    time_factor: float = 1.0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._share_random = random.Random(self.seed)
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._global: tuple[float, int] = (0.0, 0)

    def configure(
        self,
        realistic: bool,
        limit: int = 5,
        seconds: float = 5.0,
        *,
        global_per_second: int = GLOBAL_PER_SECOND,
        share: float = 0.0,
        share_retry_after: float = 0.05,
        seed: int | None = None,
    ) -> None:
        """Switch realistic buckets (and the global limit; 0: none) on or off and set the
        share of per-route 429s; counting starts afresh, `seed` restarts the share's RNG."""
        self.realistic, self.bucket_limit, self.bucket_seconds = realistic, limit, seconds
        self.global_per_second = global_per_second
        self.share, self.share_retry_after = share, share_retry_after
        if seed is not None:
            self.seed = seed
            self._share_random = random.Random(seed)
        self._windows.clear()
        self._global = (0.0, 0)

    def _window(self, key: tuple[str, str]) -> tuple[float, int]:
        start, used = self._windows.get(key, (0.0, 0))
        now = time.monotonic()
        if now - start >= self.bucket_seconds:
            start, used = now, 0
        return start, used

    def take(
        self, method: str, template: str, major: str, *, bot: bool = True
    ) -> ForcedLimit | None:
        """Count a request (`bot`: made with the bot token, not an interaction or webhook
        one): the global limit first, then the share of per-route 429s, then the route's
        bucket; a request over a limit answers 429 until that window resets."""
        over = self._take_global() if bot else None
        if over is not None:
            return over
        if bot and self.share and self._share_random.random() < self.share:
            return ForcedLimit(method, template, 1, self.share_retry_after)
        if not self.realistic:
            return None
        key = (self.bucket(method, template), major)
        start, used = self._window(key)
        if used >= self.bucket_limit:
            return ForcedLimit(method, template, 1, _seconds_left(start, self.bucket_seconds))
        self._windows[key] = (start, used + 1)
        return None

    def _take_global(self) -> ForcedLimit | None:
        """Realistic mode: at most `global_per_second` bot-token requests per second."""
        if not self.realistic or self.global_per_second <= 0:
            return None
        start, used = self._global
        if time.monotonic() - start >= 1.0:
            start, used = time.monotonic(), 0
        if used >= self.global_per_second:
            return ForcedLimit("*", "*", 1, _seconds_left(start, 1.0), is_global=True)
        self._global = (start, used + 1)
        return None

    def force(
        self, method: str, route: str, count: int, retry_after: float, is_global: bool = False
    ) -> None:
        self.forced.append(ForcedLimit(method.upper(), route, count, retry_after, is_global))

    def check(self, method: str, template: str, path: str) -> ForcedLimit | None:
        """Return the limit to answer with, or None when the request may pass."""
        for rule in self.forced:
            if rule.method not in ("*", method):
                continue
            if rule.route not in ("*", template, path):
                continue
            rule.count -= 1
            if rule.count <= 0:
                self.forced.remove(rule)
            self.limited.append((method, path))
            return rule
        if self.random_rate and self._random.random() < self.random_rate:
            self.limited.append((method, path))
            return ForcedLimit(method, template, 1, self.random_retry_after)
        return None

    @staticmethod
    def bucket(method: str, template: str) -> str:
        return hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:32]

    def headers(self, method: str, template: str, major: str = "") -> dict[str, str]:
        reset_after = 1.0
        remaining = 4
        if self.realistic:
            start, used = self._window((self.bucket(method, template), major))
            remaining = max(0, self.bucket_limit - used)
            reset_after = _seconds_left(start, self.bucket_seconds)
        return {
            "X-RateLimit-Bucket": self.bucket(method, template),
            "X-RateLimit-Limit": str(self.bucket_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after * self.time_factor:.3f}",
        }

    def limited_headers(self, method: str, template: str, rule: ForcedLimit) -> dict[str, str]:
        headers = {
            "Retry-After": str(max(1, math.ceil(rule.retry_after * self.time_factor))),
            "X-RateLimit-Scope": "global" if rule.is_global else "user",
            "Via": "1.1 google",
        }
        if rule.is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Bucket": self.bucket(method, template),
                    "X-RateLimit-Limit": str(self.bucket_limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + rule.retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{rule.retry_after * self.time_factor:.3f}",
                }
            )
        return headers

    def limited_body(self, rule: ForcedLimit) -> dict[str, Any]:
        return {
            "message": "You are being rate limited.",
            "retry_after": rule.retry_after * self.time_factor,
            "global": rule.is_global,
        }


@dataclass
class NonceCache:
    """enforce_nonce: a repeated (channel, author, nonce) returns the first message."""

    window: float = NONCE_WINDOW_SECONDS
    seen: dict[tuple[int, int, str], tuple[float, int]] = field(default_factory=dict)

    def lookup(self, channel_id: int, author_id: int, nonce: str, now: float) -> int | None:
        hit = self.seen.get((channel_id, author_id, nonce))
        if hit is None or now - hit[0] > self.window:
            return None
        return hit[1]

    def remember(
        self, channel_id: int, author_id: int, nonce: str, message_id: int, now: float
    ) -> None:
        self.seen[(channel_id, author_id, nonce)] = (now, message_id)
