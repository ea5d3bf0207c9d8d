"""Per-server settings: defaults, validation, channel allow-list, audit of each change."""

from __future__ import annotations

import pytest

from bot.guild_settings import MAX_CHANNELS, BadSetting, GuildSettings, GuildSettingsService
from bot.store import guild_repo
from bot.store.db import Store
from tests.bot.conftest import FakeClock

G = 1000


async def _audit(store: Store, guild_id: int = G) -> list[tuple[object, ...]]:
    async with store.read() as conn:
        rows = await guild_repo.audit(conn, guild_id, limit=50)
    return [(r.actor_id, r.action, r.old_value, r.new_value, r.created_at) for r in rows]


async def test_a_server_that_never_set_anything_gets_the_defaults(store: Store) -> None:
    svc = GuildSettingsService(store)
    got = await svc.get(G)
    assert got == GuildSettings(G, None, None, frozenset(), None)
    assert got.channel_allowed(5) and got.channel_allowed(None)


async def test_update_stores_each_value_and_audits_who_changed_what(
    store: Store, clock: FakeClock
) -> None:
    svc = GuildSettingsService(store, clock=clock)
    after = await svc.update(G, 42, daily_budget=500, confirm_above=40, locale="ja")
    assert after == GuildSettings(G, 500, 40, frozenset(), "ja")
    assert await svc.get(G) == after
    assert await svc.get(G + 1) == GuildSettings(G + 1)  # other servers unaffected
    clock.advance(60)
    await svc.update(G, 43, daily_budget=None, confirm_above=40)  # 40 is no change
    assert (await svc.get(G)).daily_budget is None
    entries = await _audit(store)
    t0 = clock.now - 60
    assert entries == [
        (43, "setting.daily_budget", "500", None, clock.now),
        (42, "setting.locale", None, "ja", t0),
        (42, "setting.confirm_above", None, "40", t0),
        (42, "setting.daily_budget", None, "500", t0),
    ]


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"daily_budget": -1}, "settings.bad_credits"),
        ({"daily_budget": 10**10}, "settings.bad_credits"),
        ({"confirm_above": 2.5}, "settings.bad_credits"),
        ({"confirm_above": True}, "settings.bad_credits"),
        ({"locale": "de"}, "settings.bad_locale"),
        ({"locale": "ja-JP-x"}, "settings.bad_locale"),
    ],
)
async def test_a_bad_value_changes_nothing(
    store: Store, changes: dict[str, object], key: str
) -> None:
    svc = GuildSettingsService(store)
    await svc.update(G, 1, daily_budget=100)
    with pytest.raises(BadSetting) as info:
        await svc.update(G, 1, **{"confirm_above": 5, **changes})
    assert info.value.key == key
    assert await svc.get(G) == GuildSettings(G, daily_budget=100)
    assert len(await _audit(store)) == 1


async def test_an_unknown_setting_is_a_programming_error(store: Store) -> None:
    with pytest.raises(TypeError, match="colour"):
        await GuildSettingsService(store).update(G, 1, colour="red")


async def test_channel_allow_list_add_remove_and_threads(store: Store) -> None:
    svc = GuildSettingsService(store)
    got = await svc.allow_channels(G, 7, [10, 11])
    assert got.allowed_channels == {10, 11}
    assert got.channel_allowed(10) and not got.channel_allowed(12)
    assert got.channel_allowed(99, parent_id=11)  # a thread in an allowed channel
    assert not got.channel_allowed(None)
    got = await svc.allow_channels(G, 7, [11, 12])
    assert got.allowed_channels == {10, 11, 12}
    got = await svc.disallow_channels(G, 8, [10, 11, 12])
    assert got.allowed_channels == frozenset() and got.channel_allowed(12345)
    assert (await svc.get(G)).allowed_channels == frozenset()
    assert [(a, old, new) for a, _, old, new, _ in await _audit(store)] == [
        (8, "10,11,12", ""),
        (7, "10,11", "10,11,12"),
        (7, "", "10,11"),
    ]


async def test_the_allow_list_is_bounded(store: Store) -> None:
    svc = GuildSettingsService(store)
    await svc.allow_channels(G, 1, range(1, MAX_CHANNELS + 1))
    with pytest.raises(BadSetting) as info:
        await svc.allow_channels(G, 1, [MAX_CHANNELS + 1])
    assert info.value.key == "settings.too_many_channels"
    assert len((await svc.get(G)).allowed_channels) == MAX_CHANNELS
    with pytest.raises(TypeError):
        await svc.update(G, 1, allowed_channels=[0])


async def test_concurrent_channel_additions_are_not_lost(store: Store) -> None:
    import asyncio

    svc = GuildSettingsService(store)
    await asyncio.gather(*(svc.allow_channels(G, 1, [c]) for c in range(1, 11)))
    assert (await svc.get(G)).allowed_channels == frozenset(range(1, 11))
