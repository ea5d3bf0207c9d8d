"""Make a member's prompt safe to send to Runway and to show in an embed (pure, no I/O).

Removed: ANSI escape sequences, NUL, other control characters (a line break stays; a tab
becomes a space), bidirectional overrides and isolates (the "RTL override" trick that
makes text read differently from what it is), and invisible characters: zero-width
spaces, word joiners, byte-order marks, invisible operators, lone surrogates and Unicode
tag characters (used to smuggle hidden instructions). A zero-width joiner or non-joiner between two
non-ASCII characters is kept (emoji sequences, Persian and Indic scripts need them), and
tag characters are kept inside a flag emoji (🏴 + tags + cancel tag). Markdown and
mentions are left as written: they are text to Runway, and escaped where the bot shows
them (``bot.ui.text.safe``) with pings disabled.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from enum import Enum

from .i18n import t

__all__ = ["CleanPrompt", "Removed", "clean_prompt", "removal_note"]


class Removed(Enum):
    """A kind of character removed from a prompt (the value names its texts in the catalogue:
    ``prompt_clean.one.<value>`` and ``prompt_clean.many.<value>``)."""

    ANSI = "ansi"
    NUL = "nul"
    CONTROL = "control"
    BIDI = "bidi"
    INVISIBLE = "invisible"


@dataclass(frozen=True, slots=True)
class CleanPrompt:
    """The cleaned prompt and how many characters of each kind were taken out."""

    text: str
    removed: tuple[tuple[Removed, int], ...] = ()

    @property
    def changed(self) -> bool:
        """Whether anything was removed."""
        return bool(self.removed)


# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other two-byte ESC sequences,
# and the 8-bit CSI / OSC introducers.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|\x9d[^\x07\x9c]*[\x07\x9c]?"
)
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = frozenset(
    "\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180e\u200b\u2060\u2061\u2062\u2063\u2064"
    "\u3164\ufeff\uffa0"
)
_JOINERS = frozenset("\u200c\u200d")
_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F
_CANCEL_TAG = "\U000e007f"
_BLACK_FLAG = "\U0001f3f4"


def clean_prompt(text: str) -> CleanPrompt:
    """``text`` without escape codes, control, direction-override and invisible characters,
    line endings normalised and outer whitespace stripped; see the module docstring."""
    counts: Counter[Removed] = Counter()

    def drop_ansi(match: re.Match[str]) -> str:
        counts[Removed.ANSI] += 1
        return ""

    text = _ANSI.sub(drop_ansi, text.replace("\r\n", "\n"))
    kept: list[str] = []
    flag_tags = _flag_tag_positions(text)
    for index, ch in enumerate(text):
        kind = _kind(text, index, ch, flag_tags)
        if kind is None:
            kept.append(" " if ch in "\t\u2028\u2029" else "\n" if ch == "\r" else ch)
        else:
            counts[kind] += 1
    cleaned = "".join(kept).strip()
    removed = tuple((kind, counts[kind]) for kind in Removed if counts[kind])
    return CleanPrompt(text=cleaned, removed=removed)


def removal_note(clean: CleanPrompt, locale: object = None) -> str | None:
    """One sentence for the member (in ``locale``) naming what was removed, or None when
    nothing was."""
    if not clean.removed:
        return None
    parts = [
        t(f"prompt_clean.{'one' if n == 1 else 'many'}.{kind.value}", locale, count=n)
        for kind, n in clean.removed
    ]
    listed = parts[-1]
    if len(parts) > 1:
        listed = t("prompt_clean.and", locale, items=", ".join(parts[:-1]), last=parts[-1])
    return t("prompt_clean.note", locale, items=listed)


def _kind(text: str, index: int, ch: str, flag_tags: set[int]) -> Removed | None:
    code = ord(ch)
    if ch == "\0":
        return Removed.NUL
    if ch in "\n\t\r":
        return None
    if ch in _BIDI:
        return Removed.BIDI
    if ch in _INVISIBLE:
        return Removed.INVISIBLE
    if ch in _JOINERS:
        before = text[index - 1] if index > 0 else ""
        after = text[index + 1] if index + 1 < len(text) else ""
        return None if _joinable(before) and _joinable(after) else Removed.INVISIBLE
    if _TAG_FIRST <= code <= _TAG_LAST:
        return None if index in flag_tags else Removed.INVISIBLE
    category = unicodedata.category(ch)
    if category == "Cc":
        return Removed.CONTROL
    if category == "Cs":  # a lone surrogate (JSON allows "\ud800"): no text can hold it
        return Removed.INVISIBLE
    return None


def _joinable(ch: str) -> bool:
    return bool(ch) and ord(ch) > 0x7F and not ch.isspace() and ch not in _BIDI | _INVISIBLE


def _flag_tag_positions(text: str) -> set[int]:
    """Indexes of tag characters that belong to a subdivision flag (🏴 + tags + cancel tag)."""
    positions: set[int] = set()
    start = text.find(_BLACK_FLAG)
    while start != -1:
        end = start + 1
        while end < len(text) and _TAG_FIRST <= ord(text[end]) < _TAG_LAST:
            end += 1
        if end > start + 1 and end < len(text) and text[end] == _CANCEL_TAG:
            positions.update(range(start + 1, end + 1))
        start = text.find(_BLACK_FLAG, end)
    return positions
