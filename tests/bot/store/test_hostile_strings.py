"""SQL only with parameters: hostile strings in every stored text field go in and come back
byte for byte, and the database keeps its tables and rows (on every backend)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.domain import InputRole, JobState
from bot.prompts import clean_prompt
from bot.store import jobs_repo
from tests.bot.conftest import Engine, image_input, new_animate

HOSTILE = (
    "'; DROP TABLE jobs; --",
    "Robert'); DELETE FROM job_inputs; --",
    "' OR '1'='1",
    '" OR ""="',
    "1; UPDATE quota_usage SET used = 0; --",
    "%' UNION SELECT * FROM jobs WHERE '' = '",
    "$1 $2 ? ?1 :name @p %s %(x)s {0} \\",
    "\\'; \\\"; \\\\; E'\\x27'",
    "*/ /* -- # ;",
    "\u202eevil\u200b and 😀 猫 \U0001f3f4\U000e0067\U000e007f",
    "\x01\x1b[31m\x7f control",
    "x" * 100_000,
)

# Every text column a job row keeps (the state machine's own columns -- kind, state,
# quota_state -- take enum values only). Read back through JobRecord.
TEXT_FIELDS = {
    "prompt": lambda r: r.job.prompt,
    "model": lambda r: r.job.params.model,
    "ratio": lambda r: r.job.params.ratio,
    "provider_task_id": lambda r: r.job.provider_task_id,
    "provider_status": lambda r: r.job.provider_status,
    "error_code": lambda r: r.job.error_code,
    "error_text": lambda r: r.job.error_text,
    "output_url": lambda r: r.output_url,
    "lease_owner": lambda r: r.lease_owner,
    "quota_key": lambda r: r.quota_key,
    "cap_key": lambda r: r.cap_key,
    "origin": lambda r: r.job.origin,
}


@pytest.mark.parametrize("hostile", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_strings_round_trip_in_every_text_field(engine: Engine, hostile: str) -> None:
    bystander = await engine.jobs.create(new_animate(user_id=2))
    named = replace(image_input(), filename=hostile, mime="image/png")
    prompt = hostile[:1000]  # the longest prompt a model takes; the store gets the rest below
    job = await engine.jobs.create(new_animate(prompt=prompt, inputs=(named,)))
    assert job.prompt == clean_prompt(prompt).text  # cleaned first, then stored as is

    async with engine.store.transaction() as conn:
        for i, column in enumerate(TEXT_FIELDS):
            assert await jobs_repo.update(conn, job.id, {column: f"{i}{hostile}"})
    async with engine.store.transaction() as conn:
        record = await jobs_repo.get(conn, job.id)
        other = await jobs_repo.get(conn, bystander.id)
        inputs = await jobs_repo.load_inputs(conn, job.id)
    assert record is not None and other is not None
    for i, (column, read) in enumerate(TEXT_FIELDS.items()):
        assert read(record) == f"{i}{hostile}", column
    assert [(i.filename, i.mime, i.role) for i in inputs] == [
        (hostile, "image/png", InputRole.IMAGE)
    ]
    # nothing else was touched: the other job is intact, the row count is what was made
    assert other.job.prompt == "a calm sea" and other.job.state is JobState.QUEUED
    assert [j.id for j in await engine.jobs.list_user_jobs(1)] == [job.id]
    assert [j.id for j in await engine.jobs.list_user_jobs(2)] == [bystander.id]
    assert (await engine.jobs.queue_stats()).by_state.get(JobState.QUEUED) == 2


async def test_a_hostile_prompt_is_cancelled_and_refunded_like_any_other(engine: Engine) -> None:
    job = await engine.jobs.create(new_animate(prompt=HOSTILE[0]))
    done = await engine.jobs.cancel(job.id, actor_id=1, actor_is_admin=False)
    assert done.state is JobState.CANCELLED and done.prompt == HOSTILE[0]
    status = await engine.quota.status(1000, 1)
    assert (status.used, status.reserved) == (0, 0)
