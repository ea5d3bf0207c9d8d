"""The database file as an operator sees it: its schema version and an online backup.

Both use the standard library's synchronous ``sqlite3`` (the operator command line is not
async) and never take a write lock, so they are safe while the bot runs: the database is
in WAL mode, readers and the one writer do not block each other.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .db import BUSY_TIMEOUT_MS

if TYPE_CHECKING:
    from ..config import StorageSettings

DEFAULT_STEP_PAGES = 256
"""Pages copied per backup step (4096-byte pages: 1 MiB)."""

Progress = Callable[[int, int], None]
"""Called after every backup step with (pages copied, pages in total)."""


class BackupError(Exception):
    """The backup cannot be made; the message is one line for the operator, ``code`` names
    the reason (``exists``: the destination is there and ``force`` was not given)."""

    def __init__(self, message: str, *, code: str = "backup") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class BackupResult:
    """A finished backup."""

    source: Path
    path: Path
    bytes: int
    pages: int
    check: str  # "ok", or the first problem ``PRAGMA quick_check`` reported


def sqlite_path(storage: StorageSettings) -> Path:
    """The SQLite file the settings name; refuses (``code`` ``postgresql``) when the database
    is PostgreSQL, whose backups are PostgreSQL's own tools' job."""
    if storage.url is not None:
        raise BackupError(
            "the database is PostgreSQL (storage.url): back it up with PostgreSQL's tools, "
            "e.g. pg_dump --format=custom --file=runway-bot.dump with the same URL "
            "(this command copies SQLite files only)",
            code="postgresql",
        )
    return storage.path


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def schema_version(path: Path) -> int:
    """The ``PRAGMA user_version`` of an existing database file (read only, no migration)."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"no database at {path}", code="no_database")
    try:
        with closing(_connect(path)) as conn:
            row = conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot read the database {path}: {exc}") from None
    return int(row[0]) if row else 0


def backup_database(
    source: Path,
    dest: Path,
    *,
    force: bool = False,
    pages: int = DEFAULT_STEP_PAGES,
    progress: Progress | None = None,
) -> BackupResult:
    """Copy the database at ``source`` to ``dest`` with SQLite's online backup API.

    The copy is one consistent snapshot even while another process writes: the source
    connection holds a read transaction for the whole copy (in WAL mode this blocks no
    writer, and the backup does not restart when the bot commits meanwhile). The copy is
    written to a temporary file beside ``dest``, checked with ``PRAGMA quick_check`` and
    renamed into place, so ``dest`` is never a half-written file. An existing ``dest`` is
    refused unless ``force``.
    """
    source, dest = Path(source), Path(dest)
    if not source.is_file():
        raise BackupError(f"no database at {source}", code="no_database")
    if dest.is_dir():
        raise BackupError(f"{dest} is a directory; give the backup file's name")
    if dest.exists():
        if os.path.samefile(source, dest):
            raise BackupError(f"{dest} is the database itself")
        if not force:
            raise BackupError(f"{dest} already exists (use --force to overwrite it)", code="exists")
    if not dest.parent.is_dir():
        raise BackupError(f"the directory {dest.parent} does not exist")
    if pages < 1:
        raise BackupError("pages per step must be 1 or more")
    part = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    part.unlink(missing_ok=True)

    def step(status: int, remaining: int, total: int) -> None:
        if progress is not None:
            progress(total - remaining, total)

    try:
        with closing(_connect(source)) as src:
            src.execute("BEGIN")  # deferred: the first read below pins the snapshot
            src.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            with closing(sqlite3.connect(str(part), isolation_level=None)) as dst:
                src.backup(dst, pages=pages, progress=step)
                check_row = dst.execute("PRAGMA quick_check").fetchone()
                count_row = dst.execute("PRAGMA page_count").fetchone()
            src.execute("COMMIT")
    except sqlite3.Error as exc:
        part.unlink(missing_ok=True)
        raise BackupError(f"backup of {source} failed: {exc}") from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if force:  # a stale WAL beside the old file would be replayed into the new one
        for suffix in ("-wal", "-shm"):
            dest.with_name(dest.name + suffix).unlink(missing_ok=True)
    os.replace(part, dest)
    return BackupResult(
        source=source,
        path=dest,
        bytes=dest.stat().st_size,
        pages=int(count_row[0]) if count_row else 0,
        check=str(check_row[0]) if check_row else "unknown",
    )
