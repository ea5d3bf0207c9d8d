"""Several bot processes sharing one PostgreSQL database and one fake Discord (shards split
between them), for ``test_multiprocess.py``: their configs, a read-only view of the shared
database (the same checks as :class:`tests.e2e.harness.Db`), and a record of what the Runway
simulator was asked to create and how many of a model's tasks it held unfinished at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
from aiohttp import web

from bot.simulator import RunwaySimulator
from bot.store.postgres.db import numbered
from tests.e2e.harness import Db

T = TypeVar("T")
UNFINISHED = frozenset({"PENDING", "THROTTLED", "RUNNING"})
CREATE_PATHS = ("/v1/image_to_video", "/v1/video_to_video")


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (guild_id >> 22) % shard_count


def with_postgres(config: Path, url: str, *, shard_ids: Sequence[int], shard_count: int) -> None:
    """Point a config written by ``harness.write_config`` at PostgreSQL and at some shards."""
    text = config.read_text(encoding="utf-8")
    text = text.replace("[storage]\n", f'[storage]\nurl = "{url}"\n', 1)
    text = text.replace(
        "[discord]\n",
        f"[discord]\nshard_count = {shard_count}\nshard_ids = {list(shard_ids)}\n",
        1,
    )
    config.write_text(text, encoding="utf-8")


class PgDb(Db):
    """``harness.Db`` on the shared PostgreSQL database (one connection, on a thread of its own
    so the synchronous checks can run from the test's event loop)."""

    def __init__(self, url: str) -> None:
        super().__init__(Path(url))
        self._url = url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._conn: Any = self._run(asyncpg.connect(url))

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=60)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of a query written for SQLite (``?`` placeholders)."""
        result: list[Any] = self._run(self._conn.fetch(numbered(sql), *params))
        return result

    def close(self) -> None:
        """Close the connection and its thread."""
        with contextlib.suppress(Exception):
            self._run(self._conn.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@dataclass
class CreateLog:
    """Every create the simulator answered: the prompt it carried and, per model, the most
    tasks it held unfinished (pending, throttled or running) right after a create. The bot
    counts a task against its per-model limit from before the create until after it saw the
    task end, so this can only be lower than the bot's own count: above the limit means the
    limit was broken."""

    prompts: Counter[str] = field(default_factory=Counter)
    peak: dict[str, int] = field(default_factory=dict)
    _tasks: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def attach(self, sim: RunwaySimulator) -> None:
        """Watch ``sim``'s create routes."""

        @web.middleware
        async def watch(request: web.Request, handler: Any) -> web.StreamResponse:
            body: Any = None
            if request.method == "POST" and request.path in CREATE_PATHS:
                with contextlib.suppress(ValueError):
                    body = await request.json()
            response: web.StreamResponse = await handler(request)
            if isinstance(body, dict) and isinstance(response, web.Response):
                self._created(sim, body, response)
            return response

        sim.app.middlewares.insert(0, watch)

    def _created(self, sim: RunwaySimulator, body: dict[str, Any], response: web.Response) -> None:
        if response.status != 200 or response.text is None:
            return
        task_id = re.search(r'"id"\s*:\s*"([^"]+)"', response.text)
        if task_id is None:
            return
        model = str(body.get("model"))
        self.prompts[str(body.get("promptText"))] += 1
        tasks = self._tasks[model]
        tasks.append(task_id.group(1))
        unfinished = sum(1 for t in tasks if sim.task_status(t) in UNFINISHED)
        self.peak[model] = max(self.peak.get(model, 0), unfinished)

    @property
    def double_creates(self) -> dict[str, int]:
        """Prompts created more than once (each job's prompt is unique)."""
        return {p: n for p, n in self.prompts.items() if n > 1}
