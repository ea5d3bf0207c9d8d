"""/runway status and /runway sync: owners only; status reads the queue and the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.domain import JobState, QueueStats
from bot.runway.client import RunwayClient
from bot.runway.models import Organization
from bot.simulator import RunwaySimulator
from bot.ui.context import Services
from bot.ui.errors import NotOwner, handle_app_command_error
from cogs.generate import GenerateCog
from cogs.owner import OwnerCog, organization_lines, queue_lines
from tests.cogs.conftest import ADMIN_PERMISSIONS, OWNER_ID, Harness, png_bytes
from tests.discord_doubles import make_attachment, make_member


@pytest.fixture
def cog(harness: Harness) -> OwnerCog:
    return OwnerCog(harness.bot)


@pytest.fixture
async def simulator() -> AsyncIterator[RunwaySimulator]:
    sim = RunwaySimulator()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_server_admins_are_not_owners(harness: Harness, cog: OwnerCog) -> None:
    interaction, log = harness.interaction(user=make_member(), permissions=ADMIN_PERMISSIONS)
    with pytest.raises(NotOwner) as caught:
        await cog.interaction_check(interaction)
    await handle_app_command_error(interaction, caught.value)
    assert "Only the bot's owners" in log.last


async def test_status_shows_queue_and_simulator_balance(
    harness: Harness, cog: OwnerCog, simulator: RunwaySimulator
) -> None:
    user = make_member()
    start, _ = harness.interaction(user=user)
    await GenerateCog.animate.callback(
        GenerateCog(harness.bot), start, make_attachment(png_bytes()), "x"
    )
    async with RunwayClient(base_url=simulator.base_url, api_key="key_" + "0" * 128) as client:
        assert harness.bot.services is not None
        harness.bot.services = Services(
            settings=harness.settings,
            jobs=harness.jobs,
            quota=harness.quota,
            runway=client,
        )
        interaction, log = harness.interaction(user=make_member(OWNER_ID))
        assert await cog.interaction_check(interaction)
        await OwnerCog.status.callback(cog, interaction)

    (embed,) = log.embeds()
    fields = {f.name: f.value or "" for f in embed.fields}
    assert "queued: **1**" in fields["Queue"]
    assert "`gen4_turbo`: 0 at Runway, 1 queued" in fields["Queue"]
    runway = fields["Runway (simulator)"]
    assert runway.startswith("credit balance: **")
    assert "`gen4_turbo`: 2 at once, 1000 a day" in runway


def test_queue_lines_cover_every_state() -> None:
    stats = QueueStats(
        by_state={JobState.RUNNING: 2, JobState.FAILED: 1},
        in_flight_by_model={"veo3.1": 2},
        queued_by_model={},
        undelivered=1,
    )
    lines = queue_lines(stats)
    assert lines[:7] == [
        "queued: **0**",
        "submitting: **0**",
        "running: **2**",
        "succeeded: **0**",
        "failed: **1**",
        "cancelled: **0**",
        "in doubt: **0**",
    ]
    assert not any(line.startswith("delivered") for line in lines)
    assert "running: **2**" in lines
    assert "queued: **0**" in lines
    assert "in doubt: **0**" in lines
    assert "finished but not yet posted: **1**" in lines
    assert "`veo3.1`: 2 at Runway, 0 queued" in lines


def test_an_account_problem_comes_first_in_the_status() -> None:
    from datetime import UTC, datetime

    from bot.domain import AccountProblem

    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    stats = QueueStats({}, {}, {}, account_problem=AccountProblem(12, "balance", at))
    first = queue_lines(stats)[0]
    assert "Runway account problem: the balance is used up" in first
    assert "job #12" in first and f"<t:{int(at.timestamp())}:R>" in first
    key = QueueStats({}, {}, {}, account_problem=AccountProblem(3, "auth", at))
    assert "the API key is refused" in queue_lines(key)[0]
    assert not any("account" in line for line in queue_lines(QueueStats({}, {}, {})))


def test_organization_lines() -> None:
    org = Organization.model_validate(
        {
            "creditBalance": 1234,
            "tier": {
                "maxMonthlyCreditSpend": 10000,
                "models": {
                    "gen4_turbo": {"maxConcurrentGenerations": 3, "maxDailyGenerations": 50}
                },
            },
        }
    )
    lines = organization_lines(org)
    assert lines[0] == "credit balance: **1234**"
    assert "`gen4_turbo`: 3 at once, 50 a day" in lines


class _Command:
    def __init__(self, name: str) -> None:
        self.name = name


async def _sync(
    harness: Harness, cog: OwnerCog, scope: str, synced: list[str], others: list[str]
) -> tuple[str, Any]:
    """Run /runway sync with the tree's Discord calls replaced (what Discord would answer)."""
    from unittest.mock import AsyncMock, MagicMock

    tree: Any = cog.bot.tree
    tree.sync = AsyncMock(return_value=[_Command(n) for n in synced])
    tree.fetch_commands = AsyncMock(return_value=[_Command(n) for n in others])
    tree.copy_global_to = MagicMock()
    tree.clear_commands = MagicMock()
    interaction, log = harness.interaction(user=make_member(OWNER_ID))
    interaction.guild = MagicMock()
    await OwnerCog.sync.callback(cog, interaction, scope)  # type: ignore[arg-type]
    return log.last, tree


