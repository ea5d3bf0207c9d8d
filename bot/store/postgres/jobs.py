"""The jobs and job_inputs tables on PostgreSQL: the same named operations as
``bot.store.jobs_repo`` (the SQLite ones), safe with several bot processes on one database.

Reads whose answer decides a write in the same transaction lock what they read, because
PostgreSQL's READ COMMITTED does not serialise writers the way SQLite's ``BEGIN IMMEDIATE``
does: ``get`` locks the job's row, ``count_active`` the user (an advisory transaction lock),
``in_flight_by_model`` and ``claim_for_submit`` the submit pass (so the per-model Runway limit
holds across processes).
The worker's candidate queries skip rows another transaction holds (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...domain import AccountProblem, InputRole, Job, JobInput, JobState, QueueStats
from ..records import JobRecord
from ..rows import row_to_job, row_to_record, ts
from .conn import PgConn

_ACTIVE_SQL = "('queued', 'submitting', 'running')"
_RELEASE = "lease_owner = NULL, lease_expires_at = NULL"
SUBMIT_LOCK = "runway-bot:submit"
"""The advisory lock of the submit pass: the in-flight counts and the claims that follow."""
ACCOUNT_ERROR_CODES = ("auth", "balance")


def _states(expect: JobState | Sequence[JobState]) -> list[str]:
    return [expect.value] if isinstance(expect, JobState) else [s.value for s in expect]


async def get(conn: PgConn, job_id: int) -> JobRecord | None:
    """The job's record, or None when it does not exist. In a transaction the row stays locked
    until commit: what the caller decides from it (settle or refund its quota, say) cannot race
    another process deciding from the same version."""
    lock = " FOR UPDATE" if conn.in_transaction else ""
    row = await conn.fetchrow(f"SELECT * FROM jobs WHERE id = $1{lock}", job_id)
    return None if row is None else row_to_record(row)


async def next_fair_seq(conn: PgConn, user_id: int, model: str) -> int:
    """The fair-queue sequence for a new job of this user (see ``jobs_repo.next_fair_seq``)."""
    floor = await conn.fetchval(
        "SELECT MIN(fair_seq) FROM jobs WHERE state = 'queued' AND model = $1", model
    )
    mine = await conn.fetchval(
        "SELECT MAX(fair_seq) FROM jobs WHERE user_id = $1 AND state = 'queued' AND model = $2",
        user_id,
        model,
    )
    return max(0 if floor is None else int(floor), 0 if mine is None else int(mine) + 1)


async def insert_job(conn: PgConn, values: dict[str, Any]) -> int:
    """Insert a jobs row from column values; return its id."""
    cols = ", ".join(values)
    marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    job_id = await conn.fetchval(
        f"INSERT INTO jobs ({cols}) VALUES ({marks}) RETURNING id",
        *values.values(),
    )
    return int(job_id)


async def insert_inputs(conn: PgConn, job_id: int, inputs: Sequence[JobInput]) -> None:
    """Store the job's input files."""
    await conn.executemany(
        "INSERT INTO job_inputs (job_id, position, role, mime, filename, width, height,"
        " duration_seconds, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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


async def load_inputs(conn: PgConn, job_id: int) -> list[JobInput]:
    """The job's stored input files, in order (empty once purged)."""
    rows = await conn.fetch("SELECT * FROM job_inputs WHERE job_id = $1 ORDER BY position", job_id)
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


async def update(
    conn: PgConn,
    job_id: int,
    values: dict[str, Any],
    *,
    expect_state: JobState | Sequence[JobState] | None = None,
) -> bool:
    """Set columns of one job, only if it is in ``expect_state``; True when a row changed."""
    params: list[object] = list(values.values())
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(values, start=1))
    params.append(job_id)
    sql = f"UPDATE jobs SET {sets} WHERE id = ${len(params)}"
    if expect_state is not None:
        params.append(_states(expect_state))
        sql += f" AND state = ANY(${len(params)}::text[])"
    return await conn.execute(sql, *params) == 1


