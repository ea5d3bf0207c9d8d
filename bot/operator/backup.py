"""``runway-bot backup PATH``: an online copy of the database, with progress on stderr."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

from ..config import Settings
from ..store.backup import DEFAULT_STEP_PAGES, BackupError, backup_database, sqlite_path
from .common import OperatorError, Outcome

BAR_WIDTH = 30


def human_size(size: int) -> str:
    """Bytes for people: 512 B, 1.5 KiB, 12.3 MiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class ProgressReport:
    """Draws the backup's progress on ``stream``: a bar redrawn in place on a terminal,
    else a plain line at each tenth (and at the end)."""

    def __init__(self, stream: TextIO, *, min_interval: float = 0.1) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._min_interval = min_interval
        self._last_draw = 0.0
        self._last_tenth = -1
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        fraction = 1.0 if total <= 0 else min(1.0, done / total)
        if self._tty:
            now = time.monotonic()
            if fraction < 1.0 and now - self._last_draw < self._min_interval:
                return
            self._last_draw = now
            filled = round(fraction * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self._stream.write(f"\rbackup [{bar}] {fraction:4.0%} {done}/{total} pages")
            self._drawn = True
        else:
            tenth = int(fraction * 10)
            if tenth == self._last_tenth:
                return
            self._last_tenth = tenth
            self._stream.write(f"backup: {fraction:.0%} ({done} of {total} pages)\n")
        self._stream.flush()

    def finish(self) -> None:
        """End the bar's line (terminal only)."""
        if self._tty and self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def run_backup(
    settings: Settings,
    dest: Path,
    *,
    force: bool,
    stderr: TextIO,
    pages: int = DEFAULT_STEP_PAGES,
) -> Outcome:
    """Back ``storage.path`` up to ``dest``; exit code 1 when the copy fails its check."""
    report = ProgressReport(stderr)
    try:
        result = backup_database(
            sqlite_path(settings.storage), dest, force=force, pages=pages, progress=report
        )
    except BackupError as exc:
        raise OperatorError(str(exc), code=exc.code) from None
    finally:
        report.finish()
    data = {
        "source": str(result.source),
        "path": str(result.path),
        "bytes": result.bytes,
        "pages": result.pages,
        "check": result.check,
    }
    line = (
        f"backed up {result.source} to {result.path}: {human_size(result.bytes)} "
        f"({result.bytes} bytes, {result.pages} pages), check {result.check}"
    )
    return Outcome({"backup": data}, [line], exit_code=0 if result.check == "ok" else 1)
