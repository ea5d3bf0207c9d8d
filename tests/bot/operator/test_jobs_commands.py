"""``runway-bot jobs list / show / cancel / retry`` through ``bot.cli.main`` on a real database."""

from __future__ import annotations

import time

from bot.domain import JobState
from bot.instance import acquire_instance
from bot.jobs import JobService
from bot.quota import QuotaService
from bot.store import jobs_repo
from bot.store.db import Store
from tests.bot.operator.conftest import BotDb


def test_list_shows_jobs_newest_first_with_filters(bot_db: BotDb) -> None:
    a = bot_db.create(1, prompt="first sea")
    b = bot_db.create(2, prompt="second sea")
    c = bot_db.create(1, prompt="third sea")
    bot_db.set_state(b.id, JobState.FAILED)

    human = bot_db.cli("jobs", "list")
    assert human.code == 0 and human.err == ""
    lines = human.out.splitlines()
    assert [line.split()[0] for line in lines] == [f"#{c.id}", f"#{b.id}", f"#{a.id}"]
    assert "queued" in lines[0] and "user 1 guild 1000" in lines[0] and "'third sea'" in lines[0]

    doc = bot_db.cli("jobs", "list", "--user", "1", "--json").json()
    assert [j["id"] for j in doc["jobs"]] == [c.id, a.id]
    job = doc["jobs"][0]
    assert job["state"] == "queued" and job["user_id"] == 1 and job["model"] == "gen4_turbo"
    assert job["created_at"].endswith("+00:00") and job["kind"] == "animate"

    failed = bot_db.cli("jobs", "list", "--state", "FAILED", "--json").json()
    assert [j["id"] for j in failed["jobs"]] == [b.id]
    assert len(bot_db.cli("jobs", "list", "--limit", "1", "--json").json()["jobs"]) == 1
    assert bot_db.cli("jobs", "list", "--user", "99").out == "no jobs\n"


def test_list_refuses_a_bad_state_or_limit_in_one_line(bot_db: BotDb) -> None:
    bad = bot_db.cli("jobs", "list", "--state", "done")
    assert bad.code == 2 and bad.out == ""
    assert bad.err.strip().splitlines() == [
        "runway-bot jobs list: unknown state 'done'; use one of: queued, submitting, running, "
        "succeeded, failed, cancelled, in_doubt"
    ]
    limit = bot_db.cli("jobs", "list", "--limit", "0", "--json")
    assert limit.code == 2
    assert limit.json() == {
        "error": {"code": "invalid", "message": "--limit must be between 1 and 1000"}
    }
    assert "Traceback" not in bad.err + limit.err


def test_show_describes_the_job_and_its_inputs(bot_db: BotDb) -> None:
    job = bot_db.create(3, prompt="a red fox")
    human = bot_db.cli("jobs", "show", str(job.id))
    assert human.code == 0
    assert human.out.startswith(f"job #{job.id}: animate, queued\n")
    assert "prompt: 'a red fox'" in human.out
    assert "input image: image/png 1280x720" in human.out

    doc = bot_db.cli("jobs", "show", str(job.id), "--json").json()["job"]
    assert doc["id"] == job.id and doc["user_id"] == 3 and doc["quota_state"] == "reserved"
    assert doc["remote_cancel"] is False and doc["inputs_purged_at"] is None
    [item] = doc["inputs"]
    assert item["role"] == "image" and item["mime"] == "image/png" and item["bytes"] > 0
    assert item["width"] == 1280 and item["height"] == 720
    assert "data" not in item


def test_unknown_job_is_a_one_line_error_for_every_job_command(bot_db: BotDb) -> None:
    for action in ("show", "cancel", "retry"):
        result = bot_db.cli("jobs", action, "999")
        assert result.code == 2, action
        assert result.err == f"runway-bot jobs {action}: no job #999\n"
        assert result.out == ""
        doc = bot_db.cli("jobs", action, "999", "--json")
        assert doc.code == 2
        assert doc.json() == {"error": {"code": "not_found", "message": "no job #999"}}


def test_cancel_a_queued_job_refunds_it(bot_db: BotDb) -> None:
    job = bot_db.create(4, duration=5)
    assert job.quota_amount > 0
    result = bot_db.cli("jobs", "cancel", str(job.id))
    assert result.code == 0, result.err
    assert result.out == f"job #{job.id} cancelled; refunded {job.quota_amount:g} credits\n"
    after = bot_db.get(job.id)
    assert after.state is JobState.CANCELLED and after.refunded
    assert after.error_text == "Cancelled by an admin."
    quota = bot_db.cli("quota", "show", "--guild", "1000", "--user", "4", "--json").json()
    assert quota["quota"]["reserved"] == 0

    again = bot_db.cli("jobs", "cancel", str(job.id), "--json")
    assert again.code == 2
    assert again.json()["error"] == {
        "code": "finished",
        "message": f"job #{job.id} has already finished (cancelled); nothing to cancel",
    }


