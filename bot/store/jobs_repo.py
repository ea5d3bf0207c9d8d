"""SQL for the jobs and job_inputs tables. Functions take an open connection (or the Store)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from ..domain import AccountProblem, InputRole, Job, JobInput, JobKind, JobParams, JobState

ACTIVE_STATES = (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING)
_ACTIVE_SQL = "('queued', 'submitting', 'running')"


def ts(value: float | None) -> datetime | None:
    """An epoch column as an aware UTC datetime."""
    return None if value is None else datetime.fromtimestamp(value, UTC)


def row_to_job(row: aiosqlite.Row) -> Job:
    """Build the domain Job from a ``jobs`` row."""
    extra = {"input": row["input_summary"]} if row["input_summary"] else {}
    if row["provider_status"] == "THROTTLED":
        extra["throttled"] = "1"
    created = ts(row["created_at"])
    updated = ts(row["updated_at"])
    assert created is not None and updated is not None
    return Job(
        id=row["id"],
        kind=JobKind(row["kind"]),
        state=JobState(row["state"]),
        user_id=row["user_id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        prompt=row["prompt"],
        params=JobParams(
            model=row["model"],
            ratio=row["ratio"],
            duration=row["duration"],
            seed=row["seed"],
            audio=bool(row["audio"]),
        ),
        created_at=created,
        updated_at=updated,
        thread_id=row["thread_id"],
        status_message_id=row["status_message_id"],
        provider_task_id=row["provider_task_id"],
        provider_status=row["provider_status"],
        progress=row["progress"],
        estimated_credits=row["estimated_credits"],
        charged_credits=row["charged_credits"],
        quota_amount=row["quota_amount"],
        attempts=row["attempts"],
        submitted_at=ts(row["submitted_at"]),
        finished_at=ts(row["finished_at"]),
        error_code=row["error_code"],
        error_text=row["error_text"],
        refunded=row["quota_state"] == "refunded",
        delivered_message_id=row["delivered_message_id"],
        rerun_of=row["rerun_of"],
        extra=extra,
        delivered_at=ts(row["delivered_at"]),
        queue_seq=row["fair_seq"],
    )


async def next_fair_seq(conn: aiosqlite.Connection, user_id: int, model: str) -> int:
    """The fair-queue sequence for a new job of this user.

    A user's k-th waiting job gets ``floor + k - 1``, where ``floor`` is the lowest
    sequence still waiting: ordering by (sequence, id) then serves users round-robin.
    """
    async with conn.execute(
        "SELECT MIN(fair_seq) FROM jobs WHERE state = 'queued' AND model = ?", (model,)
    ) as cur:
        row = await cur.fetchone()
    floor = int(row[0]) if row and row[0] is not None else 0
    async with conn.execute(
        "SELECT MAX(fair_seq) FROM jobs WHERE user_id = ? AND state = 'queued' AND model = ?",
        (user_id, model),
    ) as cur:
        row = await cur.fetchone()
    mine = int(row[0]) + 1 if row and row[0] is not None else 0
    return max(floor, mine)


async def insert_job(conn: aiosqlite.Connection, values: dict[str, Any]) -> int:
    """Insert a jobs row from column values; return its id."""
    cols = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    cur = await conn.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", tuple(values.values()))
    assert cur.lastrowid is not None
    return cur.lastrowid


async def insert_inputs(
    conn: aiosqlite.Connection, job_id: int, inputs: Sequence[JobInput]
) -> None:
    """Store the job's input files."""
    await conn.executemany(
        "INSERT INTO job_inputs (job_id, position, role, mime, filename, width, height,"
        " duration_seconds, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                job_id,
                i,
                item.role.value,
                item.mime,
                item.filename,
                item.width,
                item.height,
                item.duration_seconds,
                item.data,
            )
            for i, item in enumerate(inputs)
        ],
    )


async def load_inputs(conn: aiosqlite.Connection, job_id: int) -> list[JobInput]:
    """The job's stored input files, in order (empty once purged)."""
    async with conn.execute(
        "SELECT * FROM job_inputs WHERE job_id = ? ORDER BY position", (job_id,)
    ) as cur:
        rows = await cur.fetchall()
    return [
        JobInput(
            role=InputRole(r["role"]),
            mime=r["mime"],
            data=bytes(r["data"]),
            filename=r["filename"],
            width=r["width"],
            height=r["height"],
            duration_seconds=r["duration_seconds"],
        )
        for r in rows
    ]


async def get_row(conn: aiosqlite.Connection, job_id: int) -> aiosqlite.Row | None:
    """The raw jobs row."""
    async with conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)) as cur:
        row: aiosqlite.Row | None = await cur.fetchone()
    return row


async def update(
    conn: aiosqlite.Connection,
    job_id: int,
    values: dict[str, Any],
    *,
    expect_state: JobState | Sequence[JobState] | None = None,
) -> bool:
    """Set columns of one job, only if it is in ``expect_state``; True when a row changed."""
    sets = ", ".join(f"{k} = ?" for k in values)
    params: list[Any] = list(values.values())
    sql = f"UPDATE jobs SET {sets} WHERE id = ?"
    params.append(job_id)
    if expect_state is not None:
        states = [expect_state] if isinstance(expect_state, JobState) else list(expect_state)
        sql += f" AND state IN ({', '.join('?' for _ in states)})"
        params.extend(s.value for s in states)
    cur = await conn.execute(sql, params)
    return cur.rowcount == 1