async def count_active(conn: PgConn, user_id: int) -> int:
    """How many of the user's jobs are queued, submitting or running (the user's creates wait
    for each other from here to their commit, so the per-user limit holds)."""
    await conn.lock(f"runway-bot:active:{user_id}")
    count = await conn.fetchval(
        f"SELECT COUNT(*) FROM jobs WHERE user_id = $1 AND state IN {_ACTIVE_SQL}", user_id
    )
    return int(count)


async def queue_position(conn: PgConn, job_id: int) -> int | None:
    """1-based position among queued jobs of the same model, in submission order."""
    row = await conn.fetchrow("SELECT state, model, fair_seq FROM jobs WHERE id = $1", job_id)
    if row is None or row["state"] != JobState.QUEUED.value:
        return None
    ahead = await conn.fetchval(
        "SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND model = $1"
        " AND (fair_seq < $2 OR (fair_seq = $2 AND id < $3))",
        row["model"],
        row["fair_seq"],
        job_id,
    )
    return int(ahead) + 1


async def queued_in_order(conn: PgConn, model: str, now: float, limit: int) -> list[int]:
    """Ids of the next queued jobs of a model that may be submitted now, in fair order
    (rows another transaction is changing are skipped)."""
    rows = await conn.fetch(
        "SELECT id FROM jobs WHERE state = 'queued' AND model = $1"
        " AND (submit_after IS NULL OR submit_after <= $2)"
        " ORDER BY fair_seq, id LIMIT $3 FOR UPDATE SKIP LOCKED",
        model,
        now,
        limit,
    )
    return [int(r[0]) for r in rows]


async def queued_models(conn: PgConn) -> list[str]:
    """Models that have queued jobs."""
    rows = await conn.fetch("SELECT DISTINCT model FROM jobs WHERE state = 'queued'")
    return [str(r[0]) for r in rows]


async def in_flight_by_model(conn: PgConn) -> dict[str, int]:
    """Jobs holding a Runway concurrency slot, per model (submitting, running, or a DELETE
    still pending). Inside a transaction this holds the submit lock until commit, so the
    counts stay true for the claims that follow, whichever process makes them."""
    await conn.lock(SUBMIT_LOCK)
    rows = await conn.fetch(
        "SELECT model, COUNT(*) FROM jobs"
        " WHERE state IN ('submitting', 'running') OR remote_cancel = 1 GROUP BY model"
    )
    return {str(r[0]): int(r[1]) for r in rows}


async def nudge_throttled(conn: PgConn, model: str, at: float, min_gap: float) -> int:
    """Bring the next poll of ``model``'s running jobs that Runway last reported THROTTLED
    forward to ``at`` (never within ``min_gap`` of their last poll, never later than already
    due; leased or cancelling jobs are left alone). Returns how many moved."""
    return await conn.execute(
        "UPDATE jobs SET next_poll_at = GREATEST($1, COALESCE(last_polled_at, 0) + $2)"
        " WHERE state = 'running' AND model = $3 AND provider_status = 'THROTTLED'"
        " AND remote_cancel = 0 AND lease_owner IS NULL AND next_poll_at IS NOT NULL"
        " AND next_poll_at > GREATEST($1, COALESCE(last_polled_at, 0) + $2)",
        at,
        min_gap,
        model,
    )


async def due_ids(conn: PgConn, now: float, limit: int) -> list[int]:
    """Jobs whose next step is due and that nobody holds a live lease on, earliest first
    (rows another worker is claiming right now are skipped, not waited for)."""
    rows = await conn.fetch(
        "SELECT id FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= $1"
        " AND (lease_expires_at IS NULL OR lease_expires_at <= $1)"
        " ORDER BY next_poll_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
    )
    return [int(r[0]) for r in rows]


async def earliest_due(conn: PgConn) -> float | None:
    """When the next step may start: next_poll_at, or the lease expiry if leased (None: idle)."""
    value = await conn.fetchval(
        "SELECT MIN(GREATEST(next_poll_at, COALESCE(lease_expires_at, next_poll_at)))"
        " FROM jobs WHERE next_poll_at IS NOT NULL"
    )
    return None if value is None else float(value)


async def earliest_submit_after(conn: PgConn) -> float | None:
    """The earliest time a backed-off queued job may be submitted again."""
    value = await conn.fetchval(
        "SELECT MIN(submit_after) FROM jobs WHERE state = 'queued' AND submit_after IS NOT NULL"
    )
    return None if value is None else float(value)


