"""The only code that speaks SQL: the SQLite ``Store``, its schema, and the job and quota tables'
named operations. The engine sees typed records (``records.JobRecord``), never rows."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # mypy proves the SQLite module implements the store interface
    import aiosqlite

    from . import jobs_repo
    from .interface import JobStore

    _SQLITE_JOBS: JobStore[aiosqlite.Connection] = jobs_repo
