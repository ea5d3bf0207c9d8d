"""Components and forms no handler will answer get a short ephemeral answer, not silence.

discord.py drops a component interaction whose custom id matches no registered
:class:`discord.ui.DynamicItem` and no stored view, and Discord then shows "This
interaction failed". :func:`answer_unhandled_component` (called from an ``on_interaction``
listener) answers every ``rw:`` one of those: a crafted id, an unknown action, an id
naming a job that cannot exist, a button of an older version. Which ids are handled is
read from what the client registered, so new buttons are covered without listing them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import discord

from bot.i18n import t

from .errors import answer

PREFIX = "rw:"


async def answer_unhandled_component(interaction: discord.Interaction[Any]) -> bool:
    """Answer a ``rw:`` component interaction that no button will handle; True if answered."""
    if interaction.type is not discord.InteractionType.component:
        return False
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    if not custom_id.startswith(PREFIX) or _handled(interaction, custom_id, data):
        return False
    await answer(interaction, t("fallback.unknown_button", interaction.locale))
    return True


async def answer_unhandled_modal(interaction: discord.Interaction[Any]) -> bool:
    """Answer a submitted ``rw:`` form no handler took (the caller's own handlers declined
    it, and discord.py holds no modal of that id); True if answered."""
    if interaction.type is not discord.InteractionType.modal_submit:
        return False
    custom_id = str(dict(interaction.data or {}).get("custom_id", ""))
    store = getattr(getattr(interaction.client, "_connection", None), "_view_store", None)
    modals = getattr(store, "_modals", None)
    if not custom_id.startswith(PREFIX) or not isinstance(modals, dict) or custom_id in modals:
        return False
    await answer(interaction, t("fallback.unknown_form", interaction.locale))
    return True


def _handled(interaction: discord.Interaction[Any], custom_id: str, data: dict[str, Any]) -> bool:
    """Whether discord.py will hand this interaction to a dynamic item or a stored view.

    Reads discord.py's view store (``ViewStore._dynamic_items`` and ``_views``, private);
    should they ever move, every interaction counts as handled: silence, never a second
    answer to a working button.
    """
    store = getattr(getattr(interaction.client, "_connection", None), "_view_store", None)
    patterns = getattr(store, "_dynamic_items", None)
    views = getattr(store, "_views", None)
    if not isinstance(patterns, dict) or not isinstance(views, dict):
        return True
    if _stored_view_has(views, interaction, data.get("component_type"), custom_id):
        return True
    if not any(p.fullmatch(custom_id) for p in _patterns(patterns)):
        return False
    # A dynamic item only runs when the clicked component is on the message.
    message = interaction.message
    return message is not None and custom_id in _custom_ids(message.components)


def _patterns(registered: dict[Any, Any]) -> Iterable[re.Pattern[str]]:
    """The templates of every DynamicItem the client registered (``add_dynamic_items``)."""
    return [p for p in registered if isinstance(p, re.Pattern)]


def _stored_view_has(
    views: dict[Any, Any],
    interaction: discord.Interaction[Any],
    component_type: Any,
    custom_id: str,
) -> bool:
    key = (component_type, custom_id)
    message_id = interaction.message.id if interaction.message is not None else None
    return key in views.get(message_id, {}) or key in views.get(None, {})


def _custom_ids(components: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    for component in components:
        custom_id = getattr(component, "custom_id", None)
        if isinstance(custom_id, str):
            found.add(custom_id)
        found |= _custom_ids(getattr(component, "children", ()) or ())
    return found
