"""Text helpers for everything the bot shows: escaping, truncation, progress bars, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import discord

BAR_WIDTH = 12
_FULL = "█"
_EMPTY = "░"


def safe(text: str) -> str:
    """User text made inert: markdown escaped and mentions (@everyone, users, roles) defused."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    if limit < 1:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def safe_quote(text: str, limit: int = 1000) -> str:
    """User text escaped and truncated to fit ``limit`` characters after escaping."""
    escaped = safe(text)
    if len(escaped) <= limit:
        return escaped
    # Cut the raw text, then escape, so no escape sequence is split in half.
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if len(safe(text[:mid])) <= limit - 1:
            low = mid
        else:
            high = mid - 1
    return safe(text[:low]) + "…"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Discord and Runway count it."""
    return len(text.encode("utf-16-le")) // 2


def progress_bar(fraction: float | None, width: int = BAR_WIDTH) -> str:
    """A text bar like ``███░░░░░ 37%``; an empty bar for unknown progress."""
    if fraction is None:
        return _EMPTY * width
    clamped = min(1.0, max(0.0, fraction))
    filled = int(clamped * width + 1e-9)
    return f"{_FULL * filled}{_EMPTY * (width - filled)} {int(clamped * 100)}%"


def timestamp(when: datetime, style: str = "R") -> str:
    """A Discord timestamp markup (``<t:UNIX:R>``), rendered in each reader's time zone."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return f"<t:{int(when.timestamp())}:{style}>"


def duration_text(seconds: float) -> str:
    """``seconds`` as ``1h 02m``, ``3m 05s`` or ``42s``."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def amount(value: float) -> str:
    """A credit or job amount without a useless ``.0``."""
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def message_link(guild_id: int | None, channel_id: int, message_id: int | None = None) -> str:
    """A jump link to a channel, thread or message."""
    base = (
        f"https://discord.com/channels/{guild_id if guild_id is not None else '@me'}/{channel_id}"
    )
    return f"{base}/{message_id}" if message_id is not None else base
