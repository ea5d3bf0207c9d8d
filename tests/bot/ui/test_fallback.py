"""Buttons never fail silently: crafted, unknown or impossible ``rw:`` ids get a short
ephemeral answer, real ones are left to their button, and another member's job is never
touched through a crafted id (every registered button is tried)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import discord
import pytest
from discord.components import _component_factory

from bot.domain import Job, JobNotFound, JobState
from bot.i18n import t
from bot.ui.fallback import answer_unhandled_component
from bot.ui.views import DYNAMIC_ITEMS, CancelButton
from cogs.generate import GenerateCog
from cogs.jobs import JobsCog
from tests.cogs.conftest import ADMIN_PERMISSIONS, OWNER_ID, Harness, make_harness, png_bytes
from tests.discord_doubles import Responses, make_attachment, make_member, make_user

UNKNOWN_BUTTON = t("fallback.unknown_button", None)
NO_SUCH_JOB = t("fallback.no_such_job", None)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await make_harness(tmp_path)
    h.bot.add_dynamic_items(*DYNAMIC_ITEMS)  # as setup_hook does
    try:
        yield h
    finally:
        await h.store.close()


def message_with(*custom_ids: str) -> MagicMock:
    """A message whose one action row holds buttons with these custom ids."""
    row = _component_factory(
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 2, "label": "x", "custom_id": cid} for cid in custom_ids
            ],
        }
    )
    message = MagicMock(spec_set=discord.Message)
    message.id = 777
    message.components = [row]
    return message


def press(h: Harness, custom_id: str, *, on_message: bool = True, **kw: Any) -> tuple[Any, Any]:
    """A component interaction for ``custom_id`` (on a message showing that button)."""
    interaction, log = h.interaction(**kw)
    interaction.type = discord.InteractionType.component
    interaction.data = {"custom_id": custom_id, "component_type": 2}
    interaction.message = message_with(custom_id) if on_message else message_with("rw:cancel:1")
    return interaction, log


CRAFTED = [
    "rw:cancel:-1",
    "rw:frobnicate:5",
    "rw:",
    "rw:cancel:",
    "rw:cancel:12abc",
    "rw:CANCEL:1",
    "rw:cancel:1:extra",
    "rw:cancel:\u0661\u0662",  # Arabic-Indic digits: str.isdigit() but not [0-9]
    "rw:modal:edit:1",  # a modal's id on a button
]


@pytest.mark.parametrize("custom_id", CRAFTED)
async def test_crafted_ids_get_a_short_ephemeral_answer(harness: Harness, custom_id: str) -> None:
    interaction, log = press(harness, custom_id)
    assert await answer_unhandled_component(interaction) is True
    assert log.texts == [UNKNOWN_BUTTON]
    assert log.messages[0][1]["ephemeral"] is True


async def test_a_real_button_is_left_to_its_handler(harness: Harness) -> None:
    for action in ("cancel", "rerun", "retry", "edit", "continue", "restyle"):
        interaction, log = press(harness, f"rw:{action}:5")
        assert await answer_unhandled_component(interaction) is False
        assert log.messages == [] and not log.done


async def test_a_known_id_that_is_not_on_the_message_is_answered(harness: Harness) -> None:
    # discord.py runs a dynamic item only for a component the message really shows.
    interaction, log = press(harness, "rw:cancel:5", on_message=False)
    assert await answer_unhandled_component(interaction) is True
    assert log.texts == [UNKNOWN_BUTTON]


async def test_a_stored_views_button_is_left_to_the_view(harness: Harness) -> None:
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Old", custom_id="rw:legacy:1"))
    harness.bot.add_view(view)
    interaction, log = press(harness, "rw:legacy:1")
    assert await answer_unhandled_component(interaction) is False
    assert log.messages == []


async def test_without_a_readable_view_store_it_stays_silent(harness: Harness) -> None:
    """Never a second answer to a working button, should discord.py's internals move."""
    interaction, log = press(harness, "rw:frobnicate:1")
    interaction.client = object()
    assert await answer_unhandled_component(interaction) is False
    assert log.messages == []


async def test_other_interactions_are_left_alone(harness: Harness) -> None:
    interaction, log = press(harness, "someone-else:1")
    assert await answer_unhandled_component(interaction) is False
    interaction, log = press(harness, "rw:frobnicate:1")
    interaction.type = discord.InteractionType.modal_submit
    assert await answer_unhandled_component(interaction) is False
    assert log.messages == []


async def test_the_cog_listener_answers_unknown_buttons(harness: Harness) -> None:
    cog = GenerateCog(harness.bot)
    interaction, log = press(harness, "rw:cancel:-1")
    await cog.answer_unknown_buttons(interaction)
    assert log.texts == [UNKNOWN_BUTTON]


def submit_form(h: Harness, custom_id: str) -> tuple[Any, Any]:
    interaction, log = h.interaction()
    interaction.type = discord.InteractionType.modal_submit
    interaction.data = {
        "custom_id": custom_id,
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "prompt", "value": "x"}]}
        ],
    }
    return interaction, log


