"""The /quota group: per-server limits for users, roles and the default (admins only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain import UserError
from bot.ui.context import services_of
from bot.ui.embeds import quota_embed
from bot.ui.errors import NotAdmin
from bot.ui.errors import answer as reply
from bot.ui.permissions import is_admin, role_ids
from bot.ui.text import amount as fmt_amount

if TYPE_CHECKING:
    from bot.app import RunwayBot
    from bot.quota import LimitValue

CLEAR_WORDS = {"clear", "none", "default", "inherit"}
MAX_LIMIT = 1_000_000_000


class BadLimit(UserError, ValueError):
    """The limit text is not a number, ``unlimited`` or ``blocked``; ``message`` says so."""


def parse_limit(text: str, *, allow_clear: bool) -> LimitValue | None:
    """``"250"`` -> 250, ``"unlimited"``, ``"blocked"``; ``"clear"`` -> None when allowed."""
    value = text.strip().lower()
    if value in ("unlimited", "blocked"):
        return "unlimited" if value == "unlimited" else "blocked"
    if allow_clear and value in CLEAR_WORDS:
        return None
    if value.isdigit() and int(value) <= MAX_LIMIT:
        return int(value)
    hint = ", or `clear`" if allow_clear else ""
    raise BadLimit(
        f"`{discord.utils.escape_markdown(text[:40])}` is not a limit: use a whole number "
        f"(0 or more), `unlimited`, `blocked`{hint}."
    )


def limit_text(limit: LimitValue | None, unit: str) -> str:
    """How a limit reads in a confirmation."""
    if limit is None:
        return "no override (falls back to the next rule)"
    if isinstance(limit, int):
        return f"{limit} {unit}"
    return limit


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

    async def _set_with(
        self, interaction: discord.Interaction[Any], text: str, *, allow_clear: bool
    ) -> tuple[bool, LimitValue | None]:
        try:
            return True, parse_limit(text, allow_clear=allow_clear)
        except BadLimit as exc:
            await reply(interaction, exc.message)
            return False, None

    @app_commands.command(name="set", description="Set one member's limit per period.")
    @app_commands.describe(user="The member", limit=LIMIT_HELP)
    async def set_user(
        self, interaction: discord.Interaction[Any], user: discord.User, limit: str
    ) -> None:
        """/quota set."""
        ok, value = await self._set_with(interaction, limit, allow_clear=False)
        if not ok or value is None:
            return
        await services_of(self.bot).quota.set_user_limit(self._guild(interaction), user.id, value)
        await reply(
            interaction, f"{user.mention} now has a limit of {limit_text(value, self.unit)}."
        )

    @app_commands.command(name="clear", description="Remove a member's own limit.")
    @app_commands.describe(user="The member")
    async def clear_user(self, interaction: discord.Interaction[Any], user: discord.User) -> None:
        """/quota clear."""
        await services_of(self.bot).quota.clear_user_limit(self._guild(interaction), user.id)
        await reply(interaction, f"{user.mention} follows the role and server limits again.")

    @app_commands.command(name="role", description="Set or clear the limit for a role.")
    @app_commands.describe(role="The role", limit=LIMIT_HELP + ", or 'clear'")
    async def role_limit(
        self, interaction: discord.Interaction[Any], role: discord.Role, limit: str
    ) -> None:
        """/quota role."""
        if role.is_default():
            await reply(
                interaction,
                "@everyone is every member: use `/quota default` to set this server's limit.",
            )
            return
        ok, value = await self._set_with(interaction, limit, allow_clear=True)
        if not ok:
            return
        await services_of(self.bot).quota.set_role_limit(self._guild(interaction), role.id, value)
        await reply(interaction, f"Role {role.mention}: {limit_text(value, self.unit)}.")

    @app_commands.command(name="default", description="Set or clear this server's default limit.")
    @app_commands.describe(limit=LIMIT_HELP + ", or 'clear' for the bot's default")
    async def default_limit(self, interaction: discord.Interaction[Any], limit: str) -> None:
        """/quota default."""
        ok, value = await self._set_with(interaction, limit, allow_clear=True)
        if not ok:
            return
        await services_of(self.bot).quota.set_guild_default(self._guild(interaction), value)
        await reply(interaction, f"Server default: {limit_text(value, self.unit)}.")

    @app_commands.command(name="reset", description="Reset a member's usage for this period.")
    @app_commands.describe(user="The member")
    async def reset_user(self, interaction: discord.Interaction[Any], user: discord.User) -> None:
        """/quota reset."""
        await services_of(self.bot).quota.reset_usage(self._guild(interaction), user.id)
        await reply(interaction, f"{user.mention}'s usage for this period is reset to 0.")

    @app_commands.command(name="grant", description="Give a member extra quota for this period.")
    @app_commands.describe(user="The member", amount="How much extra, in the quota's unit")
    async def grant(
        self,
        interaction: discord.Interaction[Any],
        user: discord.User,
        amount: app_commands.Range[float, 0.01, 1_000_000.0],
    ) -> None:
        """/quota grant."""
        await services_of(self.bot).quota.grant(self._guild(interaction), user.id, amount)
        await reply(interaction, f"{user.mention} got {fmt_amount(amount)} extra {self.unit}.")

    @app_commands.command(name="show", description="Show a member's quota (or your own).")
    @app_commands.describe(user="The member (default: you)")
    async def show(
        self, interaction: discord.Interaction[Any], user: discord.User | None = None
    ) -> None:
        """/quota show."""
        who = user or interaction.user
        status = await services_of(self.bot).quota.status(
            self._guild(interaction), who.id, role_ids(who)
        )
        embed = quota_embed(status, title="Quota")
        embed.description = f"For {who.mention}"
        await reply(interaction, embed=embed)

    @app_commands.command(name="top", description="Who used the most this period.")
    async def top(self, interaction: discord.Interaction[Any]) -> None:
        """/quota top."""
        rows = await services_of(self.bot).quota.top(self._guild(interaction), limit=10)
        if not rows:
            text = "Nobody has used anything this period."
        else:
            text = "\n".join(
                f"{rank}. <@{user_id}>: {fmt_amount(used)} {self.unit}"
                for rank, (user_id, used) in enumerate(rows, start=1)
            )
        await reply(
            interaction, embed=discord.Embed(title="Top usage this period", description=text)
        )


async def setup(bot: RunwayBot) -> None:
    """Extension entry point."""
    await bot.add_cog(QuotaAdminCog(bot))
