"""Per-user, per-guild quotas: limit resolution, reservation, settlement, admin operations.

Amounts are credits (estimated from the catalog) or jobs, per UTC day, ISO week or month.
Reservations happen inside the caller's ``BEGIN IMMEDIATE`` transaction, so the check and
the write are atomic across tasks and processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from . import clock as clocks
from .catalog import ModelSpec
from .config import QuotaPeriod, QuotaSettings, QuotaUnit
from .domain import JobError, QuotaExceeded, QuotaStatus
from .guild_settings import GuildSettingsService
from .i18n import t, text
from .ops.metrics import Metrics
from .store import guild_repo, jobs_repo, quota_repo
from .store.db import Conn, Store
from .store.guild_repo import AuditRow
from .store.quota_repo import BOT_GUILD, BOT_USER, LimitRow
from .store.records import JobRecord

LimitValue = int | Literal["unlimited", "blocked"]

_EPS = 1e-9


def period_window(period: QuotaPeriod, now: datetime) -> tuple[str, datetime]:
    """The period's key (``2026-11-21``, ``2026-W47``, ``2026-11``) and when it ends (UTC)."""
    now = now.astimezone(UTC)
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    if period is QuotaPeriod.DAY:
        return day.strftime("%Y-%m-%d"), day + timedelta(days=1)
    if period is QuotaPeriod.WEEK:
        year, week, weekday = now.isocalendar()
        return f"{year}-W{week:02d}", day + timedelta(days=8 - weekday)
    nxt = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)
    return now.strftime("%Y-%m"), nxt


@dataclass(frozen=True, slots=True)
class ResolvedLimit:
    """The limit that applies to a user and where it came from."""

    limit: float | None  # None: unlimited
    blocked: bool
    source: str
    role_id: int | None = None  # the role the limit comes from


def resolve_limit(rows: Sequence[LimitRow], user_id: int, default: int | None) -> ResolvedLimit:
    """User override > highest of the user's role limits > guild default > config default.

    Among roles, "unlimited" beats any number and any number beats "blocked".
    """

    def as_limit(row: LimitRow, source: str) -> ResolvedLimit:
        role = row.subject_id if row.scope == "role" else None
        if row.mode == "blocked":
            return ResolvedLimit(0.0, True, source, role)
        if row.mode == "unlimited":
            return ResolvedLimit(None, False, source, role)
        return ResolvedLimit(float(row.amount or 0), False, source, role)

    for row in rows:
        if row.scope == "user" and row.subject_id == user_id:
            return as_limit(row, "user override")
    roles = [r for r in rows if r.scope == "role"]
    if roles:

        def rank(row: LimitRow) -> tuple[int, int]:
            order = {"blocked": 0, "limit": 1, "unlimited": 2}[row.mode]
            return order, row.amount or 0

        best = max(roles, key=lambda r: (rank(r), -r.subject_id))
        return as_limit(best, f"role {best.subject_id}")
    for row in rows:
        if row.scope == "guild":
            return as_limit(row, "guild default")
    if default is None:
        return ResolvedLimit(None, False, "config default")
    return ResolvedLimit(float(default), False, "config default")


@dataclass(frozen=True, slots=True)
class Reservation:
    """What a new job reserves: written by :meth:`QuotaService.commit_reservation`."""

    guild_key: int
    user_id: int
    quota_key: str
    amount: float
    cap_key: str
    credits: float


@dataclass(frozen=True, slots=True)
class ResetResult:
    """What ``/quota reset`` cleared (and the bonus it kept)."""

    used: float
    bonus_cleared: float
    bonus_kept: float
    reserved: float  # active jobs' reservations, which a reset never clears


@dataclass(frozen=True, slots=True)
class GuildLimits:
    """Everything stored for one server, for ``/quota list``."""

    default: LimitRow | None
    roles: tuple[LimitRow, ...]
    users: tuple[LimitRow, ...]


def _fmt(value: float) -> str:
    return f"{value:g}"


def _check_limit(value: LimitValue) -> tuple[str, int | None]:
    if value == "unlimited" or value == "blocked":
        return value, None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise JobError.of("quota.bad_limit")
    return "limit", value


