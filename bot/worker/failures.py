"""Runway ``failureCode`` families in plain words for users (never Runway's raw text)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SHOWABLE = re.compile(r"^[A-Za-z0-9_.]{1,60}$")


@dataclass(frozen=True, slots=True)
class FailureInfo:
    """What to tell the user and how to treat a failed task."""

    code: str
    message: str
    moderation: bool = False  # refused by a safety filter: never retried automatically
    retry_may_help: bool = False


def describe_failure(code: str | None) -> FailureInfo:
    """Map a failureCode (an open-ended set) to a user-facing explanation."""
    raw = (code or "").strip()
    c = raw.upper()
    if c in ("SAFETY.INPUT.TEXT", "INPUT_PREPROCESSING.SAFETY.TEXT"):
        return FailureInfo(
            raw,
            "Runway's safety filter refused the prompt. Please rephrase it.",
            moderation=True,
        )
    if c.startswith("SAFETY.INPUT") or c.startswith("INPUT_PREPROCESSING.SAFETY"):
        return FailureInfo(
            raw,
            "Runway's safety filter refused the input image or video. Please use another one.",
            moderation=True,
        )
    if c.startswith("SAFETY.OUTPUT"):
        return FailureInfo(
            raw,
            "Runway's safety filter blocked the result. Try a different prompt or input.",
            moderation=True,
        )
    if c.startswith("SAFETY"):
        return FailureInfo(raw, "Runway's safety filter refused this request.", moderation=True)
    if c.startswith("INTERNAL.BAD_OUTPUT"):
        return FailureInfo(
            raw,
            "Runway discarded the result because its quality was too low. "
            "Another seed or a different prompt may work better.",
            retry_may_help=True,
        )
    if c.startswith("INPUT_PREPROCESSING"):
        return FailureInfo(
            raw,
            "Runway could not prepare the input file. Try another image or video.",
        )
    if c.startswith("ASSET"):
        return FailureInfo(
            raw,
            "Runway could not read the input file; it may be damaged or in an unusual format.",
        )
    if c.startswith("THIRD_PARTY"):
        return FailureInfo(
            raw,
            "A service Runway depends on was unavailable. Please try again in a while.",
            retry_may_help=True,
        )
    if c.startswith("INTERNAL"):
        return FailureInfo(
            raw, "Runway had an internal problem. Please try again.", retry_may_help=True
        )
    shown = f" (code {raw})" if _SHOWABLE.match(raw) else ""
    return FailureInfo(raw, f"Runway could not make this video{shown}.")
