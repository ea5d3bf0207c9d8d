"""Build INTERACTION_CREATE payloads the way Discord does, and dispatch them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.fakediscord import rules
from bot.fakediscord.state import Interaction, StoredFile

if TYPE_CHECKING:
    from bot.fakediscord.core import FakeCore

SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
BOOLEAN = 5
USER = 6
CHANNEL = 7
ROLE = 8
NUMBER = 10
ATTACHMENT = 11


class ControlError(Exception):
    """A mistake in a control request (the test's fault, not the bot's): answered 400."""


@dataclass
class AttachmentInput:
    option: str
    filename: str
    data: bytes
    content_type: str


def _find_command(
    fake: FakeCore, guild_id: int | None, name: str, ctype: int
) -> dict[str, Any] | None:
    pools = []
    if guild_id is not None:
        pools.append(fake.world.guild_commands.get(guild_id, {}))
    pools.append(fake.world.global_commands)
    for pool in pools:
        for cmd in pool.values():
            if cmd["name"] == name and cmd["type"] == ctype:
                return cmd
    return None


def _infer_type(value: Any) -> int:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    return STRING


def _base(
    fake: FakeCore, itype: int, user_id: int, guild_id: int, channel_id: int
) -> tuple[Interaction, dict[str, Any]]:
    world = fake.world
    guild = world.guild(guild_id)
    channel = world.channel(channel_id)
    if channel.guild_id != guild_id:
        raise ControlError(f"channel {channel_id} is not in guild {guild_id}")
    if user_id not in guild.members:
        raise ControlError(f"user {user_id} is not a member of guild {guild_id}")
    iid = world.ids.next()
    token = world.new_token(iid)
    user_perms = world.permissions(channel_id, guild_id, user_id)
    bot_perms = world.permissions(channel_id, guild_id, world.bot_user.id)
    member = world.member_json(guild_id, user_id)
    member["permissions"] = str(user_perms)
    channel_json = channel.to_json()
    channel_json["permissions"] = str(user_perms)
    payload: dict[str, Any] = {
        "id": str(iid),
        "application_id": str(fake.application_id),
        "type": itype,
        "guild_id": str(guild_id),
        "guild": {"id": str(guild_id), "locale": guild.preferred_locale, "features": []},
        "channel_id": str(channel_id),
        "channel": channel_json,
        "member": member,
        "token": token,
        "version": 1,
        "app_permissions": str(bot_perms),
        "locale": "en-US",
        "guild_locale": guild.preferred_locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": str(guild_id)},
        "context": 0,
        "attachment_size_limit": guild.upload_limit,
    }
    interaction = Interaction(
        iid, token, itype, guild_id, channel_id, user_id, payload, fake.clock.now()
    )
    world.interactions[iid] = interaction
    return interaction, payload


def _build_options(
    fake: FakeCore,
    defs: list[dict[str, Any]] | None,
    values: dict[str, Any],
    attachments: dict[str, StoredFile],
    resolved: dict[str, dict[str, Any]],
    guild_id: int,
    focused: str | None,
) -> list[dict[str, Any]]:
    world = fake.world
    by_name = {d["name"]: d for d in defs or []}
    out: list[dict[str, Any]] = []
    for name, value in values.items():
        definition = by_name.get(name)
        if defs is not None and definition is None:
            raise ControlError(f"command has no option {name!r} (has {sorted(by_name)})")
        otype = int(definition["type"]) if definition else _infer_type(value)
        option: dict[str, Any] = {"name": name, "type": otype}
        if otype == USER:
            uid = int(value)
            resolved.setdefault("users", {})[str(uid)] = world.user(uid).to_json()
            if uid in world.guild(guild_id).members:
                member = world.member_json(guild_id, uid, with_user=False)
                member["permissions"] = str(world.permissions(None, guild_id, uid))
                resolved.setdefault("members", {})[str(uid)] = member
            option["value"] = str(uid)
        elif otype == CHANNEL:
            channel = world.channel(int(value))
            resolved.setdefault("channels", {})[str(channel.id)] = {
                "id": str(channel.id),
                "name": channel.name,
                "type": channel.type,
                "permissions": str(rules.ALL_PERMISSIONS),
            }
            option["value"] = str(channel.id)
        elif otype == ROLE:
            role = world.guild(guild_id).roles[int(value)]
            resolved.setdefault("roles", {})[str(role.id)] = role.to_json()
            option["value"] = str(role.id)
        else:
            option["value"] = value
        if name == focused:
            option["focused"] = True
        out.append(option)
    for name, stored in attachments.items():
        definition = by_name.get(name)
        if defs is not None and (definition is None or int(definition["type"]) != ATTACHMENT):
            raise ControlError(f"command has no attachment option {name!r}")
        resolved.setdefault("attachments", {})[str(stored.id)] = world.attachment_json(stored) | {
            "ephemeral": True
        }
        out.append({"name": name, "type": ATTACHMENT, "value": str(stored.id)})
    if defs is not None:
        for d in defs:
            missing = d["name"] not in values and d["name"] not in attachments
            if d.get("required") and missing and focused is None:
                raise ControlError(f"required option {d['name']!r} missing")
    return out


def _check_visible(fake: FakeCore, cmd: dict[str, Any], user_id: int, guild_id: int) -> None:
    """Discord hides commands whose default_member_permissions the member lacks."""
    needed = cmd.get("default_member_permissions")
    if needed is None:
        return
    perms = fake.world.permissions(None, guild_id, user_id)
    if perms & rules.ADMINISTRATOR:
        return
    if int(needed) == 0 or perms & int(needed) != int(needed):
        raise ControlError(
            f"user {user_id} cannot see /{cmd['name']} (default_member_permissions {needed});"
            " set enforce_default_member_permissions=False to act as a server override"
        )


def _name_attachments(
    stored: dict[str, StoredFile], defs: list[dict[str, Any]] | None
) -> dict[str, StoredFile]:
    """Give unnamed attachments ("" option) the command's attachment options, in order."""
    free = [
        d["name"] for d in defs or [] if int(d["type"]) == ATTACHMENT and d["name"] not in stored
    ]
    out: dict[str, StoredFile] = {}
    for option, f in stored.items():
        if option.startswith("\0"):
            if not free:
                raise ControlError("more attachments than the command has attachment options")
            option = free.pop(0)
        out[option] = f
    return out


