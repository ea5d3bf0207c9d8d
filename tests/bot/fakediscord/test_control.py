"""The control API's change counter: a watcher (the playground's page) learns of every change."""

from __future__ import annotations

import asyncio

from bot.fakediscord import FakeDiscord, FakeDiscordClient

from .conftest import Seed


async def test_changes_waits_for_the_next_change(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed
) -> None:
    before = await ctl.changes()
    assert await ctl.changes(before) == before  # nothing changed, no wait asked
    waiter = asyncio.create_task(ctl.changes(before, within=30))
    await ctl.post_message(seed.channel_id, seed.user_id, "hello")
    after = await asyncio.wait_for(waiter, 10)
    assert after > before
    assert after == await ctl.changes()


async def test_changes_returns_at_once_when_already_past(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed
) -> None:
    before = await ctl.changes()
    await ctl.post_message(seed.channel_id, seed.user_id, "hello")
    # long wait asked, but the counter already moved: it answers at once
    assert await asyncio.wait_for(ctl.changes(before, within=60), 5) > before


async def test_changes_gives_up_after_the_wait(fake: FakeDiscord, ctl: FakeDiscordClient) -> None:
    before = await ctl.changes()
    assert await ctl.changes(before, within=0.05) == before
