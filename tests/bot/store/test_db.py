import asyncio
import contextlib
from pathlib import Path

import pytest

from bot.store.db import Store


async def _insert(store: Store, user: int) -> None:
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO jobs (kind, state, user_id, channel_id, prompt, model, created_at,"
            " updated_at) VALUES ('animate', 'queued', ?, 1, '', 'gen4_turbo', 0, 0)",
            (user,),
        )


async def test_a_failing_block_rolls_back(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        with pytest.raises(RuntimeError):
            async with store.transaction() as conn:
                await conn.execute(
                    "INSERT INTO jobs (kind, state, user_id, channel_id, prompt, model,"
                    " created_at, updated_at) VALUES ('animate', 'queued', 1, 1, '', 'm', 0, 0)"
                )
                raise RuntimeError("boom")
        row = await store.fetchone("SELECT COUNT(*) FROM jobs")
        assert row is not None and row[0] == 0
        await _insert(store, 1)
        row = await store.fetchone("SELECT COUNT(*) FROM jobs")
        assert row is not None and row[0] == 1
    finally:
        await store.close()


async def test_two_connections_write_concurrently_without_losing_rows(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    a, b = await Store.open(path), await Store.open(path)
    try:
        await asyncio.gather(*(_insert(a if i % 2 else b, i) for i in range(60)))
        row = await a.fetchone("SELECT COUNT(*), COUNT(DISTINCT user_id) FROM jobs")
        assert row is not None and tuple(row) == (60, 60)
    finally:
        await a.close()
        await b.close()


async def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = await Store.open(path)
    await _insert(store, 5)
    await store.close()
    store = await Store.open(path)
    try:
        row = await store.fetchone("SELECT user_id FROM jobs")
        assert row is not None and row[0] == 5
    finally:
        await store.close()


async def test_cancelling_a_transaction_at_any_point_leaves_the_store_usable(
    tmp_path: Path,
) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        for n in range(8):
            task = asyncio.create_task(_insert(store, n))
            for _ in range(n):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await _insert(store, 100 + n)  # a new transaction can start
        row = await store.fetchone("SELECT COUNT(*) FROM jobs WHERE user_id >= 100")
        assert row is not None and row[0] == 8
    finally:
        await store.close()