def test_cancel_a_running_job_asks_the_worker_to_cancel_it_at_runway(bot_db: BotDb) -> None:
    job = bot_db.create(5)
    bot_db.set_state(job.id, JobState.RUNNING, provider_task_id="task-1")
    result = bot_db.cli("jobs", "cancel", str(job.id), "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["remote_cancel"] is True and doc["job"]["state"] == "cancelled"

    async def due(store: Store, quota: QuotaService, jobs: JobService) -> list[int]:
        async with store.read() as conn:
            return await jobs_repo.due_ids(conn, time.time() + 1, 10)

    assert job.id in bot_db.use(due)  # the worker's next pass claims it for the DELETE
    human_job = bot_db.create(5)
    bot_db.set_state(human_job.id, JobState.RUNNING, provider_task_id="task-2")
    out = bot_db.cli("jobs", "cancel", str(human_job.id)).out
    assert "its task is cancelled at Runway" in out


def test_retry_a_failed_job_makes_a_new_one_for_its_user(bot_db: BotDb) -> None:
    job = bot_db.create(6, seed=1234)
    bot_db.set_state(job.id, JobState.IN_DOUBT, error_code="in_doubt")
    result = bot_db.cli("jobs", "retry", str(job.id), "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["retry_of"] == job.id
    new = doc["job"]
    assert new["id"] != job.id and new["rerun_of"] == job.id
    assert new["user_id"] == 6 and new["seed"] == 1234 and new["state"] == "queued"
    assert new["prompt"] == job.prompt

    bot_db.set_state(new["id"], JobState.FAILED)
    human = bot_db.cli("jobs", "retry", str(new["id"]))
    assert human.code == 0
    assert f"a retry of #{new['id']} (same inputs and seed), queued" in human.out


def test_retry_refuses_an_active_job_and_purged_inputs(bot_db: BotDb) -> None:
    job = bot_db.create(7)
    active = bot_db.cli("jobs", "retry", str(job.id))
    assert active.code == 2
    assert active.err == (
        f"runway-bot jobs retry: job #{job.id} is queued; "
        "only a failed or in_doubt job can be retried\n"
    )
    old = time.time() - 30 * 86400
    bot_db.set_state(job.id, JobState.FAILED, finished_at=old)

    async def purge(store: Store, quota: QuotaService, jobs: JobService) -> int:
        async with store.transaction() as conn:
            return await jobs_repo.purge_inputs(conn, time.time() - 86400, time.time())

    assert bot_db.use(purge) == 1
    purged = bot_db.cli("jobs", "retry", str(job.id), "--json")
    assert purged.code == 2
    assert purged.json()["error"]["code"] == "purged"
    assert "no longer kept" in purged.err and len(purged.err.splitlines()) == 1
    assert "inputs: purged" in bot_db.cli("jobs", "show", str(job.id)).out


def test_a_quota_refusal_of_the_retry_is_one_line(bot_db: BotDb) -> None:
    job = bot_db.create(8)
    bot_db.set_state(job.id, JobState.FAILED)
    assert (
        bot_db.cli("quota", "set", "--guild", "1000", "--user", "8", "--limit", "blocked").code == 0
    )
    result = bot_db.cli("jobs", "retry", str(job.id))
    assert result.code == 2
    assert result.err == (
        "runway-bot jobs retry: You are not allowed to make videos here (blocked by an admin).\n"
    )


def test_commands_work_while_the_bot_holds_the_instance_lock(bot_db: BotDb) -> None:
    job = bot_db.create(9)
    lock = acquire_instance(bot_db.path.parent)  # what `runway-bot run` holds
    try:
        assert bot_db.cli("jobs", "list").code == 0
        assert bot_db.cli("jobs", "cancel", str(job.id)).code == 0
        assert bot_db.cli("backup", str(bot_db.path.parent / "copy.sqlite3")).code == 0
    finally:
        lock.release()
    acquire_instance(bot_db.path.parent).release()  # and none of them took it


def test_no_database_and_an_old_schema_are_refused(bot_db: BotDb, tmp_path: object) -> None:
    bot_db.path.unlink()
    missing = bot_db.cli("jobs", "list")
    assert missing.code == 2
    assert missing.err.startswith(f"runway-bot jobs list: no database at {bot_db.path}")
    assert not bot_db.path.exists()  # not created either

    import asyncio

    async def old() -> None:
        store = await Store.open(bot_db.path, target_version=2)
        await store.close()

    asyncio.run(old())
    result = bot_db.cli("quota", "show", "--guild", "1", "--user", "2", "--json")
    assert result.code == 2
    assert result.json()["error"]["code"] == "schema_version"
    assert "start the bot once to upgrade it" in result.err


def test_an_invalid_config_is_reported_without_a_traceback(bot_db: BotDb) -> None:
    bot_db.config.write_text('[quota]\nperiod = "year"\n', encoding="utf-8")
    result = bot_db.cli("jobs", "list", "--json")
    assert result.code == 2
    assert result.err.splitlines()[0] == f"invalid configuration in {bot_db.config}:"
    assert result.json()["error"]["code"] == "config"
    assert "Traceback" not in result.err