async def count_active(conn: aiosqlite.Connection, user_id: int) -> int:
    """How many of the user's jobs are queued, submitting or running."""
    async with conn.execute(
        f"SELECT COUNT(*) FROM jobs WHERE user_id = ? AND state IN {_ACTIVE_SQL}", (user_id,)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def queue_position(conn: aiosqlite.Connection, job_id: int) -> int | None:
    """1-based position among queued jobs of the same model, in submission order."""
    row = await get_row(conn, job_id)
    if row is None or row["state"] != JobState.QUEUED.value:
        return None
    async with conn.execute(
        "SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND model = ?"
        " AND (fair_seq < ? OR (fair_seq = ? AND id < ?))",
        (row["model"], row["fair_seq"], row["fair_seq"], job_id),
    ) as cur:
        ahead = await cur.fetchone()
    return (int(ahead[0]) if ahead else 0) + 1


async def queued_in_order(
    conn: aiosqlite.Connection, model: str, now: float, limit: int
) -> list[int]:
    """Ids of the next queued jobs of a model that may be submitted now, in fair order."""
    async with conn.execute(
        "SELECT id FROM jobs WHERE state = 'queued' AND model = ?"
        " AND (submit_after IS NULL OR submit_after <= ?)"
        " ORDER BY fair_seq, id LIMIT ?",
        (model, now, limit),
    ) as cur:
        return [int(r[0]) for r in await cur.fetchall()]


async def queued_models(conn: aiosqlite.Connection) -> list[str]:
    """Models that have queued jobs."""
    async with conn.execute("SELECT DISTINCT model FROM jobs WHERE state = 'queued'") as cur:
        return [str(r[0]) for r in await cur.fetchall()]


async def in_flight_by_model(conn: aiosqlite.Connection) -> dict[str, int]:
    """Jobs holding a Runway concurrency slot, per model.

    That is every job submitting or running, plus finished jobs (cancelled, or failed past
    the deadline) whose DELETE at Runway is still pending: their task still runs there.
    """
    counts: dict[str, int] = {}
    async with conn.execute(
        "SELECT model, COUNT(*) FROM jobs WHERE state IN ('submitting', 'running') GROUP BY model"
    ) as cur:
        for r in await cur.fetchall():
            counts[str(r[0])] = int(r[1])
    async with conn.execute(
        "SELECT model, COUNT(*) FROM jobs WHERE remote_cancel = 1"
        " AND state NOT IN ('submitting', 'running') GROUP BY model"
    ) as cur:
        for r in await cur.fetchall():
            counts[str(r[0])] = counts.get(str(r[0]), 0) + int(r[1])
    return counts


async def due_ids(conn: aiosqlite.Connection, now: float, limit: int) -> list[int]:
    """Jobs whose next step is due and that nobody holds a live lease on, earliest first."""
    async with conn.execute(
        "SELECT id FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?"
        " AND (lease_expires_at IS NULL OR lease_expires_at <= ?)"
        " ORDER BY next_poll_at LIMIT ?",
        (now, now, limit),
    ) as cur:
        return [int(r[0]) for r in await cur.fetchall()]


async def earliest_due(conn: aiosqlite.Connection) -> float | None:
    """When the next step may start: next_poll_at, or the lease expiry if leased (None: idle)."""
    async with conn.execute(
        "SELECT MIN(MAX(next_poll_at, COALESCE(lease_expires_at, next_poll_at)))"
        " FROM jobs WHERE next_poll_at IS NOT NULL"
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


async def earliest_submit_after(conn: aiosqlite.Connection) -> float | None:
    """The earliest time a backed-off queued job may be submitted again."""
    async with conn.execute(
        "SELECT MIN(submit_after) FROM jobs WHERE state = 'queued' AND submit_after IS NOT NULL"
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


async def claim(
    conn: aiosqlite.Connection, job_id: int, owner: str, now: float, expires: float
) -> bool:
    """Take the lease on a job if it is free or expired (one UPDATE)."""
    cur = await conn.execute(
        "UPDATE jobs SET lease_owner = ?, lease_expires_at = ?"
        " WHERE id = ? AND (lease_expires_at IS NULL OR lease_expires_at <= ? OR lease_owner = ?)",
        (owner, expires, job_id, now, owner),
    )
    return cur.rowcount == 1


ACCOUNT_ERROR_CODES = ("auth", "balance")


async def latest_account_problem(conn: aiosqlite.Connection, since: float) -> AccountProblem | None:
    """The newest job failed since ``since`` because the provider refused the bot's key or
    balance, unless a job succeeded at Runway after it (the problem is then fixed)."""
    async with conn.execute(
        "SELECT id, error_code, finished_at FROM jobs AS failed"
        " WHERE error_code IN (?, ?) AND finished_at >= ?"
        " AND NOT EXISTS (SELECT 1 FROM jobs AS later WHERE later.state = 'succeeded'"
        " AND later.finished_at > failed.finished_at)"
        " ORDER BY finished_at DESC LIMIT 1",
        (*ACCOUNT_ERROR_CODES, since),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    at = ts(row["finished_at"])
    assert at is not None
    return AccountProblem(int(row["id"]), str(row["error_code"]), at)
