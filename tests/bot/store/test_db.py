import asyncio
import contextlib

import pytest

from bot.store import jobs_repo
from bot.store.db import Store
from tests.bot.conftest import StoreOpener


def _job(user: int) -> dict[str, object]:
    return {
        "kind": "animate", "state": "queued", "user_id": user, "channel_id": 1, "prompt": "",
        "model": "gen4_turbo", "created_at": 0, "updated_at": 0,
    }  # fmt: skip


async def _insert(store: Store, user: int) -> None:
    async with store.transaction() as conn:
        await jobs_repo.insert_job(conn, _job(user))


async def _count(store: Store, where: str = "1 = 1") -> int:
    row = await store.fetchone(f"SELECT COUNT(*) FROM jobs WHERE {where}")
    assert row is not None
    return int(row[0])


async def test_a_failing_block_rolls_back(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as conn:
            await jobs_repo.insert_job(conn, _job(1))
            raise RuntimeError("boom")
    assert await _count(store) == 0
    await _insert(store, 1)
    assert await _count(store) == 1


async def test_two_connections_write_concurrently_without_losing_rows(
    open_store: StoreOpener,
) -> None:
    a, b = await open_store(), await open_store()
    await asyncio.gather(*(_insert(a if i % 2 else b, i) for i in range(60)))
    row = await a.fetchone("SELECT COUNT(*), COUNT(DISTINCT user_id) FROM jobs")
    assert row is not None and (row[0], row[1]) == (60, 60)


async def test_reopen_keeps_data(open_store: StoreOpener) -> None:
    store = await open_store()
    await _insert(store, 5)
    await store.close()
    store = await open_store()
    row = await store.fetchone("SELECT user_id FROM jobs")
    assert row is not None and row[0] == 5


async def test_cancelling_a_transaction_at_any_point_leaves_the_store_usable(
    store: Store,
) -> None:
    for n in range(8):
        task = asyncio.create_task(_insert(store, n))
        for _ in range(n):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await _insert(store, 100 + n)  # a new transaction can start
    assert await _count(store, "user_id >= 100") == 8


async def test_ad_hoc_reads_take_question_mark_parameters(store: Store) -> None:
    await _insert(store, 7)
    row = await store.fetchone("SELECT '?', user_id FROM jobs WHERE user_id = ?", (7,))
    assert row is not None and (row[0], row[1]) == ("?", 7)


async def test_check_writable_passes_on_an_open_store_and_fails_once_closed(
    open_store: StoreOpener,
) -> None:
    store = await open_store()
    await store.check_writable()
    await store.close()
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own closed error
        await store.check_writable()


async def test_a_wakeup_reaches_every_listener_of_the_database(open_store: StoreOpener) -> None:
    a, b = await open_store(), await open_store()
    heard = [asyncio.Event(), asyncio.Event()]
    await a.listen(heard[0].set)
    await b.listen(heard[1].set)
    # SQLite has one bot process per file: a store's wake-ups reach its own listeners only
    await (b if b.backend == "postgresql" else a).notify_wakeup()
    await asyncio.wait_for(heard[0].wait(), 10)
    if b.backend == "postgresql":
        await asyncio.wait_for(heard[1].wait(), 10)  # the sender's own listeners hear it too
    else:
        assert not heard[1].is_set()
