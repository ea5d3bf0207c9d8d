"""``runway-bot quota show / set / grant / reset`` through ``bot.cli.main``."""

from __future__ import annotations

import pytest

from tests.bot.operator.conftest import BotDb

MEMBER = ("--guild", "1000", "--user", "11")


def test_show_in_text_and_json(bot_db: BotDb) -> None:
    bot_db.create(11, duration=5)
    human = bot_db.cli("quota", "show", *MEMBER)
    assert human.code == 0, human.err
    lines = human.out.splitlines()
    assert lines[0] == "user 11 in guild 1000: limit 100 credits per day (config default)"
    assert lines[1].startswith("  used 0, reserved ") and lines[2].startswith("  resets ")
    doc = bot_db.cli("quota", "show", *MEMBER, "--json").json()["quota"]
    assert set(doc) == {
        "guild_id", "user_id", "unit", "period", "limit", "blocked", "used", "reserved",
        "bonus", "remaining", "source", "resets_at",
    }  # fmt: skip
    assert doc["guild_id"] == 1000 and doc["user_id"] == 11 and doc["limit"] == 100
    assert doc["reserved"] > 0 and doc["remaining"] == 100 - doc["reserved"]
    assert doc["unit"] == "credits" and doc["period"] == "day"


def test_set_a_number_unlimited_and_blocked(bot_db: BotDb) -> None:
    result = bot_db.cli("quota", "set", *MEMBER, "--limit", "40")
    assert result.code == 0, result.err
    assert result.out.splitlines()[:2] == [
        "limit set to 40",
        "user 11 in guild 1000: limit 40 credits per day (user override)",
    ]
    doc = bot_db.cli("quota", "set", *MEMBER, "--limit", "unlimited", "--json").json()
    assert doc["quota"]["limit"] is None and doc["quota"]["remaining"] is None
    doc = bot_db.cli("quota", "set", *MEMBER, "--limit", "BLOCKED", "--json").json()
    assert doc["quota"]["blocked"] is True and doc["quota"]["remaining"] == 0


@pytest.mark.parametrize("value", ["x", "-1", "2.5", "lots"])
def test_a_bad_limit_is_one_line_with_exit_code_2(bot_db: BotDb, value: str) -> None:
    result = bot_db.cli("quota", "set", *MEMBER, "--limit", value)
    assert result.code == 2 and result.out == ""
    assert result.err == (
        f"runway-bot quota set: bad limit {value!r}: use a whole number of 0 or more, "
        "'unlimited' or 'blocked'\n"
    )
    doc = bot_db.cli("quota", "set", *MEMBER, "--limit", value, "--json")
    assert doc.json()["error"]["code"] == "bad_limit"


def test_grant_adds_a_bonus_and_reset_forgets_it(bot_db: BotDb) -> None:
    bot_db.cli("quota", "set", *MEMBER, "--limit", "10")
    result = bot_db.cli("quota", "grant", *MEMBER, "5", "--json")
    assert result.code == 0, result.err
    assert result.json()["quota"]["bonus"] == 5 and result.json()["quota"]["remaining"] == 15
    human = bot_db.cli("quota", "grant", *MEMBER, "2.5")
    assert human.out.splitlines()[0] == "granted 2.5 credits"
    reset = bot_db.cli("quota", "reset", *MEMBER, "--json")
    assert reset.code == 0
    assert reset.json()["quota"]["bonus"] == 0 and reset.json()["quota"]["remaining"] == 10
    assert bot_db.cli("quota", "reset", *MEMBER).out.startswith("usage reset for this period")


@pytest.mark.parametrize("amount", ["0", "-3", "abc", "inf", "nan"])
def test_a_bad_grant_is_refused(bot_db: BotDb, amount: str) -> None:
    result = bot_db.cli("quota", "grant", *MEMBER, amount)
    assert result.code == 2
    assert result.err == (
        f"runway-bot quota grant: bad amount {amount!r}: a bonus must be a number more than 0\n"
    )


def test_role_limits_count_when_roles_are_given(bot_db: BotDb) -> None:
    from bot.jobs import JobService
    from bot.quota import QuotaService
    from bot.store.db import Store

    async def role(store: Store, quota: QuotaService, jobs: JobService) -> None:
        await quota.set_role_limit(1000, 77, 500)

    bot_db.use(role)
    doc = bot_db.cli("quota", "show", *MEMBER, "--role", "77", "--json").json()["quota"]
    assert doc["limit"] == 500 and doc["source"] == "role 77"


def test_the_member_options_are_required(bot_db: BotDb) -> None:
    result = bot_db.cli("quota", "show", "--guild", "1")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "runway-bot quota show: error: the following arguments are required: --user "
        "(see runway-bot quota show --help)"
    ]