async def test_sync_here_warns_when_members_would_see_commands_twice(
    harness: Harness, cog: OwnerCog
) -> None:
    text, tree = await _sync(harness, cog, "here", ["animate", "restyle", "usage"], ["animate"])
    assert "Synced 3 commands (here)." in text
    assert "Members here will see `/animate` twice" in text, text
    assert "/runway sync clear-here" in text
    tree.copy_global_to.assert_called_once()


async def test_sync_without_duplicates_says_nothing_more(harness: Harness, cog: OwnerCog) -> None:
    text, _ = await _sync(harness, cog, "here", ["animate"], [])
    assert text == "Synced 1 commands (here)."


async def test_sync_global_warns_about_this_servers_copies(harness: Harness, cog: OwnerCog) -> None:
    text, tree = await _sync(harness, cog, "global", ["animate", "quota"], ["animate", "quota"])
    assert "see `/animate`, `/quota` twice" in text and "clear-here" in text, text
    tree.fetch_commands.assert_awaited_once()


async def test_sync_clear_here_removes_the_servers_copies(harness: Harness, cog: OwnerCog) -> None:
    text, tree = await _sync(harness, cog, "clear-here", [], [])
    assert "Removed this server's copies" in text
    tree.clear_commands.assert_called_once()
    tree.sync.assert_awaited_once()


def sub(cog: OwnerCog, *path: str) -> Any:
    """The bound /runway sub-command (``"budget"``, ``"channels", "add"``)."""
    node: Any = cog.app_command
    for name in path:
        node = node.get_command(name)
    return node


def admin_in(harness: Harness, cog: OwnerCog, *path: str, **kwargs: Any) -> tuple[Any, Any]:
    kwargs.setdefault("user", make_member())
    kwargs.setdefault("permissions", ADMIN_PERMISSIONS)
    interaction, log = harness.interaction(**kwargs)
    interaction.command = sub(cog, *path)
    return interaction, log


async def test_server_settings_are_for_server_admins(harness: Harness, cog: OwnerCog) -> None:
    from discord import app_commands

    from bot.ui.errors import NotAdmin

    for path in (("budget",), ("cost-confirm",), ("language",), ("channels", "add")):
        interaction, _ = admin_in(harness, cog, *path)
        assert await cog.interaction_check(interaction)
        member, _ = admin_in(harness, cog, *path, permissions=None)
        with pytest.raises(NotAdmin):
            await cog.interaction_check(member)
        dm, _ = admin_in(harness, cog, *path, guild_id=None, user=make_member(OWNER_ID))
        with pytest.raises(app_commands.NoPrivateMessage):
            await cog.interaction_check(dm)
    status, _ = admin_in(harness, cog, "status")  # operator tools stay owner-only
    with pytest.raises(NotOwner):
        await cog.interaction_check(status)