def _limit_value(row: LimitRow | None) -> str | None:
    """How a stored limit is written in the audit log (None: no limit stored)."""
    if row is None:
        return None
    return str(row.amount) if row.mode == "limit" else row.mode


def guild_budget_key(cap_key: str) -> str:
    """A server's daily credit counter key, beside the bot-wide one for the same day."""
    return "guild-" + cap_key


class QuotaService:
    """Quota limits and usage, backed by the store."""

    def __init__(
        self,
        store: Store,
        settings: QuotaSettings,
        catalog: Sequence[ModelSpec],
        *,
        clock: Callable[[], float] = clocks.now,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._catalog = tuple(catalog)
        self._clock = clock
        self.metrics = metrics if metrics is not None else Metrics()
        self.guilds = GuildSettingsService(store, clock=clock)

    @property
    def unit(self) -> QuotaUnit:
        """What quotas count."""
        return self._settings.unit

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _key(self, now: datetime) -> tuple[str, datetime]:
        period = self._settings.period
        key, resets = period_window(period, now)
        return f"{self._settings.unit.value}:{period.value}:{key}", resets

    def _cap_key(self, now: datetime) -> str:
        return "credits:day:" + period_window(QuotaPeriod.DAY, now)[0]

    async def _status(
        self,
        conn: Conn,
        guild_id: int | None,
        user_id: int,
        role_ids: Sequence[int],
    ) -> QuotaStatus:
        now = self._now()
        key, resets = self._key(now)
        guild_key = guild_id or 0
        rows = await quota_repo.limits_for(conn, guild_key, user_id, role_ids)
        resolved = resolve_limit(rows, user_id, self._settings.default_limit)
        usage = await quota_repo.usage(conn, guild_key, user_id, key)
        return QuotaStatus(
            unit=self._settings.unit.value,
            limit=resolved.limit,
            blocked=resolved.blocked,
            used=usage.used,
            reserved=usage.reserved,
            bonus=usage.bonus,
            source=resolved.source,
            period=self._settings.period.value,
            resets_at=resets,
            source_role=resolved.role_id,
        )

    async def status(
        self, guild_id: int | None, user_id: int, role_ids: Sequence[int] = ()
    ) -> QuotaStatus:
        """The user's limit, use, reservations and remaining amount this period."""
        async with self._store.transaction() as conn:
            return await self._status(conn, guild_id, user_id, role_ids)

    async def plan_reservation(
        self,
        conn: Conn,
        *,
        guild_id: int | None,
        user_id: int,
        role_ids: Sequence[int],
        credits: float,
    ) -> Reservation:
        """Check that a job fits (raises QuotaExceeded); call inside the insert transaction."""
        now = self._now()
        status = await self._status(conn, guild_id, user_id, role_ids)
        amount = 1.0 if self._settings.unit is QuotaUnit.JOBS else float(credits)
        reset_text = status.resets_at.strftime("%Y-%m-%d %H:%M UTC")
        if status.blocked:
            raise QuotaExceeded(
                t("quota.blocked", None), status=status, needed=amount, key="quota.blocked"
            )
        remaining = status.remaining
        if remaining is not None and amount > remaining + _EPS:
            fmt: dict[str, object] = {
                "needed": _fmt(amount),
                "unit": text(f"unit.{self._settings.unit.value}"),
                "left": _fmt(remaining),
                "limit": _fmt((status.limit or 0) + status.bonus),
                "resets": reset_text,
            }
            key = f"quota.not_enough.{status.period}"
            raise QuotaExceeded(t(key, None, **fmt), status=status, needed=amount, key=key, fmt=fmt)
        cap_key = self._cap_key(now)
        if guild_id:
            await self._check_guild_budget(conn, guild_id, cap_key, credits, status, amount)
        cap = self._settings.daily_credit_cap
        if cap is not None:
            bot = await quota_repo.usage(conn, BOT_GUILD, BOT_USER, cap_key)
            if bot.used + bot.reserved + credits > cap + _EPS:
                raise QuotaExceeded(
                    t("quota.bot_budget", None),
                    status=status,
                    needed=amount,
                    scope="bot",
                    key="quota.bot_budget",
                )
        return Reservation(guild_id or 0, user_id, self._key(now)[0], amount, cap_key, credits)

    async def _check_guild_budget(
        self,
        conn: Conn,
        guild_id: int,
        cap_key: str,
        credits: float,
        status: QuotaStatus,
        amount: float,
    ) -> None:
        """Raise QuotaExceeded (scope ``guild``) when the job would overrun the server's daily
        credit budget (``/runway budget``); every member's jobs count against it."""
        budget = await guild_repo.daily_budget(conn, guild_id)
        if budget is None:
            return
        spent = await quota_repo.usage(conn, guild_id, BOT_USER, guild_budget_key(cap_key))
        if spent.used + spent.reserved + credits <= budget + _EPS:
            return
        fmt: dict[str, object] = {
            "needed": _fmt(credits),
            "left": _fmt(max(0.0, budget - spent.used - spent.reserved)),
            "budget": _fmt(budget),
        }
        raise QuotaExceeded(
            t("quota.guild_budget", None, **fmt),
            status=status,
            needed=amount,
            scope="guild",
            key="quota.guild_budget",
            fmt=fmt,
        )

    async def commit_reservation(self, conn: Conn, res: Reservation, job_id: int) -> None:
        """Write a planned reservation for the newly inserted job (same transaction)."""
        now = self._clock()
        await quota_repo.add(
            conn, res.guild_key, res.user_id, res.quota_key, entry="reserve", now=now,
            reserved=res.amount, ledger_amount=res.amount, job_id=job_id,
        )  # fmt: skip
        await quota_repo.add(
            conn, BOT_GUILD, BOT_USER, res.cap_key, entry="reserve", now=now,
            reserved=res.credits, ledger_amount=res.credits, job_id=job_id,
        )  # fmt: skip
        if res.guild_key:
            await quota_repo.bump(
                conn, res.guild_key, BOT_USER, guild_budget_key(res.cap_key), reserved=res.credits
            )
        self.metrics.reserved(res.credits)

    async def settle(self, conn: Conn, job: JobRecord, charged_credits: float | None) -> float:
        """Turn a job's reservation into use; returns the credits charged.

        ``charged_credits`` is the provider's reported cost (None: use the estimate).
        No-op (returns the recorded charge) when the job was already settled or refunded.
        """
        if job.quota_state != "reserved":
            return float(job.job.charged_credits or 0.0)
        quota_key, cap_key = _keys(job)
        now = self._clock()
        credits = job.job.estimated_credits if charged_credits is None else charged_credits
        amount = job.job.quota_amount
        used = credits if quota_key.startswith("credits:") else amount
        await quota_repo.add(
            conn, job.quota_guild, job.job.user_id, quota_key, entry="settle", now=now,
            used=used, reserved=-amount, ledger_amount=used, job_id=job.id,
        )  # fmt: skip
        await quota_repo.add(
            conn, BOT_GUILD, BOT_USER, cap_key, entry="settle", now=now,
            used=credits, reserved=-job.job.estimated_credits, ledger_amount=credits,
            job_id=job.id,
        )  # fmt: skip
        if job.quota_guild:
            await quota_repo.bump(
                conn, job.quota_guild, BOT_USER, guild_budget_key(cap_key),
                used=credits, reserved=-job.job.estimated_credits,
            )  # fmt: skip
        await jobs_repo.set_quota_state(conn, job.id, "settled", credits)
        self.metrics.charged(credits)
        return credits

    async def refund(
        self,
        conn: Conn,
        job: JobRecord,
        *,
        provider_spent: float | None = None,
    ) -> bool:
        """Release a job's reservation; False when there was nothing to refund.

        ``provider_spent`` is what Runway billed although the user got nothing (a clip
        that could not be delivered): the user is refunded, but the bot-wide daily
        counter keeps that spend, because it guards the operator's Runway balance.
        """
        if job.quota_state != "reserved":
            return False
        quota_key, cap_key = _keys(job)
        now = self._clock()
        amount = job.job.quota_amount
        estimate = job.job.estimated_credits
        await quota_repo.add(
            conn, job.quota_guild, job.job.user_id, quota_key, entry="refund", now=now,
            reserved=-amount, ledger_amount=amount, job_id=job.id,
        )  # fmt: skip
        if job.quota_guild:  # the member got nothing, so the server's budget gets it back
            await quota_repo.bump(
                conn, job.quota_guild, BOT_USER, guild_budget_key(cap_key), reserved=-estimate
            )
        if provider_spent is None:
            await quota_repo.add(
                conn, BOT_GUILD, BOT_USER, cap_key, entry="refund", now=now,
                reserved=-estimate, ledger_amount=estimate, job_id=job.id,
            )  # fmt: skip
        else:
            await quota_repo.add(
                conn, BOT_GUILD, BOT_USER, cap_key, entry="settle", now=now,
                used=provider_spent, reserved=-estimate, ledger_amount=provider_spent,
                job_id=job.id,
            )  # fmt: skip
        await jobs_repo.set_quota_state(conn, job.id, "refunded", 0)
        self.metrics.refunded(estimate)
        return True

    async def keep_provider_spend(
        self, conn: Conn, job: JobRecord, amount: float | None = None
    ) -> None:
        """Count a refunded job's task on the bot-wide daily counter again: Runway may bill it
        after all (a cancel the provider could not carry out). The user stays refunded."""
        _, cap_key = _keys(job)
        spent = job.job.estimated_credits if amount is None else amount
        await quota_repo.add(
            conn, BOT_GUILD, BOT_USER, cap_key, entry="settle", now=self._clock(),
            used=spent, ledger_amount=spent, job_id=job.id,
        )  # fmt: skip

    @property
    def charge_moderation_failures(self) -> bool:
        """Whether jobs refused for safety reasons are charged (else refunded)."""
        return self._settings.charge_moderation_failures

    async def _put(
        self,
        guild_id: int,
        scope: str,
        subject: int,
        value: LimitValue | None,
        actor_id: int | None,
    ) -> None:
        checked = None if value is None else _check_limit(value)
        now = self._clock()
        async with self._store.transaction() as conn:
            old = await quota_repo.get_limit(conn, guild_id, scope, subject)
            if checked is None:
                await quota_repo.delete_limit(conn, guild_id, scope, subject)
                new = None
            else:
                mode, amount = checked
                await quota_repo.put_limit(conn, guild_id, scope, subject, mode, amount, now)
                new = LimitRow(scope, subject, mode, amount)
            if _limit_value(old) != _limit_value(new):
                await guild_repo.add_audit(
                    conn, guild_id, actor_id, f"limit.{scope}",
                    subject_id=subject if scope != "guild" else None,
                    old_value=_limit_value(old), new_value=_limit_value(new), now=now,
                )  # fmt: skip

    async def set_user_limit(
        self, guild_id: int, user_id: int, limit: LimitValue, *, actor_id: int | None = None
    ) -> None:
        """Override one user's limit in a guild (``actor_id``: who, for the audit log)."""
        await self._put(guild_id, "user", user_id, limit, actor_id)

    async def clear_user_limit(
        self, guild_id: int, user_id: int, *, actor_id: int | None = None
    ) -> None:
        """Remove a user's override (role limits and defaults apply again)."""
        await self._put(guild_id, "user", user_id, None, actor_id)

    async def set_role_limit(
        self,
        guild_id: int,
        role_id: int,
        limit: LimitValue | None,
        *,
        actor_id: int | None = None,
    ) -> None:
        """Set (or with None clear) the limit of members of a role."""
        await self._put(guild_id, "role", role_id, limit, actor_id)

    async def set_guild_default(
        self, guild_id: int, limit: LimitValue | None, *, actor_id: int | None = None
    ) -> None:
        """Set (or with None clear) the guild's default limit."""
        await self._put(guild_id, "guild", 0, limit, actor_id)

    async def reset_usage(
        self,
        guild_id: int,
        user_id: int,
        *,
        clear_bonus: bool = True,
        actor_id: int | None = None,
    ) -> ResetResult:
        """Forget the user's use this period (and the bonus, unless ``clear_bonus`` is False);
        active jobs stay reserved. Returns what was cleared and kept."""
        now = self._clock()
        async with self._store.transaction() as conn:
            key = self._key(self._now())[0]
            was = await quota_repo.reset_used(
                conn, guild_id, user_id, key, now, clear_bonus=clear_bonus
            )
            result = ResetResult(
                used=was.used,
                bonus_cleared=was.bonus if clear_bonus else 0.0,
                bonus_kept=0.0 if clear_bonus else was.bonus,
                reserved=was.reserved,
            )
            await guild_repo.add_audit(
                conn, guild_id, actor_id, "usage.reset", subject_id=user_id,
                old_value=_fmt(was.used), new_value="0", now=now,
            )  # fmt: skip
            if result.bonus_cleared:
                await guild_repo.add_audit(
                    conn, guild_id, actor_id, "bonus.reset", subject_id=user_id,
                    old_value=_fmt(was.bonus), new_value="0", now=now,
                )  # fmt: skip
        return result

    async def grant(
        self, guild_id: int, user_id: int, amount: float, *, actor_id: int | None = None
    ) -> None:
        """Add a bonus on top of the user's limit for the current period."""
        if not amount > 0:
            raise JobError.of("quota.bad_bonus")
        now = self._clock()
        async with self._store.transaction() as conn:
            key = self._key(self._now())[0]
            was = await quota_repo.usage(conn, guild_id, user_id, key)
            await quota_repo.add(
                conn, guild_id, user_id, key, entry="grant", now=now,
                bonus=float(amount), ledger_amount=float(amount),
            )  # fmt: skip
            await guild_repo.add_audit(
                conn, guild_id, actor_id, "bonus.grant", subject_id=user_id,
                old_value=_fmt(was.bonus), new_value=_fmt(was.bonus + float(amount)), now=now,
            )  # fmt: skip

    async def limits(self, guild_id: int) -> GuildLimits:
        """The server's default, role limits and member overrides, for ``/quota list``."""
        async with self._store.read() as conn:
            rows = await quota_repo.guild_limits(conn, guild_id)
        return GuildLimits(
            default=next((r for r in rows if r.scope == "guild"), None),
            roles=tuple(r for r in rows if r.scope == "role"),
            users=tuple(r for r in rows if r.scope == "user"),
        )

    async def audit_log(
        self,
        guild_id: int,
        *,
        limit: int = 10,
        offset: int = 0,
        subject_id: int | None = None,
    ) -> list[AuditRow]:
        """The server's newest quota and settings changes, skipping ``offset`` (for pages);
        only those about ``subject_id`` (a member or role) when given."""
        async with self._store.read() as conn:
            return await guild_repo.audit(
                conn, guild_id, limit=limit, offset=offset, subject_id=subject_id
            )

    async def guild_usage_today(self, guild_id: int) -> tuple[float, float]:
        """The server's credits (used, reserved) this UTC day, counted against its budget."""
        key = guild_budget_key(self._cap_key(self._now()))
        async with self._store.read() as conn:
            u = await quota_repo.usage(conn, guild_id, BOT_USER, key)
        return u.used, u.reserved

    async def top(self, guild_id: int, limit: int = 10) -> list[tuple[int, float]]:
        """The users who used the most this period: (user_id, used)."""
        async with self._store.transaction() as conn:
            return await quota_repo.top(conn, guild_id, self._key(self._now())[0], limit)

    async def bot_usage_today(self) -> tuple[float, float]:
        """Bot-wide credits (used, reserved) this UTC day."""
        async with self._store.transaction() as conn:
            u = await quota_repo.usage(conn, BOT_GUILD, BOT_USER, self._cap_key(self._now()))
        return u.used, u.reserved


def _keys(job: JobRecord) -> tuple[str, str]:
    """The user's quota key and the bot-wide counter's key a reserved job carries."""
    assert job.quota_key is not None and job.cap_key is not None, f"job {job.id} has no quota keys"
    return job.quota_key, job.cap_key
