"""The /quota group: per-server limits for users, roles and the default, their audit log
(admins only). Every reply is in the admin's own language."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain import UserError
from bot.i18n import t, text
from bot.ui.context import services_of
from bot.ui.errors import NotAdmin
from bot.ui.errors import answer as reply
from bot.ui.listings import (
    audit_embed,
    limit_phrase,
    limits_embed,
    quota_status_embed,
    role_label,
    role_namer,
)
from bot.ui.permissions import is_admin, role_ids
from bot.ui.text import amount as fmt_amount
from bot.ui.translator import member_locale, tr

if TYPE_CHECKING:
    from bot.app import RunwayBot
    from bot.quota import LimitValue

CLEAR_WORDS = {"clear", "none", "default", "inherit"}
MAX_LIMIT = 1_000_000_000
LOG_PAGE = 10
MAX_PAGE = 1000


class BadLimit(UserError, ValueError):
    """The limit text is not a number, ``unlimited`` or ``blocked``; ``message`` says so."""


def parse_limit(value_text: str, *, allow_clear: bool) -> LimitValue | None:
    """``"250"`` -> 250, ``"unlimited"``, ``"blocked"``; ``"clear"`` -> None when allowed."""
    value = value_text.strip().lower()
    if value in ("unlimited", "blocked"):
        return "unlimited" if value == "unlimited" else "blocked"
    if allow_clear and value in CLEAR_WORDS:
        return None
    if value.isdigit() and int(value) <= MAX_LIMIT:
        return int(value)
    key = "quota.not_a_limit_or_clear" if allow_clear else "quota.not_a_limit"
    fmt = {"value": discord.utils.escape_markdown(value_text[:40])}
    raise BadLimit(t(key, None, **fmt), key=key, fmt=fmt)


def limit_text(limit: LimitValue | None, unit: str, locale: str | None = None) -> str:
    """How a limit reads in a confirmation."""
    where = locale or "en"
    if limit is None:
        return t("quota.no_override", where)
    return limit_phrase(str(limit), unit, where)


LIMIT_HELP = "A whole number, 'unlimited' or 'blocked'"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class QuotaAdminCog(
    commands.GroupCog, group_name="quota", group_description="Manage video quotas."
):
    """Server admins set limits; enforced here, not only by Discord's default permissions."""

    def __init__(self, bot: RunwayBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Manage Server or a configured owner, checked on every call."""
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        if not is_admin(interaction, self.bot.settings.discord.owner_ids):
            raise NotAdmin()
        # Every sub-command writes or reads the database: acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        return True

    @property
    def unit(self) -> str:
        return self.bot.settings.quota.unit.value

    def _guild(self, interaction: discord.Interaction[Any]) -> int:
        assert interaction.guild_id is not None  # interaction_check guarantees it
        return interaction.guild_id

    async def _parsed(
        self, interaction: discord.Interaction[Any], value: str, *, allow_clear: bool
    ) -> tuple[bool, LimitValue | None]:
        try:
            return True, parse_limit(value, allow_clear=allow_clear)
        except BadLimit as exc:
            await reply(interaction, exc.text(interaction.locale))
            return False, None

    def _limit(self, interaction: discord.Interaction[Any], value: LimitValue | None) -> str:
        return limit_text(value, self.unit, member_locale(interaction))

    @app_commands.command(name="set", description="Set one member's limit per period.")
    @app_commands.describe(user="The member", limit=LIMIT_HELP)
    async def set_user(
        self, interaction: discord.Interaction[Any], user: discord.User, limit: str
    ) -> None:
        """/quota set."""
        ok, value = await self._parsed(interaction, limit, allow_clear=False)
        if not ok or value is None:
            return
        await services_of(self.bot).quota.set_user_limit(
            self._guild(interaction), user.id, value, actor_id=interaction.user.id
        )
        await reply(
            interaction,
            tr(
                interaction,
                "quota.set_done",
                user=user.mention,
                limit=self._limit(interaction, value),
            ),
        )

    @app_commands.command(name="clear", description="Remove a member's own limit.")
    @app_commands.describe(user="The member")
    async def clear_user(self, interaction: discord.Interaction[Any], user: discord.User) -> None:
        """/quota clear."""
        await services_of(self.bot).quota.clear_user_limit(
            self._guild(interaction), user.id, actor_id=interaction.user.id
        )
        await reply(interaction, tr(interaction, "quota.clear_done", user=user.mention))

    @app_commands.command(name="role", description="Set or clear the limit for a role.")
    @app_commands.describe(role="The role", limit=LIMIT_HELP + ", or 'clear'")
    async def role_limit(
        self, interaction: discord.Interaction[Any], role: discord.Role, limit: str
    ) -> None:
        """/quota role."""
        if role.is_default():
            await reply(interaction, tr(interaction, "quota.role_everyone"))
            return
        ok, value = await self._parsed(interaction, limit, allow_clear=True)
        if not ok:
            return
        await services_of(self.bot).quota.set_role_limit(
            self._guild(interaction), role.id, value, actor_id=interaction.user.id
        )
        await reply(
            interaction,
            tr(
                interaction,
                "quota.role_done",
                role=role.mention,
                limit=self._limit(interaction, value),
            ),
        )

    @app_commands.command(name="default", description="Set or clear this server's default limit.")
    @app_commands.describe(limit=LIMIT_HELP + ", or 'clear' for the bot's default")
    async def default_limit(self, interaction: discord.Interaction[Any], limit: str) -> None:
        """/quota default."""
        ok, value = await self._parsed(interaction, limit, allow_clear=True)
        if not ok:
            return
        await services_of(self.bot).quota.set_guild_default(
            self._guild(interaction), value, actor_id=interaction.user.id
        )
        await reply(
            interaction,
            tr(interaction, "quota.default_done", limit=self._limit(interaction, value)),
        )

    @app_commands.command(name="reset", description="Reset a member's usage for this period.")
    @app_commands.describe(
        user="The member", bonus="Keep (default) or also clear the bonus given with /quota grant"
    )
    async def reset_user(
        self,
        interaction: discord.Interaction[Any],
        user: discord.User,
        bonus: Literal["keep", "clear"] = "keep",
    ) -> None:
        """/quota reset: says what it cleared, and keeps a granted bonus unless told."""
        done = await services_of(self.bot).quota.reset_usage(
            self._guild(interaction),
            user.id,
            clear_bonus=bonus == "clear",
            actor_id=interaction.user.id,
        )
        unit = text(f"unit.{self.unit}")
        lines = [
            tr(
                interaction,
                "quota.reset_done",
                user=user.mention,
                used=fmt_amount(done.used),
                unit=unit,
            )
        ]
        # At most one of the bonus lines applies: a reset either clears or keeps a grant.
        extras = (
            ("quota.reset_bonus_cleared", "bonus", done.bonus_cleared),
            ("quota.reset_bonus_kept", "bonus", 0 if done.bonus_cleared else done.bonus_kept),
            ("quota.reset_reserved", "reserved", done.reserved),
        )
        for key, name, value in extras:
            if value:
                lines.append(tr(interaction, key, **{name: fmt_amount(value)}, unit=unit))
        await reply(interaction, "\n".join(lines))

    @app_commands.command(name="grant", description="Give a member extra quota for this period.")
    @app_commands.describe(user="The member", amount="How much extra, in the quota's unit")
    async def grant(
        self,
        interaction: discord.Interaction[Any],
        user: discord.User,
        amount: app_commands.Range[float, 0.01, 1_000_000.0],
    ) -> None:
        """/quota grant."""
        await services_of(self.bot).quota.grant(
            self._guild(interaction), user.id, amount, actor_id=interaction.user.id
        )
        await reply(
            interaction,
            tr(
                interaction,
                "quota.grant_done",
                user=user.mention,
                amount=fmt_amount(amount),
                unit=text(f"unit.{self.unit}"),
            ),
        )

    @app_commands.command(name="show", description="Show a member's quota (or your own).")
    @app_commands.describe(user="The member (default: you)")
    async def show(
        self, interaction: discord.Interaction[Any], user: discord.User | None = None
    ) -> None:
        """/quota show: the limit's source names the role, not its id."""
        who = user or interaction.user
        status = await services_of(self.bot).quota.status(
            self._guild(interaction), who.id, role_ids(who)
        )
        locale = member_locale(interaction)
        embed = quota_status_embed(
            status,
            locale,
            title=t("quota.show_title", locale),
            role_name=role_namer(interaction.guild),
        )
        embed.description = t("quota.show_for", locale, user=who.mention)
        await reply(interaction, embed=embed)

    @app_commands.command(name="top", description="Who used the most this period.")
    async def top(self, interaction: discord.Interaction[Any]) -> None:
        """/quota top."""
        rows = await services_of(self.bot).quota.top(self._guild(interaction), limit=10)
        unit = text(f"unit.{self.unit}")
        if not rows:
            body = tr(interaction, "quota.top_empty")
        else:
            body = "\n".join(
                tr(
                    interaction,
                    "quota.top_line",
                    rank=rank,
                    user=f"<@{user_id}>",
                    used=fmt_amount(used),
                    unit=unit,
                )
                for rank, (user_id, used) in enumerate(rows, start=1)
            )
        await reply(
            interaction,
            embed=discord.Embed(title=tr(interaction, "quota.top_title"), description=body),
        )

    @app_commands.command(
        name="list", description="Every limit in this server: default, roles, members, budget."
    )
    async def list_limits(self, interaction: discord.Interaction[Any]) -> None:
        """/quota list: the default, role limits (by name), member overrides and settings."""
        services = services_of(self.bot)
        guild_id = self._guild(interaction)
        limits = await services.quota.limits(guild_id)
        settings = await services.quota.guilds.get(guild_id)
        spent = await services.quota.guild_usage_today(guild_id)
        embed = limits_embed(
            limits,
            settings,
            spent,
            member_locale(interaction),
            unit=self.unit,
            config_default=self.bot.settings.quota.default_limit,
            role_name=role_namer(interaction.guild),
        )
        await reply(interaction, embed=embed)

    @app_commands.command(
        name="log", description="Recent quota and setting changes: who, what, when."
    )
    @app_commands.describe(
        member="Only changes about this member",
        role="Only changes about this role",
        page="Page number, 1 is the newest",
    )
    async def log(
        self,
        interaction: discord.Interaction[Any],
        member: discord.User | None = None,
        role: discord.Role | None = None,
        page: app_commands.Range[int, 1, MAX_PAGE] = 1,
    ) -> None:
        """/quota log: the audit log, newest first, one page at a time."""
        if member is not None and role is not None:
            await reply(interaction, tr(interaction, "audit.one_filter"))
            return
        subject = member or role
        rows = await services_of(self.bot).quota.audit_log(
            self._guild(interaction),
            limit=LOG_PAGE + 1,
            offset=(page - 1) * LOG_PAGE,
            subject_id=subject.id if subject is not None else None,
        )
        about = None
        if member is not None:
            about = member.mention
        elif role is not None:
            about = role_label(interaction.guild, role.id)
        embed = audit_embed(
            rows[:LOG_PAGE],
            member_locale(interaction),
            page=page,
            more=len(rows) > LOG_PAGE,
            unit=self.unit,
            role_name=role_namer(interaction.guild),
            about=about,
        )
        await reply(interaction, embed=embed)


async def setup(bot: RunwayBot) -> None:
    """Extension entry point."""
    await bot.add_cog(QuotaAdminCog(bot))