async def invoke(
    fake: FakeCore,
    *,
    user_id: int,
    guild_id: int,
    channel_id: int,
    name: str,
    options: dict[str, Any] | None = None,
    attachments: list[AttachmentInput] | None = None,
    focused: str | None = None,
) -> Interaction:
    """A slash command (or, with `focused`, its autocomplete) as `user_id` in a channel.

    `name` may hold subcommands: "job cancel" or "admin quota set".
    """
    parts = name.split()
    itype = 4 if focused is not None else 2
    cmd = _find_command(fake, guild_id, parts[0], 1)
    if cmd is None and fake.settings.require_registered_commands:
        raise ControlError(f"command {parts[0]!r} is not registered (sync it first)")
    if cmd is not None and fake.settings.enforce_default_member_permissions:
        _check_visible(fake, cmd, user_id, guild_id)
    interaction, payload = _base(fake, itype, user_id, guild_id, channel_id)
    stored = {
        (a.option or f"\0{n}"): StoredFile(
            fake.world.ids.next(), channel_id, a.filename, a.content_type, a.data
        )
        for n, a in enumerate(attachments or [])
    }
    for f in stored.values():
        fake.world.files[f.id] = f
    resolved: dict[str, dict[str, Any]] = {}
    defs: list[dict[str, Any]] | None = cmd.get("options") if cmd else None
    chain: list[tuple[str, int]] = []
    for sub in parts[1:]:
        definition = (
            next((d for d in defs or [] if d["name"] == sub), None) if defs is not None else None
        )
        if defs is not None and (
            definition is None or int(definition["type"]) not in (SUB_COMMAND, SUB_COMMAND_GROUP)
        ):
            raise ControlError(f"no subcommand {sub!r} in {name!r}")
        stype = int(definition["type"]) if definition else SUB_COMMAND
        chain.append((sub, stype))
        defs = definition.get("options") or [] if definition else None
    stored = _name_attachments(stored, defs)
    leaf = _build_options(fake, defs, options or {}, stored, resolved, guild_id, focused)
    for sub, stype in reversed(chain):
        leaf = [{"name": sub, "type": stype, "options": leaf}]
    data: dict[str, Any] = {
        "id": cmd["id"] if cmd else str(fake.world.ids.next()),
        "name": parts[0],
        "type": 1,
        "options": leaf,
    }
    if resolved:
        data["resolved"] = resolved
    if cmd and cmd.get("guild_id"):
        data["guild_id"] = cmd["guild_id"]
    payload["data"] = data
    await fake.dispatch("INTERACTION_CREATE", payload)
    return interaction


async def message_command(
    fake: FakeCore, *, user_id: int, name: str, message_id: int
) -> Interaction:
    """A message context-menu command on `message_id`."""
    msg = fake.world.messages.get(message_id)
    if msg is None:
        raise ControlError(f"no message {message_id}")
    guild_id = int(msg["guild_id"])
    cmd = _find_command(fake, guild_id, name, 3)
    if cmd is None and fake.settings.require_registered_commands:
        raise ControlError(f"message command {name!r} is not registered (sync it first)")
    if cmd is not None and fake.settings.enforce_default_member_permissions:
        _check_visible(fake, cmd, user_id, guild_id)
    interaction, payload = _base(fake, 2, user_id, guild_id, int(msg["channel_id"]))
    data: dict[str, Any] = {
        "id": cmd["id"] if cmd else str(fake.world.ids.next()),
        "name": name,
        "type": 3,
        "target_id": str(message_id),
        "resolved": {"messages": {str(message_id): msg}},
    }
    if cmd and cmd.get("guild_id"):
        data["guild_id"] = cmd["guild_id"]
    payload["data"] = data
    await fake.dispatch("INTERACTION_CREATE", payload)
    return interaction