async def test_budget_set_show_remove_and_audit(harness: Harness, cog: OwnerCog) -> None:
    interaction, log = admin_in(harness, cog, "budget")
    await OwnerCog.budget.callback(cog, interaction, 300, False)
    assert log.last == "Daily budget: 0 of 300 credits used today (renews at 00:00 UTC)."
    start, _ = harness.interaction(user=make_member())
    await GenerateCog.animate.callback(
        GenerateCog(harness.bot), start, make_attachment(png_bytes()), "x"
    )
    show, log = admin_in(harness, cog, "budget")
    await OwnerCog.budget.callback(cog, show, None, False)
    assert log.last.startswith("Daily budget: 25 of 300 credits")
    both, log = admin_in(harness, cog, "budget")
    await OwnerCog.budget.callback(cog, both, 5, True)
    assert "not both" in log.last
    assert (await harness.quota.guilds.get(harness.guild_id)).daily_budget == 300
    remove, log = admin_in(harness, cog, "budget")
    await OwnerCog.budget.callback(cog, remove, None, True)
    assert log.last.startswith("No daily budget")
    entries = await harness.quota.audit_log(harness.guild_id)
    assert [(e.action, e.old_value, e.new_value) for e in entries] == [
        ("setting.daily_budget", "300", None),
        ("setting.daily_budget", None, "300"),
    ]


async def test_a_budget_refuses_jobs_clearly(harness: Harness, cog: OwnerCog) -> None:
    interaction, _ = admin_in(harness, cog, "budget")
    await OwnerCog.budget.callback(cog, interaction, 30, False)
    member = make_member()
    first, _ = harness.interaction(user=member)
    await GenerateCog.animate.callback(
        GenerateCog(harness.bot), first, make_attachment(png_bytes()), "x"
    )
    second, log = harness.interaction(user=make_member())
    await GenerateCog.animate.callback(
        GenerateCog(harness.bot), second, make_attachment(png_bytes()), "y"
    )
    assert "used up today's budget of 30 credits (5 left, this job needs 25)" in log.last
    assert len(await harness.jobs.list_user_jobs(member.id)) == 1


async def test_cost_confirm_threshold(harness: Harness, cog: OwnerCog) -> None:
    interaction, log = admin_in(harness, cog, "cost-confirm")
    await OwnerCog.cost_confirm.callback(cog, interaction, 40, False)
    assert "above 40 credits ask for a confirm click" in log.last
    assert (await harness.quota.guilds.get(harness.guild_id)).confirm_above == 40
    off, log = admin_in(harness, cog, "cost-confirm")
    await OwnerCog.cost_confirm.callback(cog, off, None, True)
    assert log.last == "Jobs start without asking, whatever they cost."
    assert (await harness.quota.guilds.get(harness.guild_id)).confirm_above is None


async def test_public_language_override(harness: Harness, cog: OwnerCog) -> None:
    interaction, log = admin_in(harness, cog, "language")
    await OwnerCog.language.callback(cog, interaction, "ja")
    assert log.last == "Public messages here are in 日本語."
    assert (await harness.quota.guilds.get(harness.guild_id)).locale == "ja"
    back, log = admin_in(harness, cog, "language")
    await OwnerCog.language.callback(cog, back, "server")
    assert "follow the server's Discord language" in log.last
    assert (await harness.quota.guilds.get(harness.guild_id)).locale is None


async def test_channels_add_remove_list(harness: Harness, cog: OwnerCog) -> None:
    from tests.discord_doubles import make_text_channel

    a, b = (
        make_text_channel(guild_id=harness.guild_id),
        make_text_channel(guild_id=harness.guild_id),
    )
    add = sub(cog, "channels", "add")
    remove = sub(cog, "channels", "remove")
    listing = sub(cog, "channels", "list")
    interaction, log = admin_in(harness, cog, "channels", "add")
    await add.callback(cog, interaction, a)
    assert log.last == f"{a.mention} is allowed. Members may use the bot in: {a.mention}"
    interaction, log = admin_in(harness, cog, "channels", "add")
    await add.callback(cog, interaction, b)
    interaction, log = admin_in(harness, cog, "channels", "list")
    await listing.callback(cog, interaction)
    assert a.mention in log.last and b.mention in log.last
    interaction, log = admin_in(harness, cog, "channels", "remove")
    await remove.callback(cog, interaction, a)
    assert log.last == f"{a.mention} is off the list. Members may use the bot in: {b.mention}"
    interaction, log = admin_in(harness, cog, "channels", "remove")
    await remove.callback(cog, interaction, a)
    assert log.last == f"{a.mention} is not on the list."
    interaction, log = admin_in(harness, cog, "channels", "remove")
    await remove.callback(cog, interaction, b)
    assert "every channel" in log.last
    assert (await harness.quota.guilds.get(harness.guild_id)).allowed_channels == frozenset()
