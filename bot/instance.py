"""A stable, exclusive identity for the bot process that owns a data directory.

The worker names its leases after this id. Because the id survives restarts, a bot
that was killed reclaims its own leases at once on the next start instead of waiting
for them to expire; the file lock stops a second process from using the same database.

On PostgreSQL several processes share the database: each names its leases with
:func:`process_owner` (unique per process) and takes no lock.
"""

from __future__ import annotations

import fcntl
import os
import socket
import uuid
from pathlib import Path
from typing import IO

INSTANCE_FILE = "instance-id"


class InstanceBusy(Exception):
    """Another running process holds this data directory."""


class InstanceLock:
    """Holds the lock on ``<data_dir>/instance-id`` until :meth:`release`."""

    def __init__(self, owner: str, handle: IO[str]) -> None:
        self.owner = owner
        self._handle: IO[str] | None = handle

    def release(self) -> None:
        """Give the data directory up (also happens when the process dies)."""
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def acquire_instance(data_dir: Path) -> InstanceLock:
    """Lock the data directory and return its persistent owner id (created on first use)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / INSTANCE_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    handle = os.fdopen(fd, "r+", encoding="ascii")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise InstanceBusy(
            f"another bot process is already using {data_dir} (lock on {path})"
        ) from None
    handle.seek(0)
    owner = handle.read().strip()
    if not owner:
        owner = f"bot-{uuid.uuid4().hex[:12]}"
        handle.seek(0)
        handle.truncate()
        handle.write(owner + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return InstanceLock(owner, handle)


def process_owner() -> str:
    """A lease owner id unique to this process (host, pid and a random part, so a pid reused
    after a crash never inherits a dead process's leases)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
