"""Per-server settings: daily credit budget, cost confirmation threshold, channel allow-list,
locale override; every change is written to the audit log with who made it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from . import clock as clocks
from .domain import UserError
from .i18n import SUPPORTED, normalize_locale, t
from .store import guild_repo
from .store.db import Store
from .store.guild_repo import SettingsRow

MAX_CREDITS = 1_000_000_000
MAX_CHANNELS = 50


@dataclass(frozen=True)
class GuildSettings:
    """One server's settings; the defaults are what a server that never set anything gets."""

    guild_id: int
    daily_budget: int | None = None  # credits per day for the whole server (None = no cap)
    confirm_above: int | None = None  # jobs estimated above this many credits ask first
    allowed_channels: frozenset[int] = frozenset()  # empty = every channel
    locale: str | None = None  # override of the server's preferred locale for public messages

    def channel_allowed(self, channel_id: int | None, parent_id: int | None = None) -> bool:
        """Whether commands may be used in this channel (a thread counts as its parent)."""
        if not self.allowed_channels:
            return True
        return channel_id in self.allowed_channels or (
            parent_id is not None and parent_id in self.allowed_channels
        )


class BadSetting(UserError, ValueError):
    """A setting's new value is out of range; ``message`` says which and why."""

    def __init__(self, key: str, /, **fmt: object) -> None:
        super().__init__(t(key, None, **fmt), key=key, fmt=fmt)


_FIELDS = ("daily_budget", "confirm_above", "locale", "allowed_channels")


def _credits(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CREDITS:
        raise BadSetting("settings.bad_credits", max=MAX_CREDITS)
    return value


def _locale(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or normalize_locale(value) != value or value not in SUPPORTED:
        raise BadSetting("settings.bad_locale", value=str(value)[:20], choices=", ".join(SUPPORTED))
    return value


def _channels(value: object) -> frozenset[int]:
    if not isinstance(value, Iterable) or isinstance(value, str | bytes):
        raise TypeError("allowed_channels must be a collection of channel ids")
    ids = frozenset(value)
    if any(isinstance(c, bool) or not isinstance(c, int) or c <= 0 for c in ids):
        raise TypeError("allowed_channels must hold positive channel ids")
    if len(ids) > MAX_CHANNELS:
        raise BadSetting("settings.too_many_channels", max=MAX_CHANNELS)
    return ids


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, frozenset):
        return ",".join(str(c) for c in sorted(value))
    return str(value)


class GuildSettingsService:
    """Reads and changes server settings through the store."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = clocks.now) -> None:
        self._store = store
        self._clock = clock

    async def get(self, guild_id: int) -> GuildSettings:
        """The server's settings (defaults when it never set any)."""
        async with self._store.read() as conn:
            row = await guild_repo.get_settings(conn, guild_id)
            return _settings(guild_id, row, await guild_repo.channels(conn, guild_id))

    async def update(self, guild_id: int, actor_id: int | None, **changes: object) -> GuildSettings:
        """Change some settings (``daily_budget``, ``confirm_above``, ``locale``,
        ``allowed_channels``); None clears a value. Each change that alters something is
        audited with ``actor_id`` (None: the operator's command line). Raises
        :class:`BadSetting` (nothing changed) on a value out of range."""
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise TypeError(f"unknown guild settings: {', '.join(sorted(unknown))}")
        checked = {name: _check(name, value) for name, value in changes.items()}
        return await self._change(guild_id, actor_id, lambda _: checked)

    async def allow_channels(
        self, guild_id: int, actor_id: int | None, channel_ids: Iterable[int]
    ) -> GuildSettings:
        """Add channels to the allow-list."""
        ids = frozenset(channel_ids)
        return await self._change(
            guild_id,
            actor_id,
            lambda before: {"allowed_channels": _channels(before.allowed_channels | ids)},
        )

    async def disallow_channels(
        self, guild_id: int, actor_id: int | None, channel_ids: Iterable[int]
    ) -> GuildSettings:
        """Take channels off the allow-list (an empty list allows every channel again)."""
        ids = frozenset(channel_ids)
        return await self._change(
            guild_id, actor_id, lambda before: {"allowed_channels": before.allowed_channels - ids}
        )

    async def _change(
        self,
        guild_id: int,
        actor_id: int | None,
        changes: Callable[[GuildSettings], dict[str, object]],
    ) -> GuildSettings:
        now = self._clock()
        async with self._store.transaction() as conn:
            row = await guild_repo.get_settings(conn, guild_id)
            before = _settings(guild_id, row, await guild_repo.channels(conn, guild_id))
            checked = changes(before)
            after = replace(before, **checked)  # type: ignore[arg-type]
            for name in checked:
                old, new = getattr(before, name), getattr(after, name)
                if old != new:
                    await guild_repo.add_audit(
                        conn, guild_id, actor_id, f"setting.{name}", subject_id=None,
                        old_value=_text(old), new_value=_text(new), now=now,
                    )  # fmt: skip
            if after.allowed_channels != before.allowed_channels:
                await guild_repo.remove_channels(
                    conn, guild_id, before.allowed_channels - after.allowed_channels
                )
                await guild_repo.add_channels(
                    conn, guild_id, after.allowed_channels - before.allowed_channels, now
                )
            stored = SettingsRow(after.daily_budget, after.confirm_above, after.locale)
            if row != stored and (row is not None or stored != SettingsRow(None, None, None)):
                await guild_repo.put_settings(conn, guild_id, stored, now)
        return after


def _settings(guild_id: int, row: SettingsRow | None, allowed: frozenset[int]) -> GuildSettings:
    if row is None:
        return GuildSettings(guild_id, allowed_channels=allowed)
    return GuildSettings(guild_id, row.daily_budget, row.confirm_above, allowed, row.locale)


def _check(name: str, value: object) -> object:
    if name == "locale":
        return _locale(value)
    if name == "allowed_channels":
        return _channels(value)
    return _credits(value)
