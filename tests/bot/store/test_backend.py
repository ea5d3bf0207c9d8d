"""Every store operation callers reach through ``jobs_repo`` / ``quota_repo`` / ``guild_repo``
works on both backends: it routes a PostgreSQL connection to its twin."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

from bot.store import guild_repo, jobs_repo, quota_repo
from bot.store.backend import on_postgres
from bot.store.postgres import guild, jobs, quota
from bot.store.postgres.conn import PgConn, affected

PAIRS = [(jobs_repo, jobs), (quota_repo, quota), (guild_repo, guild)]
SQLITE_ONLY = {"get_row"}  # returns a raw row, used inside jobs_repo only


def _operations(module: ModuleType) -> dict[str, object]:
    return {
        name: fn
        for name, fn in vars(module).items()
        if callable(fn)
        and getattr(fn, "__module__", None) == module.__name__
        and inspect.iscoroutinefunction(inspect.unwrap(fn))
        and next(iter(inspect.signature(fn).parameters), None) == "conn"
    }


@pytest.mark.parametrize(("sqlite", "postgres"), PAIRS, ids=lambda m: m.__name__.split(".")[-1])
def test_every_operation_has_a_postgresql_twin(sqlite: ModuleType, postgres: ModuleType) -> None:
    ops = _operations(sqlite)
    assert ops
    unrouted = sorted(
        n for n, fn in ops.items() if n not in SQLITE_ONLY and not hasattr(fn, "__wrapped__")
    )
    assert unrouted == [], f"add @on_postgres(pg.<name>) and a twin in {postgres.__name__}"
    missing = sorted(n for n in ops if n not in SQLITE_ONLY and not hasattr(postgres, n))
    assert missing == []


async def test_a_postgresql_connection_goes_to_the_twin_and_others_to_sqlite() -> None:
    calls: list[str] = []

    async def twin(conn: PgConn, x: int) -> str:
        calls.append("postgres")
        return f"pg {x}"

    @on_postgres(twin)
    async def op(conn: object, x: int) -> str:
        calls.append("sqlite")
        return f"sqlite {x}"

    assert await op(PgConn(object()), 1) == "pg 1"
    assert await op(object(), 2) == "sqlite 2"
    assert calls == ["postgres", "sqlite"]


def test_command_statuses_count_rows() -> None:
    assert (affected("UPDATE 3"), affected("INSERT 0 1"), affected("DELETE 0")) == (3, 1, 0)
    assert affected("CREATE TABLE") == 0
