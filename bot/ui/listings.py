"""Localised embeds for the admin and listing commands: quota status, ``/quota list``,
``/quota log`` and ``/jobs`` pages. Pure functions of their arguments and a locale."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import discord

from bot.config import Settings
from bot.domain import Job, QuotaStatus
from bot.guild_settings import GuildSettings
from bot.i18n import LOCALE_NAMES, MissingText, t, text
from bot.quota import GuildLimits
from bot.store.guild_repo import AuditRow
from bot.store.quota_repo import LimitRow

from .text import amount, message_link, safe, safe_quote, timestamp, truncate

COLOUR = discord.Colour.blurple()
PROMPT_SHOWN = 80  # characters of each prompt in /jobs
FIELD_MAX = 1024
DESCRIPTION_MAX = 4096

RoleName = Callable[[int], str]


def role_label(guild: discord.Guild | None, role_id: int) -> str:
    """``@Name`` when the bot can see the role, else its mention (Discord renders it)."""
    role = guild.get_role(role_id) if guild is not None else None
    return f"@{safe(role.name)}" if role is not None else f"<@&{role_id}>"


def role_namer(guild: discord.Guild | None) -> RoleName:
    """:func:`role_label` bound to a guild."""
    return lambda role_id: role_label(guild, role_id)


def limit_phrase(value: str | None, unit: str, locale: str) -> str:
    """A stored limit (``"250"``, ``unlimited``, ``blocked``, None) in words."""
    if value is None:
        return t("limits.none", locale)
    if value in ("unlimited", "blocked"):
        return t(f"limits.{value}", locale)
    try:
        number = float(value)
    except ValueError:
        return safe(value)
    return t("limits.amount", locale, amount=amount(number), unit=text(f"unit.{unit}"))


def row_value(row: LimitRow | None) -> str | None:
    """A stored limit row as the text :func:`limit_phrase` reads."""
    if row is None:
        return None
    return str(row.amount) if row.mode == "limit" else row.mode


def source_phrase(status: QuotaStatus, locale: str, role_name: RoleName) -> str:
    """Where the member's limit comes from, naming the role."""
    if status.source_role is not None:
        return t("quota.source.role", locale, role=role_name(status.source_role))
    key = {
        "user override": "quota.source.user",
        "guild default": "quota.source.guild",
    }.get(status.source, "quota.source.config")
    return t(key, locale)


def quota_status_embed(
    status: QuotaStatus, locale: str, *, title: str, role_name: RoleName
) -> discord.Embed:
    """A member's quota this period: used, in progress, limit, bonus, left, reset, source."""
    unit = text(f"unit.{status.unit}")
    embed = discord.Embed(title=title, colour=COLOUR)
    embed.add_field(
        name=t("quota.field.used", locale),
        value=t("quota.value.amount", locale, amount=amount(status.used), unit=unit),
    )
    if status.reserved:
        embed.add_field(
            name=t("quota.field.reserved", locale),
            value=t("quota.value.amount", locale, amount=amount(status.reserved), unit=unit),
        )
    if status.blocked:
        limit = t("limits.blocked", locale)
    elif status.limit is None:
        limit = t("limits.unlimited", locale)
    else:
        limit = t("quota.value.amount", locale, amount=amount(status.limit), unit=unit)
    embed.add_field(name=t("quota.field.limit", locale), value=limit)
    if status.bonus:
        embed.add_field(
            name=t("quota.field.bonus", locale),
            value=t("quota.value.bonus", locale, amount=amount(status.bonus), unit=unit),
        )
    remaining = status.remaining
    embed.add_field(
        name=t("quota.field.left", locale),
        value=t("limits.unlimited", locale)
        if remaining is None
        else t("quota.value.amount", locale, amount=amount(remaining), unit=unit),
    )
    embed.add_field(
        name=t("quota.field.resets", locale),
        value=f"{timestamp(status.resets_at, 'f')} ({timestamp(status.resets_at)})",
    )
    embed.add_field(
        name=t("quota.field.source", locale),
        value=source_phrase(status, locale, role_name),
        inline=False,
    )
    embed.set_footer(text=t(f"quota.per.{status.period}", locale))
    return embed


def _lines_field(lines: Sequence[str], locale: str) -> str:
    """Lines joined to fit one embed field, saying how many were left out."""
    out: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        more = t("list.more", locale, count=len(lines) - i)
        if size + len(line) + 1 > FIELD_MAX - len(more) - 1:
            out.append(more)
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def limits_embed(
    limits: GuildLimits,
    settings: GuildSettings,
    spent_today: tuple[float, float],
    locale: str,
    *,
    unit: str,
    config_default: int | None,
    role_name: RoleName,
) -> discord.Embed:
    """``/quota list``: the server default, role limits, member overrides, budget, channels."""
    embed = discord.Embed(title=t("quota.list.title", locale), colour=COLOUR)
    if limits.default is not None:
        default = limit_phrase(row_value(limits.default), unit, locale)
    else:
        fallback = "unlimited" if config_default is None else str(config_default)
        default = t("quota.list.config_default", locale, limit=limit_phrase(fallback, unit, locale))
    embed.add_field(name=t("quota.list.default", locale), value=default, inline=False)
    roles = [
        f"{role_name(r.subject_id)}: {limit_phrase(row_value(r), unit, locale)}"
        for r in limits.roles
    ]
    embed.add_field(
        name=t("quota.list.roles", locale, count=len(roles)),
        value=_lines_field(roles, locale) if roles else t("quota.list.none", locale),
        inline=False,
    )
    users = [f"<@{r.subject_id}>: {limit_phrase(row_value(r), unit, locale)}" for r in limits.users]
    embed.add_field(
        name=t("quota.list.users", locale, count=len(users)),
        value=_lines_field(users, locale) if users else t("quota.list.none", locale),
        inline=False,
    )
    used, reserved = spent_today
    if settings.daily_budget is None:
        budget = t("settings.budget.none", locale, used=amount(used + reserved))
    else:
        budget = t(
            "settings.budget.some",
            locale,
            used=amount(used + reserved),
            budget=amount(settings.daily_budget),
        )
    embed.add_field(name=t("settings.budget.field", locale), value=budget, inline=False)
    confirm = (
        t("settings.confirm.none", locale)
        if settings.confirm_above is None
        else t("settings.confirm.some", locale, credits=amount(settings.confirm_above))
    )
    embed.add_field(name=t("settings.confirm.field", locale), value=confirm, inline=False)
    embed.add_field(
        name=t("settings.channels.field", locale),
        value=channels_text(settings.allowed_channels, locale),
        inline=False,
    )
    return embed


