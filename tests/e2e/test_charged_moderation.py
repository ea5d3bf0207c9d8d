"""With ``charge_moderation_failures = true``: a job Runway refuses for safety is charged, any
other failure is still refunded, and the notice says which."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import EnvOptions
from tests.e2e.harness import (
    Env,
    Place,
    job_id_in,
    mentioned,
    message_text,
    notice_message,
    png,
    thread_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def env_options() -> EnvOptions:
    return EnvOptions(config={"charge_moderation_failures": True})


async def failed_notice(env: Env, place: Place, user: int, prompt: str) -> tuple[int, str]:
    iid = await env.invoke(
        place,
        user,
        "animate",
        {"prompt": prompt, "duration": 2},
        [("in.png", png(), "image/png")],
    )
    job_id = job_id_in(await env.reply_text(iid))
    thread = await thread_of(env, place, job_id)
    notice = await notice_message(env, int(thread["id"]), job_id)
    assert mentioned(notice) == [user]
    assert (await env.settled(job_id))["delivered_message_id"] == int(notice["id"])
    return job_id, message_text(notice)


async def test_moderation_failure_is_charged_and_says_so(env: Env, place: Place) -> None:
    alice = place.members[0]
    job_id, text = await failed_notice(env, place, alice, "x [sim:fail=SAFETY.OUTPUT.VIDEO]")
    assert "safety filter blocked the result" in text, text
    assert "It still counts 10 credits against your quota." in text, text
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("settle", 10.0)]
    assert (await env.usage(place, alice))["Used"] == "10 credits"


async def test_other_failures_are_still_refunded(env: Env, place: Place) -> None:
    alice = place.members[0]
    job_id, text = await failed_notice(env, place, alice, "y [sim:fail=INTERNAL.BAD_OUTPUT.CODE01]")
    assert "quality was too low" in text, text
    assert "The 10 credits reserved for it went back to your quota." in text, text
    assert env.db.ledger(job_id) == [("reserve", 10.0), ("refund", 10.0)]
    assert (await env.usage(place, alice))["Used"] == "0 credits"