async def _until_answered(fake: FakeCore, ready: Callable[[], bool], what: str) -> None:
    """Wait (at most settings.answer_wait_seconds) until the bot has received the answer
    that shows `what`: a user can only use what Discord has shown them."""
    seconds = fake.settings.answer_wait_seconds
    try:
        async with asyncio.timeout(seconds), fake.changed:
            await fake.changed.wait_for(ready)
    except TimeoutError:
        raise ControlError(
            f"{what} is not shown yet: the answer to the bot's request was not sent"
            f" within {seconds:g} s"
        ) from None


def _find_component(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    for comp in components:
        if comp.get("custom_id") == custom_id:
            return comp
        for key in ("components", "accessory", "component"):
            inner = comp.get(key)
            if isinstance(inner, dict):
                inner = [inner]
            if isinstance(inner, list):
                found = _find_component(inner, custom_id)
                if found is not None:
                    return found
    return None


async def component(
    fake: FakeCore,
    *,
    user_id: int,
    message_id: int,
    custom_id: str,
    values: list[str] | None = None,
) -> Interaction:
    """Press a button (or pick select values) on a message the bot sent."""
    if message_id not in fake.world.messages:
        raise ControlError(f"no message {message_id}")
    await _until_answered(fake, lambda: fake.world.usable(message_id), f"message {message_id}")
    msg = fake.world.messages.get(message_id)
    if msg is None:
        raise ControlError(f"message {message_id} was deleted")
    comp = _find_component(msg.get("components") or [], custom_id)
    if comp is None:
        raise ControlError(f"message {message_id} has no component {custom_id!r}")
    if comp.get("disabled"):
        raise ControlError(f"component {custom_id!r} is disabled")
    interaction, payload = _base(fake, 3, user_id, int(msg["guild_id"]), int(msg["channel_id"]))
    interaction.message_id = message_id
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": int(comp["type"])}
    if values is not None:
        data["values"] = values
    payload["data"] = data
    payload["message"] = msg
    await fake.dispatch("INTERACTION_CREATE", payload)
    return interaction


def _fill(
    components: list[dict[str, Any]], values: dict[str, Any], used: set[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for comp in components:
        ctype = int(comp["type"])
        if ctype == 1:
            out.append({"type": 1, "components": _fill(comp.get("components", []), values, used)})
        elif ctype == 18:
            inner = _fill([comp["component"]], values, used)
            out.append({"type": 18, "id": comp.get("id", 0), "component": inner[0]})
        elif ctype == 4:
            cid = comp["custom_id"]
            value = str(values.get(cid, comp.get("value") or ""))
            used.add(cid)
            if comp.get("required", True) and not value:
                raise ControlError(f"text input {cid!r} is required")
            if len(value) > int(comp.get("max_length", 4000)) or len(value) < int(
                comp.get("min_length", 0)
            ):
                raise ControlError(f"text input {cid!r}: value length out of bounds")
            out.append({"type": 4, "id": comp.get("id", 0), "custom_id": cid, "value": value})
        elif ctype in (3, 5, 6, 7, 8):
            cid = comp["custom_id"]
            used.add(cid)
            picked = values.get(cid, [])
            out.append(
                {"type": ctype, "id": comp.get("id", 0), "custom_id": cid, "values": list(picked)}
            )
        elif ctype == 10:
            out.append({"type": 10, "id": comp.get("id", 0)})
    return out


async def submit_modal(
    fake: FakeCore, *, opened_by: int, values: dict[str, Any], user_id: int | None = None
) -> Interaction:
    """Submit the modal the bot answered interaction `opened_by` with, filling `values`."""
    source = fake.world.interactions.get(opened_by)
    if source is None:
        raise ControlError(f"unknown interaction {opened_by}")
    await _until_answered(fake, source.answered.is_set, f"the answer to interaction {opened_by}")
    if source.callback_type != 9 or source.callback is None:
        raise ControlError(f"interaction {opened_by} was not answered with a modal")
    modal = source.callback["data"]
    used: set[str] = set()
    components = _fill(modal.get("components", []), values, used)
    unknown = set(values) - used
    if unknown:
        raise ControlError(f"modal has no inputs {sorted(unknown)}")
    assert source.guild_id is not None
    interaction, payload = _base(
        fake, 5, user_id or source.user_id, source.guild_id, source.channel_id
    )
    payload["data"] = {"custom_id": modal["custom_id"], "components": components}
    if source.message_id is not None:
        interaction.message_id = source.message_id
        payload["message"] = fake.world.messages[source.message_id]
    await fake.dispatch("INTERACTION_CREATE", payload)
    return interaction
