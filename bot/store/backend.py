"""``Conn``, a connection of either backend, and the decorator that routes one of the SQLite
operations (``jobs_repo``, ``quota_repo``) to its PostgreSQL twin when given a PostgreSQL
connection, so callers keep calling ``jobs_repo.x(conn, ...)`` whatever the store.

mypy checks each pair: the twin must take the same parameters after the connection and
return the same type.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeAlias, TypeVar

import aiosqlite

from .postgres.conn import PgConn

Conn: TypeAlias = aiosqlite.Connection | PgConn
"""What ``Store.transaction()`` and ``Store.read()`` yield: SQLite's or PostgreSQL's."""

P = ParamSpec("P")
R = TypeVar("R")


def on_postgres(
    twin: Callable[Concatenate[PgConn, P], Coroutine[Any, Any, R]],
) -> Callable[
    [Callable[Concatenate[aiosqlite.Connection, P], Coroutine[Any, Any, R]]],
    Callable[Concatenate[Conn, P], Coroutine[Any, Any, R]],
]:
    """Make a SQLite operation run ``twin`` instead when its connection is PostgreSQL's."""

    def decorate(
        sqlite_op: Callable[Concatenate[aiosqlite.Connection, P], Coroutine[Any, Any, R]],
    ) -> Callable[Concatenate[Conn, P], Coroutine[Any, Any, R]]:
        @functools.wraps(sqlite_op)
        def route(conn: Conn, /, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]:
            if isinstance(conn, PgConn):
                return twin(conn, *args, **kwargs)
            return sqlite_op(conn, *args, **kwargs)

        return route

    return decorate
