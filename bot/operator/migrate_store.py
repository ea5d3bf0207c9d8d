"""``runway-bot migrate-store --from sqlite:PATH --to postgresql://...``: copy a bot's SQLite
database into PostgreSQL, with progress on stderr, then check that every table arrived whole.

Refused while a bot holds the SQLite file (its data directory's instance lock, held by this
command for the whole copy so no bot starts meanwhile) and when the target already holds data
(unless ``replace``: its rows are deleted first).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TextIO

from ..instance import InstanceBusy, acquire_instance
from ..store import transfer
from ..store.db import SqliteStore, StoreError
from ..store.postgres.db import PgStore, redact
from .common import OperatorError, Outcome

BAR_WIDTH = 30


class TableProgress:
    """A bar per table on ``stream``: redrawn in place on a terminal, else one line per table
    when it is done."""

    def __init__(self, stream: TextIO, *, min_interval: float = 0.1) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._min_interval = min_interval
        self._last_draw = 0.0

    def __call__(self, table: str, done: int, total: int) -> None:
        fraction = 1.0 if total <= 0 else min(1.0, done / total)
        finished = done >= total
        if self._tty:
            now = time.monotonic()
            if not finished and now - self._last_draw < self._min_interval:
                return
            self._last_draw = now
            filled = round(fraction * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            end = "\n" if finished else ""
            self._stream.write(f"\r{table:<16} [{bar}] {fraction:4.0%} {done}/{total} rows{end}")
        elif finished:
            self._stream.write(f"{table}: {done} of {total} rows copied\n")
        else:
            return
        self._stream.flush()


def sqlite_source(spec: str) -> Path:
    """The path of ``sqlite:PATH`` (a bare path is accepted too)."""
    path = spec.removeprefix("sqlite:")
    if spec.startswith("postgresql:") or spec.startswith("postgres:") or not path:
        raise OperatorError(f"--from must be sqlite:PATH, not {spec!r}", code="bad_source")
    return Path(path).expanduser()


def postgres_target(url: str) -> str:
    """The ``postgresql://`` URL, checked."""
    if not (url.startswith("postgresql://") or url.startswith("postgres://")):
        raise OperatorError(
            "--to must be a postgresql://user:password@host/database URL", code="bad_target"
        )
    return url


def migrate_store(source_spec: str, target_url: str, *, replace: bool, stderr: TextIO) -> Outcome:
    """Copy the SQLite database at ``source_spec`` into the PostgreSQL one at ``target_url``;
    exit code 1 when the check after the copy finds a difference."""
    path = sqlite_source(source_spec)
    url = postgres_target(target_url)
    if not path.is_file():
        raise OperatorError(f"no SQLite database at {path}", code="no_source")
    try:
        lock = acquire_instance(path.parent)
    except InstanceBusy as exc:
        raise OperatorError(f"{exc}: stop the bot first", code="source_busy") from None
    try:
        return asyncio.run(_copy(path, url, replace=replace, stderr=stderr))
    finally:
        lock.release()


async def _copy(path: Path, url: str, *, replace: bool, stderr: TextIO) -> Outcome:
    try:
        source = await SqliteStore.open_file(path)
    except Exception as exc:
        raise OperatorError(f"cannot open {path}: {exc}", code="no_source") from None
    try:
        try:
            target = await PgStore.connect(url)
        except StoreError as exc:
            raise OperatorError(str(exc), code="no_target") from None
        try:
            return await _copy_between(source, target, path, url, replace=replace, stderr=stderr)
        finally:
            await target.close()
    finally:
        await source.close()


async def _copy_between(
    source: SqliteStore,
    target: PgStore,
    path: Path,
    url: str,
    *,
    replace: bool,
    stderr: TextIO,
) -> Outcome:
    tables = await transfer.source_tables(source)
    missing = await transfer.missing_tables(target, tables)
    if missing:
        raise OperatorError(
            f"the PostgreSQL schema has no table {', '.join(missing)}: this version cannot"
            " copy it (nothing was copied)",
            code="schema_mismatch",
            exit_code=1,
        )
    busy = await transfer.non_empty_tables(target, tables)
    if busy and not replace:
        raise OperatorError(
            f"the PostgreSQL database already holds data (tables {', '.join(busy)});"
            " --replace deletes it first",
            code="target_not_empty",
        )
    if busy:
        await transfer.empty_target(target, tables)
    progress = TableProgress(stderr)
    copied: dict[str, int] = {}
    try:
        for table in tables:
            copied[table] = await transfer.copy_table(source, target, table, progress=progress)
    except StoreError as exc:
        raise OperatorError(str(exc), code="schema_mismatch", exit_code=1) from None
    advanced = await transfer.advance_identities(target, tables)
    checks = await transfer.verify(source, target, tables)
    ok = all(c.ok for c in checks)
    lines = [f"copied {path} to {redact(url)}"]
    for check in checks:
        mark = "OK  " if check.ok else "FAIL"
        sums = "".join(f", {col} {a:g}/{b:g}" for col, (a, b) in check.sums.items())
        lines.append(f"  {mark} {check.table}: {check.source_rows}/{check.target_rows} rows{sums}")
    lines.append(
        "every table arrived whole: point storage.url at the database and start the bots"
        if ok
        else "the copy differs from the source: do not switch over (see FAIL above)"
    )
    data = {
        "source": str(path),
        "target": redact(url),
        "ok": ok,
        "tables": {
            c.table: {
                "source_rows": c.source_rows,
                "target_rows": c.target_rows,
                "sums": {k: list(v) for k, v in c.sums.items()},
                "ok": c.ok,
            }
            for c in checks
        },
        "next_ids": advanced,
    }
    return Outcome(data, lines, exit_code=0 if ok else 1)