async def claim(conn: PgConn, job_id: int, owner: str, now: float, expires: float) -> bool:
    """Take the lease on a job if it is free or expired (one UPDATE; a concurrent claimer
    waits for this one's commit and then finds the lease taken)."""
    changed = await conn.execute(
        "UPDATE jobs SET lease_owner = $1, lease_expires_at = $2 WHERE id = $3"
        " AND (lease_expires_at IS NULL OR lease_expires_at <= $4 OR lease_owner = $1)",
        owner,
        expires,
        job_id,
        now,
    )
    return changed == 1


# Written out (not bound) so the planner can use the partial index jobs_account_errors.
_ACCOUNT_SQL = "(" + ", ".join(f"'{code}'" for code in ACCOUNT_ERROR_CODES) + ")"


async def latest_account_problem(conn: PgConn, since: float) -> AccountProblem | None:
    """The newest job failed since ``since`` because the provider refused the bot's key or
    balance, unless a job succeeded at Runway after it."""
    row = await conn.fetchrow(
        "SELECT id, error_code, finished_at FROM jobs AS failed"
        f" WHERE error_code IN {_ACCOUNT_SQL} AND finished_at >= $1"
        " AND NOT EXISTS (SELECT 1 FROM jobs AS later WHERE later.state = 'succeeded'"
        " AND later.finished_at > failed.finished_at)"
        " ORDER BY finished_at DESC LIMIT 1",
        since,
    )
    if row is None:
        return None
    at = ts(row["finished_at"])
    assert at is not None
    return AccountProblem(int(row["id"]), str(row["error_code"]), at)


async def update_released(
    conn: PgConn,
    job_id: int,
    values: dict[str, Any],
    *,
    expect_state: JobState | Sequence[JobState] | None = None,
) -> bool:
    """Set columns of one job and drop its lease in the same statement."""
    return await update(
        conn,
        job_id,
        {**values, "lease_owner": None, "lease_expires_at": None},
        expect_state=expect_state,
    )


async def release(conn: PgConn, job_id: int, owner: str) -> None:
    """Drop ``owner``'s lease on the job (if it still holds it)."""
    await conn.execute(
        f"UPDATE jobs SET {_RELEASE} WHERE id = $1 AND lease_owner = $2", job_id, owner
    )


async def release_all(conn: PgConn, owner: str) -> None:
    """Drop every lease ``owner`` holds."""
    await conn.execute(f"UPDATE jobs SET {_RELEASE} WHERE lease_owner = $1", owner)


async def release_after_bug(conn: PgConn, job_id: int, owner: str, retry_at: float) -> None:
    """A step crashed: drop its lease and, if the job had a next step, retry it at ``retry_at``."""
    await conn.execute(
        f"UPDATE jobs SET {_RELEASE},"
        " next_poll_at = CASE WHEN next_poll_at IS NULL THEN NULL ELSE $1 END"
        " WHERE id = $2 AND lease_owner = $3",
        retry_at,
        job_id,
        owner,
    )


async def renew_leases(conn: PgConn, owner: str, job_ids: Sequence[int], expires: float) -> None:
    """Extend ``owner``'s leases on the jobs it is working on."""
    if not job_ids:
        return
    await conn.execute(
        "UPDATE jobs SET lease_expires_at = $1 WHERE lease_owner = $2 AND id = ANY($3::bigint[])",
        expires,
        owner,
        list(job_ids),
    )


async def claim_for_submit(
    conn: PgConn, job_id: int, owner: str, now: float, expires: float
) -> bool:
    """Move a queued job to ``submitting`` under ``owner``'s lease, counting the attempt; under
    the submit lock, so it is atomic with the in-flight count of the same transaction."""
    await conn.lock(SUBMIT_LOCK)
    changed = await conn.execute(
        "UPDATE jobs SET state = 'submitting', submit_after = NULL, create_sent_at = NULL,"
        " lease_owner = $1, lease_expires_at = $2, updated_at = $3, attempts = attempts + 1"
        " WHERE id = $4 AND state = 'queued'",
        owner,
        expires,
        now,
        job_id,
    )
    return changed == 1


