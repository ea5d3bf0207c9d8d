"""Discord's form-body rules beyond the OpenAPI schema: components, allowed_mentions, embeds.

Each check returns the problems it finds as (path, code, message); the routes raise them
together as one 400 50035 Invalid Form Body (`rules.form_errors`), recorded like the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from bot.fakediscord import rules
from bot.fakediscord.rules import FormProblem

IS_COMPONENTS_V2 = 1 << 15
ACTION_ROW = 1
BUTTON = 2
LINK = 5
PREMIUM = 6
MAX_ACTION_ROWS = 5
MAX_MODAL_COMPONENTS = 5
REQUIRED = ("BASE_TYPE_REQUIRED", "This field is required")
Path = list[str | int]


def _walk(components: Any, path: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """Every component in a tree (rows, sections' accessories, labels' components)."""
    if not isinstance(components, list):
        return
    for index, comp in enumerate(components):
        if not isinstance(comp, dict):
            continue
        here = [*path, index]
        yield comp, here
        yield from _walk(comp.get("components"), [*here, "components"])
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                yield comp[key], [*here, key]
                yield from _walk(comp[key].get("components"), [*here, key, "components"])


def duplicate_custom_ids(components: Any) -> list[FormProblem]:
    """custom_id must be unique within one message or modal (the repeat is the error)."""
    seen: set[str] = set()
    problems: list[FormProblem] = []
    for comp, path in _walk(components, ["components"]):
        cid = comp.get("custom_id")
        if not isinstance(cid, str):
            continue
        if cid in seen:
            problems.append(
                (
                    [*path, "custom_id"],
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id was already specified",
                )
            )
        seen.add(cid)
    return problems


def button_problems(components: Any) -> list[FormProblem]:
    """A link button needs a url; any other button (but premium) needs a custom_id."""
    problems: list[FormProblem] = []
    for comp, path in _walk(components, ["components"]):
        if comp.get("type") != BUTTON:
            continue
        style = comp.get("style")
        if style == LINK and not comp.get("url"):
            problems.append(([*path, "url"], *REQUIRED))
        elif style not in (LINK, PREMIUM) and not comp.get("custom_id"):
            problems.append(([*path, "custom_id"], *REQUIRED))
    return problems


def row_count(components: Any, flags: int) -> list[FormProblem]:
    """At most 5 action rows (components v2 messages have their own, larger limits)."""
    if flags & IS_COMPONENTS_V2 or not isinstance(components, list):
        return []
    if len(components) <= MAX_ACTION_ROWS:
        return []
    message = f"Must be {MAX_ACTION_ROWS} or fewer in length."
    return [(["components"], "BASE_TYPE_MAX_LENGTH", message)]


def mention_problems(allowed: Any) -> list[FormProblem]:
    """`parse: ["users"]` and a `users` list (same for roles) are mutually exclusive."""
    if not isinstance(allowed, dict):
        return []
    parse = allowed.get("parse") or []
    problems: list[FormProblem] = []
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            problems.append(
                (
                    ["allowed_mentions"],
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                )
            )
    return problems


def embed_field_problems(embeds: Any) -> list[FormProblem]:
    """An embed field's name and value must not be empty or only whitespace."""
    if not isinstance(embeds, list):
        return []
    problems: list[FormProblem] = []
    for e, embed in enumerate(embeds):
        fields = embed.get("fields") if isinstance(embed, dict) else None
        for f, item in enumerate(fields if isinstance(fields, list) else []):
            for key in ("name", "value"):
                if not str(item.get(key) or "").strip():
                    problems.append((["embeds", e, "fields", f, key], *REQUIRED))
    return problems


def message_problems(body: dict[str, Any], flags: int = 0) -> list[FormProblem]:
    """Everything wrong with a message body (create, edit, callback data, followup)."""
    components = body.get("components")
    flags |= int(body.get("flags") or 0)
    return [
        *row_count(components, flags),
        *duplicate_custom_ids(components),
        *button_problems(components),
        *mention_problems(body.get("allowed_mentions")),
        *embed_field_problems(body.get("embeds")),
    ]


def modal_problems(data: dict[str, Any]) -> list[FormProblem]:
    """A modal holds 1 to 5 top-level components with unique custom ids."""
    components = data.get("components")
    problems: list[FormProblem] = []
    if isinstance(components, list) and len(components) > MAX_MODAL_COMPONENTS:
        message = f"Must be between 1 and {MAX_MODAL_COMPONENTS} in length."
        problems.append((["components"], "BASE_TYPE_BAD_LENGTH", message))
    return problems + duplicate_custom_ids(components)


def check(problems: list[FormProblem], at: Sequence[str | int] = ()) -> None:
    """Raise the problems (each path under `at`, e.g. ["data"] in a callback) as one 50035."""
    if problems:
        raise rules.form_errors([([*at, *path], code, message) for path, code, message in problems])
