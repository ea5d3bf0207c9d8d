"""``runway-bot backup PATH``: SQLite's online backup, safe while another connection writes."""

from __future__ import annotations

import io
import itertools
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.operator.backup import ProgressReport, human_size
from bot.store.backup import BackupError, backup_database
from tests.bot.operator.conftest import BotDb


def _pad(db: Path, rows: int) -> None:
    """Make the database big enough for a backup of several steps."""
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS padding (n INTEGER, blob BLOB)")
        conn.executemany(
            "INSERT INTO padding VALUES (?, randomblob(4000))", [(i,) for i in range(rows)]
        )


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_backup_writes_a_copy_that_opens_and_has_the_rows(bot_db: BotDb) -> None:
    job = bot_db.create(1)
    dest = bot_db.path.parent / "backup.sqlite3"
    result = bot_db.cli("backup", str(dest))
    assert result.code == 0, result.err
    size = dest.stat().st_size
    assert result.out == (
        f"backed up {bot_db.path} to {dest}: {human_size(size)} ({size} bytes, "
        f"{size // 4096} pages), check ok\n"
    )
    assert result.err.splitlines()[-1].startswith("backup: 100% (")
    assert _count(dest, "SELECT COUNT(*) FROM jobs") == 1
    assert _count(dest, f"SELECT COUNT(*) FROM job_inputs WHERE job_id = {job.id}") == 1
    assert not list(dest.parent.glob(".*part"))


def test_backup_json_and_refusing_an_existing_file(bot_db: BotDb) -> None:
    dest = bot_db.path.parent / "b.sqlite3"
    doc = bot_db.cli("backup", str(dest), "--json")
    assert doc.code == 0
    data = doc.json()["backup"]
    assert data == {
        "source": str(bot_db.path),
        "path": str(dest),
        "bytes": dest.stat().st_size,
        "pages": data["pages"],
        "check": "ok",
    }
    bot_db.create(2)
    again = bot_db.cli("backup", str(dest))
    assert again.code == 2 and again.out == ""
    assert again.err == (
        f"runway-bot backup: {dest} already exists (use --force to overwrite it)\n"
    )
    assert _count(dest, "SELECT COUNT(*) FROM jobs") == 0  # untouched
    assert bot_db.cli("backup", str(dest), "--json").json()["error"]["code"] == "exists"
    forced = bot_db.cli("backup", str(dest), "--force")
    assert forced.code == 0
    assert _count(dest, "SELECT COUNT(*) FROM jobs") == 1


def test_backup_refuses_a_missing_directory_and_the_database_itself(bot_db: BotDb) -> None:
    missing = bot_db.cli("backup", str(bot_db.path.parent / "nope" / "b.sqlite3"))
    assert missing.code == 2
    assert "does not exist" in missing.err and len(missing.err.splitlines()) == 1
    itself = bot_db.cli("backup", str(bot_db.path), "--force")
    assert itself.code == 2
    assert itself.err == f"runway-bot backup: {bot_db.path} is the database itself\n"


def test_backup_while_another_connection_writes(bot_db: BotDb) -> None:
    """Through the CLI, with a writer committing in another thread the whole time."""
    _pad(bot_db.path, 1500)  # about 6 MB: many backup steps
    before = _count(bot_db.path, "SELECT COUNT(*) FROM padding")
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        conn = sqlite3.connect(bot_db.path, isolation_level=None, timeout=10)
        try:
            n = 0
            while not stop.is_set():
                conn.execute("INSERT INTO padding VALUES (?, randomblob(100))", (-n,))
                n += 1
            written.append(n)
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        dest = bot_db.path.parent / "live.sqlite3"
        result = bot_db.cli("backup", str(dest), "--json")
    finally:
        stop.set()
        thread.join()
    assert result.code == 0, result.err
    assert result.json()["backup"]["check"] == "ok"
    assert written and written[0] > 0
    copied = _count(dest, "SELECT COUNT(*) FROM padding")
    assert before <= copied <= before + written[0]
    assert _count(dest, "PRAGMA user_version") == _count(bot_db.path, "PRAGMA user_version")


def test_a_write_between_steps_does_not_restart_the_backup(tmp_path: Path) -> None:
    """The copy is one snapshot: a commit after every step neither restarts it forever nor
    leaks into it."""
    db = tmp_path / "src.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
    _pad(db, 100)
    other = sqlite3.connect(db, isolation_level=None)
    steps: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        steps.append((done, total))
        other.execute("INSERT INTO padding VALUES (-1, randomblob(4000))")
        assert len(steps) < 1000, "the backup keeps restarting"

    try:
        result = backup_database(db, tmp_path / "dst.sqlite3", pages=3, progress=progress)
    finally:
        other.close()
    assert len(steps) > 10 and steps[-1][0] == steps[-1][1]
    assert all(b[0] >= a[0] for a, b in itertools.pairwise(steps))  # never restarted
    assert result.check == "ok"
    assert _count(result.path, "SELECT COUNT(*) FROM padding") == 100
    assert _count(db, "SELECT COUNT(*) FROM padding") == 100 + len(steps)


def test_backup_of_a_missing_database(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database at"):
        backup_database(tmp_path / "none.sqlite3", tmp_path / "b.sqlite3")
    assert not (tmp_path / "none.sqlite3").exists()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise() -> None:
    tty = _Tty()
    bar = ProgressReport(tty, min_interval=0)
    for done in (0, 50, 100):
        bar(done, 100)
    bar.finish()
    assert tty.getvalue().count("\r") == 3 and tty.getvalue().endswith("100/100 pages\n")
    assert f"[{'#' * 30}] 100%" in tty.getvalue()

    plain = io.StringIO()
    lines = ProgressReport(plain)
    for done in range(0, 101, 5):
        lines(done, 100)
    lines.finish()
    out = plain.getvalue().splitlines()
    assert out[0] == "backup: 0% (0 of 100 pages)" and out[-1] == "backup: 100% (100 of 100 pages)"
    assert len(out) == 11 and "\r" not in plain.getvalue()


def test_human_size() -> None:
    assert human_size(512) == "512 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(5 * 1024 * 1024) == "5.0 MiB"


def test_a_postgresql_database_is_refused_with_the_tool_to_use(tmp_path: Path) -> None:
    from bot.config import Settings, StorageSettings
    from bot.operator.backup import run_backup
    from bot.operator.common import OperatorError

    url = "postgresql://bot:hunter2@db.internal/runway"
    settings = Settings(storage=StorageSettings.model_validate({"url": url}))
    dest = tmp_path / "copy.sqlite3"
    with pytest.raises(OperatorError) as refused:
        run_backup(settings, dest, force=False, stderr=io.StringIO())
    assert refused.value.code == "postgresql"
    assert "pg_dump" in str(refused.value) and "hunter2" not in str(refused.value)
    assert not dest.exists()
