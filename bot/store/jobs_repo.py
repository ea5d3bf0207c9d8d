"""SQL for the jobs and job_inputs tables (SQLite). Functions take an open connection; each
operation hands a PostgreSQL connection to its twin in ``postgres/jobs.py`` (``@on_postgres``),
so a new operation needs both. Rows become records in ``rows.py``, shared by both backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite

from ..domain import (
    AccountProblem,
    InputRole,
    Job,
    JobInput,
    JobState,
    QueueStats,
)
from .backend import on_postgres
from .postgres import jobs as pg
from .records import JobRecord
from .rows import row_to_job, row_to_record, ts

ACTIVE_STATES = (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING)
_ACTIVE_SQL = "('queued', 'submitting', 'running')"


@on_postgres(pg.get)
async def get(conn: aiosqlite.Connection, job_id: int) -> JobRecord | None:
    """The job's record, or None when it does not exist."""
    row = await get_row(conn, job_id)
    return None if row is None else row_to_record(row)


@on_postgres(pg.next_fair_seq)
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


@on_postgres(pg.insert_job)
async def insert_job(conn: aiosqlite.Connection, values: dict[str, Any]) -> int:
    """Insert a jobs row from column values; return its id."""
    cols = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    cur = await conn.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", tuple(values.values()))
    assert cur.lastrowid is not None
    return cur.lastrowid


@on_postgres(pg.insert_inputs)
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


@on_postgres(pg.load_inputs)
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


@on_postgres(pg.update)
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


