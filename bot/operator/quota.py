"""``runway-bot quota show / set / grant / reset``: one member's quota in one guild."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..domain import QuotaStatus
from ..quota import LimitValue
from .common import OperatorError, Outcome, Services, iso, num, when

LIMIT_HELP = "a whole number of 0 or more, 'unlimited' or 'blocked'"


def parse_limit(text: str) -> LimitValue:
    """A ``--limit`` value: a whole number of 0 or more, ``unlimited`` or ``blocked``."""
    word = text.strip().lower()
    if word == "unlimited":
        return "unlimited"
    if word == "blocked":
        return "blocked"
    try:
        value = int(word)
    except ValueError:
        value = -1
    if value < 0:
        raise OperatorError(f"bad limit {text!r}: use {LIMIT_HELP}", code="bad_limit")
    return value


def parse_amount(text: str) -> float:
    """A ``grant`` amount: a number more than 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise OperatorError(f"bad amount {text!r}: a bonus must be a number more than 0")
    return value


def status_dict(guild_id: int, user_id: int, status: QuotaStatus) -> dict[str, Any]:
    """A quota status as JSON (``limit`` null: unlimited; ``remaining`` null: unlimited)."""
    return {
        "guild_id": guild_id,
        "user_id": user_id,
        "unit": status.unit,
        "period": status.period,
        "limit": status.limit,
        "blocked": status.blocked,
        "used": status.used,
        "reserved": status.reserved,
        "bonus": status.bonus,
        "remaining": status.remaining,
        "source": status.source,
        "resets_at": iso(status.resets_at),
    }


def status_lines(guild_id: int, user_id: int, status: QuotaStatus) -> list[str]:
    """A quota status for people."""
    if status.blocked:
        limit = "blocked"
    elif status.limit is None:
        limit = "unlimited"
    else:
        limit = f"{num(status.limit)} {status.unit} per {status.period}"
    remaining = status.remaining
    return [
        f"user {user_id} in guild {guild_id}: limit {limit} ({status.source})",
        f"  used {num(status.used)}, reserved {num(status.reserved)}, bonus {num(status.bonus)}, "
        f"remaining {'unlimited' if remaining is None else num(remaining)} {status.unit}",
        f"  resets {when(status.resets_at)}",
    ]


async def _status(
    svc: Services, guild_id: int, user_id: int, role_ids: Sequence[int], done: str | None = None
) -> Outcome:
    status = await svc.quota.status(guild_id, user_id, role_ids)
    lines = status_lines(guild_id, user_id, status)
    if done:
        lines.insert(0, done)
    return Outcome({"quota": status_dict(guild_id, user_id, status)}, lines)


async def show_quota(
    svc: Services, guild_id: int, user_id: int, *, role_ids: Sequence[int] = ()
) -> Outcome:
    """The member's limit, use, reservations and what is left this period."""
    return await _status(svc, guild_id, user_id, role_ids)


async def set_quota(
    svc: Services, guild_id: int, user_id: int, limit: str, *, role_ids: Sequence[int] = ()
) -> Outcome:
    """Override the member's limit in the guild (as ``/quota set``)."""
    value = parse_limit(limit)
    await svc.quota.set_user_limit(guild_id, user_id, value)
    return await _status(svc, guild_id, user_id, role_ids, f"limit set to {value}")


async def grant_quota(
    svc: Services, guild_id: int, user_id: int, amount: str, *, role_ids: Sequence[int] = ()
) -> Outcome:
    """Add a bonus on top of the member's limit for the current period (as ``/quota grant``)."""
    value = parse_amount(amount)
    await svc.quota.grant(guild_id, user_id, value)
    unit = svc.settings.quota.unit.value
    return await _status(svc, guild_id, user_id, role_ids, f"granted {num(value)} {unit}")


async def reset_quota(
    svc: Services, guild_id: int, user_id: int, *, role_ids: Sequence[int] = ()
) -> Outcome:
    """Forget the member's use and bonus this period; active jobs stay reserved."""
    await svc.quota.reset_usage(guild_id, user_id)
    return await _status(
        svc, guild_id, user_id, role_ids, "usage reset for this period (active jobs stay reserved)"
    )