@pytest.mark.parametrize(
    "custom_id",
    [
        "rw:modal:bogus:1",
        "rw:modal:edit:-1",
        "rw:animate-message:abc",
        "rw:animate-message:",
        "rw:x",
    ],
)
async def test_crafted_form_ids_get_a_short_ephemeral_answer(
    harness: Harness, custom_id: str
) -> None:
    interaction, log = submit_form(harness, custom_id)
    await GenerateCog(harness.bot).on_interaction(interaction)
    assert log.texts == [t("fallback.unknown_form", None)]
    assert log.messages[0][1]["ephemeral"] is True
    assert await harness.jobs.list_user_jobs(interaction.user.id) == []


async def test_a_form_discord_py_holds_or_of_another_bot_is_left_alone(harness: Harness) -> None:
    class Stored(discord.ui.Modal, title="t"):
        pass

    harness.bot._connection.store_view(Stored(custom_id="rw:stored:1"))
    for custom_id in ("rw:stored:1", "someone-elses-modal"):
        interaction, log = submit_form(harness, custom_id)
        await GenerateCog(harness.bot).on_interaction(interaction)
        assert log.messages == [] and not log.done


@pytest.mark.parametrize("job_id", [10**30, 2**63, 0])
@pytest.mark.parametrize("cls", DYNAMIC_ITEMS, ids=lambda c: c.__name__)
async def test_an_id_no_job_can_have_is_answered_not_run(
    harness: Harness, cls: Any, job_id: int
) -> None:
    """A 30-digit id used to raise OverflowError in SQLite ("Something went wrong")."""
    custom_id = f"rw:{cls._action}:{job_id}"
    match = cls.__discord_ui_compiled_template__.fullmatch(custom_id)
    assert match is not None
    interaction, log = press(harness, custom_id)
    button = await cls.from_custom_id(interaction, MagicMock(), match)
    assert await button.interaction_check(interaction) is False
    assert log.texts == [NO_SUCH_JOB]


@pytest.mark.parametrize("job_id", [10**30, 2**63, 0, -1])
async def test_cancel_command_with_an_impossible_id(harness: Harness, job_id: int) -> None:
    interaction, log = harness.interaction()
    await JobsCog.cancel.callback(JobsCog(harness.bot), interaction, job_id)
    assert log.last == NO_SUCH_JOB
    assert await harness.jobs.get(job_id) is None
    with pytest.raises(JobNotFound):
        await harness.jobs.rerun(job_id, actor_id=1)


async def test_the_largest_possible_id_is_looked_up_and_not_found(harness: Harness) -> None:
    interaction, log = press(harness, f"rw:cancel:{2**63 - 1}")
    button = CancelButton(2**63 - 1)
    assert await button.interaction_check(interaction) is True
    await button.callback(interaction)
    assert log.last == NO_SUCH_JOB


# ---------------------------------------------------------------- another member's job


async def start_job(h: Harness, user: Any) -> Job:
    interaction, _ = h.interaction(user=user)
    await GenerateCog.animate.callback(
        GenerateCog(h.bot), interaction, make_attachment(png_bytes()), "rain", seed=7
    )
    found = await h.jobs.get(int(interaction.extras["job_id"]))
    assert found is not None
    return found


async def pressed_by(h: Harness, cls: Any, job: Job, **kw: Any) -> Responses:
    interaction, log = press(h, f"rw:{cls._action}:{job.id}", **kw)
    button = cls(job.id)
    if await button.interaction_check(interaction):
        await button.callback(interaction)
    return log


@pytest.mark.parametrize("cls", DYNAMIC_ITEMS, ids=lambda c: c.__name__)
async def test_no_button_lets_a_member_touch_another_members_job(
    harness: Harness, cls: Any
) -> None:
    owner = make_member()
    job = await start_job(harness, owner)
    before = await harness.quota.status(harness.guild_id, owner.id)
    stranger = make_member()

    log = await pressed_by(harness, cls, job, user=stranger)

    assert log.messages, "no answer"
    assert log.modals == []  # not even a form prefilled with their prompt
    assert all(m[1].get("ephemeral") is True for m in log.messages)
    assert "Only the person who started this job" in log.last
    assert "rain" not in log.last  # their prompt is not shown either
    assert await harness.jobs.list_user_jobs(stranger.id) == []
    assert [j.id for j in await harness.jobs.list_user_jobs(owner.id)] == [job.id]
    after = await harness.jobs.get(job.id)
    assert after is not None and after.state is JobState.QUEUED
    assert await harness.quota.status(harness.guild_id, owner.id) == before


async def test_an_admin_of_the_server_or_an_owner_may_cancel_it(harness: Harness) -> None:
    first = await start_job(harness, make_member())
    log = await pressed_by(
        harness, CancelButton, first, user=make_member(), permissions=ADMIN_PERMISSIONS
    )
    assert f"Job #{first.id} is cancelled" in log.last
    second = await start_job(harness, make_member())
    log = await pressed_by(harness, CancelButton, second, user=make_user(OWNER_ID))
    assert f"Job #{second.id} is cancelled" in log.last


async def test_an_admin_of_another_server_may_not(harness: Harness) -> None:
    job = await start_job(harness, make_member())
    log = await pressed_by(
        harness,
        CancelButton,
        job,
        user=make_member(),
        permissions=ADMIN_PERMISSIONS,
        guild_id=harness.guild_id + 1,
    )
    assert "Only the person who started this job" in log.last
    after = await harness.jobs.get(job.id)
    assert after is not None and after.state is JobState.QUEUED