def channels_text(channels: frozenset[int], locale: str) -> str:
    """The allow-list as mentions, or "every channel"."""
    if not channels:
        return t("settings.channels.all", locale)
    return truncate(" ".join(f"<#{c}>" for c in sorted(channels)), FIELD_MAX)


def _audit_value(row: AuditRow, value: str | None, unit: str, locale: str) -> str:
    action = row.action
    if action == "setting.allowed_channels":
        ids = frozenset(int(c) for c in (value or "").split(",") if c)
        return channels_text(ids, locale)
    if action == "setting.locale":
        return (
            t("settings.language.server", locale)
            if value is None
            else LOCALE_NAMES.get(value, value)
        )
    if action.startswith("setting.") or action.startswith("bonus.") or action == "usage.reset":
        if value is None:
            return t("limits.none", locale)
        unit_text = "credits" if action.startswith("setting.") else unit
        return t("quota.value.amount", locale, amount=value, unit=text(f"unit.{unit_text}"))
    return limit_phrase(value, unit, locale)


def audit_line(row: AuditRow, locale: str, *, unit: str, role_name: RoleName) -> str:
    """One audit entry: when, who, what, from what to what."""
    actor = t("audit.operator", locale) if row.actor_id is None else f"<@{row.actor_id}>"
    if row.subject_id is None:
        subject = ""
    elif row.action == "limit.role":
        subject = role_name(row.subject_id)
    else:
        subject = f"<@{row.subject_id}>"
    when = timestamp(datetime.fromtimestamp(row.created_at, UTC), "f")
    fmt = {
        "actor": actor,
        "subject": subject,
        "old": _audit_value(row, row.old_value, unit, locale),
        "new": _audit_value(row, row.new_value, unit, locale),
    }
    try:
        what = t("audit." + row.action.replace(".", "_"), locale, **fmt)
    except MissingText:  # written by a newer version of the bot
        what = t("audit.other", locale, action=safe(row.action), **fmt)
    return f"{when} · {what}"


def audit_embed(
    rows: Sequence[AuditRow],
    locale: str,
    *,
    page: int,
    more: bool,
    unit: str,
    role_name: RoleName,
    about: str | None = None,
) -> discord.Embed:
    """``/quota log``: one page of changes, newest first."""
    title = (
        t("audit.title", locale) if about is None else t("audit.title_about", locale, about=about)
    )
    embed = discord.Embed(title=title, colour=COLOUR)
    if not rows:
        embed.description = t("audit.empty" if page == 1 else "list.past_end", locale)
    else:
        lines = [audit_line(r, locale, unit=unit, role_name=role_name) for r in rows]
        embed.description = truncate("\n".join(lines), DESCRIPTION_MAX)
    embed.set_footer(text=page_footer(page, more, locale, "quota log"))
    return embed


def page_footer(page: int, more: bool, locale: str, command: str) -> str:
    """``Page 2`` plus how to see the next one."""
    if more:
        return t("list.page_more", locale, page=page, next=page + 1, command=command)
    return t("list.page", locale, page=page)


def _job_link(job: Job) -> str | None:
    if job.thread_id:
        return message_link(job.guild_id, job.thread_id)
    if job.status_message_id:
        return message_link(job.guild_id, job.channel_id, job.status_message_id)
    return None


def job_line(job: Job, locale: str, settings: Settings) -> str:
    """One job: number (linked), kind, model label, state, when, and the prompt."""
    link = _job_link(job)
    label = f"[#{job.id}]({link})" if link else f"#{job.id}"
    spec = settings.model(job.params.model)
    model = safe(spec.label or spec.id) if spec is not None else safe(job.params.model)
    head = t(
        "jobs.line",
        locale,
        job=label,
        kind=t(f"kind.{job.kind.value}", locale),
        model=model,
        state=t(f"state.{job.state.value}", locale),
        when=timestamp(job.created_at),
    )
    prompt = job.prompt.strip()
    if not prompt:
        return head
    return f"{head}\n> {safe_quote(' '.join(prompt.split()), PROMPT_SHOWN)}"


def jobs_page_embed(
    jobs: Sequence[Job],
    locale: str,
    *,
    title: str,
    page: int,
    more: bool,
    settings: Settings,
    empty_key: str = "jobs.empty",
) -> discord.Embed:
    """``/jobs``: one page of jobs, newest first, each with its prompt."""
    embed = discord.Embed(title=title, colour=COLOUR)
    if not jobs:
        embed.description = t(empty_key if page == 1 else "list.past_end", locale)
    else:
        lines = [job_line(job, locale, settings) for job in jobs]
        embed.description = truncate("\n".join(lines), DESCRIPTION_MAX)
    embed.set_footer(text=page_footer(page, more, locale, "jobs"))
    return embed