async def stale_submitting(conn: PgConn, owner: str, now: float) -> list[JobRecord]:
    """Jobs left ``submitting`` by a dead worker or by ``owner``'s previous run."""
    rows = await conn.fetch(
        "SELECT * FROM jobs WHERE state = 'submitting' AND (lease_owner IS NULL"
        " OR lease_owner = $1 OR lease_expires_at <= $2)",
        owner,
        now,
    )
    return [row_to_record(r) for r in rows]


async def unleased_submitting_ids(conn: PgConn, now: float) -> list[int]:
    """Ids of ``submitting`` jobs whose lease has expired (a crashed worker's)."""
    rows = await conn.fetch(
        "SELECT id FROM jobs WHERE state = 'submitting'"
        " AND (lease_expires_at IS NULL OR lease_expires_at <= $1)",
        now,
    )
    return [int(r[0]) for r in rows]


async def purge_inputs(conn: PgConn, cutoff: float, now: float) -> int:
    """Delete the stored inputs of jobs finished before ``cutoff``; returns how many jobs."""
    rows = await conn.fetch(
        "UPDATE jobs SET inputs_purged_at = $1 WHERE inputs_purged_at IS NULL"
        " AND finished_at IS NOT NULL AND finished_at < $2 RETURNING id",
        now,
        cutoff,
    )
    ids = [int(r[0]) for r in rows]
    if ids:
        await conn.execute("DELETE FROM job_inputs WHERE job_id = ANY($1::bigint[])", ids)
    return len(ids)


async def set_quota_state(conn: PgConn, job_id: int, state: str, charged_credits: float) -> None:
    """Record how the job's quota ended (``settled`` or ``refunded``) and what it cost."""
    await conn.execute(
        "UPDATE jobs SET quota_state = $1, charged_credits = $2 WHERE id = $3",
        state,
        charged_credits,
        job_id,
    )


async def list_for_user(
    conn: PgConn, user_id: int, guild_id: int | None, limit: int, offset: int = 0
) -> list[Job]:
    """The user's most recent jobs, newest first (optionally in one guild), skipping
    ``offset``."""
    rows = await conn.fetch(
        "SELECT * FROM jobs WHERE user_id = $1 AND ($2::bigint IS NULL OR guild_id = $2)"
        " ORDER BY id DESC LIMIT $3 OFFSET $4",
        user_id,
        guild_id,
        limit,
        offset,
    )
    return [row_to_job(r) for r in rows]


async def active_for_user(conn: PgConn, user_id: int) -> list[Job]:
    """The user's queued, submitting and running jobs, oldest first."""
    rows = await conn.fetch(
        f"SELECT * FROM jobs WHERE user_id = $1 AND state IN {_ACTIVE_SQL} ORDER BY id", user_id
    )
    return [row_to_job(r) for r in rows]


_UNPUBLISHED_SQL = (
    "status_message_id IS NULL AND publisher IS NOT NULL"
    " AND (state IN ('queued', 'submitting', 'running') OR next_poll_at IS NOT NULL)"
)
"""Matches the partial index jobs_unpublished."""


async def unpublished_ids(conn: PgConn, owner: str, now: float, at_start: bool) -> list[int]:
    """Jobs with no status message recorded that still have something to tell their member
    and that ``owner``'s worker may publish: at its start those of no publisher, of ``owner``
    or whose publish lease expired (each branch matches a partial index); later only those
    of another publisher whose lease expired (jobs_unpublished)."""
    if at_start:
        mine = " AND (publisher IS NULL OR publisher = $1 OR publish_expires_at <= $2)"
        rows = await conn.fetch(
            "SELECT id FROM jobs WHERE state = 'queued' AND status_message_id IS NULL"
            + mine
            + " UNION SELECT id FROM jobs"
            " WHERE state IN ('submitting', 'running') AND status_message_id IS NULL"
            + mine
            + " UNION SELECT id FROM jobs"
            " WHERE next_poll_at IS NOT NULL AND status_message_id IS NULL" + mine + " ORDER BY id",
            owner,
            now,
        )
    else:
        rows = await conn.fetch(
            f"SELECT id FROM jobs WHERE {_UNPUBLISHED_SQL}"
            " AND publish_expires_at <= $1 AND publisher <> $2 ORDER BY id",
            now,
            owner,
        )
    return [int(r[0]) for r in rows]


