"""Rows to records, shared by both backends (``aiosqlite.Row`` and ``asyncpg.Record`` are both
read by column name)."""

from __future__ import annotations

from datetime import UTC, datetime

from ..domain import Job, JobKind, JobParams, JobState
from .postgres.conn import Row
from .records import JobRecord


def ts(value: float | None) -> datetime | None:
    """An epoch column as an aware UTC datetime."""
    return None if value is None else datetime.fromtimestamp(value, UTC)


def row_to_job(row: Row) -> Job:
    """Build the domain Job from a ``jobs`` row."""
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
        delivered_at=ts(row["delivered_at"]),
        origin=row["origin"],
        source_seconds=row["source_seconds"],
        ratio_auto=bool(row["ratio_auto"]),
        quota_left=row["quota_left"],
        input_seconds=row["input_seconds"],
        thumbnail=bool(row["thumbnail"]),
    )


def row_to_record(row: Row) -> JobRecord:
    """Build the engine's :class:`JobRecord` from a ``jobs`` row."""
    return JobRecord(
        job=row_to_job(row),
        created_ts=float(row["created_at"]),
        submitted_ts=row["submitted_at"],
        next_poll_at=row["next_poll_at"],
        last_polled_at=row["last_polled_at"],
        submit_after=row["submit_after"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        poll_errors=int(row["poll_errors"]),
        delivery_attempts=int(row["delivery_attempts"]),
        remote_cancel=bool(row["remote_cancel"]),
        output_url=row["output_url"],
        fair_seq=int(row["fair_seq"]),
        quota_state=str(row["quota_state"]),
        quota_key=row["quota_key"],
        quota_guild=int(row["quota_guild"]),
        cap_key=row["cap_key"],
        create_sent_at=row["create_sent_at"],
    )
