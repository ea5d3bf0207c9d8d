"""The only code that speaks SQL: the ``Store`` (SQLite by default, PostgreSQL with
``storage.url``), its schema, and the job and quota tables' named operations. The engine sees
typed records (``records.JobRecord``), never rows."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # mypy proves both backends implement the store interface
    import aiosqlite

    from . import jobs_repo, quota_repo
    from .backend import Conn
    from .interface import JobStore, QuotaStore
    from .postgres import jobs as pg_jobs
    from .postgres import quota as pg_quota
    from .postgres.conn import PgConn

    _SQLITE_JOBS: JobStore[aiosqlite.Connection] = jobs_repo
    _PG_JOBS: JobStore[PgConn] = pg_jobs
    _JOBS: JobStore[Conn] = jobs_repo  # what callers use: routes to either backend
    _SQLITE_QUOTA: QuotaStore[aiosqlite.Connection] = quota_repo
    _PG_QUOTA: QuotaStore[PgConn] = pg_quota
    _QUOTA: QuotaStore[Conn] = quota_repo
