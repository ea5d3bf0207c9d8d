"""The listing embeds: every audit action reads in every language, long lists are cut with a
count, limits read as words."""

from __future__ import annotations

import pytest

from bot.i18n import SUPPORTED
from bot.store.guild_repo import AuditRow
from bot.ui.listings import _lines_field, audit_line, channels_text, limit_phrase

ACTIONS = {
    "limit.user": ("30", None),
    "limit.role": (None, "unlimited"),
    "limit.guild": ("blocked", "10"),
    "usage.reset": ("12.5", "0"),
    "bonus.reset": ("5", "0"),
    "bonus.grant": ("0", "5"),
    "setting.daily_budget": (None, "500"),
    "setting.confirm_above": ("40", None),
    "setting.locale": (None, "ja"),
    "setting.allowed_channels": ("", "10,11"),
}


@pytest.mark.parametrize("locale", SUPPORTED)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_audit_action_reads_in_every_language(locale: str, action: str) -> None:
    old, new = ACTIONS[action]
    row = AuditRow(1, 5, 42, action, 77, old, new, 1_800_000_000.0)
    line = audit_line(row, locale, unit="credits", role_name=lambda r: f"@role{r}")
    assert line.startswith("<t:1800000000:f> · ") and "<@42>" in line
    assert "{" not in line and "None" not in line


def test_audit_values_are_words_and_mentions() -> None:
    row = AuditRow(1, 5, None, "setting.allowed_channels", None, "", "10,11", 0.0)
    line = audit_line(row, "en", unit="credits", role_name=str)
    assert "the operator (command line) changed the allowed channels" in line
    assert "every channel → <#10> <#11>" in line
    role = AuditRow(2, 5, 9, "limit.role", 77, None, "unlimited", 0.0)
    assert "set the limit of @Mods: none → unlimited" in audit_line(
        role, "en", unit="credits", role_name=lambda r: "@Mods"
    )
    usage = AuditRow(3, 5, 9, "usage.reset", 77, "12.5", "0", 0.0)
    assert "reset <@77>'s usage (was 12.5 jobs)" in audit_line(
        usage, "en", unit="jobs", role_name=str
    )


def test_limit_phrases() -> None:
    assert limit_phrase("250", "credits", "en") == "250 credits"
    assert limit_phrase("unlimited", "jobs", "ja") == "無制限"
    assert limit_phrase(None, "jobs", "es") == "ninguno"
    assert limit_phrase("3", "jobs", "es") == "3 trabajos"


def test_long_lists_say_how_many_were_left_out() -> None:
    lines = [f"<@{i:018d}>: 100 credits" for i in range(200)]
    text = _lines_field(lines, "en")
    assert len(text) <= 1024
    kept = text.count("credits")
    assert text.endswith(f"… and {200 - kept} more")
    assert channels_text(frozenset(), "ja") == "すべてのチャンネル"


def test_an_action_from_a_newer_bot_still_reads() -> None:
    row = AuditRow(1, 5, 42, "limit.channel", 77, "1", "2", 0.0)
    line = audit_line(row, "ja", unit="credits", role_name=str)
    assert "<@42> が limit.channel <@77> を変更" in line


def test_the_public_language_reads_by_name() -> None:
    row = AuditRow(1, 5, 42, "setting.locale", None, None, "ja", 0.0)
    assert "the server's Discord language → 日本語" in audit_line(
        row, "en", unit="credits", role_name=str
    )
