"""bot.prompts: what is removed from a prompt, what is kept, and what the member is told."""

from __future__ import annotations

import pytest

from bot.prompts import CleanPrompt, Removed, clean_prompt, removal_note


def test_a_plain_prompt_is_unchanged() -> None:
    text = "A cat **waves** at @everyone <@123> <@&456> `code` — café, 猫, 😀"
    clean = clean_prompt(text)
    assert clean == CleanPrompt(text=text)
    assert not clean.changed and removal_note(clean) is None


@pytest.mark.parametrize(
    ("raw", "text", "removed"),
    [
        ("a\x00cat", "acat", ((Removed.NUL, 1),)),
        ("\x1b[31mred\x1b[0m cat", "red cat", ((Removed.ANSI, 2),)),
        ("\x1b]0;title\x07cat", "cat", ((Removed.ANSI, 1),)),
        ("\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", "link", ((Removed.ANSI, 2),)),
        ("\x9b2Jcat", "cat", ((Removed.ANSI, 1),)),
        ("bell\x07 back\x08space\x7f", "bell backspace", ((Removed.CONTROL, 3),)),
        ("c1\x85\x90x", "c1x", ((Removed.CONTROL, 2),)),
        ("invoice\u202egnp.exe", "invoicegnp.exe", ((Removed.BIDI, 1),)),
        ("\u2066a\u2069\u200eb\u200f\u061c", "ab", ((Removed.BIDI, 5),)),
        ("@\u200beveryone", "@everyone", ((Removed.INVISIBLE, 1),)),
        ("\ufeffa\u2060b\u00adc\u2062d", "abcd", ((Removed.INVISIBLE, 4),)),
        ("cat\U000e0069\U000e0067\U000e006e\U000e006f\U000e0072\U000e0065", "cat",
         ((Removed.INVISIBLE, 6),)),
        ("a\u200db", "ab", ((Removed.INVISIBLE, 1),)),
        ("lone\ud800 surrogate\udfff", "lone surrogate", ((Removed.INVISIBLE, 2),)),
        ("\x00\x1b[1m\u202e\u200bx\x01", "x",
         ((Removed.ANSI, 1), (Removed.NUL, 1), (Removed.CONTROL, 1), (Removed.BIDI, 1),
          (Removed.INVISIBLE, 1))),
    ],
)  # fmt: skip
def test_hostile_characters_are_removed_and_counted(
    raw: str, text: str, removed: tuple[tuple[Removed, int], ...]
) -> None:
    clean = clean_prompt(raw)
    assert clean.text == text
    assert clean.removed == removed
    assert clean.changed


def test_line_breaks_stay_tabs_and_separators_become_spaces() -> None:
    clean = clean_prompt("  one\r\ntwo\rthree\tfour\u2028five\u2029six  ")
    assert clean.text == "one\ntwo\nthree four five six"
    assert not clean.changed  # nothing the member needs to hear about


def test_joiners_needed_by_emoji_and_scripts_are_kept() -> None:
    family = "👨\u200d👩\u200d👧"
    persian = "می\u200cخواهم"
    england = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
    for text in (family, persian, england, f"{family} and {england}"):
        assert clean_prompt(text) == CleanPrompt(text=text)


def test_a_stray_flag_prefix_does_not_protect_hidden_tags() -> None:
    # 🏴 followed by tags but no cancel tag: not a flag, the tags are hidden text.
    clean = clean_prompt("🏴\U000e0069\U000e0067 ok")
    assert clean.text == "🏴 ok"
    assert clean.removed == ((Removed.INVISIBLE, 2),)


def test_the_note_names_each_kind_with_its_count() -> None:
    assert removal_note(clean_prompt("a\x00b")) == (
        "I removed 1 NUL character from your prompt; the rest was sent as you wrote it."
    )
    assert removal_note(clean_prompt("\x1b[1ma\x1b[0m\u202eb\u200b\u200bc")) == (
        "I removed 2 terminal escape codes, 1 text-direction override and 2 invisible "
        "characters from your prompt; the rest was sent as you wrote it."
    )


def test_cleaning_is_idempotent() -> None:
    raw = "\x1b[31m@every\u200bone\x00 \u202eevil\u202c 👨\u200d👩 \t end\r\n"
    once = clean_prompt(raw).text
    assert clean_prompt(once) == CleanPrompt(text=once)