@on_postgres(pg.count_active)
async def count_active(conn: aiosqlite.Connection, user_id: int) -> int:
    """How many of the user's jobs are queued, submitting or running."""
    async with conn.execute(
        f"SELECT COUNT(*) FROM jobs WHERE user_id = ? AND state IN {_ACTIVE_SQL}", (user_id,)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


@on_postgres(pg.queue_position)
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


@on_postgres(pg.queued_in_order)
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


@on_postgres(pg.queued_models)
async def queued_models(conn: aiosqlite.Connection) -> list[str]:
    """Models that have queued jobs."""
    async with conn.execute("SELECT DISTINCT model FROM jobs WHERE state = 'queued'") as cur:
        return [str(r[0]) for r in await cur.fetchall()]


@on_postgres(pg.in_flight_by_model)
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


@on_postgres(pg.nudge_throttled)
async def nudge_throttled(conn: aiosqlite.Connection, model: str, at: float, min_gap: float) -> int:
    """Bring the next poll of ``model``'s running jobs that Runway last reported THROTTLED
    forward to ``at`` (never within ``min_gap`` of their last poll, never later than already
    due; leased or cancelling jobs are left alone). Returns how many moved."""
    cur = await conn.execute(
        "UPDATE jobs SET next_poll_at = MAX(?, COALESCE(last_polled_at, 0) + ?)"
        " WHERE state = 'running' AND model = ? AND provider_status = 'THROTTLED'"
        " AND remote_cancel = 0 AND lease_owner IS NULL AND next_poll_at IS NOT NULL"
        " AND next_poll_at > MAX(?, COALESCE(last_polled_at, 0) + ?)",
        (at, min_gap, model, at, min_gap),
    )
    return cur.rowcount


@on_postgres(pg.due_ids)
async def due_ids(conn: aiosqlite.Connection, now: float, limit: int) -> list[int]:
    """Jobs whose next step is due and that nobody holds a live lease on, earliest first."""
    async with conn.execute(
        "SELECT id FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?"
        " AND (lease_expires_at IS NULL OR lease_expires_at <= ?)"
        " ORDER BY next_poll_at LIMIT ?",
        (now, now, limit),
    ) as cur:
        return [int(r[0]) for r in await cur.fetchall()]


@on_postgres(pg.earliest_due)
async def earliest_due(conn: aiosqlite.Connection) -> float | None:
    """When the next step may start: next_poll_at, or the lease expiry if leased (None: idle)."""
    async with conn.execute(
        "SELECT MIN(MAX(next_poll_at, COALESCE(lease_expires_at, next_poll_at)))"
        " FROM jobs WHERE next_poll_at IS NOT NULL"
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


@on_postgres(pg.earliest_submit_after)
async def earliest_submit_after(conn: aiosqlite.Connection) -> float | None:
    """The earliest time a backed-off queued job may be submitted again."""
    async with conn.execute(
        "SELECT MIN(submit_after) FROM jobs WHERE state = 'queued' AND submit_after IS NOT NULL"
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


@on_postgres(pg.claim)
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
# Written out (not bound) so the planner can use the partial index jobs_account_errors.
_ACCOUNT_SQL = "(" + ", ".join(f"'{code}'" for code in ACCOUNT_ERROR_CODES) + ")"


@on_postgres(pg.latest_account_problem)
async def latest_account_problem(conn: aiosqlite.Connection, since: float) -> AccountProblem | None:
    """The newest job failed since ``since`` because the provider refused the bot's key or
    balance, unless a job succeeded at Runway after it (the problem is then fixed)."""
    async with conn.execute(
        "SELECT id, error_code, finished_at FROM jobs AS failed"
        f" WHERE error_code IN {_ACCOUNT_SQL} AND finished_at >= ?"
        " AND NOT EXISTS (SELECT 1 FROM jobs AS later WHERE later.state = 'succeeded'"
        " AND later.finished_at > failed.finished_at)"
        " ORDER BY finished_at DESC LIMIT 1",
        (since,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    at = ts(row["finished_at"])
    assert at is not None
    return AccountProblem(int(row["id"]), str(row["error_code"]), at)


# -- leases and transitions: the crash-safety rules, each in one statement -------------------

_RELEASE = "lease_owner = NULL, lease_expires_at = NULL"


@on_postgres(pg.update_released)
async def update_released(
    conn: aiosqlite.Connection,
    job_id: int,
    values: dict[str, Any],
    *,
    expect_state: JobState | Sequence[JobState] | None = None,
) -> bool:
    """Set columns of one job and drop its lease in the same statement (only if it is in
    ``expect_state``); True when a row changed. Every step ends with this or :func:`release`."""
    return await update(
        conn,
        job_id,
        {**values, "lease_owner": None, "lease_expires_at": None},
        expect_state=expect_state,
    )


@on_postgres(pg.release)
async def release(conn: aiosqlite.Connection, job_id: int, owner: str) -> None:
    """Drop ``owner``'s lease on the job (if it still holds it)."""
    await conn.execute(
        f"UPDATE jobs SET {_RELEASE} WHERE id = ? AND lease_owner = ?", (job_id, owner)
    )


@on_postgres(pg.release_all)
async def release_all(conn: aiosqlite.Connection, owner: str) -> None:
    """Drop every lease ``owner`` holds (a worker stopping, or restarting under its id)."""
    await conn.execute(f"UPDATE jobs SET {_RELEASE} WHERE lease_owner = ?", (owner,))


@on_postgres(pg.release_after_bug)
async def release_after_bug(
    conn: aiosqlite.Connection, job_id: int, owner: str, retry_at: float
) -> None:
    """A step crashed: drop its lease and, if the job had a next step, retry it at ``retry_at``."""
    await conn.execute(
        f"UPDATE jobs SET {_RELEASE},"
        " next_poll_at = CASE WHEN next_poll_at IS NULL THEN NULL ELSE ? END"
        " WHERE id = ? AND lease_owner = ?",
        (retry_at, job_id, owner),
    )


@on_postgres(pg.renew_leases)
async def renew_leases(
    conn: aiosqlite.Connection, owner: str, job_ids: Sequence[int], expires: float
) -> None:
    """Extend ``owner``'s leases on the jobs it is working on."""
    if not job_ids:
        return
    marks = ", ".join("?" for _ in job_ids)
    await conn.execute(
        f"UPDATE jobs SET lease_expires_at = ? WHERE lease_owner = ? AND id IN ({marks})",
        (expires, owner, *job_ids),
    )


@on_postgres(pg.claim_for_submit)
async def claim_for_submit(
    conn: aiosqlite.Connection, job_id: int, owner: str, now: float, expires: float
) -> bool:
    """Move a queued job to ``submitting`` under ``owner``'s lease, counting the attempt."""
    cur = await conn.execute(
        "UPDATE jobs SET state = 'submitting', submit_after = NULL, create_sent_at = NULL,"
        " lease_owner = ?, lease_expires_at = ?, updated_at = ?, attempts = attempts + 1"
        " WHERE id = ? AND state = 'queued'",
        (owner, expires, now, job_id),
    )
    return cur.rowcount == 1


@on_postgres(pg.stale_submitting)
async def stale_submitting(conn: aiosqlite.Connection, owner: str, now: float) -> list[JobRecord]:
    """Jobs left ``submitting`` by a dead worker (lease expired or gone) or by ``owner``'s
    previous run: their create may or may not have reached Runway."""
    async with conn.execute(
        "SELECT * FROM jobs WHERE state = 'submitting' AND (lease_owner IS NULL"
        " OR lease_owner = ? OR lease_expires_at <= ?)",
        (owner, now),
    ) as cur:
        return [row_to_record(r) for r in await cur.fetchall()]


@on_postgres(pg.unleased_submitting_ids)
async def unleased_submitting_ids(conn: aiosqlite.Connection, now: float) -> list[int]:
    """Ids of ``submitting`` jobs whose lease has expired (a crashed worker's)."""
    async with conn.execute(
        "SELECT id FROM jobs WHERE state = 'submitting'"
        " AND (lease_expires_at IS NULL OR lease_expires_at <= ?)",
        (now,),
    ) as cur:
        return [int(r[0]) for r in await cur.fetchall()]


@on_postgres(pg.purge_inputs)
async def purge_inputs(conn: aiosqlite.Connection, cutoff: float, now: float) -> int:
    """Delete the stored inputs of jobs finished before ``cutoff``; returns how many jobs."""
    async with conn.execute(
        "SELECT id FROM jobs WHERE inputs_purged_at IS NULL AND finished_at IS NOT NULL"
        " AND finished_at < ?",
        (cutoff,),
    ) as cur:
        ids = [int(r[0]) for r in await cur.fetchall()]
    if not ids:
        return 0
    marks = ", ".join("?" for _ in ids)
    await conn.execute(f"DELETE FROM job_inputs WHERE job_id IN ({marks})", ids)
    await conn.execute(f"UPDATE jobs SET inputs_purged_at = ? WHERE id IN ({marks})", (now, *ids))
    return len(ids)


@on_postgres(pg.set_quota_state)
async def set_quota_state(
    conn: aiosqlite.Connection, job_id: int, state: str, charged_credits: float
) -> None:
    """Record how the job's quota ended (``settled`` or ``refunded``) and what it cost."""
    await conn.execute(
        "UPDATE jobs SET quota_state = ?, charged_credits = ? WHERE id = ?",
        (state, charged_credits, job_id),
    )


# -- reads for the job service and the status command ----------------------------------------


@on_postgres(pg.list_for_user)
async def list_for_user(
    conn: aiosqlite.Connection, user_id: int, guild_id: int | None, limit: int, offset: int = 0
) -> list[Job]:
    """The user's most recent jobs, newest first (optionally in one guild), skipping
    ``offset``."""
    sql = "SELECT * FROM jobs WHERE user_id = ?"
    params: list[object] = [user_id]
    if guild_id is not None:
        sql += " AND guild_id = ?"
        params.append(guild_id)
    sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
    params += [limit, offset]
    async with conn.execute(sql, params) as cur:
        return [row_to_job(r) for r in await cur.fetchall()]


@on_postgres(pg.active_for_user)
async def active_for_user(conn: aiosqlite.Connection, user_id: int) -> list[Job]:
    """The user's queued, submitting and running jobs, oldest first."""
    async with conn.execute(
        f"SELECT * FROM jobs WHERE user_id = ? AND state IN {_ACTIVE_SQL} ORDER BY id",
        (user_id,),
    ) as cur:
        return [row_to_job(r) for r in await cur.fetchall()]


@on_postgres(pg.first_queued)
async def first_queued(conn: aiosqlite.Connection, limit: int) -> list[int]:
    """Ids of the first queued jobs across models, in fair order."""
    async with conn.execute(
        "SELECT id FROM jobs WHERE state = 'queued' ORDER BY fair_seq, id LIMIT ?", (limit,)
    ) as cur:
        return [int(r[0]) for r in await cur.fetchall()]


@on_postgres(pg.stats)
async def stats(conn: aiosqlite.Connection, since: float) -> QueueStats:
    """Counts per state, in flight and queued per model, finished but not yet posted, and a
    provider account problem since ``since``."""

    async def counts(sql: str) -> dict[str, int]:
        async with conn.execute(sql) as cur:
            return {str(r[0]): int(r[1]) for r in await cur.fetchall()}

    by_state = await counts("SELECT state, COUNT(*) FROM jobs GROUP BY state")
    in_flight = await counts(
        "SELECT model, COUNT(*) FROM jobs WHERE state IN ('submitting', 'running') GROUP BY model"
    )
    queued = await counts("SELECT model, COUNT(*) FROM jobs WHERE state = 'queued' GROUP BY model")
    async with conn.execute(
        "SELECT COUNT(*) FROM jobs WHERE delivered_at IS NULL AND next_poll_at IS NOT NULL"
        f" AND state NOT IN {_ACTIVE_SQL}"
    ) as cur:
        row = await cur.fetchone()
    return QueueStats(
        {JobState(k): v for k, v in by_state.items()},
        in_flight,
        queued,
        int(row[0]) if row else 0,
        await latest_account_problem(conn, since),
    )


# -- reads for the operator command line (``runway-bot jobs``) --------------------------------


@on_postgres(pg.list_jobs)
async def list_jobs(
    conn: aiosqlite.Connection,
    *,
    user_id: int | None = None,
    state: JobState | None = None,
    limit: int = 20,
) -> list[Job]:
    """The most recent jobs of every user, newest first, optionally of one user and state."""
    sql = "SELECT * FROM jobs WHERE 1 = 1"
    params: list[object] = []
    if user_id is not None:
        sql += " AND user_id = ?"
        params.append(user_id)
    if state is not None:
        sql += " AND state = ?"
        params.append(state.value)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    async with conn.execute(sql, params) as cur:
        return [row_to_job(r) for r in await cur.fetchall()]


@on_postgres(pg.input_summaries)
async def input_summaries(conn: aiosqlite.Connection, job_id: int) -> list[dict[str, Any]]:
    """The job's stored input files without their bytes: role, mime, filename, size (in
    ``bytes``), width, height, duration_seconds; empty once purged."""
    async with conn.execute(
        "SELECT role, mime, filename, width, height, duration_seconds, length(data) AS size"
        " FROM job_inputs WHERE job_id = ? ORDER BY position",
        (job_id,),
    ) as cur:
        rows = await cur.fetchall()
    return [
        {
            "role": r["role"],
            "mime": r["mime"],
            "filename": r["filename"],
            "bytes": int(r["size"]),
            "width": r["width"],
            "height": r["height"],
            "duration_seconds": r["duration_seconds"],
        }
        for r in rows
    ]


@on_postgres(pg.inputs_purged_at)
async def inputs_purged_at(conn: aiosqlite.Connection, job_id: int) -> float | None:
    """When the job's input files were deleted by the retention sweep (None: still kept)."""
    async with conn.execute("SELECT inputs_purged_at FROM jobs WHERE id = ?", (job_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


# Written out (not bound) so the planner can use the partial index jobs_unpublished.
_UNPUBLISHED_SQL = (
    "status_message_id IS NULL AND publisher IS NOT NULL"
    " AND (state IN ('queued', 'submitting', 'running') OR next_poll_at IS NOT NULL)"
)


@on_postgres(pg.unpublished_ids)
async def unpublished_ids(
    conn: aiosqlite.Connection, owner: str, now: float, at_start: bool
) -> list[int]:
    """Jobs with no status message recorded that still have something to tell their member
    and that ``owner``'s worker may publish.

    At its start (``at_start``: nothing of this run has posted yet) those of no publisher, of
    ``owner`` (its previous run) or whose publish lease expired; later only those of another
    publisher whose lease expired (a job this process's command is posting is never taken).
    """
    if at_start:
        # waiting, at Runway, or finished with a step due: the three branches use their indexes
        mine = " AND (publisher IS NULL OR publisher = ? OR publish_expires_at <= ?)"
        async with conn.execute(
            "SELECT id FROM jobs INDEXED BY jobs_queue"
            " WHERE state = 'queued' AND status_message_id IS NULL"
            + mine
            + " UNION SELECT id FROM jobs INDEXED BY jobs_in_flight"
            " WHERE state IN ('submitting', 'running') AND status_message_id IS NULL"
            + mine
            + " UNION SELECT id FROM jobs INDEXED BY jobs_due"
            " WHERE next_poll_at IS NOT NULL AND status_message_id IS NULL" + mine + " ORDER BY id",
            (owner, now) * 3,
        ) as cur:
            return [int(r[0]) for r in await cur.fetchall()]
    async with conn.execute(
        f"SELECT id FROM jobs INDEXED BY jobs_unpublished WHERE {_UNPUBLISHED_SQL}"
        " AND publish_expires_at <= ? AND publisher != ? ORDER BY id",
        (now, owner),
    ) as cur:
        return [int(r[0]) for r in await cur.fetchall()]


@on_postgres(pg.take_publication)
async def take_publication(
    conn: aiosqlite.Connection, job_id: int, owner: str, now: float, expires: float, at_start: bool
) -> bool:
    """Make ``owner`` the job's publisher until ``expires`` if :func:`unpublished_ids`'s rule
    (same ``at_start``) still lets it take the job (one UPDATE: two workers never both win)."""
    rule = (
        "(publisher IS NULL OR publisher = ? OR publish_expires_at <= ?)"
        if at_start
        else "publisher != ? AND publish_expires_at <= ?"
    )
    cur = await conn.execute(
        "UPDATE jobs SET publisher = ?, publish_expires_at = ?"
        f" WHERE id = ? AND status_message_id IS NULL AND {rule}",
        (owner, expires, job_id, owner, now),
    )
    return cur.rowcount == 1


@on_postgres(pg.renew_publications)
async def renew_publications(
    conn: aiosqlite.Connection, owner: str, before: float, expires: float
) -> None:
    """Extend to ``expires`` ``owner``'s publish leases that end before ``before`` (the
    process is alive: its commands and worker still answer for those jobs)."""
    await conn.execute(
        "UPDATE jobs INDEXED BY jobs_unpublished SET publish_expires_at = ?"
        f" WHERE {_UNPUBLISHED_SQL} AND publish_expires_at < ? AND publisher = ?",
        (expires, before, owner),
    )