async def take_publication(
    conn: PgConn, job_id: int, owner: str, now: float, expires: float, at_start: bool
) -> bool:
    """Make ``owner`` the job's publisher until ``expires`` if :func:`unpublished_ids`'s rule
    still lets it take the job (one UPDATE)."""
    rule = (
        "(publisher IS NULL OR publisher = $1 OR publish_expires_at <= $4)"
        if at_start
        else "publisher <> $1 AND publish_expires_at <= $4"
    )
    changed = await conn.execute(
        "UPDATE jobs SET publisher = $1, publish_expires_at = $2"
        f" WHERE id = $3 AND status_message_id IS NULL AND {rule}",
        owner,
        expires,
        job_id,
        now,
    )
    return changed == 1


async def renew_publications(conn: PgConn, owner: str, before: float, expires: float) -> None:
    """Extend to ``expires`` ``owner``'s publish leases that end before ``before``."""
    await conn.execute(
        f"UPDATE jobs SET publish_expires_at = $1 WHERE {_UNPUBLISHED_SQL}"
        " AND publish_expires_at < $2 AND publisher = $3",
        expires,
        before,
        owner,
    )


async def first_queued(conn: PgConn, limit: int) -> list[int]:
    """Ids of the first queued jobs across models, in fair order."""
    rows = await conn.fetch(
        "SELECT id FROM jobs WHERE state = 'queued' ORDER BY fair_seq, id LIMIT $1", limit
    )
    return [int(r[0]) for r in rows]


async def stats(conn: PgConn, since: float) -> QueueStats:
    """Counts per state, in flight and queued per model, finished but not yet posted, and a
    provider account problem since ``since``."""

    async def counts(sql: str) -> dict[str, int]:
        return {str(r[0]): int(r[1]) for r in await conn.fetch(sql)}

    by_state = await counts("SELECT state, COUNT(*) FROM jobs GROUP BY state")
    in_flight = await counts(
        "SELECT model, COUNT(*) FROM jobs WHERE state IN ('submitting', 'running') GROUP BY model"
    )
    queued = await counts("SELECT model, COUNT(*) FROM jobs WHERE state = 'queued' GROUP BY model")
    undelivered = await conn.fetchval(
        "SELECT COUNT(*) FROM jobs WHERE delivered_at IS NULL AND next_poll_at IS NOT NULL"
        f" AND state NOT IN {_ACTIVE_SQL}"
    )
    return QueueStats(
        {JobState(k): v for k, v in by_state.items()},
        in_flight,
        queued,
        int(undelivered),
        await latest_account_problem(conn, since),
    )


async def list_jobs(
    conn: PgConn,
    *,
    user_id: int | None = None,
    state: JobState | None = None,
    limit: int = 20,
) -> list[Job]:
    """The most recent jobs of every user, newest first, optionally of one user and state."""
    rows = await conn.fetch(
        "SELECT * FROM jobs WHERE ($1::bigint IS NULL OR user_id = $1)"
        " AND ($2::text IS NULL OR state = $2) ORDER BY id DESC LIMIT $3",
        user_id,
        None if state is None else state.value,
        limit,
    )
    return [row_to_job(r) for r in rows]


async def input_summaries(conn: PgConn, job_id: int) -> list[dict[str, Any]]:
    """The job's stored input files without their bytes (see ``jobs_repo.input_summaries``)."""
    rows = await conn.fetch(
        "SELECT role, mime, filename, width, height, duration_seconds, length(data) AS size"
        " FROM job_inputs WHERE job_id = $1 ORDER BY position",
        job_id,
    )
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


async def inputs_purged_at(conn: PgConn, job_id: int) -> float | None:
    """When the job's input files were deleted by the retention sweep (None: still kept)."""
    value = await conn.fetchval("SELECT inputs_purged_at FROM jobs WHERE id = $1", job_id)
    return None if value is None else float(value)
