"""Text helpers: escaping user text, truncation, UTF-16 length, progress bars, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.ui.text import (
    amount,
    duration_text,
    message_link,
    progress_bar,
    safe,
    safe_quote,
    timestamp,
    truncate,
    utf16_len,
)

ROLE = "<@&123456789012345678>"
USER = "<@123456789012345678>"


@pytest.mark.parametrize("text", ["@everyone", "@here", ROLE, USER, "<@!123456789012345678>"])
def test_safe_defuses_every_mention(text: str) -> None:
    out = safe(f"hi {text}!")
    assert text not in out
    assert "\u200b" in out


def test_safe_escapes_markdown() -> None:
    assert safe("**bold** _it_ `code` ~~s~~") == r"\*\*bold\*\* \_it\_ \`code\` \~\~s\~\~"
    assert safe("> quote").startswith("\\>")


def test_safe_quote_fits_the_limit_after_escaping() -> None:
    text = "*" * 600
    out = safe_quote(text, 100)
    assert len(out) <= 100
    assert out.endswith("…")
    assert not out[:-1].endswith("\\") or out[:-1].endswith("\\*")


def test_safe_quote_keeps_short_text_whole() -> None:
    assert safe_quote("a cat", 100) == "a cat"


def test_truncate() -> None:
    assert truncate("abcdef", 10) == "abcdef"
    assert truncate("abcdefghijk", 5) == "abcd…"
    assert len(truncate("x" * 500, 100)) == 100


def test_utf16_len_counts_surrogate_pairs() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("😀") == 2
    assert utf16_len("é") == 1


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (None, "░░░░░░░░░░░░"),
        (0.0, "░░░░░░░░░░░░ 0%"),
        (0.5, "██████░░░░░░ 50%"),
        (1.0, "████████████ 100%"),
        (1.7, "████████████ 100%"),
        (-1, "░░░░░░░░░░░░ 0%"),
    ],
)
def test_progress_bar(fraction: float | None, expected: str) -> None:
    assert progress_bar(fraction) == expected


def test_timestamp_markup() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert timestamp(when) == f"<t:{int(when.timestamp())}:R>"
    assert timestamp(when.replace(tzinfo=None), "f") == f"<t:{int(when.timestamp())}:f>"


def test_duration_text() -> None:
    assert duration_text(42.9) == "42s"
    assert duration_text(185) == "3m 05s"
    assert duration_text(3720) == "1h 02m"
    assert duration_text(-5) == "0s"


def test_amount() -> None:
    assert amount(25.0) == "25"
    assert amount(12.5) == "12.5"
    assert amount(1 / 3) == "0.33"


def test_message_link() -> None:
    assert message_link(1, 2) == "https://discord.com/channels/1/2"
    assert message_link(None, 2, 3) == "https://discord.com/channels/@me/2/3"
